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


def dce_graph(graph: Graph, regions: bool = True) -> Graph:
    """`graph` without dead nodes; with `regions=False` the regions are left as they are."""
    live = set(map(id, graph.results))
    nodes = graph.nodes
    keep = [False] * len(nodes)
    dropped = False
    has_regions = False
    for k in range(len(nodes) - 1, -1, -1):
        node = nodes[k]
        results = node.results
        if (len(results) == 1 and id(results[0]) in live) or node.op.name in SIDE_EFFECTING or (
                len(results) != 1 and any(id(r) in live for r in results)):
            keep[k] = True
            for v in node.operands:
                live.add(id(v))
            if node.regions and regions:
                has_regions = True
        else:
            dropped = True
    if not dropped and not has_regions:
        return graph
    env: dict = {}
    out = []
    changed = dropped
    for node, k in zip(nodes, keep):
        if not k:
            continue
        if env or (node.regions and regions):
            operands = [env.get(v, v) for v in node.operands] if env else node.operands
            new_regions = [dce_graph(r) for r in node.regions] if (node.regions and regions) else None
            new = rebuild_node(node, operands, new_regions)
            if new is not node:
                changed = True
                for a, b in zip(node.results, new.results):
                    env[a] = b
            node = new
        out.append(node)
    if not changed:
        return graph
    return Graph(graph.name, graph.params, out, [env.get(v, v) for v in graph.results])
