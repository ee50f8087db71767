"""What the llvm backend does with shardings: it runs on one device, so placement is ignored.

`without_placement(graph)` is the graph with every top-level
`sharding_constraint` replaced by its operand (the identity it is on one
device); the parameters stay the same `Value`s. `shard_map` and the
collectives are SPMD code for a mesh of devices: the llvm backend does not
run them (the reference backend simulates a mesh; the jax backend runs one).
"""

from __future__ import annotations

from ...ir import Graph, Node
from ...ir.sharding_ops import COLLECTIVES

SPMD_REASON = ("SPMD code for a mesh of devices: the llvm backend runs on one device (run it on the jax backend, "
               "or simulate the mesh on the reference backend)")
UNSUPPORTED_SPMD = {name: SPMD_REASON for name in (*COLLECTIVES, "shard_map")}


def without_placement(graph: Graph) -> Graph:
    if not any(n.op.name == "sharding_constraint" for n in graph.nodes):
        return graph
    alias = {}
    nodes = []
    for node in graph.nodes:
        if node.op.name == "sharding_constraint":
            v = node.operands[0]
            alias[id(node.results[0])] = alias.get(id(v), v)
            continue
        if any(id(v) in alias for v in node.operands):
            new = Node(node.op, [alias.get(id(v), v) for v in node.operands], node.attrs,
                       [r.type for r in node.results], node.regions, node.loc)
            for r, nr in zip(node.results, new.results):
                alias[id(r)] = nr
            node = new
        nodes.append(node)
    return Graph(graph.name, graph.params, nodes, [alias.get(id(r), r) for r in graph.results])
