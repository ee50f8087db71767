"""Elementwise arithmetic, rounding, comparisons, logic, bit operations and predicates (NumPy's ufuncs
that are not transcendental), on tensors and arrays.
"""

from __future__ import annotations

import numpy as np

from ...ir import bool_ as _BOOL, dtype as as_dtype
from .. import lax
from ..core import bind, is_tensor, type_of
from ..lax import broadcast_to, convert, elementwise, float_operand, operand, result_type


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
    if not d.is_inexact:
        d = lax.default_float_type()
    return elementwise("divide", x, y, dtype=d)


true_divide = divide


def _bools_as_int32(x, y):
    """NumPy computes integer ops of two booleans in int8."""
    x, y = lax.promote_and_broadcast(x, y)
    if type_of(x).dtype.is_bool:
        x, y = convert(x, "int8"), convert(y, "int8")
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
        d = as_dtype("int8")  # NumPy's
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
    d = type_of(x).dtype
    return x if d.is_bool or d.is_unsigned else bind("abs", x)


abs = absolute


def sign(x):
    x = operand(x)
    if type_of(x).dtype.is_unsigned:  # 0 or 1
        return convert(not_equal(x, lax.full_like(x, 0)), type_of(x).dtype)
    return bind("sign", x)


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


def full_like_scalar(x, v):
    return lax.full_like(x, v)


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
    return where(less(x, full_like_scalar(x, 0)), bind("ceil", x), bind("floor", x))


fix = trunc


def rint(x):
    return bind("round_nearest_even", float_operand(x))  # NumPy: rint of integers is float64


def round(a, decimals=0):
    x = operand(a)
    if type_of(x).dtype.is_bool:
        x = convert(x, "float16")  # NumPy's
    if not type_of(x).dtype.is_float:
        if decimals >= 0:
            return x
        # integers to tens, hundreds, ...: half to even on the scaled value, as NumPy
        dt = type_of(x).dtype
        f = float(10 ** (-decimals))
        xf = convert(x, "float64")
        r = bind("multiply", bind("round_nearest_even", bind("divide", xf, full_like_scalar(xf, f))), full_like_scalar(xf, f))
        return convert(r, dt)
    if decimals == 0:
        return bind("round_nearest_even", x)
    s = full_like_scalar(x, 10.0 ** decimals)
    return bind("divide", bind("round_nearest_even", bind("multiply", x, s)), s)


around = round


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


def as_bool(x):
    x = operand(x)
    return x if type_of(x).dtype.is_bool else not_equal(x, lax.full_like(x, 0))


def logical_and(x, y):
    return elementwise("and", as_bool(x), as_bool(y))


def logical_or(x, y):
    return elementwise("or", as_bool(x), as_bool(y))


def logical_xor(x, y):
    return elementwise("xor", as_bool(x), as_bool(y))


def logical_not(x):
    return bind("not", as_bool(x))


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
    if _is_complex(x):
        return logical_and(isfinite(real(x)), isfinite(imag(x)))
    if not type_of(x).dtype.is_float:
        return lax.full_like(x, True, "bool")
    return bind("is_finite", x)


def isnan(x):
    x = operand(x)
    if not type_of(x).dtype.is_inexact:
        return lax.full_like(x, False, "bool")
    return not_equal(x, x)


def isinf(x):
    x = operand(x)
    if _is_complex(x):
        return logical_or(isinf(real(x)), isinf(imag(x)))
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
    one = full_like_scalar(x, 1.0)
    return logical_or(less(x, full_like_scalar(x, 0)), less(bind("divide", one, x), full_like_scalar(x, 0)))


def where(condition, x=None, y=None):
    if x is None or y is None:
        raise NotImplementedError("where(condition) with one argument has a data-dependent shape; "
                                  "give both x and y")
    c = as_bool(condition)
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


F64 = as_dtype("float64")


def scalar_like(x, v):
    """A scalar constant of x's dtype (a 0-d array: broadcast where used)."""
    return np.asarray(v, dtype=type_of(x).dtype.np)


def copysign(x1, x2):
    x1, x2 = lax.promote_and_broadcast(x1, x2)
    x1, x2 = float_operand(x1), float_operand(x2)
    a = bind("abs", x1)
    return where(signbit(x2), bind("negate", a), a)


def heaviside(x1, x2):
    x1, x2 = lax.promote_and_broadcast(x1, x2)
    x1, x2 = float_operand(x1), float_operand(x2)
    zero, one = lax.full_like(x1, 0.0), lax.full_like(x1, 1.0)
    return where(less(x1, zero), zero, where(greater(x1, zero), one, where(equal(x1, zero), x2, x1)))


def _float_of(x):
    """NumPy's result_type(x, 1.0): ints and bools become float64, floats stay."""
    x = operand(x)
    return x if type_of(x).dtype.is_inexact else convert(x, F64)


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    x = operand(a) if not lax.is_weak(a) else a
    y = _float_of(b) if not lax.is_weak(b) else (b if type(b) is complex else float(b))
    d = absolute(subtract(x, y))
    tol = add(atol, multiply(rtol, absolute(y)))
    result = logical_or(logical_and(less_equal(d, tol), isfinite(y)), equal(x, y))
    if equal_nan:
        result = logical_or(result, logical_and(isnan(x), isnan(y)))
    return result


# --- the complex-aware functions (real, imag, conj) and predicates ----------------------------------

def _is_complex(x):
    return type_of(x).dtype.kind == "c"


def real(val):
    x = operand(val)
    return bind("real", x) if _is_complex(x) else x


def imag(val):
    x = operand(val)
    return bind("imag", x) if _is_complex(x) else lax.full_like(x, 0)


def conj(x):
    x = operand(x)
    return bind("conj", x) if _is_complex(x) else x


conjugate = conj


def isreal(x):
    x = operand(x)
    return equal(imag(x), 0) if _is_complex(x) else lax.full_like(x, True, "bool")


def iscomplex(x):
    x = operand(x)
    return not_equal(imag(x), 0) if _is_complex(x) else lax.full_like(x, False, "bool")


def isrealobj(x):
    return not iscomplexobj(x)


def iscomplexobj(x):
    """True when x has a complex dtype (whatever its values), as NumPy."""
    if is_tensor(x):
        return _is_complex(x)
    return bool(np.iscomplexobj(x))


def isscalar(element):
    return False if is_tensor(element) else np.isscalar(element)


def fabs(x):
    x = float_operand(x)
    return bind("abs", x)


def modf(x):
    """(fractional part, integral part), both with x's sign."""
    x = float_operand(x)
    t = trunc(x)
    frac = subtract(x, t)
    inf = equal(bind("abs", x), lax.full_like(x, np.inf))
    return where(inf, copysign(lax.full_like(x, 0.0), x), copysign(frac, x)), t


def _shift_operands(x1, x2):
    xx, k = lax.promote_and_broadcast(x1, x2)
    d = type_of(xx).dtype
    if d.is_bool:  # NumPy shifts booleans as int8
        xx, k = convert(xx, "int8"), convert(k, "int8")
    elif not d.is_int:
        raise TypeError(f"shifts are defined for integers, got {d.name}")
    return xx, k


def left_shift(x1, x2):
    """x1 << x2, wrapping; shifts of the bit width or more (or negative) give 0, as NumPy's <<."""
    return bind("shift_left", *_shift_operands(x1, x2))


def right_shift(x1, x2):
    """x1 >> x2: arithmetic for signed, logical for unsigned integers, as NumPy's >>."""
    xx, k = _shift_operands(x1, x2)
    op = "shift_right_logical" if type_of(xx).dtype.is_unsigned else "shift_right_arithmetic"
    return bind(op, xx, k)


def bitwise_count(x):
    """The number of 1 bits in |x| (NumPy 2's bitwise_count; a uint8 result)."""
    x = operand(x)
    d = type_of(x).dtype
    if d.is_bool:
        return convert(x, "uint8")
    if not d.is_int:
        raise TypeError(f"bitwise_count is defined for integers, got {d.name}")
    if d.is_signed:
        x = bind("abs", x)
    return convert(bind("popcnt", x), "uint8")


bitwise_left_shift, bitwise_right_shift = left_shift, right_shift


def divmod(x1, x2):  # noqa: A001  (NumPy's name)
    return floor_divide(x1, x2), remainder(x1, x2)


# the array API's names
bitwise_invert, pow = invert, power


__all__ = ["add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "remainder", "mod", "fmod", "power",
           "negative", "positive", "absolute", "abs", "sign", "square", "reciprocal", "maximum", "minimum", "fmax",
           "fmin", "clip", "floor", "ceil", "trunc", "fix", "rint", "round", "around", "equal", "not_equal", "less",
           "less_equal", "greater", "greater_equal", "logical_and", "logical_or", "logical_xor", "logical_not",
           "bitwise_and", "bitwise_or", "bitwise_xor", "invert", "bitwise_not", "isfinite", "isnan", "isinf",
           "isposinf", "isneginf", "signbit", "where", "nan_to_num", "copysign", "heaviside", "isclose", "real", "imag",
           "conj", "conjugate", "isreal", "iscomplex", "isrealobj", "iscomplexobj", "isscalar", "fabs", "modf",
           "left_shift", "right_shift", "bitwise_count", "bitwise_left_shift", "bitwise_right_shift", "divmod", "bitwise_invert", "pow"]
