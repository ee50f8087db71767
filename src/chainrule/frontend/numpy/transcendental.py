"""Elementwise transcendental functions: exponentials, logarithms, trigonometric and hyperbolic
functions and their inverses, logaddexp, hypot, sinc, cbrt, ldexp, float_power.
"""

from __future__ import annotations

import math

import numpy as np

from ...ir import dtype as as_dtype, result_dtype
from .. import lax
from ..core import bind, is_tensor, type_of
from ..lax import convert, float_operand, operand
from .ufuncs import (full_like_scalar, F64, absolute, equal, greater, greater_equal, imag, isfinite, isposinf, less,
                     less_equal, logical_or, multiply, power, real, signbit, where)


# --- transcendental ----------------------------------------------------------------

def _unary_float(op):
    def fn(x):
        return bind(op, float_operand(x))
    fn.__name__ = op
    return fn


exp = _unary_float("exponential")
expm1 = _unary_float("exponential_minus_one")
log = _unary_float("log")
log1p = _unary_float("log_plus_one")
sqrt = _unary_float("sqrt")
sin = _unary_float("sine")
cos = _unary_float("cosine")
tan = _unary_float("tan")
tanh = _unary_float("tanh")
exp.__name__, expm1.__name__, log.__name__, log1p.__name__ = "exp", "expm1", "log", "log1p"
sqrt.__name__, sin.__name__, cos.__name__, tan.__name__, tanh.__name__ = "sqrt", "sin", "cos", "tan", "tanh"


def log2(x):
    x = float_operand(x)
    return bind("divide", bind("log", x), full_like_scalar(x, math.log(2)))


def log10(x):
    x = float_operand(x)
    return bind("divide", bind("log", x), full_like_scalar(x, math.log(10)))


def exp2(x):
    x = float_operand(x)
    return bind("power", full_like_scalar(x, 2.0), x)


def float_pair(x, y):
    """Promote as NumPy does (Python scalars weak), then to float: the smallest float each operand casts
    to safely, as NumPy's loops choose (int8 and uint8 give float16; 32/64-bit ints the default float)."""
    strong = [lax.dtype_of(v) for v in (x, y) if not lax.is_weak(v)]
    x, y = lax.promote_and_broadcast(x, y)
    d = type_of(x).dtype
    if not d.is_float and strong and all(s.bits <= 16 for s in strong) and (d.bits <= 16 or any(s.is_int for s in strong)):
        f = result_dtype(*strong, as_dtype("float16"))
        return lax.convert(x, f), lax.convert(y, f)
    return float_operand(x), float_operand(y)


def arctan2(y, x):
    y, x = float_pair(y, x)
    return bind("atan2", y, x)


def arctan(x):
    x = float_operand(x)
    return bind("atan2", x, full_like_scalar(x, 1.0))


def _sqrt_one_minus_square(x):
    """sqrt(1 - x^2) as sqrt(1 - x) sqrt(1 + x): accurate near +-1, and its derivative is +-inf there
    (sqrt((1 - x)(1 + x)) would give inf * 0 = NaN in reverse mode)."""
    one = full_like_scalar(x, 1.0)
    return bind("multiply", bind("sqrt", bind("subtract", one, x)), bind("sqrt", bind("add", one, x)))


def arcsin(x):
    x = float_operand(x)
    return bind("atan2", x, _sqrt_one_minus_square(x))


def arccos(x):
    x = float_operand(x)
    return bind("atan2", _sqrt_one_minus_square(x), x)


def _is64(x):
    return type_of(x).dtype == as_dtype("float64")


def _abs_by_sign(x):
    """(|x|, negative) with negative = signbit(x): selects, so d|x| = +-1 on both sides of +-0."""
    neg = signbit(x)
    return where(neg, bind("negate", x), x), neg


_LN2_SHORT = 0.693359375  # 355/512, near log 2 with 9 bits: a - it is exact for the a where exp(a) overflows


def _half_exp_squared(a):
    """exp(a) / 2 as exp(a - c) * (exp(c) / 2) with a - c exact: finite up to log(2 max), where exp(a)
    overflows, and so is its derivative (the same expression)."""
    k = float(np.asarray(math.exp(_LN2_SHORT) / 2, type_of(a).dtype.np))
    return bind("multiply", bind("exponential", bind("subtract", a, full_like_scalar(a, _LN2_SHORT))), full_like_scalar(a, k))


def _exp_overflow_guard(x):
    """(a = |x|, big = a beyond which exp(a) may overflow, a on the big branch, x elsewhere (double where))."""
    a = bind("abs", x)
    big = greater(a, full_like_scalar(x, 708.0 if _is64(x) else 88.0))
    return a, big, where(big, a, full_like_scalar(x, 1.0)), where(big, full_like_scalar(x, 0.0), x)


def sinh(x):
    x = float_operand(x)
    a, big, ab, xs = _exp_overflow_guard(x)
    half = full_like_scalar(x, 0.5)
    small = bind("multiply", half, bind("subtract", bind("exponential_minus_one", xs),
                                        bind("exponential_minus_one", bind("negate", xs))))
    h = _half_exp_squared(ab)
    return where(big, where(less(x, full_like_scalar(x, 0.0)), bind("negate", h), h), small)


def cosh(x):
    """1 + expm1(a)^2 / (2 (1 + expm1(a))) for a = |x| < 1 (its derivative is sinh without cancellation:
    cosh'(1e-200) = 1e-200), (exp(a) + exp(-a)) / 2 up to where exp(a) overflows, then exp(a - c) exp(c) / 2."""
    x = float_operand(x)
    a, big, ab, _ = _exp_overflow_guard(x)
    one, half = full_like_scalar(x, 1.0), full_like_scalar(x, 0.5)
    near = less(a, one)
    em = bind("exponential_minus_one", where(near, a, full_like_scalar(x, 0.0)))
    r_near = bind("add", one, bind("divide", bind("multiply", em, em), bind("multiply", full_like_scalar(x, 2.0), bind("add", em, one))))
    am = where(logical_or(near, big), one, a)
    r_mid = bind("multiply", half, bind("add", bind("exponential", am), bind("exponential", bind("negate", am))))
    return where(near, r_near, where(big, _half_exp_squared(ab), r_mid))


def arcsinh(x):
    x = float_operand(x)
    a, neg = _abs_by_sign(x)
    one = full_like_scalar(x, 1.0)
    # asinh|x| = log1p(|x| + x^2 / (1 + sqrt(1 + x^2))), accurate near 0; log(2|x|) for huge |x|
    big = greater(a, full_like_scalar(x, 1e150 if _is64(x) else 1e18))
    s = where(big, one, a)
    s2 = bind("multiply", s, s)
    small = bind("log_plus_one", bind("add", s, bind("divide", s2, bind("add", one, bind("sqrt", bind("add", one, s2))))))
    large = bind("add", bind("log", where(big, a, one)), full_like_scalar(x, math.log(2.0)))
    r = where(big, large, small)
    return where(neg, bind("negate", r), r)


def arccosh(x):
    """log1p(t + sqrt(2t + t^2)) with t = x - 1 (exact) up to 2, log(x + sqrt(x^2 - 1)) up to where x^2 - 1
    rounds to x^2, then log(x) + log(2) (x^2 would overflow); NaN below 1."""
    x = float_operand(x)
    one, two = full_like_scalar(x, 1.0), full_like_scalar(x, 2.0)
    near = less_equal(x, two)
    big = greater(x, full_like_scalar(x, 1e8 if _is64(x) else 1e4))
    t = where(near, bind("subtract", x, one), one)
    # sqrt(2t + t^2) as sqrt(t) sqrt(2 + t): the derivative is inf at x = 1 (JAX's), not inf * 0 = NaN
    r_near = bind("log_plus_one", bind("add", t, bind("multiply", bind("sqrt", t), bind("sqrt", bind("add", two, t)))))
    m = where(logical_or(near, big), two, x)
    r_mid = bind("log", bind("add", m, bind("sqrt", bind("subtract", bind("multiply", m, m), one))))
    r_big = bind("add", bind("log", where(big, x, two)), full_like_scalar(x, math.log(2.0)))
    r = where(near, r_near, where(big, r_big, r_mid))
    return where(greater_equal(x, one), r, full_like_scalar(x, math.nan))


def arctanh(x):
    """sign(x) (log1p(|x|) - log1p(-|x|)) / 2: odd by construction, so no cancellation near -1, and the
    derivative is inf at +-1 (JAX's)."""
    x = float_operand(x)
    a, neg = _abs_by_sign(x)
    r = bind("multiply", full_like_scalar(x, 0.5), bind("subtract", bind("log_plus_one", a),
                                                   bind("log_plus_one", bind("negate", a))))
    return where(neg, bind("negate", r), r)


def logaddexp(x, y):
    """log(exp(x) + exp(y)): accurate values and smooth derivatives of every order.

    The value is max + log1p(exp(min - max)) (exact where one term dominates);
    the derivative comes from log(exp(x - m) + exp(y - m)) with m = max held
    constant, which is smooth at x == y where a max-based formula has a kink.
    The two are joined by `value + (q - stop_gradient(q))`: q - q is exactly 0.
    """
    x, y = float_pair(x, y)
    top = bind("maximum", x, y)
    m = bind("stop_gradient", top)
    finite = isfinite(m)
    # an infinite or NaN max: the max itself (derivative 1 for an inf, as JAX); the finite branch gets
    # finite inputs so its derivative is not inf * 0 there
    xs, ys = where(finite, x, full_like_scalar(x, 0.0)), where(finite, y, full_like_scalar(y, 0.0))
    shift = where(finite, m, full_like_scalar(m, 0.0))
    ex = bind("exponential", bind("subtract", xs, shift))
    ey = bind("exponential", bind("subtract", ys, shift))
    other = where(greater_equal(xs, ys), ey, ex)  # the max's term is exactly 1
    value = bind("stop_gradient", bind("add", shift, bind("log_plus_one", other)))
    q = bind("log", bind("add", ex, ey))
    r = bind("add", value, bind("subtract", q, bind("stop_gradient", q)))
    return where(finite, r, top)


def logaddexp2(x, y):
    x, y = float_pair(x, y)
    ln2 = full_like_scalar(x, math.log(2.0))
    return bind("divide", logaddexp(bind("multiply", x, ln2), bind("multiply", y, ln2)), ln2)


def hypot(x, y):
    """max * sqrt(1 + (min / max)^2) of |x|, |y| (JAX's formula): no overflow or underflow of the squares;
    inf if either is infinite, even with a NaN."""
    x, y = float_pair(x, y)
    ax, ay = bind("abs", x), bind("abs", y)
    m, n = bind("maximum", ax, ay), bind("minimum", ax, ay)
    zero = equal(m, full_like_scalar(m, 0.0))
    r = bind("divide", n, where(zero, full_like_scalar(m, 1.0), m))
    h = where(zero, m, bind("multiply", m, sqrt(bind("add", full_like_scalar(m, 1.0), bind("multiply", r, r)))))
    return where(logical_or(isposinf(ax), isposinf(ay)), full_like_scalar(m, math.inf), h)


def deg2rad(x):
    x = float_operand(x)
    return bind("multiply", x, full_like_scalar(x, math.pi / 180))


def rad2deg(x):
    x = float_operand(x)
    return bind("multiply", x, full_like_scalar(x, 180 / math.pi))


radians, degrees = deg2rad, rad2deg


def sinc(x):
    x = float_operand(x)
    px = bind("multiply", x, full_like_scalar(x, math.pi))
    zero = equal(x, full_like_scalar(x, 0))
    safe = where(zero, full_like_scalar(x, 1.0), px)
    return where(zero, full_like_scalar(x, 1.0), bind("divide", bind("sine", safe), safe))


# --- elementwise -----------------------------------------------------------------------------

def cbrt(x):
    """The real cube root: the `cbrt` op (exact at +-0 and +-inf; cbrt'(+-0) = inf, as JAX)."""
    return bind("cbrt", float_operand(x))


# --- more elementwise and creation --------------------------------------------------------------------

def ldexp(x1, x2):
    x = float_operand(x1) if lax.is_weak(x1) or not type_of(operand(x1)).dtype.is_float else operand(x1)
    e = operand(x2)
    if not type_of(e).dtype.is_int:
        raise TypeError("ldexp exponents must be integers")
    dt = type_of(x).dtype
    # x * 2^e in up to three exact steps of at most 2^(|e|/3): the result of one power of two could overflow
    # (ldexp(0.5, 1024)) or underflow (ldexp(64, -1080)) where x * 2^e does not
    x, e = lax.promote_and_broadcast(x, convert(e, dt))
    lim = 2200.0 if dt == F64 else 330.0  # beyond: 0 or inf for every finite nonzero x
    e = bind("clamp", lax.full_like(e, -lim), e, lax.full_like(e, lim))
    e1 = bind("floor", bind("divide", e, lax.full_like(e, 3.0)))
    e2 = bind("floor", bind("divide", bind("subtract", e, e1), lax.full_like(e, 2.0)))
    e3 = bind("subtract", bind("subtract", e, e1), e2)
    two = lax.full_like(e, 2.0)
    one_step = less_equal(absolute(e), lax.full_like(e, 1000.0 if dt == F64 else 120.0))  # 2^e normal: one rounding
    y = multiply(multiply(multiply(x, bind("power", two, e1)), bind("power", two, e2)), bind("power", two, e3))
    return where(one_step, multiply(x, bind("power", two, e)), y)


def float_power(x1, x2):
    return power(convert(operand(x1), F64), convert(operand(x2), F64))


# the array API's names
acos, acosh, asin, asinh, atan, atan2, atanh = arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh


# --- complex numbers: angle, real_if_close ----------------------------------------------------------

def angle(z, deg=False):
    """The argument of z in radians (degrees with deg=True): arctan2(imag, real), as numpy.angle."""
    z = operand(z)
    if type_of(z).dtype.kind != "c":
        z = float_operand(z)
    a = arctan2(imag(z), real(z))
    return multiply(a, 180.0 / math.pi) if deg else a


def real_if_close(a, tol=100):
    """The real part when every imaginary part is within tol machine epsilons of zero (tol > 1), or
    within tol itself (tol <= 1); else a unchanged, as numpy.real_if_close. The result's dtype depends
    on the values, so a symbolic (traced) complex tensor is refused."""
    x = operand(a)
    if type_of(x).dtype.kind != "c":
        return x
    if is_tensor(x):
        raise TypeError("real_if_close: its result dtype depends on the values, so it needs a concrete array, "
                        "not a traced complex tensor; use cnp.real where the imaginary part is known to vanish")
    arr = np.asarray(x)
    bound = tol * np.finfo(arr.real.dtype).eps if tol > 1 else tol
    return real(x) if bool(np.all(np.abs(arr.imag) < bound)) else x


__all__ = ["angle", "real_if_close", "exp", "expm1", "log", "log1p", "sqrt", "sin", "cos", "tan", "tanh", "log2", "log10", "exp2", "arctan2",
           "arctan", "arcsin", "arccos", "sinh", "cosh", "arcsinh", "arccosh", "arctanh", "logaddexp", "logaddexp2",
           "hypot", "deg2rad", "rad2deg", "radians", "degrees", "sinc", "cbrt", "ldexp", "float_power", "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh"]
