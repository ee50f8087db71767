"""The batching pass: `batch_graph` and the node walk that applies the rules."""

from __future__ import annotations

from collections.abc import Sequence

from ...ir import Graph, GraphBuilder
from ..graphutil import live_nodes
from .context import BatchContext, batched_type
from .table import BATCH_RULES


class BatchingError(ValueError):
    """A batching request that cannot be met (bad axes, a batched result asked to be unbatched)."""


def _normalize_axis(ax, ndim: int, what: str) -> int | None:
    if ax is None:
        return None
    if isinstance(ax, bool) or not hasattr(ax, "__index__"):
        raise BatchingError(f"{what} must be an int or None, got {ax!r}")
    ax = int(ax)
    if not -(ndim + 1) <= ax <= ndim:
        raise BatchingError(f"{what} is {ax}, out of range for a batched value of rank {ndim + 1} "
                            f"(expected an int in [{-(ndim + 1)}, {ndim}] or None)")
    return ax % (ndim + 1)


def batch_nodes(ctx: BatchContext, nodes, env: dict) -> None:
    """Batch `nodes` in order; `env` maps id(value) of the old graph to `(new value, bdim)`."""
    for node in nodes:
        args = [env[id(v)] for v in node.operands]
        if all(bd is None for _, bd in args) and not ctx.binds(node):
            new = ctx.builder.emit(node.op, [v for v, _ in args], node.attrs, node.regions, node.loc)
            outs = [(r, None) for r in new.results]
        else:
            rule = BATCH_RULES.get(node.op.name)
            if rule is None:
                raise NotImplementedError(
                    f"vmap: batching op {node.op.name!r} is not supported yet (it has no rule in "
                    "chainrule.passes.batching.BATCH_RULES)")
            ctx.loc = node.loc
            outs = rule(ctx, node, args)
            _check_rule_output(node, outs, ctx.size)
        for r, o in zip(node.results, outs):
            env[id(r)] = o


def _check_rule_output(node, outs, size):
    if len(outs) != len(node.results):
        raise AssertionError(f"internal error: the batching rule of {node.op.name} gave {len(outs)} results, "
                             f"expected {len(node.results)}")
    for k, ((v, bd), r) in enumerate(zip(outs, node.results)):
        want = batched_type(r.type, bd, size)
        if v.type != want:
            raise AssertionError(f"internal error: the batching rule of {node.op.name} gave result {k} type "
                                 f"{v.type} with batch dimension {bd}, expected {want}")


def batch_graph(g: Graph, in_axes: Sequence[int | None], axis_size: int,
                out_axes: int | None | Sequence[int | None] = 0, name: str | None = None,
                axis_name: str | None = None) -> Graph:
    """Vectorize `g` over a batch of `axis_size` elements.

    Parameter `i` of the new graph is `g`'s with a batch dimension inserted at
    `in_axes[i]` (negative counts from the end of the batched rank), or the
    same parameter when `in_axes[i]` is None (shared by the whole batch).
    Result `j` carries its batch dimension at `out_axes[j]` (default 0 for
    every result); unbatched results are broadcast, unless `out_axes[j]` is
    None, which asks for an unbatched result and fails if it varies over the
    batch. With `axis_name`, collectives over that name work across the
    batch (as in `jax.vmap(..., axis_name=)`). The input graph is left untouched.
    """
    in_axes = list(in_axes)
    if len(in_axes) != len(g.params):
        raise BatchingError(f"batch_graph: @{g.name} has {len(g.params)} parameter(s) but in_axes has "
                            f"{len(in_axes)} entries")
    if isinstance(axis_size, bool) or not hasattr(axis_size, "__index__") or int(axis_size) < 0:
        raise BatchingError(f"batch_graph: axis_size must be a non-negative int, got {axis_size!r}")
    axis_size = int(axis_size)
    if out_axes is None or isinstance(out_axes, int):
        out_axes = [out_axes] * len(g.results)
    out_axes = list(out_axes)
    if len(out_axes) != len(g.results):
        raise BatchingError(f"batch_graph: @{g.name} has {len(g.results)} result(s) but out_axes has "
                            f"{len(out_axes)} entries")
    b = GraphBuilder(name or f"{g.name}_vmap")
    ctx = BatchContext(b, axis_size, axis_name)
    env = {}
    for i, (p, ax) in enumerate(zip(g.params, in_axes)):
        ax = _normalize_axis(ax, p.ndim, f"in_axes[{i}]")
        env[id(p)] = (b.param(batched_type(p.type, ax, axis_size), p.name), ax)
    batch_nodes(ctx, g.nodes, env)
    ctx.loc = None
    results = []
    for j, (r, ax) in enumerate(zip(g.results, out_axes)):
        v, bd = env[id(r)]
        ax = _normalize_axis(ax, r.ndim, f"out_axes[{j}]")
        if ax is None:
            if bd is not None:
                raise BatchingError(f"batch_graph: result {j} of @{g.name} ({r.type}) varies over the batch, "
                                    "but out_axes asks for it unbatched (None)")
            results.append(v)
        else:
            results.append(ctx.materialize(v, bd, ax))
    return _without_dead_nodes(b, results)


def _without_dead_nodes(b: GraphBuilder, results) -> Graph:
    """The graph of `b` keeping only nodes the results use (rules and the cache of broadcasts may
    leave some behind, e.g. a broadcast folded into a later one). Regions are closed: not entered."""
    b.nodes = live_nodes(b.nodes, results)
    return b.build(results)
