"""Common subexpression elimination by hashing (op, operands, attributes, regions).

One forward sweep with a hash table (linear). Operands of commutative ops
are normalised (order-independent key), so `a + b` and `b + a` merge. Regions
are CSE'd first and then keyed by their structure, so two identical fusion or
control-flow nodes merge too. (Float maximum/minimum are not treated as
commutative: see `commutes`.) Constants merge when their bytes are equal
(-0.0 and 0.0 differ, as they must).
"""

from __future__ import annotations

from ..ir import Graph, node_key
from ..ir.builder import commutes
from .graphutil import rebuild_node


def structural_key(graph: Graph):
    """A hashable key equal for regions with the same structure (names ignored)."""
    pos = {}
    for i, p in enumerate(graph.params):
        pos[id(p)] = ("p", i)
    items = []
    for k, node in enumerate(graph.nodes):
        for r in node.results:
            pos[id(r)] = (k, r.index)
        ops = tuple(pos[id(v)] for v in node.operands)
        if commutes(node.op, node.operands):
            ops = tuple(sorted(ops, key=repr))
        items.append((node.op.name, ops, node.attrs, tuple(structural_key(r) for r in node.regions)))
    return (tuple(p.type for p in graph.params), tuple(items), tuple(pos[id(v)] for v in graph.results))


def cse_graph(graph: Graph) -> Graph:
    env: dict = {}
    table: dict = {}
    out = []
    changed = False
    for node in graph.nodes:
        operands = [env.get(v, v) for v in node.operands] if env else node.operands
        regions = None
        rkeys = ()
        if node.regions:
            regions = [cse_graph(r) for r in node.regions]
            rkeys = tuple(structural_key(r) for r in regions)
        new = rebuild_node(node, operands, regions)
        key = node_key(new.op, new.operands, new.attrs, rkeys)
        prev = table.get(key) if key is not None else None
        if prev is not None:
            for a, b in zip(node.results, prev.results):
                env[a] = b
            changed = True
            continue
        if key is not None:
            table[key] = new
        if new is not node:
            for a, b in zip(node.results, new.results):
                env[a] = b
            changed = True
        out.append(new)
    if not changed:
        return graph
    return Graph(graph.name, graph.params, out, [env.get(v, v) for v in graph.results])
