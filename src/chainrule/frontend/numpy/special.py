"""chainrule.numpy.special: scipy.special's names on tensors and arrays.

logsumexp, softmax, erf/erfc, expit/logit/log_expit, the gamma family
(gammaln by Lanczos with reflection, digamma by a shifted asymptotic series,
gamma, betaln) and the entropy helpers (xlogy, entr, rel_entr, kl_div), all
composites of primitive ops, so they differentiate to any order. erfc is
exp(-x^2) erfcx(x) by fitted pieces (a few ulp, tools/ulp_special.py), not
1 - erf; derivatives at the edges follow jax.grad (docs/autodiff.md).
"""

from __future__ import annotations

import math

from .. import lax
from ..core import bind, type_of
from .creation import finfo, inf, nan, pi
from .reductions import max, sum
from .transcendental import float_pair, exp, expm1, log, log1p, sin, sqrt, tan
from .ufuncs import abs, add, copysign, divide, equal, floor, greater, greater_equal, isfinite, isnan, isneginf, isposinf, less, less_equal, logical_and, logical_not, logical_or, minimum, multiply, negative, not_equal, remainder, rint, sign, subtract, where


def erf(x):
    return bind("erf", lax.float_operand(x))


# erfc(a) = exp(-a^2) erfcx(a) for a = |x| >= 1/2, erfcx by pieces: polynomials in a - center on [lo, hi)
# and, from the last piece's lo on, a * erfcx(a) as a polynomial in u = 1/a^2. The coefficients are
# Chebyshev interpolants of mpmath's erfcx rounded to each dtype (tools/fit_erfc.py prints them).
_ERFC_PIECES = {
    "float64": (
        (0.5, 1.0, 0.75, (0.5069376502931449, -0.3679726916557954, 0.2309581315512983, -0.1298360619948811, 0.06679054252756655, -0.03189726203968118, 0.014289198666213443, -0.00605153229729106, 0.0024376373433168705, -0.000938512056293829, 0.0003467512575452147, -0.0001233545520026088, 4.236125943559736e-05, -1.408512949400527e-05, 4.653752310183548e-06, -1.4567881256540653e-06)),
        (1.0, 2.0, 1.5, (0.3215854164543175, -0.16362291773256007, 0.0761510398554774, -0.03293090529956263, 0.013377340953066716, -0.005145957547986074, 0.0018861348770299853, -0.0006619300663780329, 0.00022330994434483764, -7.265892277607512e-05, 2.2864312354813184e-05, -6.9749857220380816e-06, 2.066969345938349e-06, -5.961184927787341e-07, 1.6755851115553425e-07, -4.583649892893367e-08, 1.2292390627233347e-08, -3.491946397137101e-09, 8.944646826979908e-10)),
        (2.0, 3.5, 2.75, (0.1936620962790687, -0.06323763756063484, 0.019758592987322864, -0.005934337896997977, 0.0017195818852892143, -0.0004821950849810438, 0.00013118180053043558, -3.469860957800975e-05, 8.940156047900758e-06, -2.2473734306017574e-06, 5.519758213291395e-07, -1.3262545145220398e-07, 3.120931222713602e-08, -7.199935309876202e-09, 1.6299033284512948e-09, -3.624535099064295e-10, 7.919487166309303e-11, -1.6887827332064812e-11, 3.5731479208850773e-12, -8.476121667590919e-13, 1.7331926787285084e-13)),
        (3.5, None, None, (0.5641895835477563, -0.282094791773878, 0.4231421876605519, -1.0578554689951516, 3.7024940926813197, -16.661214096897666, 91.63549327187107, -595.5249835191453, 4459.558542287022, -37571.80538946563, 344580.2534854483, -3268183.238264793, 29953297.775999524, -246617645.34461692, 1701025449.218291, -9172290489.951939, 35625472955.17141, -87727343136.06912, 102199571010.63284)),
    ),
    "float32": (
        (0.5, 1.0, 0.75, (0.5069376230239868, -0.3679727017879486, 0.23095813393592834, -0.12983617186546326, 0.06679058074951172, -0.03189097344875336, 0.014286878518760204, -0.006185151636600494, 0.002486962592229247)),
        (1.0, 2.0, 1.5, (0.32158541679382324, -0.1636229157447815, 0.076151043176651, -0.032930899411439896, 0.013377339579164982, -0.005146095994859934, 0.0018861758289858699, -0.0006606701645068824, 0.00022293753863777965, -7.763857138343155e-05, 2.433710324112326e-05)),
        (2.0, 3.5, 2.75, (0.19366209208965302, -0.06323763728141785, 0.019758593291044235, -0.005934334825724363, 0.0017195811960846186, -0.0004822258197236806, 0.00013118900824338198, -3.457467755652033e-05, 8.911072654882446e-06, -2.46395052272419e-06, 6.028347456776828e-07)),
        (3.5, None, None, (0.564189612865448, -0.2820947766304016, 0.42313963174819946, -1.0575213432312012, 3.6801183223724365, -15.787330627441406, 70.24061584472656, -248.90284729003906, 464.33685302734375)),
    ),
}


# beyond XMAX erfc underflows to 0 (and exp(-a^2) is 0); SPLIT rounds a to z with z*z exact
_ERFC_XMAX = {"float64": 27.5, "float32": 10.25}
_ERFC_SPLIT = {"float64": 2.0 ** 16, "float32": 2.0 ** 8}


def _horner(coefs, s):
    acc = _c(s, coefs[-1])
    for v in reversed(coefs[:-1]):
        acc = add(multiply(acc, s), _c(s, v))
    return acc


def _erfcx_pieces(a, pieces):
    """erfcx(a) for a in [1/2, XMAX], 1 to 2 ulp; every piece gets an input inside its own interval."""
    out = None
    for lo, hi, center, coefs in reversed(pieces):
        if hi is None:  # the tail: a erfcx(a) = g(1/a^2)
            inside = greater_equal(a, _c(a, lo))
            au = where(inside, a, _c(a, lo))
            val = divide(_horner(coefs, divide(_c(a, 1.0), multiply(au, au))), au)
        else:
            inside = logical_and(greater_equal(a, _c(a, lo)), less(a, _c(a, hi)))
            val = _horner(coefs, subtract(where(inside, a, _c(a, center)), _c(a, center)))
        out = val if out is None else where(inside, val, out)
    return out


def erfc(x):
    """1 - erf(x) without the cancellation: a few ulp over the whole range in float32 and float64.

    |x| < 1/2: 1 - erf(x). Beyond: exp(-a^2) erfcx(a) with a = |x|, where a^2
    is split as z^2 + (a - z)(a + z), z = a rounded to a few bits, so z^2 and
    the exponent are exact (exp(-a*a) would be off by a^2 ulp); x < 0 takes
    2 - erfc(|x|). Composed of primitive ops, so its derivative is automatic
    (-2/sqrt(pi) exp(-x^2) to ~1e-15, 0 once erfc underflows).
    """
    x = lax.float_operand(x)
    name = type_of(x).dtype.name
    a = minimum(abs(x), _c(x, _ERFC_XMAX[name]))
    split = _c(x, _ERFC_SPLIT[name])
    z = divide(rint(multiply(a, split)), split)
    h = _erfcx_pieces(a, _ERFC_PIECES[name])
    m = expm1(multiply(subtract(z, a), add(z, a)))  # small: h + h m rounds once
    e = multiply(exp(negative(multiply(z, z))), add(h, multiply(h, m)))
    tail = where(less(x, _c(x, 0.0)), subtract(_c(x, 2.0), e), e)
    near = subtract(_c(x, 1.0), bind("erf", x))
    out = where(less(abs(x), _c(x, 0.5)), near, tail)
    return where(isnan(x), x, out)


def expit(x):
    return bind("logistic", lax.float_operand(x))


def logit(x):
    """log(x) - log1p(-x); log1p((2x - 1) / (1 - x)) on [1/4, 3/4], where the two logs would cancel (2x - 1
    is exact). Its derivative 1/x + 1/(1 - x) is inf at 0 and 1, as JAX's."""
    x = lax.float_operand(x)
    one = _c(x, 1.0)
    mid = logical_and(greater_equal(x, _c(x, 0.25)), less_equal(x, _c(x, 0.75)))
    xm = where(mid, x, _c(x, 0.5))
    near = log1p(divide(subtract(add(xm, xm), one), subtract(one, xm)))
    xo = where(mid, _c(x, 0.5), x)
    return where(mid, near, subtract(log(xo), log1p(negative(xo))))


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """log(sum(b * exp(a))) as jax.scipy.special.logsumexp: `b` broadcasts with `a` (entries where b == 0
    drop out, even at a = inf); with return_sign=True it returns (log|s|, sign(s)), else NaN where s < 0."""
    x = lax.float_operand(a)
    if b is not None:
        x, w = float_pair(x, b)
        shape = lax.broadcast_shapes(type_of(x).shape, type_of(w).shape)
        x, w = lax.broadcast_to(x, shape), lax.broadcast_to(w, shape)
        x = where(not_equal(w, _c(w, 0.0)), x, _c(x, -inf))
    t = type_of(x)
    axes = lax.normalize_axes(axis, t.ndim)
    m = max(x, axis=axes, keepdims=True, initial=-inf) if t.size == 0 else max(x, axis=axes, keepdims=True)
    m = where(isfinite(m), m, lax.full_like(m, 0.0))
    m = bind("stop_gradient", m)
    e = exp(subtract(x, m))
    if b is not None:
        e = multiply(e, w)
    s = sum(e, axis=axes, keepdims=True)
    sgn = sign(s)
    out = add(log(abs(s) if b is not None else s), m)
    if not keepdims:
        kept = [n for i, n in enumerate(t.shape) if i not in axes]
        out, sgn = lax.reshape(out, kept), lax.reshape(sgn, kept)
    if return_sign:
        return out, sgn
    if b is not None:
        out = where(less(sgn, _c(sgn, 0.0)), _c(out, nan), out)
    return out


def softmax(x, axis=-1):
    x = lax.float_operand(x)
    m = bind("stop_gradient", max(x, axis=axis, keepdims=True))
    e = exp(subtract(x, m))
    return divide(e, sum(e, axis=axis, keepdims=True))


def log_softmax(x, axis=-1):
    x = lax.float_operand(x)
    return subtract(x, logsumexp(x, axis=axis, keepdims=True))


# --- gamma family (composites: Lanczos for log-gamma, shifted asymptotic series for digamma) -----------

_LANCZOS_G = 7.0
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
            1.5056327351493116e-7)


def _c(x, v):
    return lax.full_like(x, v)


def _lanczos_lgamma(x):
    """log Gamma(x) for x >= 0.5 (Lanczos, g = 7, n = 9: ~1e-15 relative on Gamma)."""
    z = subtract(x, _c(x, 1.0))
    a = _c(x, _LANCZOS[0])
    for i, p in enumerate(_LANCZOS[1:], start=1):
        a = add(a, divide(_c(x, p), add(z, _c(x, float(i)))))
    t = add(z, _c(x, _LANCZOS_G + 0.5))
    half_log_2pi = 0.9189385332046727417803297
    return add(add(_c(x, half_log_2pi), subtract(multiply(add(z, _c(x, 0.5)), log(t)), t)),
                   log(a))


def gammaln(x):
    """log|Gamma(x)|; below 1/2 by reflection: log(pi / |sin(pi x)|) - log Gamma(1 - x)."""
    x = lax.float_operand(x)
    low = less(x, _c(x, 0.5))
    xr = where(low, subtract(_c(x, 1.0), x), x)
    lg = _lanczos_lgamma(xr)
    s = abs(sin(multiply(_c(x, pi), x)))
    # log(pi) - log|sin(pi x)|: both non-negative, and the derivative -pi cot(pi x) does not pass through
    # pi / sin^2, which overflows near 0 (gammaln'(1e-300) = -1e300, JAX's, not -inf)
    refl = subtract(subtract(_c(x, math.log(math.pi)), log(s)), lg)
    return where(_pole(x), _c(x, inf), where(low, refl, lg))


def _pole(x):
    """x is 0 or a negative integer, where Gamma has its poles."""
    return logical_and(less_equal(x, _c(x, 0.0)), equal(floor(x), x))


def gamma(x):
    """Gamma(x) = sign * exp(gammaln(x)); negative on (-1, 0), (-3, -2), ..."""
    x = lax.float_operand(x)
    mag = exp(gammaln(x))
    fl = floor(x)
    odd = not_equal(remainder(fl, _c(x, 2.0)), _c(x, 0.0))
    neg = logical_and(less(x, _c(x, 0.0)), odd)
    g = where(neg, negative(mag), mag)
    # scipy: Gamma(+-0) = +-inf, NaN at the negative integers
    at_zero = equal(x, _c(x, 0.0))
    return where(at_zero, copysign(_c(x, inf), x), where(_pole(x), _c(x, nan), g))


def betaln(a, b):
    a, b = lax.float_operand(a), lax.float_operand(b)
    return subtract(add(gammaln(a), gammaln(b)), gammaln(add(a, b)))


_SHIFT = 10


# psi(z) ~ log z - 1/(2z) - sum_k B_2k / (2k z^2k), for z >= 10 (error below 1e-15)
_PSI_SERIES = (1.0 / 12, -1.0 / 120, 1.0 / 252, -1.0 / 240, 1.0 / 132, -691.0 / 32760, 1.0 / 12)


def _digamma_positive(x):
    acc = _c(x, 0.0)
    z = x
    for _ in range(_SHIFT):
        acc = add(acc, divide(_c(x, 1.0), z))
        z = add(z, _c(x, 1.0))
    inv2 = divide(_c(x, 1.0), multiply(z, z))
    series = _c(x, 0.0)
    for coef in reversed(_PSI_SERIES):
        series = multiply(add(series, _c(x, coef)), inv2)
    psi = subtract(subtract(log(z), divide(_c(x, 0.5), z)), series)
    return subtract(psi, acc)


def digamma(x):
    """psi(x) = d/dx log Gamma(x); for x <= 0 by reflection: psi(1 - x) - pi / tan(pi x)."""
    x = lax.float_operand(x)
    low = less_equal(x, _c(x, 0.0))
    xr = where(low, subtract(_c(x, 1.0), x), x)
    p = _digamma_positive(xr)
    refl = subtract(p, divide(_c(x, pi), tan(multiply(_c(x, pi), x))))
    # scipy: psi(+-0) = -+inf, NaN at the negative integers
    at_zero = equal(x, _c(x, 0.0))
    special = where(at_zero, copysign(_c(x, inf), negative(x)), _c(x, nan))
    return where(_pole(x), special, where(low, refl, p))


psi = digamma


# --- information-theory helpers ---------------------------------------------------------------------------

def _infinite_slope_zero(x, at, sign):
    """0 in value, with derivative sign * inf at x == 0 where `at`: sqrt|x| - stop_gradient(sqrt|x|)."""
    r = sqrt(abs(where(at, x, _c(x, 0.0))))
    z = subtract(r, bind("stop_gradient", r))
    return z if sign > 0 else subtract(_c(x, 0.0), z)  # +0, not -0


def _x_times_log(x, y, log, y_lo):
    """x * log(y), 0 where x == 0 (unless y is NaN). Where log(y) is finite, x == 0 takes the product itself
    (its value is +-0, made +0), so d/dx = log(y) there, as JAX's xlogy (cross-entropy with zero
    probabilities); at y = y_lo (log -inf) or inf with x == 0 the 0 has JAX's d/dx = -inf or +inf."""
    x, y = float_pair(x, y)
    zero = logical_and(equal(x, _c(x, 0.0)), logical_not(isnan(y)))
    at_lo = logical_and(zero, equal(y, _c(y, y_lo)))
    at_inf = logical_and(zero, isposinf(y))
    below = logical_and(zero, logical_or(less(y, _c(y, y_lo)), isneginf(y)))  # log NaN: 0
    edge = logical_or(logical_or(at_lo, at_inf), below)
    ys = where(edge, _c(y, 1.0), y)
    prod = multiply(x, log(ys))
    prod = where(zero, add(prod, _c(x, 0.0)), prod)  # x == 0: +0, as scipy
    return where(at_lo, _infinite_slope_zero(x, at_lo, -1),
                     where(at_inf, _infinite_slope_zero(x, at_inf, 1), where(below, _c(x, 0.0), prod)))


def xlogy(x, y):
    """x * log(y), and 0 where x == 0 (unless y is NaN), as scipy.special.xlogy."""
    return _x_times_log(x, y, log, 0.0)


def xlog1py(x, y):
    """x * log1p(y), and 0 where x == 0 (unless y is NaN), as scipy.special.xlog1py."""
    return _x_times_log(x, y, log1p, -1.0)


def entr(x):
    """-x log x for x > 0, 0 at 0, -inf below; the derivative -(log x + 1) is +inf at 0, as JAX's."""
    x = lax.float_operand(x)
    pos = greater(x, _c(x, 0.0))
    at0 = equal(x, _c(x, 0.0))
    safe = where(pos, x, _c(x, 1.0))
    val = negative(multiply(safe, log(safe)))
    out = where(pos, val, where(at0, _infinite_slope_zero(x, at0, 1), _c(x, -inf)))
    return where(isnan(x), x, out)


def _entropy_terms(x, y, extra):
    x, y = float_pair(x, y)
    both = logical_and(greater(x, _c(x, 0.0)), greater(y, _c(y, 0.0)))
    sx, sy = where(both, x, _c(x, 1.0)), where(both, y, _c(y, 1.0))
    # log(x / y); log1p((x - y) / y) for x / y in [1/2, 2] (x - y is exact there), log x - log y where x / y
    # overflows or underflows (x = 1e300, y = 1e-300)
    q = divide(sx, sy)
    fine = logical_and(isfinite(q), greater_equal(q, _c(q, float(finfo(type_of(q).dtype.np).tiny))))
    near = logical_and(greater_equal(q, _c(q, 0.5)), less_equal(q, _c(q, 2.0)))
    nx, ny = where(near, sx, _c(x, 1.0)), where(near, sy, _c(y, 1.0))
    lq = where(near, log1p(divide(subtract(nx, ny), ny)),
                   where(fine, log(where(fine, q, _c(q, 1.0))), subtract(log(sx), log(sy))))
    # the value above, the derivative of log x - log y (1/x, -1/y: the chain through x / y overflows at
    # x / y^2 where the result does not)
    both_fin = logical_and(isfinite(sx), isfinite(sy))
    dl = subtract(log(where(both_fin, sx, _c(x, 1.0))), log(where(both_fin, sy, _c(y, 1.0))))
    lq = add(bind("stop_gradient", lq), subtract(dl, bind("stop_gradient", dl)))
    val = multiply(sx, lq)
    if extra:
        val = add(subtract(val, sx), sy)
    at_zero = logical_and(equal(x, _c(x, 0.0)), greater_equal(y, _c(y, 0.0)))
    # at x == 0: kl_div is y - x (derivatives -1 and 1, as JAX's), rel_entr 0
    out = where(both, val, where(at_zero, subtract(y, x) if extra else _c(x, 0.0), _c(x, inf)))
    return where(logical_or(isnan(x), isnan(y)), _c(x, nan), out)


def rel_entr(x, y):
    return _entropy_terms(x, y, extra=False)


def kl_div(x, y):
    return _entropy_terms(x, y, extra=True)


def log_expit(x):
    """log(expit(x)) without overflow: -log1p(exp(-x)) for x >= 0, x - log1p(exp(x)) below."""
    x = lax.float_operand(x)
    neg_abs = where(greater_equal(x, _c(x, 0.0)), negative(x), x)  # -|x|, slope -1 at x = 0 too
    tail = log1p(exp(neg_abs))
    return where(greater_equal(x, _c(x, 0.0)), negative(tail), subtract(x, tail))
