"""`sort`: several operands sorted together along one dimension (StableHLO `sort`, as `jax.lax.sort`).

    %0:2 = sort %keys, %values {dimension=0, is_stable=true, num_keys=1} : (f32[8], i64[8])

Every operand has the same shape. Along `dimension`, each row of the operands
is permuted by one permutation: the one that orders the first `num_keys`
operands lexicographically (operand 0 first). The comparator is JAX's default
one (`lax.sort`), a total order: for floats -inf < ... < -0.0 == 0.0 < ... <
inf < NaN, with every NaN equal (so NaNs sort last, as in NumPy); integers and
bools by value. Results have the operands' types. With `is_stable`, equal keys
keep their order; every chainrule backend sorts stably either way (a stable
sort is a valid unstable one).
"""

from __future__ import annotations

from .errors import IRTypeError
from .ops import AttrSpec, OpDef, register

KEY_KINDS = "biuf"  # bool, signed and unsigned integers, floats (complex keys: not yet)


def _sort(types, attrs, regions):
    first = types[0]
    d, k = attrs["dimension"], attrs["num_keys"]
    if first.ndim == 0:
        raise IRTypeError("sort", types, "operand 0 is a scalar", "operands of rank 1 or more")
    if not 0 <= d < first.ndim:
        raise IRTypeError("sort", types, f"dimension {d} out of range for rank {first.ndim}",
                          f"a dimension in [0, {first.ndim})")
    for i, t in enumerate(types):
        if t.shape != first.shape:
            raise IRTypeError("sort", types, f"operand {i} has shape {list(t.shape)}",
                              f"the shape of operand 0, {list(first.shape)}")
    if not 1 <= k <= len(types):
        raise IRTypeError("sort", types, f"num_keys={k}", f"1 <= num_keys <= {len(types)} (the operand count)")
    for i, t in enumerate(types[:k]):
        if t.dtype.kind not in KEY_KINDS:
            raise IRTypeError("sort", types, f"key operand {i} has dtype {t.dtype.name}",
                              "bool, integer or float sort keys")
    return tuple(types)


register(OpDef("sort", _sort, num_operands=None, min_operands=1, category="sort", discontinuous=True,
               attrs={"dimension": AttrSpec("int"), "is_stable": AttrSpec("bool", True),
                      "num_keys": AttrSpec("int", 1)},
               doc="Sorts the operands together along `dimension` by the first `num_keys` of them "
                   "(lexicographically), as jax.lax.sort: floats in the total order -inf < ... < -0.0 == 0.0 "
                   "< ... < inf < NaN (every NaN equal, so NaNs sort last as in NumPy). Results have the "
                   "operands' types. Equal keys keep their order (every backend sorts stably)."))
