"""Lowerings of the leaf, elementwise, compare/select and convert ops.

Where `jax.lax` and the reference backend (rules.py, the oracle) disagree,
the difference is fixed here with explicit selects, so the result is the
same on every XLA device, not just on the one that happened to be tested:
integer division by zero, saturating float-to-int casts, integer powers with
negative exponents.
"""

from __future__ import annotations

import numpy as np
from jax import lax

from .table import lowering


def _np(t):
    return t.dtype.np


def full(value, t):
    """A constant of type `t` filled with `value` (XLA folds the broadcast)."""
    return lax.full(t.shape, np.asarray(value, dtype=_np(t)), _np(t))


# --- leaves --------------------------------------------------------------------

@lowering("constant")
def _constant(args, attrs, out, regions):
    a = attrs["value"].array
    if _is_float(a.dtype):
        # Opaque to XLA's simplifier, which would rewrite x / c as x * (1 / c) (off by an ulp) and
        # fold some ops differently from the runtime (sign(-0.0) -> +0.0); chainrule's own passes fold.
        return (lax.optimization_barrier(a),)
    return (a,)


@lowering("iota")
def _iota(args, attrs, out, regions):
    (t,) = out
    return (lax.broadcasted_iota(_np(t), t.shape, attrs["dimension"]),)


# --- unary ------------------------------------------------------------------------

def _sign(x):
    # sign(+-0.0) = +-0.0 spelled out: XLA's constant folder returns +0.0 for -0.0
    if not _is_float(x.dtype):
        return lax.sign(x)
    return lax.select(lax.eq(x, lax.full_like(x, 0)), x, lax.sign(x))


UNARY = {
    "negate": lax.neg, "abs": lax.abs, "sign": _sign,
    "exponential": lax.exp, "exponential_minus_one": lax.expm1, "log": lax.log, "log_plus_one": lax.log1p,
    "sqrt": lax.sqrt, "rsqrt": lax.rsqrt, "sine": lax.sin, "cosine": lax.cos, "tan": lax.tan,
    "tanh": lax.tanh, "logistic": lax.logistic, "erf": lax.erf, "floor": lax.floor, "ceil": lax.ceil,
    "round_nearest_even": lambda x: lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN),
    "not": lax.bitwise_not, "is_finite": lax.is_finite, "cbrt": lax.cbrt,
    "stop_gradient": lax.stop_gradient,
}


def _make_unary(fn):
    def lower(args, attrs, out, regions):
        return (fn(args[0]),)
    return lower


for _name, _fn in UNARY.items():
    lowering(_name)(_make_unary(_fn))


# --- binary -------------------------------------------------------------------------

def _int_fixups(x, y):
    """(y == 0, x == MIN & y == -1, a divisor with both cases replaced by 1)."""
    lo = np.iinfo(x.dtype).min
    zero = lax.eq(y, lax.full_like(y, 0))
    overflow = lax.bitwise_and(lax.eq(x, lax.full_like(x, lo)), lax.eq(y, lax.full_like(y, -1)))
    safe = lax.select(lax.bitwise_or(zero, overflow), lax.full_like(y, 1), y)
    return zero, overflow, safe


def _is_float(dt) -> bool:
    """NumPy's float kind, bfloat16 included (ml_dtypes gives it kind 'V')."""
    return np.dtype(dt).kind == "f" or np.dtype(dt).name == "bfloat16"


def _unsigned_fixups(x, y):
    """(y == 0, a divisor with 0 replaced by 1): unsigned x / 0 is all ones and x % 0 is x, as in XLA."""
    zero = lax.eq(y, lax.full_like(y, 0))
    return zero, lax.select(zero, lax.full_like(y, 1), y)


def _divide(x, y):
    if x.dtype.kind == "u":
        zero, safe = _unsigned_fixups(x, y)
        return lax.select(zero, lax.full_like(x, np.iinfo(x.dtype).max), lax.div(x, safe))
    if x.dtype.kind != "i":
        return lax.div(x, y)
    # x / 0 = -1, MIN / -1 = MIN (XLA's CPU and GPU emitters agree, but the
    # spec leaves it to the device, so it is spelled out).
    zero, overflow, safe = _int_fixups(x, y)
    q = lax.div(x, safe)
    q = lax.select(overflow, x, q)
    return lax.select(zero, lax.full_like(x, -1), q)


def _remainder(x, y):
    if x.dtype.kind == "u":
        zero, safe = _unsigned_fixups(x, y)
        return lax.select(zero, x, lax.rem(x, safe))
    if x.dtype.kind != "i":
        return lax.rem(x, y)  # fmod: the sign of the dividend, as np.fmod
    zero, overflow, safe = _int_fixups(x, y)
    r = lax.rem(x, safe)  # MIN % 1 == 0 == MIN % -1
    return lax.select(zero, x, r)


def _int_power(x, y):
    """Square-and-multiply over the exponent's bits; negative exponents give
    1 for x == 1, +-1 for x == -1 and 0 otherwise (integer 1 / x**n)."""
    bits = np.iinfo(x.dtype).bits
    one = lax.full_like(x, 1)
    zero = lax.full_like(x, 0)
    e = lax.max(y, zero)
    acc, base = one, x
    for _ in range(bits - 1 if x.dtype.kind == "i" else bits):  # a signed exponent >= 0 has bits - 1 that matter
        odd = lax.ne(lax.bitwise_and(e, one), zero)
        acc = lax.select(odd, lax.mul(acc, base), acc)
        base = lax.mul(base, base)
        e = lax.shift_right_logical(e, one)
    neg = lax.lt(y, zero)
    even = lax.eq(lax.bitwise_and(y, one), zero)
    minus_one_pow = lax.select(even, one, lax.neg(one))
    neg_val = lax.select(lax.eq(x, one), one, lax.select(lax.eq(x, lax.neg(one)), minus_one_pow, zero))
    return lax.select(neg, neg_val, acc)


def _power(x, y):
    return _int_power(x, y) if x.dtype.kind in "iu" else lax.pow(x, y)


def _maximum(x, y):
    return lax.bitwise_or(x, y) if x.dtype == np.bool_ else lax.max(x, y)


def _minimum(x, y):
    return lax.bitwise_and(x, y) if x.dtype == np.bool_ else lax.min(x, y)


def _atan2(y, x):
    """atan2 with its zero cases spelled out: XLA CPU's fused f32 atan2 gave NaN for atan2(0, 0).
    atan2(+-0, +0) = +-0 and atan2(+-0, -0) = +-pi, as C's atan2."""
    zero = lax.full_like(x, 0)
    both = lax.bitwise_and(lax.eq(y, zero), lax.eq(x, zero))
    one = lax.full_like(x, 1)
    x_neg = lax.lt(lax.div(one, x), zero)  # -0.0 (1 / -0.0 = -inf); only used where x == 0
    y_neg = lax.lt(lax.div(one, y), zero)
    pi = lax.full_like(x, np.pi)
    special = lax.select(x_neg, lax.select(y_neg, lax.neg(pi), pi), y)
    return lax.select(both, special, lax.atan2(y, x))


BINARY = {
    "add": lax.add, "subtract": lax.sub, "multiply": lax.mul, "divide": _divide,
    "remainder": _remainder, "power": _power, "maximum": _maximum, "minimum": _minimum,
    "atan2": _atan2, "and": lax.bitwise_and, "or": lax.bitwise_or, "xor": lax.bitwise_xor,
}


def _make_binary(fn):
    def lower(args, attrs, out, regions):
        return (fn(args[0], args[1]),)
    return lower


for _name, _fn in BINARY.items():
    lowering(_name)(_make_binary(_fn))

COMPARE = {"EQ": lax.eq, "NE": lax.ne, "LT": lax.lt, "LE": lax.le, "GT": lax.gt, "GE": lax.ge}


@lowering("compare")
def _compare(args, attrs, out, regions):
    return (COMPARE[attrs["direction"]](args[0], args[1]),)


@lowering("select")
def _select(args, attrs, out, regions):
    return (lax.select(*args),)


@lowering("clamp")
def _clamp(args, attrs, out, regions):
    lo, x, hi = args
    # min(max(x, lo), hi) with NaN propagating as in NumPy; lax.clamp leaves NaN handling to the device.
    return (lax.min(lax.max(x, lo), hi),)


# --- convert ------------------------------------------------------------------------

def convert(x, to):
    """XLA's convert with the oracle's edge cases: float -> int truncates
    toward zero and saturates, NaN -> 0; anything -> bool is x != 0."""
    to = np.dtype(to)
    if x.dtype == to:
        return x
    if to == np.bool_:
        return lax.ne(x, lax.full_like(x, 0))
    if x.dtype.kind == "c" and to.kind != "c":  # complex -> real keeps the real part
        x = lax.real(x)
        if x.dtype == to:
            return x
    if _is_float(x.dtype) and to.kind in "iu":
        info = np.iinfo(to)
        hi = lax.full_like(x, float(info.max))  # rounds up to 2**(bits-1) in the float type
        lo = lax.full_like(x, float(info.min))
        big = lax.ge(x, hi)
        small = lax.le(x, lo)
        bad = lax.bitwise_or(lax.bitwise_or(lax.ne(x, x), big), small)
        res = lax.convert_element_type(lax.select(bad, lax.full_like(x, 0), x), to)
        res = lax.select(big, lax.full_like(res, info.max), res)
        return lax.select(small, lax.full_like(res, info.min), res)
    if _is_float(to) and to.itemsize == 2 and (x.dtype == np.float64 or (not _is_float(x.dtype) and x.dtype.itemsize > 2)):
        # XLA rounds float64 (and wide integers) to float32 first, then to the narrow type: a double rounding.
        # Rounding to float32 by round-to-odd makes the second rounding the single correct one.
        return lax.convert_element_type(_f32_round_to_odd(lax.convert_element_type(x, np.float64)), to)
    return lax.convert_element_type(x, to)


def _f32_round_to_odd(x):
    """float64 -> float32 rounded to odd (truncate, then set the last bit where inexact)."""
    t = lax.convert_element_type(x, np.float32)
    bits = lax.bitcast_convert_type(t, np.uint32)
    finite = lax.is_finite(x)
    away = lax.bitwise_and(lax.gt(lax.abs(lax.convert_element_type(t, np.float64)), lax.abs(x)), finite)
    bits = lax.select(away, lax.sub(bits, lax.full_like(bits, 1)), bits)
    back = lax.convert_element_type(lax.bitcast_convert_type(bits, np.float32), np.float64)
    inexact = lax.bitwise_and(lax.ne(back, x), finite)
    bits = lax.select(inexact, lax.bitwise_or(bits, lax.full_like(bits, 1)), bits)
    return lax.bitcast_convert_type(bits, np.float32)


@lowering("convert")
def _convert(args, attrs, out, regions):
    return (convert(args[0], _np(out[0])),)
