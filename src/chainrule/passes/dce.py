"""Dead code elimination: drop nodes whose results nothing uses.

A backward sweep marks what is live, a forward sweep rebuilds (both linear,
no recursion on graph depth). Nodes inside regions are cleaned too; a region
keeps all its results and parameters, since they are its node's results and
operands.
"""

from __future__ import annotations

from ..ir import Graph
from .graphutil import rebuild_node

# Ops kept even when unused (none have side effects yet; rng or I/O ops would go here).
SIDE_EFFECTING: frozenset[str] = frozenset()


def dce_graph(graph: Graph) -> Graph:
    live = set(map(id, graph.results))
    keep = []
    for node in reversed(graph.nodes):
        if node.op.name in SIDE_EFFECTING or any(id(r) in live for r in node.results):
            keep.append(True)
            for v in node.operands:
                live.add(id(v))
        else:
            keep.append(False)
    keep.reverse()
    has_regions = any(n.regions for n, k in zip(graph.nodes, keep) if k)
    if all(keep) and not has_regions:
        return graph
    env: dict = {}
    out = []
    for node, k in zip(graph.nodes, keep):
        if not k:
            continue
        operands = [env.get(v, v) for v in node.operands] if env else node.operands
        regions = [dce_graph(r) for r in node.regions] if node.regions else None
        new = rebuild_node(node, operands, regions)
        if new is not node:
            for a, b in zip(node.results, new.results):
                env[a] = b
        out.append(new)
    if all(keep) and all(a is b for a, b in zip(out, graph.nodes)):
        return graph
    return Graph(graph.name, graph.params, out, [env.get(v, v) for v in graph.results])
