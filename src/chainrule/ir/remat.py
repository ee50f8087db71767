"""`remat`: a checkpointed call (rematerialisation), as `jax.checkpoint` / `jax.remat`.

    %0:2 = remat %x, %w {policy=dots_saveable} : (f32[8], f32[8,8]) regions {
      func @f(%arg0: f32[8], %arg1: f32[8,8]) -> (f32[8], f32[]) { ... }
    }

Forward meaning: run the region on the operands; its results are the node's
results (backends treat it like a call). The op matters only to reverse-mode
autodiff (chainrule.passes.autodiff.remat_rules): the reverse graph keeps
the region's *inputs* (plus what `policy` saves) instead of its
intermediates, and recomputes the rest inside the region of the transposed
node.

Regions are closed graphs, so no pass can merge the recomputation inside a
backward region with the forward values outside it: CSE compares whole
nodes, never values across a region boundary. That is why chainrule needs
no `optimization_barrier` around the recomputation, which XLA does need.

`policy` names what the reverse graph may save besides the inputs (JAX's
`jax.checkpoint_policies` of the same names):
  * nothing_saveable: only the operands (the default);
  * dots_saveable: also every `dot_general` result at the top level of the
    region;
  * dots_with_no_batch_dims_saveable: the `dot_general` results without
    batch dimensions;
  * everything_saveable: everything, i.e. no rematerialisation at all.

`num_tangents` (default 0) marks the tangent nodes that autodiff makes: the
region is then linear in its last `num_tangents` operands (tangents), so
differentiating the node again with respect to those operands only is the
node itself applied to their tangents, not the JVP of a JVP.
"""

from __future__ import annotations

from .errors import IRTypeError
from .ops import AttrSpec, OpDef, register
from .region_ops import check_region_signature

REMAT_POLICIES = ("nothing_saveable", "dots_saveable", "dots_with_no_batch_dims_saveable", "everything_saveable")


def _remat(types, attrs, regions):
    (body,) = regions
    check_region_signature("remat", types, body, types, "checkpointed function")
    m = attrs["num_tangents"]
    if not 0 <= m <= len(types):
        raise IRTypeError("remat", types, f"num_tangents={m}", f"0 <= num_tangents <= {len(types)} (the operand count)")
    return body.result_types


register(OpDef("remat", _remat, num_operands=None, min_operands=0, num_regions=1, category="call", call_like=True,
               attrs={"policy": AttrSpec("enum", "nothing_saveable", REMAT_POLICIES),
                      "num_tangents": AttrSpec("int", 0)},
               doc="A checkpointed call: the region applied to the operands. Reverse-mode autodiff stores only "
                   "the operands (and what `policy` saves: dot_general results for dots_saveable) and "
                   "recomputes the region's other intermediates in the backward pass. Closed regions keep "
                   "CSE from merging that recomputation with the forward values (no optimization_barrier "
                   "is needed). num_tangents > 0 marks a tangent node made by autodiff: the region is linear in its "
                   "last num_tangents operands."))
