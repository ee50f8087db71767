"""Graphs: typed parameters, nodes in SSA topological order, results.

A `Value` is produced once, by a parameter or by a node; a `Node` applies an
op to operand values and owns its result values; a `Graph` lists its nodes in
an order where every operand is defined before it is used. Regions of
control-flow and fusion nodes are graphs too, closed over their parameters.
"""

from __future__ import annotations

from .attrs import EMPTY_ATTRS, Attrs
from .ops import OpDef
from .types import TensorType


class Value:
    __slots__ = ("type", "node", "index", "name", "__weakref__")

    def __init__(self, type: TensorType, node: "Node | None" = None, index: int = 0, name: str | None = None):
        self.type = type
        self.node = node  # None for a graph parameter
        self.index = index
        self.name = name

    @property
    def shape(self):
        return self.type.shape

    @property
    def dtype(self):
        return self.type.dtype

    @property
    def ndim(self):
        return len(self.type.shape)

    def __repr__(self):
        where = f"param {self.name}" if self.node is None else f"{self.node.op.name}#{self.index}"
        return f"<Value {where}: {self.type}>"


class Node:
    __slots__ = ("op", "operands", "attrs", "results", "regions", "loc")

    def __init__(self, op: OpDef, operands, attrs: Attrs, result_types, regions=(), loc: str | None = None):
        self.op = op
        self.operands = tuple(operands)
        self.attrs = attrs if attrs is not None else EMPTY_ATTRS
        self.regions = tuple(regions)
        self.loc = loc
        self.results = tuple(Value(t, self, i) for i, t in enumerate(result_types))

    @property
    def name(self) -> str:
        return self.op.name

    @property
    def result(self) -> Value:
        """The only result of a single-result node."""
        if len(self.results) != 1:
            raise ValueError(f"{self.op.name} has {len(self.results)} results")
        return self.results[0]

    def __repr__(self):
        return f"<Node {self.op.name} -> {', '.join(str(r.type) for r in self.results)}>"


class Graph:
    __slots__ = ("name", "params", "nodes", "results")

    def __init__(self, name: str, params, nodes, results):
        self.name = name
        self.params = list(params)
        self.nodes = list(nodes)
        self.results = list(results)

    @property
    def param_types(self) -> tuple[TensorType, ...]:
        return tuple(p.type for p in self.params)

    @property
    def result_types(self) -> tuple[TensorType, ...]:
        return tuple(r.type for r in self.results)

    def __str__(self) -> str:
        from .printer import print_graph
        return print_graph(self)

    def __repr__(self):
        return f"<Graph @{self.name}: {len(self.params)} params, {len(self.nodes)} nodes, {len(self.results)} results>"

    def to_dot(self) -> str:
        from .dot import graph_to_dot
        return graph_to_dot(self)

    def walk(self):
        """Every node of the graph and of its regions, outer nodes first."""
        stack = list(reversed(self.nodes))
        while stack:
            node = stack.pop()
            yield node
            for region in reversed(node.regions):
                stack.extend(reversed(region.nodes))

    def num_nodes(self, recursive: bool = True) -> int:
        return sum(1 for _ in self.walk()) if recursive else len(self.nodes)
