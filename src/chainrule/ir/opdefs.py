"""Definitions of the core ops and their type rules (StableHLO semantics).

Elementwise ops take operands of identical type: broadcasting is explicit
(`broadcast_in_dim`), as in StableHLO. Control-flow, fusion and
custom-derivative ops are defined in their own modules.
"""

from __future__ import annotations

import math

from .dtypes import bool_, float32, float64, int64
from .errors import IRTypeError
from .ops import AttrSpec, OpDef, register
from .types import TensorType

REDUCE_KINDS = ("sum", "prod", "max", "min", "and", "or")
COMPARE_DIRECTIONS = ("EQ", "NE", "LT", "LE", "GT", "GE")
SCATTER_KINDS = ("add", "set")

_KIND_NAMES = {"f": "float", "i": "signed integer", "u": "unsigned integer", "b": "bool", "c": "complex"}


def _kinds_text(kinds: str) -> str:
    return "/".join(_KIND_NAMES[k] for k in kinds)


def _require_kind(op, types, t, kinds, what="operand"):
    if t.dtype.kind not in kinds:
        raise IRTypeError(op, types, f"{what} dtype {t.dtype.name} is not supported", f"{_kinds_text(kinds)} {what}")


def _require_same(op, types, what="operands"):
    first = types[0]
    for t in types[1:]:
        if t != first:
            raise IRTypeError(
                op, types, f"{what} types differ",
                "operands of identical shape and dtype (broadcast with broadcast_in_dim, cast with convert)",
            )


def _check_dims(op, types, dims, ndim, what="dimensions", unique=True):
    for d in dims:
        if not 0 <= d < ndim:
            raise IRTypeError(op, types, f"{what} {list(dims)} out of range for rank {ndim}", f"values in [0, {ndim})")
    if unique and len(set(dims)) != len(dims):
        raise IRTypeError(op, types, f"{what} {list(dims)} repeat a dimension", "distinct dimensions")


# --- leaves -----------------------------------------------------------------

def _constant(types, attrs, regions):
    return (attrs["value"].type,)


register(OpDef("constant", _constant, num_operands=0, attrs={"value": AttrSpec("literal")},
               category="leaf", fold=False, doc="A tensor given by value."))


def _iota(types, attrs, regions):
    shape, dim = attrs["shape"], attrs["dimension"]
    if not 0 <= dim < max(len(shape), 1) or not shape:
        raise IRTypeError("iota", types, f"dimension {dim} out of range for shape {list(shape)}", "a dimension of a non-scalar shape")
    if attrs["dtype"].kind not in "iuf":
        raise IRTypeError("iota", types, f"dtype {attrs['dtype'].name} is not supported", "an integer or float dtype")
    return (TensorType(shape, attrs["dtype"]),)


register(OpDef("iota", _iota, num_operands=0,
               attrs={"shape": AttrSpec("shape"), "dtype": AttrSpec("dtype"), "dimension": AttrSpec("int", 0)},
               category="leaf", fold=False, doc="Counts 0, 1, 2, ... along `dimension`, broadcast over the others."))


# --- elementwise --------------------------------------------------------------

UNARY_KINDS = {
    "negate": "iufc", "abs": "ifc", "sign": "ifc",
    "exponential": "fc", "exponential_minus_one": "fc", "log": "fc", "log_plus_one": "fc",
    "sqrt": "fc", "rsqrt": "fc", "sine": "fc", "cosine": "fc", "tan": "fc", "tanh": "fc",
    "logistic": "fc", "erf": "f", "floor": "f", "ceil": "f", "round_nearest_even": "f", "cbrt": "f",
    "not": "biu", "is_finite": "f",
}


# Traits of the loop-defined elementwise ops (see OpDef's docstring).
INEXACT = {"exponential", "exponential_minus_one", "log", "log_plus_one", "rsqrt", "sine", "cosine", "tan",
           "tanh", "logistic", "erf", "atan2", "power", "cbrt"}
DISCONTINUOUS = {"floor", "ceil", "round_nearest_even", "sign", "is_finite", "remainder", "power", "sine",
                 "cosine", "tan", "atan2", "divide"}  # divide: x / +-0 is +-inf, and a dot may round a zero's sign
LINEAR = {"negate": (0,), "add": (0, 1), "subtract": (0, 1), "multiply": (0, 1), "divide": (0,)}


# What each loop-defined elementwise op computes (docs/ir.md prints it).
DOCS = {
    "negate": "-x (unsigned integers wrap: 2**bits - x).", "abs": "|x| (signed integers wrap at the minimum, as in XLA).",
    "sign": "-1, 0 or 1; +-0.0 and NaN pass through.",
    "exponential": "e**x.", "exponential_minus_one": "e**x - 1, accurate near 0.", "log": "Natural logarithm.",
    "log_plus_one": "log(1 + x), accurate near 0.", "sqrt": "Square root, correctly rounded.",
    "rsqrt": "1 / sqrt(x).", "sine": "sin(x), radians.", "cosine": "cos(x), radians.", "tan": "tan(x), radians.",
    "tanh": "Hyperbolic tangent.", "logistic": "1 / (1 + e**-x).", "erf": "The error function.",
    "floor": "Round toward -inf.", "ceil": "Round toward +inf.",
    "round_nearest_even": "Round to the nearest integer, ties to even.", "not": "Logical (bool) or bitwise not.",
    "is_finite": "True where x is neither infinite nor NaN.",
    "cbrt": "The real cube root, sign(x) |x|**(1/3); exact at +-0 and +-inf.",
    "add": "x + y.", "subtract": "x - y.", "multiply": "x * y.",
    "divide": "x / y; integer division truncates toward zero, and integer x / 0 is -1, as in XLA.",
    "remainder": "x - y * trunc(x / y) (the sign of x, as C's fmod); integer x % 0 is x.",
    "power": "x ** y; an integer x ** y with y < 0 is 0 unless |x| is 1, as in XLA.",
    "maximum": "The larger; NaN if either is NaN.", "minimum": "The smaller; NaN if either is NaN.",
    "atan2": "atan2(y, x): the angle of the point (x, y) in radians; the first operand is y.",
    "and": "Logical or bitwise and.", "or": "Logical or bitwise or.", "xor": "Logical or bitwise exclusive or.",
}


def _elementwise_traits(name):
    return {"inexact": name in INEXACT, "discontinuous": name in DISCONTINUOUS, "linear": LINEAR.get(name, ()),
            "doc": DOCS[name]}


def _make_unary(name, kinds):
    def infer(types, attrs, regions):
        (t,) = types
        _require_kind(name, types, t, kinds)
        if name == "abs" and t.dtype.kind == "c":  # |x| of a complex is real
            return (t.with_dtype(float32 if t.dtype.bits == 64 else float64),)
        return (t.with_dtype(bool_) if name == "is_finite" else t,)
    return infer


for _name, _kinds in UNARY_KINDS.items():
    register(OpDef(_name, _make_unary(_name, _kinds), category="unary", elementwise=True, **_elementwise_traits(_name)))

BINARY_KINDS = {
    "add": "iufc", "subtract": "iufc", "multiply": "iufc", "divide": "iufc", "remainder": "iuf",
    "power": "iufc", "maximum": "biuf", "minimum": "biuf", "atan2": "f",
    "and": "biu", "or": "biu", "xor": "biu",
}
COMMUTATIVE = {"add", "multiply", "maximum", "minimum", "and", "or", "xor"}


def _make_binary(name, kinds):
    def infer(types, attrs, regions):
        _require_same(name, types)
        _require_kind(name, types, types[0], kinds)
        return (types[0],)
    return infer


for _name, _kinds in BINARY_KINDS.items():
    register(OpDef(_name, _make_binary(_name, _kinds), num_operands=2, category="binary",
                   elementwise=True, commutative=_name in COMMUTATIVE, **_elementwise_traits(_name)))


def _compare(types, attrs, regions):
    _require_same("compare", types)
    _require_kind("compare", types, types[0], "biufc")
    if types[0].dtype.kind == "c" and attrs["direction"] not in ("EQ", "NE"):
        raise IRTypeError("compare", types, f"direction {attrs['direction']} on complex operands",
                          "EQ or NE (complex numbers are not ordered)")
    return (types[0].with_dtype(bool_),)


register(OpDef("compare", _compare, num_operands=2,
               attrs={"direction": AttrSpec("enum", choices=COMPARE_DIRECTIONS)},
               category="compare", elementwise=True, discontinuous=True,
               doc="Elementwise comparison; NaN compares unequal to everything (IEEE)."))


def _select(types, attrs, regions):
    pred, a, b = types
    if pred.dtype != bool_:
        raise IRTypeError("select", types, f"predicate dtype {pred.dtype.name}", "a bool predicate")
    if a != b:
        raise IRTypeError("select", types, "branch types differ",
                          "branches of identical shape and dtype (broadcast with broadcast_in_dim, cast with convert)")
    if pred.shape != a.shape:
        raise IRTypeError("select", types, "predicate shape differs from the branches", "a predicate of the branches' shape")
    return (a,)


register(OpDef("select", _select, num_operands=3, category="select", elementwise=True, linear=(1, 2),
               doc="select(pred, on_true, on_false), elementwise."))


def _clamp(types, attrs, regions):
    _require_same("clamp", types)
    _require_kind("clamp", types, types[0], "iuf")
    return (types[1],)


register(OpDef("clamp", _clamp, num_operands=3, category="select", elementwise=True,
               doc="clamp(min, operand, max) = minimum(maximum(operand, min), max)."))


def _convert(types, attrs, regions):
    _require_kind("convert", types, types[0], "biufc")
    _require_kind("convert", types, types[0].with_dtype(attrs["dtype"]), "biufc", "result")
    return (types[0].with_dtype(attrs["dtype"]),)


register(OpDef("convert", _convert, attrs={"dtype": AttrSpec("dtype")}, category="unary", elementwise=True,
               linear=(0,), discontinuous=True,
               doc="Cast elementwise. Float to integer truncates toward zero and saturates; NaN becomes 0; "
                   "complex to real keeps the real part."))


# --- shape manipulation -------------------------------------------------------

def _broadcast_in_dim(types, attrs, regions):
    (t,) = types
    shape, dims = attrs["shape"], attrs["broadcast_dimensions"]
    if len(dims) != t.ndim:
        raise IRTypeError("broadcast_in_dim", types, f"broadcast_dimensions {list(dims)} has {len(dims)} entries",
                          f"one entry per operand dimension ({t.ndim})")
    _check_dims("broadcast_in_dim", types, dims, len(shape), "broadcast_dimensions")
    if any(b <= a for a, b in zip(dims, dims[1:])):
        raise IRTypeError("broadcast_in_dim", types, f"broadcast_dimensions {list(dims)} are not increasing",
                          "strictly increasing broadcast_dimensions (transpose first)")
    for i, d in enumerate(dims):
        if t.shape[i] not in (1, shape[d]):
            raise IRTypeError("broadcast_in_dim", types,
                              f"operand dimension {i} of size {t.shape[i]} cannot broadcast to size {shape[d]}",
                              "size 1 or the target size")
    return (TensorType(shape, t.dtype),)


register(OpDef("broadcast_in_dim", _broadcast_in_dim,
               attrs={"shape": AttrSpec("shape"), "broadcast_dimensions": AttrSpec("ints")},
               category="broadcast", linear=(0,)))


def _reshape(types, attrs, regions):
    (t,) = types
    shape = attrs["shape"]
    if math.prod(shape) != t.size:
        raise IRTypeError("reshape", types, f"cannot reshape {t.size} elements to shape {list(shape)}",
                          f"a shape with {t.size} elements")
    return (TensorType(shape, t.dtype),)


register(OpDef("reshape", _reshape, attrs={"shape": AttrSpec("shape")}, category="shape", linear=(0,)))


def _transpose(types, attrs, regions):
    (t,) = types
    perm = attrs["permutation"]
    if sorted(perm) != list(range(t.ndim)):
        raise IRTypeError("transpose", types, f"permutation {list(perm)} is invalid", f"a permutation of 0..{t.ndim - 1}")
    return (TensorType(tuple(t.shape[p] for p in perm), t.dtype),)


register(OpDef("transpose", _transpose, attrs={"permutation": AttrSpec("ints")}, category="shape", linear=(0,)))


def _slice(types, attrs, regions):
    (t,) = types
    start, limit, strides = attrs["start_indices"], attrs["limit_indices"], attrs["strides"]
    if not strides:
        strides = (1,) * t.ndim
    if not (len(start) == len(limit) == len(strides) == t.ndim):
        raise IRTypeError("slice", types, "start_indices/limit_indices/strides lengths differ from the rank",
                          f"{t.ndim} entries each")
    out = []
    for d, (s, l, k, n) in enumerate(zip(start, limit, strides, t.shape)):
        if not (0 <= s <= l <= n) or k < 1:
            raise IRTypeError("slice", types, f"dimension {d}: start {s}, limit {l}, stride {k} invalid for size {n}",
                              "0 <= start <= limit <= size and stride >= 1")
        out.append(-(-(l - s) // k))
    return (TensorType(out, t.dtype),)


register(OpDef("slice", _slice, attrs={"start_indices": AttrSpec("ints"), "limit_indices": AttrSpec("ints"),
                                       "strides": AttrSpec("ints", ())}, category="shape", linear=(0,)))


def _check_starts(op, types, starts, ndim):
    if len(starts) != ndim:
        raise IRTypeError(op, types, f"got {len(starts)} start indices", f"one per dimension ({ndim})")
    for s in starts:
        if s.shape != () or not s.dtype.is_signed:
            raise IRTypeError(op, types, f"start index of type {s}", "scalar integer start indices of a signed dtype")


def _dynamic_slice(types, attrs, regions):
    t, starts = types[0], types[1:]
    sizes = attrs["slice_sizes"]
    _check_starts("dynamic_slice", types, starts, t.ndim)
    if len(sizes) != t.ndim or any(not 0 <= s <= n for s, n in zip(sizes, t.shape)):
        raise IRTypeError("dynamic_slice", types, f"slice_sizes {list(sizes)} invalid", f"one size per dimension, each <= {list(t.shape)}")
    return (TensorType(sizes, t.dtype),)


register(OpDef("dynamic_slice", _dynamic_slice, num_operands=None, min_operands=1,
               attrs={"slice_sizes": AttrSpec("shape")}, category="index", linear=(0,),
               doc="Start indices are clamped to [0, size - slice_size], as in XLA."))


def _dynamic_update_slice(types, attrs, regions):
    t, u, starts = types[0], types[1], types[2:]
    if u.dtype != t.dtype or u.ndim != t.ndim or any(a > b for a, b in zip(u.shape, t.shape)):
        raise IRTypeError("dynamic_update_slice", types, "update does not fit the operand",
                          "an update of the operand's dtype and rank, no larger in any dimension")
    _check_starts("dynamic_update_slice", types, starts, t.ndim)
    return (t,)


register(OpDef("dynamic_update_slice", _dynamic_update_slice, num_operands=None, min_operands=2,
               category="index", linear=(0, 1), doc="Start indices are clamped so the update fits, as in XLA."))


def _concatenate(types, attrs, regions):
    d = attrs["dimension"]
    first = types[0]
    if not 0 <= d < first.ndim:
        raise IRTypeError("concatenate", types, f"dimension {d} out of range", f"a dimension in [0, {first.ndim})")
    for t in types[1:]:
        if t.dtype != first.dtype or t.ndim != first.ndim or any(
                a != b for i, (a, b) in enumerate(zip(t.shape, first.shape)) if i != d):
            raise IRTypeError("concatenate", types, "operand shapes or dtypes disagree",
                              f"one dtype, and equal sizes outside dimension {d}")
    return (first.with_shape(first.shape[:d] + (sum(t.shape[d] for t in types),) + first.shape[d + 1:]),)


register(OpDef("concatenate", _concatenate, num_operands=None, min_operands=1,
               attrs={"dimension": AttrSpec("int")}, category="shape", linear="all"))


def _pad(types, attrs, regions):
    t, v = types
    lo, hi, interior = attrs["edge_padding_low"], attrs["edge_padding_high"], attrs["interior_padding"]
    if not interior:
        interior = (0,) * t.ndim
    if v.shape != () or v.dtype != t.dtype:
        raise IRTypeError("pad", types, "padding value is not a scalar of the operand's dtype", f"{t.dtype.short}[]")
    if not (len(lo) == len(hi) == len(interior) == t.ndim) or any(i < 0 for i in interior):
        raise IRTypeError("pad", types, "padding lengths differ from the rank or interior padding is negative",
                          f"{t.ndim} entries each, interior >= 0")
    out = []
    for n, a, b, i in zip(t.shape, lo, hi, interior):
        size = a + b + n + max(n - 1, 0) * i
        if size < 0:
            raise IRTypeError("pad", types, "negative padding removes more than the dimension holds", "a non-negative result size")
        out.append(size)
    return (t.with_shape(out),)


register(OpDef("pad", _pad, num_operands=2,
               attrs={"edge_padding_low": AttrSpec("ints"), "edge_padding_high": AttrSpec("ints"),
                      "interior_padding": AttrSpec("ints", ())},
               category="shape", linear=(0, 1), doc="Edge padding may be negative (it then crops), as in StableHLO."))


def _reverse(types, attrs, regions):
    (t,) = types
    _check_dims("reverse", types, attrs["dimensions"], t.ndim)
    return (t,)


register(OpDef("reverse", _reverse, attrs={"dimensions": AttrSpec("ints")}, category="shape", linear=(0,)))


# --- reductions ---------------------------------------------------------------

def _reduce(types, attrs, regions):
    (t,) = types
    kind, dims = attrs["kind"], attrs["dimensions"]
    _check_dims("reduce", types, dims, t.ndim)
    if list(dims) != sorted(dims):
        raise IRTypeError("reduce", types, f"dimensions {list(dims)} are not sorted", "increasing dimensions")
    if kind in ("and", "or"):
        _require_kind("reduce", types, t, "biu")
    elif kind in ("sum", "prod"):
        _require_kind("reduce", types, t, "iufc")
    else:
        _require_kind("reduce", types, t, "biuf")
    return (TensorType(tuple(n for i, n in enumerate(t.shape) if i not in dims), t.dtype),)


register(OpDef("reduce", _reduce, attrs={"kind": AttrSpec("enum", choices=REDUCE_KINDS),
                                        "dimensions": AttrSpec("ints")},
               category="reduce", linear=(0,),  # when kind is sum
               doc="Reduces over `dimensions`. Empty max/min give -inf/+inf (the lowest/highest integer)."))


def _make_arg(name):
    def infer(types, attrs, regions):
        (t,) = types
        d = attrs["dimension"]
        _check_dims(name, types, (d,), t.ndim, "dimension")
        _require_kind(name, types, t, "iuf")
        if t.shape[d] == 0:
            raise IRTypeError(name, types, f"dimension {d} is empty", "a non-empty dimension")
        if not attrs["index_dtype"].is_signed:
            raise IRTypeError(name, types, f"index_dtype {attrs['index_dtype']}", "int32 or int64")
        return (TensorType(t.shape[:d] + t.shape[d + 1:], attrs["index_dtype"]),)
    return infer


for _name in ("argmax", "argmin"):
    register(OpDef(_name, _make_arg(_name), attrs={"dimension": AttrSpec("int"), "index_dtype": AttrSpec("dtype", int64)},
                   category="reduce", discontinuous=True,
                   doc="Index of the first extreme value; NaN counts as extreme, as in NumPy."))


# --- contraction --------------------------------------------------------------

def _dot_general(types, attrs, regions):
    lhs, rhs = types
    lb, rb = attrs["lhs_batch"], attrs["rhs_batch"]
    lc, rc = attrs["lhs_contracting"], attrs["rhs_contracting"]
    if lhs.dtype != rhs.dtype:
        raise IRTypeError("dot_general", types, "operand dtypes differ", "operands of one dtype")
    _require_kind("dot_general", types, lhs, "iufc")
    pref = attrs["preferred_element_type"]
    if pref is not None and (pref.kind != lhs.dtype.kind or pref.bits < lhs.dtype.bits):
        raise IRTypeError("dot_general", types, f"preferred_element_type {pref.name} for {lhs.dtype.name} operands",
                          "a type of the operands' kind (float, signed, unsigned or complex) and at least their width, as JAX")
    _check_dims("dot_general", types, lb + lc, lhs.ndim, "lhs batch+contracting dimensions")
    _check_dims("dot_general", types, rb + rc, rhs.ndim, "rhs batch+contracting dimensions")
    if len(lb) != len(rb) or len(lc) != len(rc):
        raise IRTypeError("dot_general", types, "batch or contracting dimension counts differ between sides",
                          "as many lhs as rhs batch (and contracting) dimensions")
    for a, b in list(zip(lb, rb)) + list(zip(lc, rc)):
        if lhs.shape[a] != rhs.shape[b]:
            raise IRTypeError("dot_general", types, f"lhs dimension {a} (size {lhs.shape[a]}) does not match rhs dimension {b} (size {rhs.shape[b]})",
                              "equal sizes for paired batch and contracting dimensions")
    lfree = [n for i, n in enumerate(lhs.shape) if i not in lb and i not in lc]
    rfree = [n for i, n in enumerate(rhs.shape) if i not in rb and i not in rc]
    return (TensorType([lhs.shape[i] for i in lb] + lfree + rfree, pref or lhs.dtype),)


register(OpDef("dot_general", _dot_general, num_operands=2,
               attrs={"lhs_batch": AttrSpec("ints", ()), "rhs_batch": AttrSpec("ints", ()),
                      "lhs_contracting": AttrSpec("ints", ()), "rhs_contracting": AttrSpec("ints", ()),
                      "preferred_element_type": AttrSpec("dtype", None)},
               category="dot", linear=(0, 1),
               doc="Result dimensions: batch, then lhs free, then rhs free (StableHLO order). The products are "
                   "accumulated in `preferred_element_type` (the result's dtype; the operands' when none): "
                   "bfloat16 x bfloat16 -> float32, int8 x int8 -> int32; float16/bfloat16 results accumulate "
                   "in float32 and round once."))


# --- gather / scatter -----------------------------------------------------------

def _gather_shape(op, types, operand, indices, axis, batch_dims):
    if not indices.dtype.is_signed:
        raise IRTypeError(op, types, f"indices dtype {indices.dtype.name}", "signed integer indices")
    if not 0 <= batch_dims <= min(indices.ndim, operand.ndim) or not batch_dims <= axis < operand.ndim:
        raise IRTypeError(op, types, f"axis {axis} / batch_dims {batch_dims} invalid",
                          "0 <= batch_dims <= axis < operand rank, batch_dims <= indices rank")
    if operand.shape[:batch_dims] != indices.shape[:batch_dims]:
        raise IRTypeError(op, types, "batch dimensions of operand and indices differ", "equal leading batch dimensions")
    return operand.shape[:axis] + indices.shape[batch_dims:] + operand.shape[axis + 1:]


def _gather(types, attrs, regions):
    operand, indices = types
    shape = _gather_shape("gather", types, operand, indices, attrs["axis"], attrs["batch_dims"])
    if operand.shape[attrs["axis"]] == 0 and math.prod(shape) > 0:
        raise IRTypeError("gather", types, f"axis {attrs['axis']} is empty", "a non-empty axis to gather from")
    return (TensorType(shape, operand.dtype),)


register(OpDef("gather", _gather, num_operands=2,
               attrs={"axis": AttrSpec("int"), "batch_dims": AttrSpec("int", 0)}, category="index", linear=(0,),
               doc="out[b.., i.., j.., k..] = operand[b.., i.., clamp(indices[b.., j..]), k..] "
                   "(take along `axis`, with `batch_dims` leading shared dimensions; indices clamped to [0, n-1])."))


def _scatter(types, attrs, regions):
    operand, indices, updates = types
    shape = _gather_shape("scatter", types, operand, indices, attrs["axis"], attrs["batch_dims"])
    if updates != TensorType(shape, operand.dtype):
        raise IRTypeError("scatter", types, f"updates type {updates}", f"{TensorType(shape, operand.dtype)}")
    if operand.shape[attrs["axis"]] == 0 and math.prod(shape) > 0:
        raise IRTypeError("scatter", types, f"axis {attrs['axis']} is empty", "a non-empty axis to scatter into")
    return (operand,)


register(OpDef("scatter", _scatter, num_operands=3,
               attrs={"axis": AttrSpec("int"), "batch_dims": AttrSpec("int", 0),
                      "kind": AttrSpec("enum", "add", SCATTER_KINDS)}, category="index", linear=(0, 2),
               doc="The transpose of gather: updates are added (or set, last one wins) at the clamped indices."))
