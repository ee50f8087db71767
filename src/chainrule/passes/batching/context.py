"""`BatchContext`: how batching rules write IR.

A batched value is a pair `(value, bdim)`: the IR value and the position of
its batch dimension, or `None` when the value is the same for every batch
element (unbatched). Rules keep batch dimensions where they are and move them
only when an op needs them somewhere else, as JAX's batching rules do: every
transpose a rule avoids is a copy of a whole batched tensor saved.
"""

from __future__ import annotations

import numpy as np

from ...ir import GraphBuilder, TensorType, Value
from ...ir.sharding_ops import COLLECTIVES


def shift(d: int, bdim: int | None) -> int:
    """Where dimension `d` of the unbatched value sits once a batch dimension is at `bdim`."""
    return d if bdim is None or d < bdim else d + 1


def batched_type(t: TensorType, bdim: int | None, size: int) -> TensorType:
    """`t` with a batch dimension of `size` inserted at `bdim` (`t` itself when None)."""
    if bdim is None:
        return t
    shape = list(t.shape)
    shape.insert(bdim, size)
    return TensorType(shape, t.dtype)


class BatchContext:
    """Appends type-checked nodes to a builder; knows the batch size."""

    def __init__(self, builder: GraphBuilder, size: int, axis_name: str | None = None):
        self.builder = builder
        self.size = size
        self.axis_name = axis_name  # vmap(..., axis_name=): collectives over it work across the batch
        self.loc: str | None = None  # source location of the node being batched, given to what it emits
        # (id(value), src, dst) -> (value, moved): a value used by many batched ops is broadcast or
        # transposed once, not once per use (the value is kept so its id stays unique)
        self._moved: dict = {}
        self._consts: dict = {}  # (repr(value), type) -> Value: one node per distinct constant

    def binds(self, node) -> bool:
        """Whether `node` is a collective over the vmapped axis (it acts even on unbatched operands)."""
        return self.axis_name is not None and node.op.name in COLLECTIVES and self.axis_name in node.attrs["axes"]

    # --- emission -----------------------------------------------------------------
    def emit(self, op, operands, attrs=None, regions=()):
        return self.builder.emit(op, tuple(operands), attrs, regions, self.loc)

    def op(self, name: str, *operands, **attrs) -> Value:
        node = self.emit(name, operands, attrs)
        return node.results[0] if len(node.results) == 1 else node.results

    # --- constants ------------------------------------------------------------------
    def scalar(self, value, dtype) -> Value:
        return self.full(value, (), dtype)

    def full(self, value, shape, dtype) -> Value:
        """A tensor filled with `value`: a scalar constant broadcast (never a big literal), made once."""
        t = TensorType(shape, dtype)
        key = (repr(value), t)
        v = self._consts.get(key)
        if v is None:
            if t.shape == ():
                v = self.builder.constant(np.asarray(value, dtype=t.dtype.np))
            else:
                v = self.op("broadcast_in_dim", self.full(value, (), dtype), shape=t.shape, broadcast_dimensions=())
            self._consts[key] = v
        return v

    def iota(self, shape, dimension, dtype) -> Value:
        return self.op("iota", shape=tuple(shape), dimension=dimension, dtype=dtype)

    # --- moving batch dimensions ------------------------------------------------------
    def moveaxis(self, v: Value, src: int, dst: int) -> Value:
        """`v` with dimension `src` moved to position `dst` (no node when it is already there)."""
        if src == dst:
            return v
        key = (id(v), src, dst)
        hit = self._moved.get(key)
        if hit is None:
            perm = list(range(v.ndim))
            perm.pop(src)
            perm.insert(dst, src)
            hit = self._moved[key] = (v, self.op("transpose", v, permutation=tuple(perm)))
        return hit[1]

    def materialize(self, v: Value, bdim: int | None, at: int = 0) -> Value:
        """`v` with its batch dimension at `at`; an unbatched value is broadcast along a new one."""
        if bdim is not None:
            return self.moveaxis(v, bdim, at)
        key = (id(v), None, at)
        hit = self._moved.get(key)
        if hit is None:
            shape = list(v.shape)
            shape.insert(at, self.size)
            src, dims = v, tuple(shift(i, at) for i in range(v.ndim))
            if v.node is not None and v.node.op.name == "broadcast_in_dim":
                # a broadcast of a broadcast is one broadcast from the original operand
                src = v.node.operands[0]
                dims = tuple(shift(d, at) for d in v.node.attrs["broadcast_dimensions"])
            hit = self._moved[key] = (v, self.op("broadcast_in_dim", src, shape=tuple(shape), broadcast_dimensions=dims))
        return hit[1]

    def align(self, args) -> tuple[list[Value], int]:
        """Operands with one common batch dimension, for ops that need identical operand types.

        The common position is the first batched operand's, so only operands
        batched elsewhere move; unbatched ones are broadcast.
        """
        target = next(bd for _, bd in args if bd is not None)
        return [self.materialize(v, bd, target) for v, bd in args], target
