"""`Emitter`: how derivative rules write IR, and which values are linear.

Rules never touch a `GraphBuilder` directly: they call `Emitter.op` and the
small helpers below, so that

* every value the rules make is type-checked when made (a rule that builds
  a wrong shape fails where it is wrong);
* the emitter knows which values depend on a tangent ("linear" values).
  Reverse mode splits the JVP trace on exactly this mark: nodes without a
  linear operand are the primal part (computed forward, their values are
  the residuals), nodes with one are the linear part, which is transposed.
  That is the partial evaluation of JAX's `linearize`, done as the trace is
  built instead of as a separate pass.

Symbolic zeros are `None` everywhere: helpers accept `None` and only
materialise a zero tensor where an op needs an operand (`zeros`).
"""

from __future__ import annotations

import numpy as np

from ...ir import GraphBuilder, TensorType, Value


class Emitter:
    """Appends nodes to a builder and tracks which values are linear."""

    def __init__(self, builder: GraphBuilder, linearizing: bool = False):
        self.builder = builder
        self.linearizing = linearizing     # True inside vjp_graph's trace: the linear part gets transposed
        self.linear: set[int] = set()      # ids of values that depend on a tangent
        self.linear_nodes: set[int] = set()  # ids of nodes with a linear operand
        self._keep: list[Value] = []       # keep marked values alive so their ids stay unique
        self._consts: dict = {}            # (value, type) -> Value: one node per distinct constant
        self._ones: set[int] = set()       # ids of values known to be all ones (seeds, `full(1)`)
        self._memo: dict = {}              # node_key -> Node, for region-free nodes (GraphBuilder.emit)
        self.loc: str | None = None        # source location of the node being differentiated, given to new nodes

    # --- marking -------------------------------------------------------------
    def mark_linear(self, v: Value) -> Value:
        self.linear.add(id(v))
        self._keep.append(v)
        return v

    def is_linear(self, v: Value | None) -> bool:
        return v is not None and id(v) in self.linear

    # --- emission ------------------------------------------------------------
    def emit(self, op, operands, attrs=None, regions=()):
        # the same op on the same values is made once (rules recompute x*y, ones*t...)
        node = self.builder.emit(op, tuple(operands), attrs, regions, loc=self.loc, memo=self._memo)
        if any(id(v) in self.linear for v in node.operands):
            self.linear_nodes.add(id(node))
            for r in node.results:
                self.linear.add(id(r))
        return node

    def op(self, name: str, *operands, **attrs) -> Value:
        if name == "multiply" and len(operands) == 2:  # a * 1 -> a: seeds of 1 must not cost a pass
            a, b = operands
            if id(b) in self._ones and a.type == b.type:
                return a
            if id(a) in self._ones and a.type == b.type:
                return b
        node = self.emit(name, operands, attrs)
        return node.results[0] if len(node.results) == 1 else node.results

    # --- constants -------------------------------------------------------------
    def scalar(self, value, dtype) -> Value:
        return self.full(value, TensorType((), dtype))

    def full(self, value, t: TensorType) -> Value:
        """A tensor of type `t` filled with `value`: a scalar constant broadcast (never a big literal).

        Made once per (value, type) and reused, so rules may ask for `1` freely.
        """
        scalar = np.asarray(value, dtype=t.dtype.np)
        key = (scalar.tobytes(), t)  # by bits: 1 and 1.0 share a node, 0.0 and -0.0 do not
        v = self._consts.get(key)
        if v is None:
            if t.shape == ():
                v = self.builder.constant(scalar)
            else:
                v = self.op("broadcast_in_dim", self.scalar(value, t.dtype), shape=t.shape, broadcast_dimensions=())
            self._consts[key] = v
            if scalar == 1:
                self._ones.add(id(v))
        return v

    def share_primal(self, other: "Emitter"):
        """Reuse `other`'s constants and non-linear nodes, which this emitter's graph also holds."""
        self._consts.update(other._consts)
        self._ones.update(other._ones)
        self._memo.update((k, n) for k, n in other._memo.items() if id(n) not in other.linear_nodes)

    def zeros(self, t: TensorType) -> Value:
        return self.full(0, t)

    def full_like(self, value, v: Value) -> Value:
        return self.full(value, v.type)

    def materialize(self, t: Value | None, like: TensorType) -> Value:
        """`t`, or zeros of type `like` where `t` is a symbolic zero."""
        return self.zeros(like) if t is None else t

    # --- arithmetic that keeps symbolic zeros symbolic ---------------------------
    def add_any(self, a: Value | None, b: Value | None) -> Value | None:
        if a is None:
            return b
        if b is None:
            return a
        return self.op("add", a, b)

    def sum_all(self, values) -> Value | None:
        """Sum of a list of (possibly zero) values; every contribution is added once."""
        vals = [v for v in values if v is not None]
        if not vals:
            return None
        acc = vals[0]
        for v in vals[1:]:
            acc = self.op("add", acc, v)
        return acc

    def scale(self, t: Value | None, coef: Value) -> Value | None:
        """t * coef, with coef a primal (non-linear) value; zero stays zero."""
        return None if t is None else self.op("multiply", t, coef)

    def neg(self, t: Value | None) -> Value | None:
        return None if t is None else self.op("negate", t)

    def sub_any(self, a: Value | None, b: Value | None) -> Value | None:
        if b is None:
            return a
        if a is None:
            return self.op("negate", b)
        return self.op("subtract", a, b)

    def select_zero(self, pred: Value, on_true: Value | None, on_false: Value | None, t: TensorType) -> Value | None:
        """select(pred, on_true, on_false) where either branch may be a symbolic zero."""
        if on_true is None and on_false is None:
            return None
        return self.op("select", pred, self.materialize(on_true, t), self.materialize(on_false, t))

    def bcast(self, v: Value, shape, dims) -> Value:
        if tuple(v.shape) == tuple(shape) and tuple(dims) == tuple(range(len(shape))):
            return v
        if id(v) in self._ones:
            return self.full(1, TensorType(shape, v.dtype))
        return self.op("broadcast_in_dim", v, shape=tuple(shape), broadcast_dimensions=tuple(dims))

    def reduce_sum(self, v: Value, dims) -> Value:
        dims = tuple(sorted(dims))
        if not dims:
            return v
        return self.op("reduce", v, kind="sum", dimensions=dims)

    def convert(self, v: Value, dtype) -> Value:
        if v.dtype == dtype:
            return v
        return self.op("convert", v, dtype=dtype)

    def where_eq_zero(self, x: Value) -> Value:
        return self.op("compare", x, self.zeros(x.type), direction="EQ")
