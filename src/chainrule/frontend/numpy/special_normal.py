"""erfinv and the standard normal's special functions: ndtr, log_ndtr, ndtri.

They exist for chainrule.scipy.stats.norm (cdf, logcdf, ppf) and because JAX
users reach for jax.scipy.special.erfinv. All are composites of primitive ops:

* erfinv by Giles' approximations ("Approximating the erfinv function", GPU
  Computing Gems, 2010; also what XLA uses): in w = -log((1-x)(1+x)), one
  polynomial for float32 (two pieces) and one for float64 (three pieces). Its
  derivative is given exactly, sqrt(pi)/2 exp(erfinv(x)^2), by a custom_jvp.
* ndtri(p) = sqrt(2) erfinv(2p - 1), with w computed as -log(4p(1-p)) so
  that small p keep their precision; derivative sqrt(2 pi) exp(ndtri(p)^2/2).
* ndtr and log_ndtr: 1/2 + erf(x/sqrt 2)/2 in the middle and Cephes' erfc
  rational approximations (exp(-z^2) P(z)/Q(z)) in the tails, so ndtr keeps
  its relative precision far into the lower tail and log_ndtr never underflows
  (it adds -z^2 to the log of the rational instead of taking log(exp(-z^2))).
"""

from __future__ import annotations

import numpy as np

from .. import lax
from ..core import bind, is_tensor, type_of
from ..custom import custom_jvp
from .ufuncs import (abs as _abs, add, copysign, divide, equal, floor, greater, isnan, less, logical_or, multiply,
                     negative, subtract, where)
from .transcendental import exp, log, log1p, sqrt


# Giles, erfinv_SP: (split at w = 5) and erfinv_DP (split at w = 6.25 and 16), highest degree first.
_SP_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
               -0.00417768164, 0.246640727, 1.50140941)
_SP_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
            0.00943887047, 1.00167406, 2.83297682)
_DP_CENTRAL = (-3.6444120640178196996e-21, -1.685059138182016589e-19, 1.2858480715256400167e-18,
               1.115787767802518096e-17, -1.333171662854620906e-16, 2.0972767875968561637e-17,
               6.6376381343583238325e-15, -4.0545662729752068639e-14, -8.1519341976054721522e-14,
               2.6335093153082322977e-12, -1.2975133253453532498e-11, -5.4154120542946279317e-11,
               1.051212273321532285e-09, -4.1126339803469836976e-09, -2.9070369957882005086e-08,
               4.2347877827932403518e-07, -1.3654692000834678645e-06, -1.3882523362786468719e-05,
               0.0001867342080340571352, -0.00074070253416626697512, -0.0060336708714301490533,
               0.24015818242558961693, 1.6536545626831027356)
_DP_MIDDLE = (2.2137376921775787049e-09, 9.0756561938885390979e-08, -2.7517406297064545428e-07,
              1.8239629214389227755e-08, 1.5027403968909827627e-06, -4.013867526981545969e-06,
              2.9234449089955446044e-06, 1.2475304481671778723e-05, -4.7318229009055733981e-05,
              6.8284851459573175448e-05, 2.4031110387097893999e-05, -0.0003550375203628474796,
              0.00095328937973738049703, -0.0016882755560235047313, 0.0024914420961078508066,
              -0.0037512085075692412107, 0.005370914553590063617, 1.0052589676941592334, 3.0838856104922207635)
_DP_TAIL = (-2.7109920616438573243e-11, -2.5556418169965252055e-10, 1.5076572693500548083e-09,
            -3.7894654401267369937e-09, 7.6157012080783393804e-09, -1.4960026627149240478e-08,
            2.9147953450901080826e-08, -6.7711997758452339498e-08, 2.2900482228026654717e-07,
            -9.9298272942317002539e-07, 4.5260625972231537039e-06, -1.9681778105531670567e-05,
            7.5995277030017761139e-05, -0.00021503011930044477347, -0.00013871931833623122026,
            1.0103004648645343977, 4.8499064014085844221)

# Cephes ndtr.c: erfc(z) = exp(-z^2) P(z)/Q(z) for 1 <= z < 8, exp(-z^2) R(z)/S(z) beyond (Q, S monic).
_ERFC_P = (2.46196981473530512524E-10, 5.64189564831068821977E-1, 7.46321056442269912687E0,
           4.86371970985681366614E1, 1.96520832956077098242E2, 5.26445194995477358631E2,
           9.34528527171957607540E2, 1.02755188689515710272E3, 5.57535335369399327526E2)
_ERFC_Q = (1.0, 1.32281951154744992508E1, 8.67072140885989742329E1, 3.54937778887819891062E2,
           9.75708501743205489753E2, 1.82390916687909736289E3, 2.24633760818710981792E3,
           1.65666309194161350182E3, 5.57535340817727675546E2)
_ERFC_R = (5.64189583547755073984E-1, 1.27536670759978104416E0, 5.01905042251180477414E0,
           6.16021097993053585195E0, 7.40974269950448939160E0, 2.97886665372100240670E0)
_ERFC_S = (1.0, 2.26052863220117276590E0, 9.39603524938001434673E0, 1.20489539808096656605E1,
           1.70814450747565897222E1, 9.60896809063285878198E0, 3.36907645100081516050E0)
_SQRT_HALF = 0.70710678118654752440
_HALF_LOG_2PI = 0.91893853320467274178


def _c(x, v):
    return lax.full_like(x, v)


def _horner(w, coefs):
    p = _c(w, coefs[0])
    for k in coefs[1:]:
        p = add(multiply(p, w), _c(w, k))
    return p


def _giles(w, x):
    """erfinv(x) = P(w) * x for w = -log((1 - x)(1 + x)) (given, so callers choose how to compute it)."""
    if type_of(w).dtype.name == "float32":
        central = _horner(subtract(w, _c(w, 2.5)), _SP_CENTRAL)
        tail = _horner(subtract(sqrt(w), _c(w, 3.0)), _SP_TAIL)
        p = where(less(w, _c(w, 5.0)), central, tail)
    else:
        central = _horner(subtract(w, _c(w, 3.125)), _DP_CENTRAL)
        s = sqrt(w)
        middle = _horner(subtract(s, _c(w, 3.25)), _DP_MIDDLE)
        tail = _horner(subtract(s, _c(w, 5.0)), _DP_TAIL)
        p = where(less(w, _c(w, 6.25)), central, where(less(w, _c(w, 16.0)), middle, tail))
    return multiply(p, x)


def _erfinv_raw(x):
    ax = _abs(x)
    one = _c(x, 1.0)
    w = negative(log(multiply(subtract(one, ax), add(one, ax))))
    y = _giles(w, x)
    y = where(equal(ax, one), copysign(_c(x, np.inf), x), y)
    return where(logical_or(greater(ax, one), isnan(x)), _c(x, np.nan), y)


def _ndtri_raw(p):
    one = _c(p, 1.0)
    w = negative(log(multiply(multiply(_c(p, 4.0), p), subtract(one, p))))
    y = multiply(_c(p, np.sqrt(2.0)), _giles(w, subtract(multiply(_c(p, 2.0), p), one)))
    # Giles' polynomials cover w up to erfinv's own range (1 - x >= one ulp); smaller p solve
    # log_ndtr(y) = log(p) by Newton's method from the asymptotic y^2 = L - log L - log(2 pi), L = -2 log p
    tiny = _TINY_P[type_of(p).dtype.name]
    small = less(p, _c(p, tiny))
    ps = where(small, p, _c(p, tiny))
    logp = log(ps)
    big_l = multiply(_c(p, -2.0), logp)
    yt = negative(sqrt(subtract(subtract(big_l, log(big_l)), _c(p, 2 * _HALF_LOG_2PI))))
    for _ in range(4):
        ln = _log_ndtr_lower(yt)
        slope = exp(subtract(subtract(multiply(_c(p, -0.5), multiply(yt, yt)), _c(p, _HALF_LOG_2PI)), ln))
        yt = subtract(yt, divide(subtract(ln, logp), slope))
    y = where(small, yt, y)
    y = where(equal(p, _c(p, 0.0)), _c(p, -np.inf), where(equal(p, one), _c(p, np.inf), y))
    return where(logical_or(logical_or(less(p, _c(p, 0.0)), greater(p, one)), isnan(p)), _c(p, np.nan), y)


_TINY_P = {"float32": 1e-7, "float64": 1e-15}
_erfinv_cjvp = custom_jvp(_erfinv_raw)
_ndtri_cjvp = custom_jvp(_ndtri_raw)


@_erfinv_cjvp.defjvp
def _erfinv_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    y = _erfinv_cjvp(x)
    return y, multiply(t, multiply(_c(y, np.sqrt(np.pi) / 2), exp(multiply(y, y))))


@_ndtri_cjvp.defjvp
def _ndtri_jvp(primals, tangents):
    (p,), (t,) = primals, tangents
    y = _ndtri_cjvp(p)
    return y, multiply(t, multiply(_c(y, np.sqrt(2 * np.pi)), exp(multiply(_c(y, 0.5), multiply(y, y)))))


def erfinv(x):
    """The inverse of erf on [-1, 1] (+-inf at +-1, NaN outside), as scipy.special.erfinv."""
    x = lax.float_operand(x)
    return _erfinv_cjvp(x) if is_tensor(x) else _erfinv_raw(x)


def ndtri(p):
    """The standard normal's quantile function: ndtr(ndtri(p)) = p (-inf at 0, inf at 1, NaN outside)."""
    p = lax.float_operand(p)
    return _ndtri_cjvp(p) if is_tensor(p) else _ndtri_raw(p)


def _erfc_tail(z):
    """(log of) erfc(z) / exp(-z^2) for z >= 1: Cephes' P/Q below 8, R/S from 8."""
    lo = divide(_horner(z, _ERFC_P), _horner(z, _ERFC_Q))
    hi = divide(_horner(z, _ERFC_R), _horner(z, _ERFC_S))
    return where(less(z, _c(z, 8.0)), lo, hi)


def _exp_minus_half_square(x):
    """exp(-x^2/2) without the error of rounding x^2: x = m + f with m a multiple of 1/64 (as Cephes' expx2),
    m^2/2 exact; the argument is clamped to |x| <= 40 (exp underflows to 0 well before)."""
    ax = _abs(x)
    ax = where(greater(ax, _c(x, 40.0)), _c(x, 40.0), ax)
    m = divide(floor(add(multiply(ax, _c(x, 64.0)), _c(x, 0.5))), _c(x, 64.0))
    f = subtract(ax, m)
    return multiply(exp(multiply(_c(x, -0.5), multiply(m, m))),
                    exp(multiply(_c(x, -0.5), multiply(f, add(multiply(_c(x, 2.0), m), f)))))


def _tail_ratio(x):
    """(z, R) with ndtr(-|x|) = exp(-x^2/2) R / 2 for z = |x|/sqrt 2, valid where z >= 1. Past the point
    where R/S would overflow, R = 1/(sqrt(pi) z) (the next term of the series is below the precision)."""
    z = multiply(_abs(x), _c(x, _SQRT_HALF))
    zmax = 1e5 if type_of(x).dtype.name == "float32" else 1e15
    far = greater(z, _c(z, zmax))
    zs = where(less(z, _c(z, 1.0)), _c(z, 1.0), where(far, _c(z, zmax), z))
    zf = where(far, z, _c(z, zmax))  # every branch finite (and so its gradient), whichever is selected
    return z, where(far, divide(_c(z, 1 / np.sqrt(np.pi)), zf), _erfc_tail(zs))


def ndtr(x):
    """The standard normal's CDF, with full relative precision in the lower tail (as scipy.special.ndtr)."""
    x = lax.float_operand(x)
    mid = add(_c(x, 0.5), multiply(_c(x, 0.5), bind("erf", multiply(x, _c(x, _SQRT_HALF)))))
    z, r = _tail_ratio(x)
    low = multiply(multiply(_c(x, 0.5), _exp_minus_half_square(x)), r)
    tail = where(less(x, _c(x, 0.0)), low, subtract(_c(x, 1.0), low))
    return where(less(z, _c(z, 1.0)), mid, tail)


def _log_ndtr_lower(x):
    """log(ndtr(x)) = log(R/2) - x^2/2, valid for x <= -sqrt 2."""
    _, r = _tail_ratio(x)
    return subtract(log(multiply(_c(x, 0.5), r)), multiply(multiply(_c(x, 0.5), x), x))


def log_ndtr(x):
    """log(ndtr(x)) without underflow: -x^2/2 + log(R/2) in the lower tail, log1p(-ndtr(-x)) in the upper."""
    x = lax.float_operand(x)
    z = multiply(_abs(x), _c(x, _SQRT_HALF))
    lower = _log_ndtr_lower(x)
    # each branch sees only arguments where it is finite, so no NaN gradient leaks through the selects
    upper = log1p(negative(ndtr(negative(where(greater(x, _c(x, 0.0)), x, _c(x, 0.0))))))
    mid = log(ndtr(where(less(z, _c(z, 1.0)), x, _c(x, 0.0))))
    out = where(less(z, _c(z, 1.0)), mid, where(less(x, _c(x, 0.0)), lower, upper))
    return where(isnan(x), x, out)


__all__ = ["erfinv", "ndtri", "ndtr", "log_ndtr"]
