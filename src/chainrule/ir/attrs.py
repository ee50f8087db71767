"""Immutable, hashable attribute values: `Attrs` and `Literal`.

Nodes are hashed for CSE, so every attribute value must be hashable and
compare by value. Lists become tuples; arrays become `Literal`s.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .dtypes import DType, dtype as as_dtype
from .types import TensorType


class Literal:
    """A constant tensor held by value: hashable by its bytes, read-only."""

    __slots__ = ("array", "_hash", "_key")

    def __init__(self, value, dt=None):
        arr = np.asarray(value)
        d = as_dtype(dt if dt is not None else arr.dtype)
        arr = np.array(arr, dtype=d.np, order="C", copy=True)
        arr.setflags(write=False)
        self.array = arr
        self._key = None
        self._hash = None

    @property
    def type(self) -> TensorType:
        return TensorType(self.array.shape, self.array.dtype)

    @property
    def dtype(self) -> DType:
        return as_dtype(self.array.dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    def key(self):
        if self._key is None:
            self._key = (self.array.dtype.str, self.array.shape, self.array.tobytes())
        return self._key

    def __hash__(self):
        if self._hash is None:
            self._hash = hash(self.key())
        return self._hash

    def __eq__(self, other):
        return isinstance(other, Literal) and self.key() == other.key()

    def is_splat(self) -> bool:
        """True when every element has the same bits (a broadcast scalar)."""
        a = self.array
        if a.size <= 1:
            return True
        flat = a.reshape(-1).view(np.uint8).reshape(a.size, -1)
        return bool((flat == flat[0]).all())

    def __repr__(self):
        return f"Literal({self.array!r})"


def freeze(value):
    """Make an attribute value immutable and hashable."""
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, np.ndarray):
        return Literal(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (str, int, float, bool, type(None), Literal, DType, TensorType)):
        return value
    raise TypeError(f"attribute value {value!r} of type {type(value).__name__} is not allowed")


class Attrs(Mapping):
    """A frozen mapping from attribute names to frozen values."""

    __slots__ = ("_items", "_dict", "_hash")

    def __init__(self, mapping=None, **kwargs):
        d = dict(mapping or {}, **kwargs)
        items = tuple(sorted((k, freeze(v)) for k, v in d.items()))
        self._items = items
        self._dict = dict(items)
        self._hash = None

    def __getitem__(self, key):
        return self._dict[key]

    def __iter__(self):
        return iter(self._dict)

    def __len__(self):
        return len(self._items)

    def __hash__(self):
        if self._hash is None:
            self._hash = hash(self._items)
        return self._hash

    def __eq__(self, other):
        if isinstance(other, Attrs):
            return self._items == other._items
        return NotImplemented

    def replace(self, **changes) -> "Attrs":
        d = dict(self._dict)
        d.update(changes)
        return Attrs(d)

    def __repr__(self):
        return "Attrs(" + ", ".join(f"{k}={v!r}" for k, v in self._items) + ")"


EMPTY_ATTRS = Attrs()
