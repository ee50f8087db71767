"""Batching rules of leaves and elementwise ops.

Elementwise ops take operands of identical type, so batched operands are
brought to one batch position and unbatched ones broadcast along it
(`BatchContext.align`); the result keeps that position.
"""

from __future__ import annotations

from ...ir import ops_with
from .table import batching_rule

ELEMENTWISE = tuple(sorted(ops_with("elementwise")))  # every elementwise op batches the same way


@batching_rule(*ELEMENTWISE)
def _elementwise(ctx, node, args):
    vals, bd = ctx.align(args)
    new = ctx.emit(node.op, vals, node.attrs)
    return [(r, bd) for r in new.results]


@batching_rule("constant", "iota")
def _leaf(ctx, node, args):
    # No operands: the value is the same for every batch element (the driver never calls this
    # for a leaf, since no operand is batched; the entry documents that leaves stay unbatched).
    new = ctx.emit(node.op, (), node.attrs)
    return [(r, None) for r in new.results]
