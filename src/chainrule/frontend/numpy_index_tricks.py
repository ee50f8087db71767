"""`r_` and `c_`: NumPy's concatenation-by-indexing objects, for tensors as well as arrays.

NumPy's own `np.r_` turns its items into NumPy arrays, which a symbolic tensor
is not, so chainrule has its own (as jax.numpy does): slices of concrete
numbers become `arange` (or `linspace` with a complex step, `5j` = five
points), scalars and arrays/tensors are raised to `ndmin` dimensions and
everything is concatenated along `axis`. A leading string directive
"axis,ndmin,trans1d" is understood; NumPy's matrix directives "r"/"c" are not
(chainrule has no matrix class).
"""

from __future__ import annotations

import numpy as np

from . import lax
from .core import type_of
from .numpy_core import concatenate


def _slice_values(item: slice):
    for v in (item.start, item.stop, item.step):
        if v is not None and not isinstance(v, (int, float, complex, np.number)):
            raise TypeError(f"r_/c_ slices take concrete numbers (a tensor cannot fix the length), got {v!r}")
    start = 0 if item.start is None else item.start
    step = 1 if item.step is None else item.step
    if isinstance(step, (complex, np.complexfloating)):
        num = int(abs(step))
        return np.linspace(start, item.stop, num)
    return np.arange(start, item.stop, step)


def _raise_ndim(x, ndmin, trans1d):
    """NumPy's array(item, ndmin=ndmin), then the item's own axes moved to position trans1d."""
    nd = type_of(x).ndim
    if nd >= ndmin:
        return x
    x = lax.reshape(x, (1,) * (ndmin - nd) + type_of(x).shape)
    if trans1d != -1:
        k2, k1 = ndmin - nd, trans1d
        if k1 < 0:
            k1 += k2 + 1
        axes = list(range(ndmin))
        x = lax.transpose(x, axes[:k1] + axes[k2:] + axes[k1:k2])
    return x


class AxisConcatenator:
    """Concatenate the items of an index expression along `axis` (NumPy's class of the same name)."""

    def __init__(self, axis=0, ndmin=1, trans1d=-1):
        self.axis, self.ndmin, self.trans1d = axis, ndmin, trans1d

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            key = (key,)
        axis, ndmin, trans1d = self.axis, self.ndmin, self.trans1d
        if key and isinstance(key[0], str):
            directive, key = key[0], key[1:]
            if directive in ("r", "c"):
                raise NotImplementedError("r_/c_ matrix directives ('r', 'c') make NumPy matrices, which chainrule "
                                          "does not have")
            try:
                vec = [int(p) for p in directive.split(",")]
            except ValueError:
                raise ValueError(f"unknown r_/c_ directive {directive!r}") from None
            if len(vec) > 3:
                raise ValueError(f"r_/c_ directive {directive!r} has more than three numbers")
            axis = vec[0]
            ndmin = vec[1] if len(vec) > 1 else ndmin
            trans1d = vec[2] if len(vec) > 2 else trans1d
        items = []
        for item in key:
            if isinstance(item, str):
                raise ValueError("an r_/c_ string directive must come first")
            if isinstance(item, slice):
                items.append(_slice_values(item))
            else:
                items.append(item)
        if not items:
            return np.zeros((0,), np.float64)
        dt = lax.result_type(*items)
        arrays = [_raise_ndim(lax.convert(x, dt) if lax.is_weak(x) else lax.convert(lax.operand(x), dt),
                              ndmin, trans1d) for x in items]
        return concatenate(arrays, axis=axis)

    def __len__(self):
        return 0


class RClass(AxisConcatenator):
    """`r_[...]`: concatenate along the first axis (1-d items stay 1-d)."""

    def __init__(self):
        super().__init__(0, 1, -1)


class CClass(AxisConcatenator):
    """`c_[...]`: concatenate along the last axis, items raised to 2-d as columns."""

    def __init__(self):
        super().__init__(-1, 2, 0)


r_ = RClass()
c_ = CClass()

__all__ = ["r_", "c_"]
