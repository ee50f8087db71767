"""`verify(graph)`: check the invariants every pass must keep.

SSA order (each operand defined earlier in the same graph), result types
equal to the op's type rule, closed regions, results defined.
"""

from __future__ import annotations

from .errors import IRError, VerifyError
from .graph import Graph


def verify(graph: Graph) -> Graph:
    _verify(graph, graph.name)
    return graph


def _verify(graph: Graph, where: str):
    defined = set()
    for i, p in enumerate(graph.params):
        if p.node is not None:
            raise VerifyError(f"@{where}: parameter {i} is produced by a node")
        if id(p) in defined:
            raise VerifyError(f"@{where}: parameter {i} appears twice")
        defined.add(id(p))
    for k, node in enumerate(graph.nodes):
        for j, v in enumerate(node.operands):
            if id(v) not in defined:
                raise VerifyError(
                    f"@{where}: node {k} ({node.op.name}) uses operand {j} ({v.type}) before it is defined "
                    "or from outside this graph")
        for r_i, region in enumerate(node.regions):
            _verify(region, f"{where}/{node.op.name}#{k}.region{r_i}")
        try:
            expected = node.op.result_types(tuple(v.type for v in node.operands), node.attrs, node.regions)
        except IRError as e:
            raise VerifyError(f"@{where}: node {k}: {e}") from None
        got = tuple(r.type for r in node.results)
        if got != expected:
            raise VerifyError(
                f"@{where}: node {k} ({node.op.name}) has result types {', '.join(map(str, got))}, "
                f"its type rule gives {', '.join(map(str, expected))}")
        for i, r in enumerate(node.results):
            if r.node is not node or r.index != i:
                raise VerifyError(f"@{where}: node {k} ({node.op.name}) result {i} is not owned by it")
            if id(r) in defined:
                raise VerifyError(f"@{where}: node {k} ({node.op.name}) result {i} is defined twice")
            defined.add(id(r))
    for i, r in enumerate(graph.results):
        if id(r) not in defined:
            raise VerifyError(f"@{where}: result {i} ({r.type}) is not defined in this graph")
