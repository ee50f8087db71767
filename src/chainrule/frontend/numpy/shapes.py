"""Shape queries and the basic shape changes every other layer builds on: reshape, transpose,
moveaxis, expand_dims, squeeze, broadcast_to, concatenate, stack, astype.
"""

from __future__ import annotations

import numpy as np

from ...ir import dtype as as_dtype
from .. import lax
from ..core import bind, type_of
from ..lax import broadcast_to, convert, normalize_axes, normalize_axis, operand, result_type


# --- shapes ---------------------------------------------------------------------------

def shape(a):
    return type_of(operand(a)).shape


def ndim(a):
    return type_of(operand(a)).ndim


def size(a):
    return type_of(operand(a)).size


def reshape(a, newshape=None, order="C", shape=None):
    """order="F" reads and writes column-major: reverse the axes, reshape to the reversed shape, reverse back."""
    new = shape if newshape is None else newshape
    if order == "F":
        x = lax.transpose(operand(a))
        new = (new,) if isinstance(new, (int, np.integer)) else tuple(new)
        return lax.transpose(lax.reshape(x, new[::-1]))
    if order not in ("C", "A"):
        raise ValueError(f"order must be 'C', 'F' or 'A', got {order!r}")
    return lax.reshape(operand(a), new)


def transpose(a, axes=None):
    return lax.transpose(operand(a), axes)


def ravel(a):
    return reshape(a, (-1,))


def swapaxes(a, axis1, axis2):
    x = operand(a)
    n = type_of(x).ndim
    i, j = normalize_axis(axis1, n), normalize_axis(axis2, n)
    perm = list(range(n))
    perm[i], perm[j] = perm[j], perm[i]
    return transpose(x, perm)


def moveaxis(a, source, destination):
    x = operand(a)
    n = type_of(x).ndim
    src = [normalize_axis(s, n) for s in (source if isinstance(source, (list, tuple)) else [source])]
    dst = [normalize_axis(d, n) for d in (destination if isinstance(destination, (list, tuple)) else [destination])]
    if len(src) != len(dst):
        raise ValueError("source and destination must have the same number of elements")
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def expand_dims(a, axis):
    x = operand(a)
    t = type_of(x)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    n = t.ndim + len(axes)
    axes = sorted(normalize_axis(ax, n) for ax in axes)
    shape = list(t.shape)
    for ax in axes:
        shape.insert(ax, 1)
    return reshape(x, shape)


def squeeze(a, axis=None):
    x = operand(a)
    t = type_of(x)
    if axis is None:
        return reshape(x, [n for n in t.shape if n != 1])
    axes = normalize_axes(axis, t.ndim)
    for ax in axes:
        if t.shape[ax] != 1:
            raise ValueError(f"cannot select an axis to squeeze out which has size not equal to one (axis {ax})")
    return reshape(x, [n for i, n in enumerate(t.shape) if i not in axes])


def broadcast_to_(a, shape):
    return broadcast_to(operand(a), shape)


def broadcast_arrays(*args):
    shape = lax.broadcast_shapes(*[type_of(operand(a)).shape for a in args])
    return [broadcast_to(operand(a), shape) for a in args]


def astype(x, dtype):
    return convert(operand(x), as_dtype(dtype))


def concatenate(arrays, axis=0):
    arrays = [operand(a) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    dt = result_type(*arrays)
    arrays = [convert(a, dt) for a in arrays]
    n = type_of(arrays[0]).ndim
    if n == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    axis = normalize_axis(axis, n)
    if len(arrays) == 1:
        return arrays[0]
    return bind("concatenate", *arrays, dimension=axis)


def stack(arrays, axis=0):
    arrays = [operand(a) for a in arrays]
    if not arrays:
        raise ValueError("need at least one array to stack")
    shapes = {type_of(a).shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError("all input arrays must have the same shape")
    n = type_of(arrays[0]).ndim + 1
    axis = normalize_axis(axis, n)
    return concatenate([expand_dims(a, axis) for a in arrays], axis=axis)


__all__ = ["shape", "ndim", "size", "reshape", "transpose", "ravel", "swapaxes", "moveaxis", "expand_dims", "squeeze",
           "broadcast_to_", "broadcast_arrays", "astype", "concatenate", "stack"]
