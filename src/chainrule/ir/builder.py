"""How nodes are made: `make_node`, `node_key`, and `GraphBuilder` (append typed nodes, get a `Graph`).

Every node builder of the project (this builder, the autodiff `Emitter`, the
rewriter's `Rewriter.op`, the frontend's `bind`) types a node the same way,
through `typed`: look the op up, validate its attributes and fill in the
defaults, infer its result types (attribute errors name the operand types
too). So a wrong node fails where it is built, not later, with one message.
`node_key` is the one memo/CSE key: nodes with equal keys compute the same
values.
"""

from __future__ import annotations

import numpy as np

from .attrs import Attrs, Literal
from .errors import IRTypeError
from .graph import Graph, Node, Value
from .ops import OpDef, get_op
from .types import TensorType


def normalized_attrs(opdef: OpDef, attrs, operand_types: tuple = ()) -> Attrs:
    """`attrs` validated, with defaults filled in (an `Attrs` already complete is kept as it is);
    an error names the operand types too."""
    if isinstance(attrs, Attrs) and _complete(opdef, attrs):
        return attrs
    try:
        return opdef.normalize_attrs(attrs)
    except IRTypeError as e:
        if e.operand_types or not operand_types:
            raise
        raise IRTypeError(e.op, list(operand_types), e.problem, e.expected) from None


def typed(op: str | OpDef, operand_types: tuple, attrs=None, regions=()) -> tuple[OpDef, Attrs, tuple]:
    """`(opdef, attrs, result_types)` of `op` applied to operands of `operand_types`: attributes
    normalized (`normalized_attrs`), results type-checked by the op's rule. Raises `IRTypeError`."""
    opdef = op if isinstance(op, OpDef) else get_op(op)
    a = normalized_attrs(opdef, attrs, operand_types)
    return opdef, a, opdef.result_types(operand_types, a, regions)


def make_node(op: str | OpDef, operands=(), attrs=None, regions=(), loc: str | None = None) -> Node:
    """A new, type-checked node (not added to any graph)."""
    opdef, a, types = typed(op, tuple(v.type for v in operands), attrs, regions)
    return Node(opdef, operands, a, types, regions, loc)


def commutes(op: OpDef, operands) -> bool:
    """Whether swapping the operands keeps the result bit for bit.

    Float maximum/minimum do not: NumPy's (the reference's) maximum(+0.0, -0.0)
    returns its first operand, so the sign of a zero result depends on the order.
    """
    if not op.commutative:
        return False
    return not (op.name in ("maximum", "minimum") and operands and operands[0].dtype.is_float)


def node_key(op: OpDef, operands, attrs: Attrs, region_keys=()):
    """A hashable key equal for nodes that compute the same values (op, operand ids, attributes,
    region keys; the operands of commutative ops in any order), or None: never merge."""
    if not op.cse:  # each evaluation must stay distinct (random numbers, effects)
        return None
    ids = tuple(id(v) for v in operands)
    if len(ids) > 1 and commutes(op, operands):
        ids = tuple(sorted(ids))
    return (op.name, ids, attrs, tuple(region_keys))


class GraphBuilder:
    def __init__(self, name: str = "main"):
        self.name = name
        self.params: list[Value] = []
        self.nodes: list[Node] = []

    def param(self, type: TensorType, name: str | None = None) -> Value:
        v = Value(type, None, len(self.params), name)
        self.params.append(v)
        return v

    def emit(self, op: str | OpDef, operands=(), attrs=None, regions=(), loc: str | None = None,
             memo: dict | None = None) -> Node:
        """Add a node; attributes are validated and defaults filled in.

        With `memo` (a dict the caller keeps), a region-free node equal to one made before
        (`node_key`) is not added again: the earlier node is returned."""
        if memo is None or regions:
            node = make_node(op, operands, attrs, regions, loc)
        else:
            opdef = op if isinstance(op, OpDef) else get_op(op)
            operands = tuple(operands)
            in_types = tuple(v.type for v in operands)
            a = normalized_attrs(opdef, attrs, in_types)
            key = node_key(opdef, operands, a)
            node = memo.get(key) if key is not None else None
            if node is not None:
                return node
            node = Node(opdef, operands, a, opdef.result_types(in_types, a, ()), (), loc)
            if key is not None:
                memo[key] = node
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
