"""Which ops and values may differ in their last bits between backends (the fuzzer's taint)."""

from __future__ import annotations

import numpy as np

from ..ir import Graph, ops_with

# --- which ops are inexact, and which must not see inexact inputs -------------------------

# The ops' own traits (ir/opdefs.py): inexact ones round a transcendental; discontinuous ones jump when
# a float input moves by one ulp, or amplify such a move beyond any tolerance (sine of 1e18: one ulp
# of the argument is many periods; atan2(±0, x < 0) = ±pi, and a float dot or sum may round a zero's
# sign either way).
TRANSCENDENTAL = ops_with("inexact")
DISCONTINUOUS = ops_with("discontinuous")


def node_is_inexact(node) -> bool:
    """True when backends may legitimately differ in the last bits of this node's float results."""
    name = node.op.name
    if not any(r.dtype.is_float for r in node.results):
        return False
    if name in TRANSCENDENTAL or name in ("dot_general", "convolution", "select_and_scatter_add"):
        return True   # (select_and_scatter_add sums where windows overlap)
    if name == "reduce_window" and node.attrs["kind"] == "sum":
        return True
    if name == "reduce" and node.attrs["kind"] in ("sum", "prod"):
        return True
    if name == "scatter" and node.attrs["kind"] == "add":
        return True
    return any(node_is_inexact(n) for region in node.regions for n in region.walk())


def inexact_values(graph: Graph) -> dict[int, np.dtype]:
    """ids of the float values of `graph` that may carry rounding differences between backends, each
    with the coarsest float dtype those differences arose in: a float32 tanh converted to float64
    differs by float32 ulps, so it is compared with float32's tolerance."""
    tainted: dict[int, np.dtype] = {}
    for node in graph.nodes:
        sources = [tainted[id(v)] for v in node.operands if id(v) in tainted]
        if node_is_inexact(node):
            sources += [np.dtype(r.dtype.np) for r in node.results if r.dtype.is_float]
        if sources:
            coarsest = min(sources, key=lambda d: d.itemsize)
            tainted.update((id(r), coarsest) for r in node.results if r.dtype.is_float)
    return tainted
