"""Control-flow ops: `cond`, `case`, `while`, `scan` (StableHLO / JAX semantics).

Regions are closed: a branch or loop body sees only its own parameters, so a
value from outside reaches it only as an operand (the frontend turns captured
tensors into extra operands). That keeps every region a self-contained graph
that passes, backends and autodiff can treat as a function.

* `cond(pred: bool[], *operands)`, regions (true_branch, false_branch): both
  take the operands and return identically typed results.
* `case(index: i32[], *operands)`, regions = branches (one or more): branch
  `index` runs; an index outside [0, n) runs the last branch (StableHLO).
* `while(*carry)`, regions (cond, body): cond maps the carry to bool[]; body
  maps the carry to a carry of the same types. Results: the final carry.
* `scan(*consts, *init_carry, *xs)` {num_consts, num_carry, length, reverse},
  region body: (consts..., carry..., x slices...) -> (carry..., y slices...).
  Every x has leading dimension `length`; iteration i reads x[i] and writes
  y[i]. Results: the final carry, then the ys stacked on a new leading
  dimension of size `length`. `reverse` runs i = length-1 .. 0 (still storing
  y_i at index i), as jax.lax.scan(reverse=True).
"""

from __future__ import annotations

from .dtypes import bool_, int32
from .errors import IRTypeError
from .ops import AttrSpec, OpDef, register
from .region_ops import check_region_signature
from .types import TensorType


def _types_text(types) -> str:
    return "(" + ", ".join(map(str, types)) + ")"


def _check_scalar(op, types, t, dtype, what):
    if t.shape != () or t.dtype != dtype:
        raise IRTypeError(op, types, f"{what} has type {t}", f"a scalar {dtype.name} {what} ({dtype.short}[])")


def _check_branches(op, types, branches, operand_types):
    """Every branch takes `operand_types` and all return the first branch's result types."""
    outs = None
    for k, br in enumerate(branches):
        check_region_signature(op, types, br, operand_types, f"branch {k}")
        if outs is None:
            outs = tuple(br.result_types)
        elif tuple(br.result_types) != outs:
            raise IRTypeError(op, types, f"branch {k} returns {_types_text(br.result_types)}",
                              f"the same result types as branch 0 {_types_text(outs)}")
    return outs


def _cond(types, attrs, regions):
    _check_scalar("cond", types, types[0], bool_, "predicate")
    return _check_branches("cond", types, regions, types[1:])


register(OpDef("cond", _cond, num_operands=None, min_operands=1, num_regions=2, category="control_flow",
               doc="cond(pred: bool[], *operands): region 0 (true branch) when pred, else region 1 (false "
                   "branch), applied to the operands. Both branches take the operands' types and return the "
                   "same types."))


def _case(types, attrs, regions):
    if not regions:
        raise IRTypeError("case", types, "got no branches", "at least one branch region")
    _check_scalar("case", types, types[0], int32, "index")
    return _check_branches("case", types, regions, types[1:])


register(OpDef("case", _case, num_operands=None, min_operands=1, num_regions=None, category="control_flow",
               doc="case(index: i32[], *operands): runs branch `index` (region index) on the operands; an "
                   "index < 0 or >= the number of branches runs the last branch (StableHLO)."))


def _while(types, attrs, regions):
    cond, body = regions
    check_region_signature("while", types, cond, types, "cond")
    if tuple(cond.result_types) != (TensorType((), bool_),):
        raise IRTypeError("while", types, f"cond returns {_types_text(cond.result_types)}", "one bool[] predicate")
    check_region_signature("while", types, body, types, "body")
    if tuple(body.result_types) != tuple(types):
        raise IRTypeError("while", types, f"body returns {_types_text(body.result_types)}",
                          f"the carry's types {_types_text(types)}")
    return tuple(types)


register(OpDef("while", _while, num_operands=None, min_operands=0, num_regions=2, category="control_flow",
               doc="while(*carry): while cond(carry) (region 0, -> bool[]): carry = body(carry) (region 1). "
                   "Results: the final carry."))


def scan_split(types, attrs):
    """(consts, carry, xs) of a scan's operands (types or values), by its attributes."""
    nc, nk = attrs["num_consts"], attrs["num_carry"]
    return tuple(types[:nc]), tuple(types[nc:nc + nk]), tuple(types[nc + nk:])


def _scan(types, attrs, regions):
    (body,) = regions
    nc, nk, length = attrs["num_consts"], attrs["num_carry"], attrs["length"]
    if nc < 0 or nk < 0 or length < 0:
        raise IRTypeError("scan", types, f"num_consts={nc}, num_carry={nk}, length={length}",
                          "non-negative num_consts, num_carry and length")
    if nc + nk > len(types):
        raise IRTypeError("scan", types, f"num_consts={nc} + num_carry={nk} exceed the {len(types)} operands",
                          "operands: consts, then the initial carry, then the scanned xs")
    consts, carry, xs = scan_split(types, attrs)
    for k, x in enumerate(xs):
        if not x.shape or x.shape[0] != length:
            raise IRTypeError("scan", types, f"scanned operand {k} has type {x}",
                              f"a leading dimension of size length={length}")
    slices = tuple(TensorType(x.shape[1:], x.dtype) for x in xs)
    check_region_signature("scan", types, body, consts + carry + slices, "body (consts, carry, x slices)")
    outs = tuple(body.result_types)
    if outs[:nk] != carry:
        raise IRTypeError("scan", types, f"body returns {_types_text(outs)}",
                          f"the carry's types {_types_text(carry)} first, then the y slices")
    ys = tuple(TensorType((length,) + y.shape, y.dtype) for y in outs[nk:])
    return carry + ys


register(OpDef("scan", _scan, num_operands=None, min_operands=0, num_regions=1, category="control_flow",
               attrs={"num_consts": AttrSpec("int", 0), "num_carry": AttrSpec("int"), "length": AttrSpec("int"),
                      "reverse": AttrSpec("bool", False)},
               doc="scan(*consts, *init_carry, *xs): for i in 0..length-1 (length-1..0 when reverse): "
                   "carry, y_i = body(consts, carry, x_i) where x_i = xs[i]. Results: the final carry, then "
                   "the ys stacked on a new leading dimension of size length (y_i at index i)."))
