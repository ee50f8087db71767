"""Batching rule of `fft`: the transform acts on the last dimensions, so the batch one leads (as JAX)."""

from __future__ import annotations

from .table import batching_rule


@batching_rule("fft")
def _fft(ctx, node, args):
    ((x, b),) = args
    x = ctx.moveaxis(x, b, 0)
    return [(ctx.emit(node.op, (x,), node.attrs).results[0], 0)]
