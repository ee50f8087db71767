"""The standard passes, registered under their pipeline names."""

from __future__ import annotations

from ..ir import Graph
from .cse import cse_graph
from .dce import dce_graph
from .fold import FOLD
from .fusion import fuse_graph
from .manager import PassContext, register_pass
from .rewrite import apply_rewrites
from .simplify import SIMPLIFY


@register_pass("dce")
def dce(graph: Graph, ctx: PassContext) -> Graph:
    """Remove nodes whose results are unused (inside regions too)."""
    return dce_graph(graph)


@register_pass("cse")
def cse(graph: Graph, ctx: PassContext) -> Graph:
    """Merge nodes computing the same thing (commutative operands normalised; regions too)."""
    return cse_graph(graph)


@register_pass("fold")
def fold(graph: Graph, ctx: PassContext) -> Graph:
    """Evaluate nodes whose operands are constants (reference rules; results within a size cap)."""
    return apply_rewrites(graph, FOLD, ctx.fast_math, ctx.options)


@register_pass("simplify")
def simplify(graph: Graph, ctx: PassContext) -> Graph:
    """Algebraic rewrites to a fixed point (IEEE-safe unless fast-math)."""
    return apply_rewrites(graph, SIMPLIFY, ctx.fast_math, ctx.options)


@register_pass("canonicalize")
def canonicalize(graph: Graph, ctx: PassContext) -> Graph:
    """fold + simplify + CSE together in one sweep, to their joint fixed point."""
    return apply_rewrites(graph, SIMPLIFY | FOLD, ctx.fast_math, ctx.options, cse=True)


@register_pass("fuse")
def fuse(graph: Graph, ctx: PassContext) -> Graph:
    """Group elementwise, broadcast and reduce nodes into fusion nodes (one loop nest each)."""
    return fuse_graph(graph, ctx.options)
