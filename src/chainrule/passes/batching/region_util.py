"""Helpers for batching ops with regions: which region results vary, and batching a region."""

from __future__ import annotations


def batched_outputs(region, in_batched) -> list[bool]:
    """Which results of `region` may vary over the batch when the marked parameters do.

    It over-approximates the driver (a node with a batched operand counts as
    batched), so it is safe for choosing a region's out_axes.
    """
    live = {id(p) for p, f in zip(region.params, in_batched) if f}
    for node in region.nodes:
        if any(id(v) in live for v in node.operands):
            live.update(id(r) for r in node.results)
    return [id(r) in live for r in region.results]


def batch_region(ctx, region, in_batched, out_batched):
    from .driver import batch_graph
    return batch_graph(region, [0 if f else None for f in in_batched], ctx.size,
                       [0 if f else None for f in out_batched], name=region.name)


def inline_region(ctx, region, args):
    """Batch `region`'s nodes into the current graph on `args`; returns its results as (value, bdim)."""
    from .driver import batch_nodes
    env = {id(p): a for p, a in zip(region.params, args)}
    loc = ctx.loc
    batch_nodes(ctx, region.nodes, env)
    ctx.loc = loc
    return [env[id(r)] for r in region.results]


def front(ctx, args):
    """Batched operands moved to 0, unbatched kept; with the flags of which are batched."""
    return [ctx.materialize(v, bd, 0) if bd is not None else v for v, bd in args], [bd is not None for _, bd in args]
