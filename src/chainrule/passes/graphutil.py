"""Small helpers every pass shares: rebuilding nodes, walking regions, splats.

Passes never mutate a graph. They build a new node list, and reuse an input
node object unchanged when its operands and regions are the very same
objects (nodes are immutable, so sharing them between the input and the
output graph is safe and keeps passes cheap on big graphs).
"""

from __future__ import annotations

import numpy as np

from ..ir import Node


def rebuild_node(node: Node, operands, regions=None) -> Node:
    """`node` with new operands (and regions); the same object when nothing changed."""
    old_ops = node.operands
    same = len(operands) == len(old_ops)
    if same:
        for a, b in zip(operands, old_ops):
            if a is not b:
                same = False
                break
    if regions is not None:
        regions = tuple(regions)
        if same:
            for a, b in zip(regions, node.regions):
                if a is not b:
                    same = False
                    break
    else:
        regions = node.regions
    if same:
        return node
    return Node(node.op, operands, node.attrs, [r.type for r in node.results], regions, node.loc)


def splat_array(value) -> np.ndarray | None:
    """The 0-d array that fills `value` everywhere, when it is a splat constant.

    Looks through `broadcast_in_dim` (and `reshape`) of splat constants, iteratively.
    Returns None for anything else.
    """
    v = value
    while v.node is not None and v.node.op.name in ("broadcast_in_dim", "reshape"):
        v = v.node.operands[0]
    node = v.node
    if node is None or node.op.name != "constant":
        return None
    lit = node.attrs["value"]
    a = lit.array
    if a.size == 0:
        return None
    if a.size == 1:
        return a.reshape(())
    if a.size > 4096:  # checking a huge literal on every match would cost O(size) each time
        return None
    if not lit.is_splat():
        return None
    return a.reshape(-1)[0:1].reshape(())


def splat_equals(value, x) -> bool:
    """True when `value` is a splat of exactly `x` (bitwise for floats: -0.0 != +0.0)."""
    s = splat_array(value)
    if s is None:
        return False
    if s.dtype.kind == "f" or s.dtype.name == "bfloat16":  # (ml_dtypes' bfloat16 has kind 'V')
        xv = np.asarray(x, dtype=s.dtype)
        if np.isnan(xv):
            return bool(np.isnan(s))
        return bool(s == xv) and bool(np.signbit(s) == np.signbit(xv))
    if s.dtype.kind == "b":
        return bool(s) == bool(x)
    if s.dtype.kind == "c":  # both parts bitwise (x may be real: its imaginary part is +0.0)
        xv = np.asarray(x, dtype=s.dtype)
        return all(splat_equals_array(np.asarray(p1), p2) for p1, p2 in ((s.real, xv.real), (s.imag, xv.imag)))
    return int(s) == int(x)


def splat_equals_array(s, xv) -> bool:
    if np.isnan(xv):
        return bool(np.isnan(s))
    return bool(s == xv) and bool(np.signbit(s) == np.signbit(xv))


def producer(value, opname: str):
    """The node that made `value` when it is an `opname` node, else None."""
    n = value.node
    return n if n is not None and n.op.name == opname else None


def live_nodes(nodes, results) -> list:
    """The nodes (in their order) that `results` need, by one backward sweep; regions are not entered."""
    live = {id(r) for r in results}
    kept = []
    for node in reversed(nodes):
        if any(id(r) in live for r in node.results):
            kept.append(node)
            live.update(id(v) for v in node.operands)
    return kept[::-1]
