"""Algebraic simplification: small rewrites, each with its formula beside it.

IEEE safety by default: a rule here never changes a NaN into a number, an
infinity, or the sign of a zero. `x + 0.0 -> x` is wrong for floats
(-0.0 + 0.0 = +0.0), `x * 0 -> 0` is wrong (inf * 0 = nan), `x - x -> 0` is
wrong (inf - inf = nan); those are integer-only here and apply to floats only
with fast-math (`fast_math=True` rules). `x + (-0.0) -> x` and `x - 0.0 -> x`
are exact and always apply.

Power: IEEE's pow is correctly rounded, so `x ** 2 -> x * x` and
`x ** -1 -> 1 / x` are exact in IEEE arithmetic (special values included).
NumPy's float32 `power` (the reference backend) is itself off by up to an
ulp, so these two can change reference results in the last bit, never more.
`x ** 0.5 -> sqrt(x)` is not exact at -0.0 and -inf (pow(-0, .5) = +0 but
sqrt(-0) = -0; pow(-inf, .5) = +inf but sqrt(-inf) = nan): fast-math only.

Rules look only at a node and its producers, so the driver in rewrite.py
reaches a fixed point in one sweep.
"""

from __future__ import annotations

import math

import numpy as np

from ..ir import bool_
from ..ir import REAL_DTYPES
from .graphutil import producer, splat_array, splat_equals
from .rewrite import RuleRegistry
from .simplify_dot import DOT_SIMPLIFY

rule = RuleRegistry("simplify")


def _float(v) -> bool:
    return v.dtype.is_float


def _intlike(v) -> bool:
    return not v.dtype.is_inexact  # exact arithmetic (complex is not: it rounds like its float parts)


def _zero(v) -> bool:
    return splat_equals(v, 0)


def _neg_zero(v) -> bool:
    if v.dtype.is_complex:
        return splat_equals(v, complex(-0.0, -0.0))
    return splat_equals(v, -0.0) if _float(v) else splat_equals(v, 0)


def _one(v) -> bool:
    return splat_equals(v, 1)


def _minus_one(v) -> bool:
    return splat_equals(v, -1)


# --- add / subtract ---------------------------------------------------------------------

@rule("add", formula="x + (-0.0) -> x   (integers: x + 0 -> x)")
def add_neg_zero(node, rw):
    x, y = node.operands
    if _neg_zero(y):
        return x
    if _neg_zero(x):
        return y
    return None


@rule("add", formula="x + 0.0 -> x", fast_math=True)
def add_zero_fast(node, rw):
    x, y = node.operands
    if _zero(y):
        return x
    if _zero(x):
        return y
    return None


@rule("add", formula="x + (-y) -> x - y")
def add_negated(node, rw):
    x, y = node.operands
    if producer(y, "negate"):
        return rw.op("subtract", x, y.node.operands[0])
    if producer(x, "negate"):
        return rw.op("subtract", y, x.node.operands[0])
    return None


@rule("subtract", formula="x - 0 -> x   (exact for +0.0: -0.0 - 0.0 = -0.0)")
def sub_zero(node, rw):
    x, y = node.operands
    return x if _zero(y) else None


@rule("subtract", formula="x - (-0.0) -> x", fast_math=True)
def sub_neg_zero_fast(node, rw):
    x, y = node.operands
    return x if _float(y) and splat_equals(y, -0.0) else None


@rule("subtract", formula="x - x -> 0   (integers; floats with fast-math: inf - inf = nan)")
def sub_self(node, rw):
    x, y = node.operands
    if x is y and (_intlike(x) or rw.fast_math):
        return rw.splat(0, x)
    return None


@rule("subtract", formula="(-0.0) - x -> -x   (integers: 0 - x -> -x)")
def sub_from_neg_zero(node, rw):
    x, y = node.operands
    if _neg_zero(x) or (rw.fast_math and _zero(x)):
        return rw.op("negate", y)
    return None


@rule("subtract", formula="x - (-y) -> x + y")
def sub_negated(node, rw):
    x, y = node.operands
    if producer(y, "negate"):
        return rw.op("add", x, y.node.operands[0])
    return None


# --- multiply / divide -------------------------------------------------------------------

@rule("multiply", formula="x * 1 -> x")
def mul_one(node, rw):
    x, y = node.operands
    if _one(y):
        return x
    if _one(x):
        return y
    return None


@rule("multiply", formula="x * -1 -> -x")
def mul_minus_one(node, rw):
    x, y = node.operands
    if _minus_one(y):
        return rw.op("negate", x)
    if _minus_one(x):
        return rw.op("negate", y)
    return None


@rule("multiply", formula="x * 0 -> 0   (integers; floats with fast-math: inf * 0 = nan)")
def mul_zero(node, rw):
    x, y = node.operands
    if not (_intlike(x) or rw.fast_math):
        return None
    if _zero(y) or (_float(y) and splat_equals(y, -0.0)):
        return rw.splat(0, x)
    if _zero(x) or (_float(x) and splat_equals(x, -0.0)):
        return rw.splat(0, x)
    return None


@rule("multiply", formula="(-x) * (-y) -> x * y")
def mul_neg_neg(node, rw):
    x, y = node.operands
    if producer(x, "negate") and producer(y, "negate"):
        return rw.op("multiply", x.node.operands[0], y.node.operands[0])
    return None


@rule("divide", formula="x / 1 -> x")
def div_one(node, rw):
    x, y = node.operands
    return x if _one(y) else None


@rule("divide", formula="x / -1 -> -x   (floats)")
def div_minus_one(node, rw):
    x, y = node.operands
    return rw.op("negate", x) if _float(x) and _minus_one(y) else None


def _exact_reciprocal(s: np.ndarray):
    """1/s when s is a finite power of two whose reciprocal is exact, else None."""
    with np.errstate(all="ignore"):
        r = np.divide(np.ones_like(s), s)
    if not (np.isfinite(s) and np.isfinite(r) and s != 0):
        return None
    m, _ = np.frexp(s)
    mr, _ = np.frexp(r)
    if abs(float(m)) != 0.5 or abs(float(mr)) != 0.5 or r * s != 1:
        return None
    return r


@rule("divide", formula="x / 2^k -> x * 2^-k   (exact: same real value, both rounded once)")
def div_power_of_two(node, rw):
    x, y = node.operands
    if not _float(x):
        return None
    s = splat_array(y)
    if s is None or _one(y) or _minus_one(y):
        return None
    r = _exact_reciprocal(s)
    if r is None:
        return None
    return rw.op("multiply", x, rw.splat(r, y))


@rule("divide", formula="x / c -> x * (1 / c)", fast_math=True)
def div_constant_fast(node, rw):
    x, y = node.operands
    s = splat_array(y)
    if not _float(x) or s is None or s == 0:
        return None
    with np.errstate(all="ignore"):
        r = np.divide(np.ones_like(s), s)
    return rw.op("multiply", x, rw.splat(r, y))


@rule("divide", formula="(-x) / (-y) -> x / y   (floats)")
def div_neg_neg(node, rw):
    x, y = node.operands
    if _float(x) and producer(x, "negate") and producer(y, "negate"):
        return rw.op("divide", x.node.operands[0], y.node.operands[0])
    return None


# --- negate / abs / not -------------------------------------------------------------------

@rule("negate", formula="-(-x) -> x")
def neg_neg(node, rw):
    (x,) = node.operands
    return x.node.operands[0] if producer(x, "negate") else None


@rule("negate", formula="-(a - b) -> b - a", fast_math=True)
def neg_sub_fast(node, rw):
    (x,) = node.operands
    if producer(x, "subtract"):
        a, b = x.node.operands
        return rw.op("subtract", b, a)
    return None


@rule("abs", formula="abs(-x) -> abs(x);  abs(abs(x)) -> abs(x)")
def abs_of_sign_free(node, rw):
    (x,) = node.operands
    if producer(x, "negate"):
        return rw.op("abs", x.node.operands[0])
    if producer(x, "abs"):
        return x
    return None


@rule("not", formula="not(not x) -> x")
def not_not(node, rw):
    (x,) = node.operands
    return x.node.operands[0] if producer(x, "not") else None


@rule("floor", "ceil", "round_nearest_even", formula="floor(ceil(x)) -> ceil(x), ...   (already integral)")
def round_of_round(node, rw):
    (x,) = node.operands
    p = x.node
    if p is not None and p.op.name in ("floor", "ceil", "round_nearest_even"):
        return x
    return None


@rule("sign", formula="sign(sign(x)) -> sign(x)")
def sign_sign(node, rw):
    (x,) = node.operands
    return x if producer(x, "sign") else None


# --- power --------------------------------------------------------------------------------

@rule("power", formula="x ** 1 -> x")
def pow_one(node, rw):
    x, y = node.operands
    return x if _one(y) else None


@rule("power", formula="x ** 0 -> 1   (pow(nan, 0) = 1 too)")
def pow_zero(node, rw):
    x, y = node.operands
    if _zero(y) or (_float(y) and splat_equals(y, -0.0)):
        return rw.splat(1, x)
    return None


@rule("power", formula="x ** 2 -> x * x")
def pow_two(node, rw):
    x, y = node.operands
    return rw.op("multiply", x, x) if splat_equals(y, 2) else None


@rule("power", formula="x ** -1 -> 1 / x   (floats)")
def pow_minus_one(node, rw):
    x, y = node.operands
    if _float(x) and _minus_one(y):
        return rw.op("divide", rw.splat(1, x), x)
    return None


@rule("power", formula="x ** 0.5 -> sqrt(x);  x ** -0.5 -> rsqrt(x)", fast_math=True)
def pow_half_fast(node, rw):
    x, y = node.operands
    if not _float(x):
        return None
    if splat_equals(y, 0.5):
        return rw.op("sqrt", x)
    if splat_equals(y, -0.5):
        return rw.op("rsqrt", x)
    return None


# --- idempotent and self-cancelling binaries -------------------------------------------------

@rule("maximum", "minimum", "and", "or", formula="max(x, x) -> x;  min(x, x) -> x;  x & x -> x;  x | x -> x")
def idempotent_self(node, rw):
    x, y = node.operands
    return x if x is y else None


@rule("xor", formula="x ^ x -> 0")
def xor_self(node, rw):
    x, y = node.operands
    return rw.splat(0, x) if x is y else None


@rule("compare", formula="x == x -> true, x < x -> false, ...   (integers/bool; NaN != NaN)")
def compare_self(node, rw):
    x, y = node.operands
    if x is not y or not (_intlike(x) or rw.fast_math):
        return None
    value = node.attrs["direction"] in ("EQ", "LE", "GE")
    return rw.splat(np.asarray(value), node.results[0])


def _lowest(dt):
    return -np.inf if dt.is_float else (False if dt.is_bool else np.iinfo(dt.np).min)


def _highest(dt):
    return np.inf if dt.is_float else (True if dt.is_bool else np.iinfo(dt.np).max)


@rule("maximum", "minimum", formula="max(x, -inf) -> x;  min(x, +inf) -> x   (lowest/highest integer, bool)")
def extreme_identity(node, rw):
    x, y = node.operands
    ident = _lowest(x.dtype) if node.op.name == "maximum" else _highest(x.dtype)
    if splat_equals(y, ident):
        return x
    if splat_equals(x, ident):
        return y
    return None


def _all_ones(v) -> bool:
    return splat_equals(v, True) if v.dtype.is_bool else splat_equals(v, -1)


@rule("and", "or", "xor", formula="x & ~0 -> x;  x | 0 -> x;  x ^ 0 -> x;  x & 0 -> 0;  x | ~0 -> ~0;  p ^ true -> not p")
def bitwise_constants(node, rw):
    x, y = node.operands
    for a, b in ((x, y), (y, x)):
        zero, ones = splat_equals(b, 0), _all_ones(b)
        name = node.op.name
        if (name == "and" and ones) or (name in ("or", "xor") and zero):
            return a
        if (name == "and" and zero) or (name == "or" and ones):
            return b
        if name == "xor" and ones:
            return rw.op("not", a)
    return None


# --- select ----------------------------------------------------------------------------------

@rule("select", formula="select(true, x, y) -> x;  select(false, x, y) -> y")
def select_constant_pred(node, rw):
    p, x, y = node.operands
    s = splat_array(p)
    if s is None:
        return None
    return x if bool(s) else y


@rule("select", formula="select(p, x, x) -> x")
def select_same(node, rw):
    p, x, y = node.operands
    return x if x is y else None


@rule("select", formula="select(not p, x, y) -> select(p, y, x)")
def select_not(node, rw):
    p, x, y = node.operands
    if producer(p, "not") and p.dtype == bool_:
        return rw.op("select", p.node.operands[0], y, x)
    return None


@rule("select", formula="select(p, true, false) -> p;  select(p, false, true) -> not p")
def select_of_bools(node, rw):
    p, x, y = node.operands
    if not x.dtype.is_bool:
        return None
    if splat_equals(x, True) and splat_equals(y, False):
        return p
    if splat_equals(x, False) and splat_equals(y, True):
        return rw.op("not", p)
    return None


# --- convert ---------------------------------------------------------------------------------

def _lossless(a, b) -> bool:
    """Every value of dtype `a` is exactly representable in dtype `b` (so converting through `b` changes
    nothing: no float16 or bfloat16 rounding is skipped)."""
    digits = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}
    if a == b or b.is_bool or b.is_complex or a.is_complex:
        return False
    if a.is_bool:
        return True
    if a.is_int and b.is_int:
        return (a.is_unsigned and (b.bits > a.bits or (b.is_unsigned and b.bits >= a.bits))) or \
            (a.is_signed and b.is_signed and b.bits >= a.bits)
    if a.is_int and b.is_float:
        return a.bits - a.is_signed <= digits[b.name]
    if a.is_float and b.is_float:  # every narrower float here has no wider exponent range
        return digits[a.name] <= digits[b.name] and (a.name, b.name) not in {("float16", "bfloat16"),
                                                                          ("bfloat16", "float16")}
    return False


# (from, to) pairs where every value of `from` is exactly representable in `to`.
LOSSLESS = {(a.name, b.name) for a in REAL_DTYPES for b in REAL_DTYPES if _lossless(a, b)}


@rule("convert", formula="convert(x: T -> T) -> x")
def convert_same(node, rw):
    (x,) = node.operands
    return x if node.attrs["dtype"] == x.dtype else None


@rule("convert", formula="convert(convert(x: A -> B) -> C) -> convert(x: A -> C)   (A -> B lossless)")
def convert_convert(node, rw):
    (x,) = node.operands
    inner = producer(x, "convert")
    if inner is None:
        return None
    a = inner.operands[0]
    if (a.dtype.name, x.dtype.name) not in LOSSLESS:
        return None
    to = node.attrs["dtype"]
    if a.dtype.is_int and x.dtype.is_float and to.is_int and (a.dtype.name, to.name) not in LOSSLESS:
        return None  # through a float an integer saturates; directly it would wrap
    return rw.op("convert", a, dtype=to)


# --- shapes ----------------------------------------------------------------------------------

@rule("reshape", formula="reshape(x) to x's shape -> x")
def reshape_same(node, rw):
    (x,) = node.operands
    return x if node.attrs["shape"] == x.shape else None


@rule("reshape", formula="reshape(reshape(x)) -> reshape(x)")
def reshape_reshape(node, rw):
    (x,) = node.operands
    inner = producer(x, "reshape")
    return rw.op("reshape", inner.operands[0], shape=node.attrs["shape"]) if inner else None


@rule("transpose", formula="transpose(x, identity) -> x")
def transpose_identity(node, rw):
    (x,) = node.operands
    perm = node.attrs["permutation"]
    return x if tuple(perm) == tuple(range(len(perm))) else None


@rule("transpose", formula="transpose(transpose(x, p), q) -> transpose(x, p[q])")
def transpose_transpose(node, rw):
    (x,) = node.operands
    inner = producer(x, "transpose")
    if inner is None:
        return None
    p, q = inner.attrs["permutation"], node.attrs["permutation"]
    return rw.op("transpose", inner.operands[0], permutation=tuple(p[j] for j in q))


@rule("dot_general", formula="dot_general(transpose(x, p), y) -> dot_general(x, y), dimensions mapped "
                             "through p (when p keeps the free dimensions in order); same for y")
def dot_through_transpose(node, rw):
    """x @ w.T reads w directly: GEMM takes transposed operands by a flag, so no copy is made."""
    a = dict(node.attrs)
    operands = list(node.operands)
    changed = False
    for k, side in enumerate(("lhs", "rhs")):
        t = producer(operands[k], "transpose")
        if t is None:
            continue
        p = t.attrs["permutation"]
        batch, contracting = a[f"{side}_batch"], a[f"{side}_contracting"]
        free = [p[i] for i in range(len(p)) if i not in batch and i not in contracting]
        if free != sorted(free):  # the result lists free dimensions in operand order
            continue
        a[f"{side}_batch"] = tuple(p[i] for i in batch)
        a[f"{side}_contracting"] = tuple(p[i] for i in contracting)
        operands[k] = t.operands[0]
        changed = True
    return rw.op("dot_general", *operands, **a) if changed else None


@rule("broadcast_in_dim", formula="broadcast_in_dim(x) to x's shape with dims 0..n-1 -> x")
def broadcast_same(node, rw):
    (x,) = node.operands
    dims = node.attrs["broadcast_dimensions"]
    if node.attrs["shape"] == x.shape and tuple(dims) == tuple(range(x.ndim)):
        return x
    return None


@rule("broadcast_in_dim", formula="broadcast_in_dim(broadcast_in_dim(x, d1), d2) -> broadcast_in_dim(x, d2[d1])")
def broadcast_broadcast(node, rw):
    (x,) = node.operands
    inner = producer(x, "broadcast_in_dim")
    if inner is None:
        return None
    d1, d2 = inner.attrs["broadcast_dimensions"], node.attrs["broadcast_dimensions"]
    return rw.op("broadcast_in_dim", inner.operands[0], shape=node.attrs["shape"],
                 broadcast_dimensions=tuple(d2[i] for i in d1))


@rule("slice", formula="slice(x) over all of x -> x")
def slice_full(node, rw):
    (x,) = node.operands
    start, limit, strides = node.attrs["start_indices"], node.attrs["limit_indices"], node.attrs["strides"]
    if all(s == 0 for s in start) and tuple(limit) == x.shape and all(k == 1 for k in strides):
        return x
    return None


@rule("slice", formula="slice(slice(x, s1, l1, k1), s2, l2, k2) -> slice(x, s1 + s2 k1, ..., k1 k2)")
def slice_slice(node, rw):
    (x,) = node.operands
    inner = producer(x, "slice")
    if inner is None:
        return None
    src = inner.operands[0]
    n = src.ndim
    s1, k1 = inner.attrs["start_indices"], inner.attrs["strides"] or (1,) * n
    s2, l2, k2 = node.attrs["start_indices"], node.attrs["limit_indices"], node.attrs["strides"] or (1,) * n
    start, limit, strides = [], [], []
    for d in range(n):
        count = -(-(l2[d] - s2[d]) // k2[d])
        st = s1[d] + s2[d] * k1[d]
        stride = k1[d] * k2[d]
        if count <= 0:
            st = min(st, src.shape[d])  # an empty slice may start past the end of the inner one's source
        start.append(st)
        limit.append(st + (count - 1) * stride + 1 if count > 0 else st)
        strides.append(stride)
    return rw.op("slice", src, start_indices=start, limit_indices=limit, strides=strides)


@rule("reverse", formula="reverse(x) over no dimension (or only size-1 ones) -> x")
def reverse_trivial(node, rw):
    (x,) = node.operands
    return x if all(x.shape[d] <= 1 for d in node.attrs["dimensions"]) else None


@rule("pad", formula="pad(x, v) with no padding -> x")
def pad_none(node, rw):
    x, _ = node.operands
    a = node.attrs
    if all(p == 0 for p in a["edge_padding_low"] + a["edge_padding_high"] + tuple(a["interior_padding"])):
        return x
    return None


@rule("concatenate", formula="concatenate(x) -> x")
def concat_single(node, rw):
    return node.operands[0] if len(node.operands) == 1 else None


@rule("dynamic_slice", formula="dynamic_slice(x, i...) of x's whole shape -> x   (starts clamp to 0)")
def dynamic_slice_full(node, rw):
    x = node.operands[0]
    return x if tuple(node.attrs["slice_sizes"]) == x.shape else None


@rule("reshape", "transpose", "slice", "reverse",
      formula="reshape/transpose/slice/reverse(broadcast_in_dim(scalar s)) -> broadcast_in_dim(s)")
def shape_op_of_splat(node, rw):
    (x,) = node.operands
    b = producer(x, "broadcast_in_dim")
    if b is None or b.operands[0].shape != ():
        return None
    return rw.op("broadcast_in_dim", b.operands[0], shape=node.results[0].shape, broadcast_dimensions=())


# --- reductions ------------------------------------------------------------------------------

def _sum_starts_at_zero(node, rw) -> bool:
    """A float sum starts at +0.0, so even one element -0.0 sums to +0.0: not the identity."""
    return node.attrs["kind"] == "sum" and _float(node.operands[0]) and not rw.fast_math


@rule("reduce", formula="reduce(x) over no dimensions -> x   (float sum: fast-math only, -0.0 + 0.0 = +0.0)")
def reduce_nothing(node, rw):
    (x,) = node.operands
    if node.attrs["dimensions"] or _sum_starts_at_zero(node, rw):
        return None
    return x


@rule("reduce", formula="reduce(x) over size-1 dimensions only -> reshape(x)   "
                        "(not a float sum: it starts at +0.0, and +0.0 + -0.0 = +0.0; fast-math only)")
def reduce_unit_dims(node, rw):
    (x,) = node.operands
    dims = node.attrs["dimensions"]
    if _sum_starts_at_zero(node, rw):
        return None
    if dims and all(x.shape[d] == 1 for d in dims):
        return rw.op("reshape", x, shape=node.results[0].shape)
    return None


IDEMPOTENT_REDUCE = ("max", "min", "and", "or")


@rule("reduce", formula="reduce(broadcast_in_dim(x)) over broadcast dims -> broadcast_in_dim(x)  "
                        "(max/min/and/or; sum: times n for integers, floats with fast-math)")
def reduce_of_broadcast(node, rw):
    (b,) = node.operands
    bc = producer(b, "broadcast_in_dim")
    if bc is None:
        return None
    x = bc.operands[0]
    kind, rdims = node.attrs["kind"], tuple(node.attrs["dimensions"])
    bdims, shape = bc.attrs["broadcast_dimensions"], bc.attrs["shape"]
    if not rdims:
        return None
    where = {d: i for i, d in enumerate(bdims)}
    if any(r in where and x.shape[where[r]] != 1 for r in rdims):
        return None  # a reduced dimension carries x's data: not a broadcast one
    count = math.prod(shape[r] for r in rdims)
    if count == 0 or count == 1:
        return None  # empty reductions give the identity; count 1 is reduce_unit_dims
    if kind in IDEMPOTENT_REDUCE:
        factor = None
    elif kind == "sum" and (_intlike(b) or rw.fast_math):
        factor = count
    else:
        return None
    # drop x's dimensions that map to reduced (size-1) dimensions, then broadcast the rest
    keep = [i for i, d in enumerate(bdims) if d not in rdims]
    kept_x = rw.op("reshape", x, shape=tuple(x.shape[i] for i in keep)) if len(keep) != x.ndim else x
    out_dims = [d for d in range(len(shape)) if d not in rdims]
    pos = {d: j for j, d in enumerate(out_dims)}
    out = rw.op("broadcast_in_dim", kept_x, shape=node.results[0].shape,
                broadcast_dimensions=tuple(pos[bdims[i]] for i in keep))
    if factor is not None:  # integer sums wrap: n * x mod 2^bits, so wrap n the same way
        n = np.array(factor, dtype=np.int64).astype(out.dtype.np) if _intlike(out) else factor
        out = rw.op("multiply", out, rw.splat(n, out))
    return out


SIMPLIFY = rule.set | DOT_SIMPLIFY  # dot_general with an identity: simplify_dot.py
