"""Common subexpression elimination by hashing (op, operands, attributes, regions).

One forward sweep with a hash table (linear). Operands of commutative ops
are normalised (order-independent key), so `a + b` and `b + a` merge. Regions
are CSE'd first and then keyed by their structure, so two identical fusion or
control-flow nodes merge too. (Float maximum/minimum are not treated as
commutative: see `commutes`.) Constants merge when their bytes are equal
(-0.0 and 0.0 differ, as they must).
"""

from __future__ import annotations

from ..ir import Graph, Node
from .graphutil import rebuild_node



def commutes(node: Node) -> bool:
    """Whether swapping the operands keeps the result bit for bit.

    Float maximum/minimum do not: NumPy's (the reference's) maximum(+0.0, -0.0)
    returns its first operand, so the sign of a zero result depends on the order.
    """
    if not node.op.commutative:
        return False
    return not (node.op.name in ("maximum", "minimum") and node.operands and node.operands[0].dtype.is_float)


def node_key(node: Node, region_keys=()):
    """A hashable key equal for nodes that compute the same values, or None (never merge)."""
    if not node.op.cse:  # each evaluation must stay distinct (random numbers, effects)
        return None
    ids = tuple(id(v) for v in node.operands)
    if commutes(node):
        ids = tuple(sorted(ids))
    return (node.op.name, ids, node.attrs, tuple(region_keys))


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
        if commutes(node):
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
        key = node_key(new, rkeys)
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
