"""Batching of `sort`: every operand gets the batch dimension in front, and the sorted dimension moves
one place up (the operands must share one shape, so an unbatched operand is broadcast)."""

from __future__ import annotations

from .table import batching_rule


@batching_rule("sort")
def _sort(ctx, node, args):
    xs = [ctx.materialize(x, b, 0) for x, b in args]
    a = node.attrs
    out = ctx.emit("sort", xs, {"dimension": a["dimension"] + 1, "is_stable": a["is_stable"],
                                "num_keys": a["num_keys"]}).results
    return [(r, 0) for r in out]
