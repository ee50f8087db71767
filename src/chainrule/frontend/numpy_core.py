"""chainrule.numpy, core part: NumPy's names and semantics on tensors.

Each function works on symbolic tensors (building graph nodes) and on
concrete arrays (computing at once with the reference rules). Composite
functions are built from primitive ops, so they differentiate for free.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from ..ir import bool_ as _BOOL, dtype as as_dtype
from . import lax
from .core import bind, is_tensor, type_of
from .lax import (broadcast_to, convert, elementwise, float_operand, normalize_axes, normalize_axis,
                  operand, reduce, result_type)
from .tensor import Tensor

pi = np.pi
e = np.e
inf = np.inf
nan = np.nan
newaxis = None

# dtype names users pass around (cnp.float32 etc. are NumPy's, so astype works on both worlds)
bool_ = np.bool_
float32 = np.float32
float64 = np.float64
int32 = np.int32
int64 = np.int64
# dtype introspection is NumPy's own: it works on tensors' dtypes (NumPy dtypes) unchanged
dtype = np.dtype
finfo = np.finfo
iinfo = np.iinfo
issubdtype = np.issubdtype
promote_types = np.promote_types
can_cast = np.can_cast
integer, floating, number, inexact, signedinteger = np.integer, np.floating, np.number, np.inexact, np.signedinteger


# --- elementwise arithmetic ---------------------------------------------------------

def add(x, y):
    return _arith("add", x, y)


def subtract(x, y):
    return _arith("subtract", x, y)


def multiply(x, y):
    return _arith("multiply", x, y)


def _arith(op, x, y):
    d = result_type(x, y)
    if d == _BOOL and op in ("add", "multiply"):
        return elementwise("or" if op == "add" else "and", x, y)
    if d == _BOOL:
        raise TypeError(f"numpy boolean {op} is not supported; use logical_xor or a cast")
    return elementwise(op, x, y)


def divide(x, y):
    d = result_type(x, y)
    if not d.is_float:
        d = lax._default_float()
    return elementwise("divide", x, y, dtype=d)


true_divide = divide


def _bools_as_int32(x, y):
    """NumPy computes integer ops of two booleans in int8, which chainrule widens to int32."""
    x, y = lax.promote_and_broadcast(x, y)
    if type_of(x).dtype.is_bool:
        x, y = convert(x, "int32"), convert(y, "int32")
    return x, y


def floor_divide(x, y):
    x, y = _bools_as_int32(x, y)
    d = type_of(x).dtype
    if d.is_float:
        return _npy_floordiv(x, y)
    q = bind("divide", x, y)  # truncates toward zero
    r = bind("remainder", x, y)
    zero = lax.full_like(r, 0)
    adjust = logical_and(not_equal(r, zero), not_equal(less(r, zero), less(y, zero)))
    q = where(adjust, bind("subtract", q, lax.full_like(q, 1)), q)
    return where(equal(y, zero), zero, q)  # NumPy: x // 0 == 0 for ints


def _npy_floordiv(x, y):
    """NumPy's float floor division (npy_divmod), step by step."""
    # as NumPy's npy_divmod: div = (a - fmod(a, b)) / b, adjusted so the remainder has b's sign
    m = bind("remainder", x, y)
    div = bind("divide", bind("subtract", x, m), y)
    zero = lax.full_like(m, 0)
    fix = logical_and(not_equal(m, zero), not_equal(less(y, zero), less(m, zero)))
    div = where(fix, bind("subtract", div, lax.full_like(div, 1)), div)
    fl = bind("floor", div)
    fl = where(greater(bind("subtract", div, fl), lax.full_like(div, 0.5)), bind("add", fl, lax.full_like(fl, 1)), fl)
    plain = bind("divide", x, y)
    return where(equal(y, lax.full_like(y, 0)), plain, where(equal(div, lax.full_like(div, 0)),
                                                             bind("multiply", lax.full_like(div, 0), plain), fl))


def remainder(x, y):
    """NumPy's mod: the result has the sign of the divisor."""
    x, y = _bools_as_int32(x, y)
    r = bind("remainder", x, y)
    d = type_of(r).dtype
    zero = lax.full_like(r, 0)
    fix = logical_and(not_equal(r, zero), not_equal(less(r, zero), less(y, zero)))
    out = where(fix, bind("add", r, y), r)
    if d.is_int:
        return where(equal(y, zero), zero, out)  # NumPy: x % 0 == 0 for ints
    return out


mod = remainder


def fmod(x, y):
    return bind("remainder", *_bools_as_int32(x, y))


def power(x, y):
    d = result_type(x, y)
    if d.is_bool:
        d = as_dtype("int32")  # NumPy: int8, widened
    return elementwise("power", x, y, dtype=d)


def negative(x):
    x = operand(x)
    if type_of(x).dtype.is_bool:
        raise TypeError("negative of a boolean array is not supported; use logical_not")
    return bind("negate", x)


def positive(x):
    return operand(x)


def absolute(x):
    x = operand(x)
    return x if type_of(x).dtype.is_bool else bind("abs", x)


abs = absolute


def sign(x):
    return bind("sign", operand(x))


def square(x):
    x = operand(x)
    return bind("multiply", x, x)


def reciprocal(x):
    x = operand(x)
    return divide(lax.full_like(x, 1), x)


def maximum(x, y):
    return elementwise("maximum", x, y)


def minimum(x, y):
    return elementwise("minimum", x, y)


def fmax(x, y):
    """JAX's select: x where x > y or y is NaN, else y (so a tie's derivative goes to y)."""
    x, y = lax.promote_and_broadcast(x, y)
    return where(logical_or(greater(x, y), isnan(y)), x, y)


def fmin(x, y):
    x, y = lax.promote_and_broadcast(x, y)
    return where(logical_or(less(x, y), isnan(y)), x, y)


def clip(a, a_min=None, a_max=None, *, min=None, max=None):
    if min is not None or max is not None:  # NumPy 2.1 spells the bounds min= and max=
        if a_min is not None or a_max is not None:
            raise TypeError("clip: pass the bounds as a_min/a_max or as min/max, not both")
        a_min, a_max = min, max
    x = operand(a)
    if a_min is not None:
        x = maximum(x, a_min)
    if a_max is not None:
        x = minimum(x, a_max)
    return x


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


def _const_like(x, v):
    return lax.full_like(x, v)


def log2(x):
    x = float_operand(x)
    return bind("divide", bind("log", x), _const_like(x, math.log(2)))


def log10(x):
    x = float_operand(x)
    return bind("divide", bind("log", x), _const_like(x, math.log(10)))


def exp2(x):
    x = float_operand(x)
    return bind("power", _const_like(x, 2.0), x)


def _float_pair(x, y):
    """Promote as NumPy does (Python scalars weak), then to float: ints to float64, bools to float32."""
    x, y = lax.promote_and_broadcast(x, y)
    return float_operand(x), float_operand(y)


def arctan2(y, x):
    y, x = _float_pair(y, x)
    return bind("atan2", y, x)


def arctan(x):
    x = float_operand(x)
    return bind("atan2", x, _const_like(x, 1.0))


def _sqrt_one_minus_square(x):
    """sqrt(1 - x^2) as sqrt(1 - x) sqrt(1 + x): accurate near +-1, and its derivative is +-inf there
    (sqrt((1 - x)(1 + x)) would give inf * 0 = NaN in reverse mode)."""
    one = _const_like(x, 1.0)
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
    return bind("multiply", bind("exponential", bind("subtract", a, _const_like(a, _LN2_SHORT))), _const_like(a, k))


def _exp_overflow_guard(x):
    """(a = |x|, big = a beyond which exp(a) may overflow, a on the big branch, x elsewhere (double where))."""
    a = bind("abs", x)
    big = greater(a, _const_like(x, 708.0 if _is64(x) else 88.0))
    return a, big, where(big, a, _const_like(x, 1.0)), where(big, _const_like(x, 0.0), x)


def sinh(x):
    x = float_operand(x)
    a, big, ab, xs = _exp_overflow_guard(x)
    half = _const_like(x, 0.5)
    small = bind("multiply", half, bind("subtract", bind("exponential_minus_one", xs),
                                        bind("exponential_minus_one", bind("negate", xs))))
    h = _half_exp_squared(ab)
    return where(big, where(less(x, _const_like(x, 0.0)), bind("negate", h), h), small)


def cosh(x):
    """1 + expm1(a)^2 / (2 (1 + expm1(a))) for a = |x| < 1 (its derivative is sinh without cancellation:
    cosh'(1e-200) = 1e-200), (exp(a) + exp(-a)) / 2 up to where exp(a) overflows, then exp(a - c) exp(c) / 2."""
    x = float_operand(x)
    a, big, ab, _ = _exp_overflow_guard(x)
    one, half = _const_like(x, 1.0), _const_like(x, 0.5)
    near = less(a, one)
    em = bind("exponential_minus_one", where(near, a, _const_like(x, 0.0)))
    r_near = bind("add", one, bind("divide", bind("multiply", em, em), bind("multiply", _const_like(x, 2.0), bind("add", em, one))))
    am = where(logical_or(near, big), one, a)
    r_mid = bind("multiply", half, bind("add", bind("exponential", am), bind("exponential", bind("negate", am))))
    return where(near, r_near, where(big, _half_exp_squared(ab), r_mid))


def arcsinh(x):
    x = float_operand(x)
    a, neg = _abs_by_sign(x)
    one = _const_like(x, 1.0)
    # asinh|x| = log1p(|x| + x^2 / (1 + sqrt(1 + x^2))), accurate near 0; log(2|x|) for huge |x|
    big = greater(a, _const_like(x, 1e150 if _is64(x) else 1e18))
    s = where(big, one, a)
    s2 = bind("multiply", s, s)
    small = bind("log_plus_one", bind("add", s, bind("divide", s2, bind("add", one, bind("sqrt", bind("add", one, s2))))))
    large = bind("add", bind("log", where(big, a, one)), _const_like(x, math.log(2.0)))
    r = where(big, large, small)
    return where(neg, bind("negate", r), r)


def arccosh(x):
    """log1p(t + sqrt(2t + t^2)) with t = x - 1 (exact) up to 2, log(x + sqrt(x^2 - 1)) up to where x^2 - 1
    rounds to x^2, then log(x) + log(2) (x^2 would overflow); NaN below 1."""
    x = float_operand(x)
    one, two = _const_like(x, 1.0), _const_like(x, 2.0)
    near = less_equal(x, two)
    big = greater(x, _const_like(x, 1e8 if _is64(x) else 1e4))
    t = where(near, bind("subtract", x, one), one)
    # sqrt(2t + t^2) as sqrt(t) sqrt(2 + t): the derivative is inf at x = 1 (JAX's), not inf * 0 = NaN
    r_near = bind("log_plus_one", bind("add", t, bind("multiply", bind("sqrt", t), bind("sqrt", bind("add", two, t)))))
    m = where(logical_or(near, big), two, x)
    r_mid = bind("log", bind("add", m, bind("sqrt", bind("subtract", bind("multiply", m, m), one))))
    r_big = bind("add", bind("log", where(big, x, two)), _const_like(x, math.log(2.0)))
    r = where(near, r_near, where(big, r_big, r_mid))
    return where(greater_equal(x, one), r, _const_like(x, math.nan))


def arctanh(x):
    """sign(x) (log1p(|x|) - log1p(-|x|)) / 2: odd by construction, so no cancellation near -1, and the
    derivative is inf at +-1 (JAX's)."""
    x = float_operand(x)
    a, neg = _abs_by_sign(x)
    r = bind("multiply", _const_like(x, 0.5), bind("subtract", bind("log_plus_one", a),
                                                   bind("log_plus_one", bind("negate", a))))
    return where(neg, bind("negate", r), r)


def logaddexp(x, y):
    """log(exp(x) + exp(y)): accurate values and smooth derivatives of every order.

    The value is max + log1p(exp(min - max)) (exact where one term dominates);
    the derivative comes from log(exp(x - m) + exp(y - m)) with m = max held
    constant, which is smooth at x == y where a max-based formula has a kink.
    The two are joined by `value + (q - stop_gradient(q))`: q - q is exactly 0.
    """
    x, y = _float_pair(x, y)
    top = bind("maximum", x, y)
    m = bind("stop_gradient", top)
    finite = isfinite(m)
    # an infinite or NaN max: the max itself (derivative 1 for an inf, as JAX); the finite branch gets
    # finite inputs so its derivative is not inf * 0 there
    xs, ys = where(finite, x, _const_like(x, 0.0)), where(finite, y, _const_like(y, 0.0))
    shift = where(finite, m, _const_like(m, 0.0))
    ex = bind("exponential", bind("subtract", xs, shift))
    ey = bind("exponential", bind("subtract", ys, shift))
    other = where(greater_equal(xs, ys), ey, ex)  # the max's term is exactly 1
    value = bind("stop_gradient", bind("add", shift, bind("log_plus_one", other)))
    q = bind("log", bind("add", ex, ey))
    r = bind("add", value, bind("subtract", q, bind("stop_gradient", q)))
    return where(finite, r, top)


def logaddexp2(x, y):
    x, y = _float_pair(x, y)
    ln2 = _const_like(x, math.log(2.0))
    return bind("divide", logaddexp(bind("multiply", x, ln2), bind("multiply", y, ln2)), ln2)


def hypot(x, y):
    """max * sqrt(1 + (min / max)^2) of |x|, |y| (JAX's formula): no overflow or underflow of the squares;
    inf if either is infinite, even with a NaN."""
    x, y = _float_pair(x, y)
    ax, ay = bind("abs", x), bind("abs", y)
    m, n = bind("maximum", ax, ay), bind("minimum", ax, ay)
    zero = equal(m, _const_like(m, 0.0))
    r = bind("divide", n, where(zero, _const_like(m, 1.0), m))
    h = where(zero, m, bind("multiply", m, sqrt(bind("add", _const_like(m, 1.0), bind("multiply", r, r)))))
    return where(logical_or(isposinf(ax), isposinf(ay)), _const_like(m, math.inf), h)


def deg2rad(x):
    x = float_operand(x)
    return bind("multiply", x, _const_like(x, math.pi / 180))


def rad2deg(x):
    x = float_operand(x)
    return bind("multiply", x, _const_like(x, 180 / math.pi))


radians, degrees = deg2rad, rad2deg


def floor(x):
    x = operand(x)
    return x if not type_of(x).dtype.is_float else bind("floor", x)


def ceil(x):
    x = operand(x)
    return x if not type_of(x).dtype.is_float else bind("ceil", x)


def trunc(x):
    x = operand(x)
    if not type_of(x).dtype.is_float:
        return x
    return where(less(x, _const_like(x, 0)), bind("ceil", x), bind("floor", x))


fix = trunc


def rint(x):
    return bind("round_nearest_even", float_operand(x))  # NumPy: rint of integers is float64


def round(a, decimals=0):
    x = operand(a)
    if type_of(x).dtype.is_bool:
        x = convert(x, "float32")  # NumPy: float16, widened
    if not type_of(x).dtype.is_float:
        if decimals >= 0:
            return x
        # integers to tens, hundreds, ...: half to even on the scaled value, as NumPy
        dt = type_of(x).dtype
        f = float(10 ** (-decimals))
        xf = convert(x, "float64")
        r = bind("multiply", bind("round_nearest_even", bind("divide", xf, _const_like(xf, f))), _const_like(xf, f))
        return convert(r, dt)
    if decimals == 0:
        return bind("round_nearest_even", x)
    s = _const_like(x, 10.0 ** decimals)
    return bind("divide", bind("round_nearest_even", bind("multiply", x, s)), s)


around = round


def sinc(x):
    x = float_operand(x)
    px = bind("multiply", x, _const_like(x, math.pi))
    zero = equal(x, _const_like(x, 0))
    safe = where(zero, _const_like(x, 1.0), px)
    return where(zero, _const_like(x, 1.0), bind("divide", bind("sine", safe), safe))


# --- predicates and logic ----------------------------------------------------------

def _compare(direction):
    def fn(x, y):
        return elementwise("compare", x, y, direction=direction)
    return fn


equal = _compare("EQ")
not_equal = _compare("NE")
less = _compare("LT")
less_equal = _compare("LE")
greater = _compare("GT")
greater_equal = _compare("GE")
equal.__name__, not_equal.__name__, less.__name__ = "equal", "not_equal", "less"
less_equal.__name__, greater.__name__, greater_equal.__name__ = "less_equal", "greater", "greater_equal"


def _as_bool(x):
    x = operand(x)
    return x if type_of(x).dtype.is_bool else not_equal(x, lax.full_like(x, 0))


def logical_and(x, y):
    return elementwise("and", _as_bool(x), _as_bool(y))


def logical_or(x, y):
    return elementwise("or", _as_bool(x), _as_bool(y))


def logical_xor(x, y):
    return elementwise("xor", _as_bool(x), _as_bool(y))


def logical_not(x):
    return bind("not", _as_bool(x))


def bitwise_and(x, y):
    return elementwise("and", x, y)


def bitwise_or(x, y):
    return elementwise("or", x, y)


def bitwise_xor(x, y):
    return elementwise("xor", x, y)


def invert(x):
    return bind("not", operand(x))


bitwise_not = invert


def isfinite(x):
    x = operand(x)
    if not type_of(x).dtype.is_float:
        return lax.full_like(x, True, "bool")
    return bind("is_finite", x)


def isnan(x):
    x = operand(x)
    if not type_of(x).dtype.is_float:
        return lax.full_like(x, False, "bool")
    return not_equal(x, x)


def isinf(x):
    x = operand(x)
    if not type_of(x).dtype.is_float:
        return lax.full_like(x, False, "bool")
    return equal(bind("abs", x), lax.full_like(x, np.inf))


def isposinf(x):
    return logical_and(isinf(x), greater(x, 0))


def isneginf(x):
    return logical_and(isinf(x), less(x, 0))


def signbit(x):
    x = float_operand(x)
    # -0.0 has its sign bit set: 1/x is -inf there
    one = _const_like(x, 1.0)
    return logical_or(less(x, _const_like(x, 0)), less(bind("divide", one, x), _const_like(x, 0)))


def where(condition, x=None, y=None):
    if x is None or y is None:
        raise NotImplementedError("where(condition) with one argument has a data-dependent shape; "
                                  "give both x and y")
    c = _as_bool(condition)
    dt = result_type(x, y)
    ops = [convert(x, dt), convert(y, dt)]
    shape = lax.broadcast_shapes(type_of(c).shape, type_of(ops[0]).shape, type_of(ops[1]).shape)
    return bind("select", broadcast_to(c, shape), broadcast_to(ops[0], shape), broadcast_to(ops[1], shape))


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    x = operand(x)
    t = type_of(x)
    if not t.dtype.is_float:
        return x
    info = np.finfo(t.dtype.np)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    x = where(isnan(x), lax.full_like(x, nan), x)
    x = where(equal(x, lax.full_like(x, np.inf)), lax.full_like(x, posinf), x)
    return where(equal(x, lax.full_like(x, -np.inf)), lax.full_like(x, neginf), x)


# --- reductions ---------------------------------------------------------------------

def _sum_dtype(x, dtype):
    if dtype is not None:
        return as_dtype(dtype)
    d = type_of(x).dtype
    if d.is_bool:
        return as_dtype("int64")
    if d.is_int and d.bits < 64:
        return as_dtype("int64")  # NumPy sums small ints in the platform integer
    return d


def _no_out(out, name):
    if out is not None:
        raise TypeError(f"{name}(out=...) writes in place, which tensors cannot; use the returned value")


def _masked(x, where_, fill):
    """x where the mask holds, `fill` elsewhere (NumPy's where= of reductions)."""
    if where_ is None or where_ is True:
        return x
    m = broadcast_to(_as_bool(where_), type_of(x).shape)
    return bind("select", m, x, lax.full_like(x, fill))


def _where_count(x, axis, keepdims, where_, dt):
    """Elements taking part in each reduction: a static count, or the mask summed."""
    if where_ is None or where_ is True:
        n = _count(x, axis)
        return n
    m = convert(broadcast_to(_as_bool(where_), type_of(x).shape), dt)
    return reduce(m, "sum", axis, keepdims)


def sum(a, axis=None, dtype=None, keepdims=False, *, out=None, initial=None, where=None):
    _no_out(out, "sum")
    x = operand(a)
    x = _masked(convert(x, _sum_dtype(x, dtype)), where, 0)
    r = reduce(x, "sum", axis, keepdims)
    return r if initial is None else add(r, initial)


def prod(a, axis=None, dtype=None, keepdims=False, *, out=None, initial=None, where=None):
    _no_out(out, "prod")
    x = operand(a)
    x = _masked(convert(x, _sum_dtype(x, dtype)), where, 1)
    r = reduce(x, "prod", axis, keepdims)
    return r if initial is None else multiply(r, initial)


def _count(x, axis):
    t = type_of(x)
    axes = normalize_axes(axis, t.ndim)
    return int(np.prod([t.shape[a] for a in axes])) if axes else 1


def mean(a, axis=None, dtype=None, keepdims=False, *, out=None, where=None):
    _no_out(out, "mean")
    x = operand(a)
    d = as_dtype(dtype) if dtype is not None else type_of(x).dtype
    if not d.is_float:
        d = lax._default_float()
    x = convert(x, d)
    s = reduce(_masked(x, where, 0), "sum", axis, keepdims)
    n = _where_count(x, axis, keepdims, where, d)
    return bind("divide", s, lax.full_like(s, n) if isinstance(n, int) else n)


def var(a, axis=None, dtype=None, ddof=0, keepdims=False, *, out=None, where=None, mean=None):
    _no_out(out, "var")
    x = operand(a)
    m = _mean(x, axis, dtype, keepdims=True, where=where) if mean is None else operand(mean)
    x = convert(x, type_of(m).dtype)
    dev = bind("subtract", x, broadcast_to(m, type_of(x).shape))
    s = reduce(_masked(bind("multiply", dev, dev), where, 0), "sum", axis, keepdims)
    n = _where_count(x, axis, keepdims, where, type_of(s).dtype)
    if isinstance(n, int):
        return bind("divide", s, lax.full_like(s, builtins.max(n - ddof, 0)))
    return bind("divide", s, maximum(bind("subtract", n, lax.full_like(n, ddof)), 0))


_mean = mean


def std(a, axis=None, dtype=None, ddof=0, keepdims=False, *, out=None, where=None, mean=None):
    return sqrt(var(a, axis, dtype, ddof, keepdims, out=out, where=where, mean=mean))


def _lowest(dt):
    return -np.inf if dt.is_float else (False if dt.is_bool else np.iinfo(dt.np).min)


def _highest(dt):
    return np.inf if dt.is_float else (True if dt.is_bool else np.iinfo(dt.np).max)


def max(a, axis=None, keepdims=False, initial=None, *, out=None, where=None):
    _no_out(out, "max")
    x = operand(a)
    if where is not None and where is not True and initial is None:
        raise ValueError("reduction operation 'maximum' does not have an identity, so to use a where mask one has "
                         "to specify 'initial'")
    _check_nonempty(x, axis, "max", initial)
    r = reduce(_masked(x, where, _lowest(type_of(x).dtype)), "max", axis, keepdims)
    return r if initial is None else maximum(r, initial)


def min(a, axis=None, keepdims=False, initial=None, *, out=None, where=None):
    _no_out(out, "min")
    x = operand(a)
    if where is not None and where is not True and initial is None:
        raise ValueError("reduction operation 'minimum' does not have an identity, so to use a where mask one has "
                         "to specify 'initial'")
    _check_nonempty(x, axis, "min", initial)
    r = reduce(_masked(x, where, _highest(type_of(x).dtype)), "min", axis, keepdims)
    return r if initial is None else minimum(r, initial)


amax, amin = max, min


def _check_nonempty(x, axis, name, initial):
    if initial is None and _count(x, axis) == 0 and type_of(x).size == 0:
        raise ValueError(f"zero-size array to reduction operation {name} which has no identity")


def all(a, axis=None, keepdims=False, *, out=None, where=None):
    _no_out(out, "all")
    return reduce(_masked(_as_bool(a), where, True), "and", axis, keepdims)


def any(a, axis=None, keepdims=False, *, out=None, where=None):
    _no_out(out, "any")
    return reduce(_masked(_as_bool(a), where, False), "or", axis, keepdims)


def _arg(op, a, axis, keepdims):
    x = operand(a)
    if type_of(x).dtype.is_bool:
        x = convert(x, "int32")
    if axis is None:
        x = reshape(x, (-1,))
        axis = 0
    t = type_of(x)
    axis = normalize_axis(axis, t.ndim)
    if t.shape[axis] == 0:
        raise ValueError(f"attempt to get {op} of an empty sequence")
    r = bind(op, x, dimension=axis, index_dtype="int64")
    if keepdims:
        r = lax.reshape(r, t.shape[:axis] + (1,) + t.shape[axis + 1:])
    return r


def argmax(a, axis=None, keepdims=False):
    return _arg("argmax", a, axis, keepdims)


def argmin(a, axis=None, keepdims=False):
    return _arg("argmin", a, axis, keepdims)


# --- shapes ---------------------------------------------------------------------------

def shape(a):
    return type_of(operand(a)).shape


def ndim(a):
    return type_of(operand(a)).ndim


def size(a):
    return type_of(operand(a)).size


def reshape(a, newshape=None, order="C", shape=None):
    """order="F" reads and writes column-major: reverse the axes, reshape to the reversed shape, reverse back."""
    new = shape if newshape is None else newshape
    if order == "F":
        x = lax.transpose(operand(a))
        new = (new,) if isinstance(new, (int, np.integer)) else tuple(new)
        return lax.transpose(lax.reshape(x, new[::-1]))
    if order not in ("C", "A"):
        raise ValueError(f"order must be 'C', 'F' or 'A', got {order!r}")
    return lax.reshape(operand(a), new)


def transpose(a, axes=None):
    return lax.transpose(operand(a), axes)


def ravel(a):
    return reshape(a, (-1,))


def swapaxes(a, axis1, axis2):
    x = operand(a)
    n = type_of(x).ndim
    i, j = normalize_axis(axis1, n), normalize_axis(axis2, n)
    perm = list(range(n))
    perm[i], perm[j] = perm[j], perm[i]
    return transpose(x, perm)


def moveaxis(a, source, destination):
    x = operand(a)
    n = type_of(x).ndim
    src = [normalize_axis(s, n) for s in (source if isinstance(source, (list, tuple)) else [source])]
    dst = [normalize_axis(d, n) for d in (destination if isinstance(destination, (list, tuple)) else [destination])]
    if len(src) != len(dst):
        raise ValueError("source and destination must have the same number of elements")
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def expand_dims(a, axis):
    x = operand(a)
    t = type_of(x)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    n = t.ndim + len(axes)
    axes = sorted(normalize_axis(ax, n) for ax in axes)
    shape = list(t.shape)
    for ax in axes:
        shape.insert(ax, 1)
    return reshape(x, shape)


def squeeze(a, axis=None):
    x = operand(a)
    t = type_of(x)
    if axis is None:
        return reshape(x, [n for n in t.shape if n != 1])
    axes = normalize_axes(axis, t.ndim)
    for ax in axes:
        if t.shape[ax] != 1:
            raise ValueError(f"cannot select an axis to squeeze out which has size not equal to one (axis {ax})")
    return reshape(x, [n for i, n in enumerate(t.shape) if i not in axes])


def broadcast_to_(a, shape):
    return broadcast_to(operand(a), shape)


def broadcast_arrays(*args):
    shape = lax.broadcast_shapes(*[type_of(operand(a)).shape for a in args])
    return [broadcast_to(operand(a), shape) for a in args]


def astype(x, dtype):
    return convert(operand(x), as_dtype(dtype))


def concatenate(arrays, axis=0):
    arrays = [operand(a) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    dt = result_type(*arrays)
    arrays = [convert(a, dt) for a in arrays]
    n = type_of(arrays[0]).ndim
    if n == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    axis = normalize_axis(axis, n)
    if len(arrays) == 1:
        return arrays[0]
    return bind("concatenate", *arrays, dimension=axis)


def stack(arrays, axis=0):
    arrays = [operand(a) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to stack")
    shapes = {type_of(a).shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError("all input arrays must have the same shape")
    n = type_of(arrays[0]).ndim + 1
    axis = normalize_axis(axis, n)
    return concatenate([expand_dims(a, axis) for a in arrays], axis=axis)


# --- linear algebra ------------------------------------------------------------------

def _promote2(a, b):
    a, b = operand(a), operand(b)
    dt = result_type(a, b)
    if dt.is_bool:
        dt = as_dtype("int64")
    return convert(a, dt), convert(b, dt)


def matmul(a, b):
    a, b = _promote2(a, b)
    ta, tb = type_of(a), type_of(b)
    if ta.ndim == 0 or tb.ndim == 0:
        raise ValueError("matmul: input operand does not have enough dimensions (use multiply for scalars)")
    a2 = a if ta.ndim >= 2 else reshape(a, (1,) + ta.shape)
    b2 = b if tb.ndim >= 2 else reshape(b, tb.shape + (1,))
    sa, sb = type_of(a2).shape, type_of(b2).shape
    if sa[-1] != sb[-2]:
        raise ValueError(f"matmul: contracting dimensions differ: {ta.shape} @ {tb.shape}")
    batch = lax.broadcast_shapes(sa[:-2], sb[:-2])
    a2 = broadcast_to(a2, batch + sa[-2:])
    b2 = broadcast_to(b2, batch + sb[-2:])
    nb = len(batch)
    r = bind("dot_general", a2, b2, lhs_batch=tuple(range(nb)), rhs_batch=tuple(range(nb)),
             lhs_contracting=(nb + 1,), rhs_contracting=(nb,))
    out = batch + ((sa[-2],) if ta.ndim >= 2 else ()) + ((sb[-1],) if tb.ndim >= 2 else ())
    return reshape(r, out)


def dot(a, b):
    a, b = _promote2(a, b)
    ta, tb = type_of(a), type_of(b)
    if ta.ndim == 0 or tb.ndim == 0:
        return multiply(a, b)
    if tb.ndim == 1 or ta.ndim == 1 and tb.ndim <= 2:
        return matmul(a, b)
    # N-d: sum over the last axis of a and the second-to-last of b
    return bind("dot_general", a, b, lhs_contracting=(ta.ndim - 1,), rhs_contracting=(tb.ndim - 2,))


def vdot(a, b):
    return dot(ravel(a), ravel(b))


def inner(a, b):
    a, b = _promote2(a, b)
    ta, tb = type_of(a), type_of(b)
    if ta.ndim == 0 or tb.ndim == 0:
        return multiply(a, b)
    return bind("dot_general", a, b, lhs_contracting=(ta.ndim - 1,), rhs_contracting=(tb.ndim - 1,))


def outer(a, b):
    a, b = _promote2(ravel(a), ravel(b))
    return bind("dot_general", a, b)


def tensordot(a, b, axes=2):
    a, b = _promote2(a, b)
    ta, tb = type_of(a), type_of(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        la, lb = tuple(range(ta.ndim - n, ta.ndim)), tuple(range(n))
    else:
        la, lb = axes
        la = tuple(normalize_axis(x, ta.ndim) for x in (la if isinstance(la, (list, tuple)) else [la]))
        lb = tuple(normalize_axis(x, tb.ndim) for x in (lb if isinstance(lb, (list, tuple)) else [lb]))
    return bind("dot_general", a, b, lhs_contracting=la, rhs_contracting=lb)


# --- creation -------------------------------------------------------------------------

def _dt(dtype, default=None):
    """`dtype`, or `default`, or the default float dtype (see cr.config)."""
    if dtype is not None:
        return as_dtype(dtype)
    return lax._default_float() if default is None else as_dtype(default)


def _shape_arg(shape):
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)


def _filled(shape, value, d):
    """A constant array; inside a trace a broadcast scalar, so the graph holds no large literal."""
    from .tensor import in_trace
    if in_trace() and math.prod(shape) > 1:
        return lax.full(shape, value, d)
    return np.full(shape, value, d.np)


def zeros(shape, dtype=None):
    return _filled(_shape_arg(shape), 0, _dt(dtype))


def ones(shape, dtype=None):
    return _filled(_shape_arg(shape), 1, _dt(dtype))


def full(shape, fill_value, dtype=None):
    if is_tensor(fill_value):
        d = _dt(dtype, type_of(fill_value).dtype.name)
        return broadcast_to(convert(fill_value, d), _shape_arg(shape))
    d = _dt(dtype, lax.dtype_of(fill_value).name)
    return _filled(_shape_arg(shape), fill_value, d)


def empty(shape, dtype=None):
    return zeros(shape, dtype)


def _like(a, value, dtype, shape):
    t = type_of(operand(a))
    d = _dt(dtype, t.dtype.name)
    sh = t.shape if shape is None else _shape_arg(shape)
    if is_tensor(value):
        return broadcast_to(convert(value, d), sh)
    return _filled(sh, value, d)


def zeros_like(a, dtype=None, shape=None):
    return _like(a, 0, dtype, shape)


def ones_like(a, dtype=None, shape=None):
    return _like(a, 1, dtype, shape)


def full_like(a, fill_value, dtype=None, shape=None):
    return _like(a, fill_value, dtype, shape)


def empty_like(a, dtype=None, shape=None):
    return _like(a, 0, dtype, shape)


def eye(N, M=None, k=0, dtype=None):
    return np.eye(N, M, k, dtype=_dt(dtype).np)


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def arange(start, stop=None, step=None, dtype=None):
    for v in (start, stop, step):
        if is_tensor(v):
            raise TypeError("arange needs concrete (Python) bounds: the length of a tensor must be static")
    r = np.arange(start, stop, step) if stop is not None else np.arange(start)
    if step is not None and stop is not None:
        r = np.arange(start, stop, step)
    d = _dt(dtype, lax._default_int() if r.dtype.kind in "iu" else None)
    return r.astype(d.np)


def linspace(start, stop, num=50, endpoint=True, dtype=None):
    if is_tensor(start) or is_tensor(stop):
        n = int(num)
        div = (n - 1) if endpoint else n
        t = np.arange(n, dtype=np.float64) / builtins.max(div, 1)
        start, stop = operand(start), operand(stop)
        s = convert(start, "float64")
        return add(s, multiply(subtract(convert(stop, "float64"), s), t))
    return np.linspace(start, stop, num, endpoint=endpoint, dtype=_dt(dtype).np)


def asarray(a, dtype=None):
    from .numpy_array import array as _array
    return _array(a, dtype=dtype)


_CONSTANTS = ["pi", "e", "inf", "nan", "newaxis", "bool_", "float32", "float64", "int32", "int64", "dtype", "finfo",
              "iinfo", "issubdtype", "promote_types", "can_cast", "integer", "floating", "number", "inexact",
              "signedinteger"]
__all__ = _CONSTANTS + [_n for _n, _v in list(globals().items())
                        if callable(_v) and getattr(_v, "__module__", None) == __name__ and not _n.startswith("_")]
