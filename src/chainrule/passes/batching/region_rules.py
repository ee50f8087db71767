"""Batching rules of ops that hold regions.

A batched `fusion` is inlined: its body is batched node by node into the
enclosing graph. The fusion pass may form new fusions afterwards; keeping
the node would force the body to hold whatever the rules emit (transposes,
gathers), which a fused loop nest need not support.
"""

from __future__ import annotations

from .region_util import batch_region, batched_outputs, front, inline_region
from .table import batching_rule


@batching_rule("fusion")
def _fusion(ctx, node, args):
    return inline_region(ctx, node.regions[0], args)


@batching_rule("custom_jvp_call", "custom_vjp_call", "custom_vjp_lin")
def _custom_call(ctx, node, args):
    # Every region's parameters and results are typed from the operands and results, so batching
    # all operands, all region parameters and all region results at 0 keeps the op well typed, and
    # the custom rule keeps applying to the batched function (as in JAX).
    from .driver import batch_graph
    vals = [ctx.materialize(v, bd, 0) for v, bd in args]
    regions = [batch_graph(r, [0] * len(r.params), ctx.size, 0, name=r.name) for r in node.regions]
    new = ctx.emit(node.op, vals, node.attrs, regions)
    return [(r, 0) for r in new.results]


@batching_rule("remat")
def _remat(ctx, node, args):
    # A checkpointed call stays one: its region is batched on the operands that vary, so reverse
    # mode still recomputes the (now batched) intermediates instead of storing them, as jax.vmap of
    # jax.checkpoint does. (Policies are judged on the batched region, as in JAX: a dot_general that
    # gained a batch dimension no longer counts as "no batch dims".)
    ops, flags = front(ctx, args)
    (body,) = node.regions
    out = batched_outputs(body, flags)
    new = ctx.emit(node.op, ops, node.attrs, (batch_region(ctx, body, flags, out),))
    return [(r, 0 if f else None) for r, f in zip(new.results, out)]
