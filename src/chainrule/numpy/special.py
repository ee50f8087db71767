"""chainrule.numpy.special: scipy.special's names on tensors and arrays.

logsumexp, softmax, erf/erfc, expit/logit/log_expit, the gamma family
(gammaln by Lanczos with reflection, digamma by a shifted asymptotic series,
gamma, betaln) and the entropy helpers (xlogy, entr, rel_entr, kl_div), all
composites of primitive ops, so they differentiate to any order.
"""

from __future__ import annotations

from ..frontend import lax
from ..frontend.core import bind, type_of
from ..frontend import numpy_core as _np
from ..frontend.numpy_extra import copysign as _copysign


def erf(x):
    return bind("erf", lax.float_operand(x))


def erfc(x):
    x = lax.float_operand(x)
    return bind("subtract", lax.full_like(x, 1.0), bind("erf", x))


def expit(x):
    return bind("logistic", lax.float_operand(x))


def logit(x):
    x = lax.float_operand(x)
    return _np.log(_np.divide(x, _np.subtract(lax.full_like(x, 1.0), x)))


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """log(sum(b * exp(a))) as jax.scipy.special.logsumexp: `b` broadcasts with `a` (entries where b == 0
    drop out, even at a = inf); with return_sign=True it returns (log|s|, sign(s)), else NaN where s < 0."""
    x = lax.float_operand(a)
    if b is not None:
        x, w = _np._float_pair(x, b)
        shape = lax.broadcast_shapes(type_of(x).shape, type_of(w).shape)
        x, w = lax.broadcast_to(x, shape), lax.broadcast_to(w, shape)
        x = _np.where(_np.not_equal(w, _c(w, 0.0)), x, _c(x, -_np.inf))
    t = type_of(x)
    axes = lax.normalize_axes(axis, t.ndim)
    m = _np.max(x, axis=axes, keepdims=True, initial=-_np.inf) if t.size == 0 else _np.max(x, axis=axes, keepdims=True)
    m = _np.where(_np.isfinite(m), m, lax.full_like(m, 0.0))
    m = bind("stop_gradient", m)
    e = _np.exp(_np.subtract(x, m))
    if b is not None:
        e = _np.multiply(e, w)
    s = _np.sum(e, axis=axes, keepdims=True)
    sign = _np.sign(s)
    out = _np.add(_np.log(_np.abs(s) if b is not None else s), m)
    if not keepdims:
        kept = [n for i, n in enumerate(t.shape) if i not in axes]
        out, sign = lax.reshape(out, kept), lax.reshape(sign, kept)
    if return_sign:
        return out, sign
    if b is not None:
        out = _np.where(_np.less(sign, _c(sign, 0.0)), _c(out, _np.nan), out)
    return out


def softmax(x, axis=-1):
    x = lax.float_operand(x)
    m = bind("stop_gradient", _np.max(x, axis=axis, keepdims=True))
    e = _np.exp(_np.subtract(x, m))
    return _np.divide(e, _np.sum(e, axis=axis, keepdims=True))


def log_softmax(x, axis=-1):
    x = lax.float_operand(x)
    return _np.subtract(x, logsumexp(x, axis=axis, keepdims=True))


# --- gamma family (composites: Lanczos for log-gamma, shifted asymptotic series for digamma) -----------

_LANCZOS_G = 7.0
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
            1.5056327351493116e-7)


def _c(x, v):
    return lax.full_like(x, v)


def _lanczos_lgamma(x):
    """log Gamma(x) for x >= 0.5 (Lanczos, g = 7, n = 9: ~1e-15 relative on Gamma)."""
    z = _np.subtract(x, _c(x, 1.0))
    a = _c(x, _LANCZOS[0])
    for i, p in enumerate(_LANCZOS[1:], start=1):
        a = _np.add(a, _np.divide(_c(x, p), _np.add(z, _c(x, float(i)))))
    t = _np.add(z, _c(x, _LANCZOS_G + 0.5))
    half_log_2pi = 0.9189385332046727417803297
    return _np.add(_np.add(_c(x, half_log_2pi), _np.subtract(_np.multiply(_np.add(z, _c(x, 0.5)), _np.log(t)), t)),
                   _np.log(a))


def gammaln(x):
    """log|Gamma(x)|; below 1/2 by reflection: log(pi / |sin(pi x)|) - log Gamma(1 - x)."""
    x = lax.float_operand(x)
    low = _np.less(x, _c(x, 0.5))
    xr = _np.where(low, _np.subtract(_c(x, 1.0), x), x)
    lg = _lanczos_lgamma(xr)
    s = _np.abs(_np.sin(_np.multiply(_c(x, _np.pi), x)))
    refl = _np.subtract(_np.log(_np.divide(_c(x, _np.pi), s)), lg)
    return _np.where(_pole(x), _c(x, _np.inf), _np.where(low, refl, lg))


def _pole(x):
    """x is 0 or a negative integer, where Gamma has its poles."""
    return _np.logical_and(_np.less_equal(x, _c(x, 0.0)), _np.equal(_np.floor(x), x))


def gamma(x):
    """Gamma(x) = sign * exp(gammaln(x)); negative on (-1, 0), (-3, -2), ..."""
    x = lax.float_operand(x)
    mag = _np.exp(gammaln(x))
    fl = _np.floor(x)
    odd = _np.not_equal(_np.remainder(fl, _c(x, 2.0)), _c(x, 0.0))
    neg = _np.logical_and(_np.less(x, _c(x, 0.0)), odd)
    g = _np.where(neg, _np.negative(mag), mag)
    # scipy: Gamma(+-0) = +-inf, NaN at the negative integers
    at_zero = _np.equal(x, _c(x, 0.0))
    return _np.where(at_zero, _copysign(_c(x, _np.inf), x), _np.where(_pole(x), _c(x, _np.nan), g))


def betaln(a, b):
    a, b = lax.float_operand(a), lax.float_operand(b)
    return _np.subtract(_np.add(gammaln(a), gammaln(b)), gammaln(_np.add(a, b)))


_SHIFT = 10
# psi(z) ~ log z - 1/(2z) - sum_k B_2k / (2k z^2k), for z >= 10 (error below 1e-15)
_PSI_SERIES = (1.0 / 12, -1.0 / 120, 1.0 / 252, -1.0 / 240, 1.0 / 132, -691.0 / 32760, 1.0 / 12)


def _digamma_positive(x):
    acc = _c(x, 0.0)
    z = x
    for _ in range(_SHIFT):
        acc = _np.add(acc, _np.divide(_c(x, 1.0), z))
        z = _np.add(z, _c(x, 1.0))
    inv2 = _np.divide(_c(x, 1.0), _np.multiply(z, z))
    series = _c(x, 0.0)
    for coef in reversed(_PSI_SERIES):
        series = _np.multiply(_np.add(series, _c(x, coef)), inv2)
    psi = _np.subtract(_np.subtract(_np.log(z), _np.divide(_c(x, 0.5), z)), series)
    return _np.subtract(psi, acc)


def digamma(x):
    """psi(x) = d/dx log Gamma(x); for x <= 0 by reflection: psi(1 - x) - pi / tan(pi x)."""
    x = lax.float_operand(x)
    low = _np.less_equal(x, _c(x, 0.0))
    xr = _np.where(low, _np.subtract(_c(x, 1.0), x), x)
    p = _digamma_positive(xr)
    refl = _np.subtract(p, _np.divide(_c(x, _np.pi), _np.tan(_np.multiply(_c(x, _np.pi), x))))
    # scipy: psi(+-0) = -+inf, NaN at the negative integers
    at_zero = _np.equal(x, _c(x, 0.0))
    special = _np.where(at_zero, _copysign(_c(x, _np.inf), _np.negative(x)), _c(x, _np.nan))
    return _np.where(_pole(x), special, _np.where(low, refl, p))


psi = digamma


# --- information-theory helpers ---------------------------------------------------------------------------

def xlogy(x, y):
    """x * log(y), and 0 where x == 0 (unless y is NaN), as scipy.special.xlogy."""
    x, y = _np._float_pair(x, y)
    zero = _np.logical_and(_np.equal(x, _c(x, 0.0)), _np.logical_not(_np.isnan(y)))
    return _np.where(zero, _c(x, 0.0), _np.multiply(x, _np.log(y)))


def xlog1py(x, y):
    x, y = _np._float_pair(x, y)
    zero = _np.logical_and(_np.equal(x, _c(x, 0.0)), _np.logical_not(_np.isnan(y)))
    return _np.where(zero, _c(x, 0.0), _np.multiply(x, _np.log1p(y)))


def entr(x):
    """-x log x for x > 0, 0 at 0, -inf below."""
    x = lax.float_operand(x)
    pos = _np.greater(x, _c(x, 0.0))
    safe = _np.where(pos, x, _c(x, 1.0))
    val = _np.negative(_np.multiply(safe, _np.log(safe)))
    out = _np.where(pos, val, _np.where(_np.equal(x, _c(x, 0.0)), _c(x, 0.0), _c(x, -_np.inf)))
    return _np.where(_np.isnan(x), x, out)


def _entropy_terms(x, y, extra):
    x, y = _np._float_pair(x, y)
    both = _np.logical_and(_np.greater(x, _c(x, 0.0)), _np.greater(y, _c(y, 0.0)))
    sx, sy = _np.where(both, x, _c(x, 1.0)), _np.where(both, y, _c(y, 1.0))
    val = _np.multiply(sx, _np.log(_np.divide(sx, sy)))
    if extra:
        val = _np.add(_np.subtract(val, sx), sy)
    at_zero = _np.logical_and(_np.equal(x, _c(x, 0.0)), _np.greater_equal(y, _c(y, 0.0)))
    out = _np.where(both, val, _np.where(at_zero, y if extra else _c(x, 0.0), _c(x, _np.inf)))
    return _np.where(_np.logical_or(_np.isnan(x), _np.isnan(y)), _c(x, _np.nan), out)


def rel_entr(x, y):
    return _entropy_terms(x, y, extra=False)


def kl_div(x, y):
    return _entropy_terms(x, y, extra=True)


def log_expit(x):
    """log(expit(x)) without overflow: -log1p(exp(-x)) for x >= 0, x - log1p(exp(x)) below."""
    x = lax.float_operand(x)
    neg_abs = _np.negative(_np.abs(x))
    tail = _np.log1p(_np.exp(neg_abs))
    return _np.where(_np.greater_equal(x, _c(x, 0.0)), _np.negative(tail), _np.subtract(x, tail))


# erfinv and the standard normal's ndtr / log_ndtr / ndtri live in their own module
from ..frontend.numpy_special_normal import erfinv, log_ndtr, ndtr, ndtri  # noqa: E402,F401
