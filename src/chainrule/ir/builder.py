"""`GraphBuilder`: append typed nodes and get a `Graph`.

Every node is type-checked by its op's rule as it is added, so a wrong graph
fails where it is built, not later.
"""

from __future__ import annotations

import numpy as np

from .attrs import Attrs, Literal
from .errors import IRTypeError
from .graph import Graph, Node, Value
from .ops import OpDef, get_op
from .types import TensorType


class GraphBuilder:
    def __init__(self, name: str = "main"):
        self.name = name
        self.params: list[Value] = []
        self.nodes: list[Node] = []

    def param(self, type: TensorType, name: str | None = None) -> Value:
        v = Value(type, None, len(self.params), name)
        self.params.append(v)
        return v

    def emit(self, op: str | OpDef, operands=(), attrs=None, regions=(), loc: str | None = None) -> Node:
        """Add a node; attributes are validated and defaults filled in."""
        opdef = op if isinstance(op, OpDef) else get_op(op)
        try:
            a = attrs if isinstance(attrs, Attrs) and _complete(opdef, attrs) else opdef.normalize_attrs(attrs)
        except IRTypeError as e:  # name the operand types in attribute errors too
            if e.operand_types or not operands:
                raise
            raise IRTypeError(e.op, [v.type for v in operands], e.problem, e.expected) from None
        types = opdef.result_types(tuple(v.type for v in operands), a, regions)
        node = Node(opdef, operands, a, types, regions, loc)
        self.nodes.append(node)
        return node

    def op(self, op: str, *operands, **attrs):
        """Emit a node and return its result (a tuple when it has several)."""
        node = self.emit(op, operands, attrs)
        return node.results[0] if len(node.results) == 1 else node.results

    def constant(self, value, dtype=None) -> Value:
        lit = value if isinstance(value, Literal) else Literal(np.asarray(value), dtype)
        return self.emit("constant", (), {"value": lit}).results[0]

    def add_node(self, node: Node) -> Node:
        """Append an already built node (used when copying graphs)."""
        self.nodes.append(node)
        return node

    def build(self, results) -> Graph:
        return Graph(self.name, self.params, self.nodes, results)


def _complete(opdef: OpDef, attrs: Attrs) -> bool:
    return len(attrs) == len(opdef.attrs) and all(k in opdef.attrs for k in attrs)
