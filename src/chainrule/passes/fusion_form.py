"""What a `fusion` region may contain, and `check_fusion` / `fusion_is_well_formed`.

A backend compiles a well-formed fusion node as ONE loop nest over its loop
shape L. The rules (also in ir/region_ops.py and docs/passes.md):

- `kind` is `loop` (no reduction) or `reduce` (at least one reduce root).
  `output` is reserved for fusions rooted at a non-elementwise op (e.g. a dot
  with an elementwise epilogue); the fusion pass never makes one and
  `check_fusion` rejects it: a backend evaluates such a region op by op.
- L, the loop shape, is the operand shape of the reduce roots (kind=reduce),
  else the shape of every result (kind=loop).
- Each region node is one of:
  * `constant` of rank 0 (a scalar; it reaches L through broadcast_in_dim,
    or is used directly when L is rank 0);
  * `broadcast_in_dim` to L whose operand is a region parameter or a rank-0
    constant of the region (never a computed value: that would recompute it
    per element);
  * an elementwise op (`OpDef.elementwise`, no regions) whose operands and
    result all have shape L (dtypes may differ: compare, convert, select);
  * `reduce` (any kind) of a value of shape L, whose result is a region
    result and is used by nothing inside the region. All reduce roots of one
    fusion reduce the same dimensions (any set, sorted).
- Region parameters of shape L may be used directly; parameters of any other
  shape only through broadcast_in_dim.
- Region results are elementwise values of shape L or reduce results (never a
  parameter, a constant or a bare broadcast).

Evaluation order inside the loop nest is free: every value at loop index i
depends only on values at index i (and on parameters through broadcasts).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Node


class FusionFormError(ValueError):
    """A fusion node breaks the region rules above; the message says which and where."""


@dataclass(frozen=True)
class FusionInfo:
    kind: str                       # "loop" or "reduce"
    loop_shape: tuple[int, ...]     # L
    reduce_dims: tuple[int, ...]    # dimensions of L the reduce roots reduce (() for loop)


def check_fusion(node: Node) -> FusionInfo:
    """Check a fusion node against the rules above; return its loop shape and kind."""
    if node.op.name != "fusion":
        raise FusionFormError(f"expected a fusion node, got {node.op.name}")
    kind = node.attrs["kind"]
    (body,) = node.regions
    where = f"fusion (kind={kind})"
    if kind == "output":
        raise FusionFormError(f"{where}: kind=output is not a loop nest; evaluate its region op by op")
    reduces = [n for n in body.nodes if n.op.name == "reduce"]
    if kind == "reduce" and not reduces:
        raise FusionFormError(f"{where}: kind=reduce but the region holds no reduce")
    if kind == "loop" and reduces:
        raise FusionFormError(f"{where}: kind=loop but the region holds a reduce (expected kind=reduce)")
    if reduces:
        shape = reduces[0].operands[0].shape
        dims = tuple(reduces[0].attrs["dimensions"])
        for r in reduces:
            if r.operands[0].shape != shape or tuple(r.attrs["dimensions"]) != dims:
                raise FusionFormError(
                    f"{where}: reduce roots differ (operand {r.operands[0].type} over {list(r.attrs['dimensions'])}"
                    f" vs shape {list(shape)} over {list(dims)}); expected one loop shape and one set of dimensions")
    else:
        if not body.results:
            raise FusionFormError(f"{where}: the region has no results")
        shape = body.results[0].shape
        dims = ()
    params = {id(p): p for p in body.params}
    defined_by = {}
    used_inside = set()
    for k, n in enumerate(body.nodes):
        name = n.op.name
        at = f"{where}: region node {k} ({name})"
        if n.regions:
            raise FusionFormError(f"{at}: ops with regions may not be fused")
        for v in n.operands:
            used_inside.add(id(v))
        if name == "constant":
            if n.results[0].shape != ():
                raise FusionFormError(f"{at}: constant of type {n.results[0].type}; expected a rank-0 constant")
        elif name == "broadcast_in_dim":
            (src,) = n.operands
            if n.results[0].shape != shape:
                raise FusionFormError(f"{at}: broadcasts to {list(n.results[0].shape)}; expected the loop shape {list(shape)}")
            src_kind = defined_by.get(id(src))
            if id(src) not in params and src_kind != "constant":
                raise FusionFormError(f"{at}: broadcasts a computed value; expected a region parameter or a rank-0 constant")
        elif name == "reduce":
            (src,) = n.operands
            if src.shape != shape:
                raise FusionFormError(f"{at}: reduces a value of shape {list(src.shape)}; expected the loop shape {list(shape)}")
        elif n.op.elementwise:
            for j, v in enumerate(n.operands):
                if v.shape != shape:
                    raise FusionFormError(f"{at}: operand {j} has shape {list(v.shape)}; expected the loop shape {list(shape)}")
                if id(v) in params:
                    continue
                src_kind = defined_by.get(id(v))
                if src_kind == "reduce":
                    raise FusionFormError(f"{at}: uses a reduce result; reductions may only be roots")
            if n.results[0].shape != shape:
                raise FusionFormError(f"{at}: result shape {list(n.results[0].shape)}; expected the loop shape {list(shape)}")
        else:
            raise FusionFormError(
                f"{at}: op {name} may not be fused; expected elementwise ops, broadcast_in_dim, rank-0 constants, reduce")
        for r in n.results:
            defined_by[id(r)] = name
    for n in reduces:
        if id(n.results[0]) in used_inside:
            raise FusionFormError(f"{where}: a reduce result is used inside the region; reductions may only be roots")
    # (a parameter not of shape L used directly fails the operand-shape checks above)
    for i, r in enumerate(body.results):
        src_kind = "param" if id(r) in params else defined_by.get(id(r))
        if src_kind in ("param", "constant", "broadcast_in_dim"):
            raise FusionFormError(f"{where}: result {i} is a {src_kind}; expected a computed value")
        if src_kind != "reduce" and r.shape != shape:
            raise FusionFormError(f"{where}: result {i} has shape {list(r.shape)}; expected the loop shape {list(shape)}")
    return FusionInfo(kind, tuple(shape), dims)


def fusion_is_well_formed(node: Node) -> bool:
    """True when a backend may compile `node` as one loop nest (see `check_fusion`)."""
    try:
        check_fusion(node)
    except FusionFormError:
        return False
    return True
