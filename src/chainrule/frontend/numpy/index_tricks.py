"""Index helpers: r_, c_, s_, index_exp, mgrid, ogrid, ix_, meshgrid, indices, unravel_index,
ravel_multi_index, and the *_indices(_from) families.

`r_` and `c_`: NumPy's concatenation-by-indexing objects, for tensors as well as arrays.

NumPy's own `np.r_` turns its items into NumPy arrays, which a symbolic tensor
is not, so chainrule has its own (as jax.numpy does): slices of concrete
numbers become `arange` (or `linspace` with a complex step, `5j` = five
points), scalars and arrays/tensors are raised to `ndmin` dimensions and
everything is concatenated along `axis`. A leading string directive
"axis,ndmin,trans1d" is understood; NumPy's matrix directives "r"/"c" are not
(chainrule has no matrix class).
"""

from __future__ import annotations

import builtins

import numpy as np

from ...ir import dtype as as_dtype
from .. import lax
from ..core import is_tensor, type_of
from ..lax import broadcast_to, operand
from .ufuncs import add, floor_divide, multiply, remainder
from .shapes import concatenate, ravel, reshape


def unravel_index(indices, shape, order="C"):
    if order != "C":
        raise NotImplementedError("only order='C' is supported")
    shape = tuple(int(s) for s in shape)
    idx = operand(indices)
    if not type_of(idx).dtype.is_int:
        raise TypeError("only int indices permitted")
    if not is_tensor(idx):
        return np.unravel_index(idx, shape)
    out = []
    stride = int(np.prod(shape))
    for s in shape:
        stride //= s
        out.append(remainder(floor_divide(idx, stride), s))
    return tuple(out)


def ravel_multi_index(multi_index, dims, mode="raise", order="C"):
    if order != "C" or mode != "raise":
        raise NotImplementedError("only mode='raise', order='C' are supported")
    dims = tuple(int(d) for d in dims)
    if not builtins.any(is_tensor(i) for i in multi_index):
        return np.ravel_multi_index(tuple(np.asarray(i) for i in multi_index), dims)
    out = None
    stride = int(np.prod(dims))
    for i, d in zip(multi_index, dims):
        stride //= d
        term = multiply(operand(i), stride)
        out = term if out is None else add(out, term)
    return out


# index helpers are NumPy's own objects: they make Python slices and concrete grids
s_ = np.s_
index_exp = np.index_exp
mgrid = np.mgrid
ogrid = np.ogrid


# index helpers of static shapes: NumPy's own
diag_indices = np.diag_indices
tril_indices = np.tril_indices
triu_indices = np.triu_indices
mask_indices = np.mask_indices


def diag_indices_from(arr):
    t = type_of(operand(arr))
    if t.ndim < 2 or len(set(t.shape)) != 1:
        raise ValueError("All dimensions of input must be of equal length")
    return np.diag_indices(t.shape[0], t.ndim)


def tril_indices_from(arr, k=0):
    t = type_of(operand(arr))
    return np.tril_indices(t.shape[-2], k, t.shape[-1])


def triu_indices_from(arr, k=0):
    t = type_of(operand(arr))
    return np.triu_indices(t.shape[-2], k, t.shape[-1])


# --- grids -----------------------------------------------------------------------------------

def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    xs = [ravel(x) for x in xi]
    nd = len(xs)
    shapes = [type_of(x).shape[0] for x in xs]
    out = []
    for i, x in enumerate(xs):
        s = [1] * nd
        s[i] = shapes[i]
        if indexing == "xy" and nd > 1 and i < 2:
            s[0], s[1] = s[1], s[0]
        out.append(reshape(x, s))
    if indexing == "xy" and nd > 1:
        full = [shapes[1], shapes[0]] + shapes[2:]
    else:
        full = shapes
    if not sparse:
        out = [broadcast_to(o, tuple(full)) for o in out]
    return tuple(out)


def indices(dimensions, dtype=int, sparse=False):
    return np.indices(tuple(dimensions), dtype=as_dtype(dtype).np, sparse=sparse)


def ix_(*args):
    out = []
    n = len(args)
    for k, a in enumerate(args):
        x = operand(a)
        shape = [1] * n
        shape[k] = type_of(x).size
        out.append(reshape(x, shape))
    return tuple(out)


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


__all__ = ["unravel_index", "ravel_multi_index", "s_", "index_exp", "mgrid", "ogrid", "diag_indices", "tril_indices",
           "triu_indices", "mask_indices", "diag_indices_from", "tril_indices_from", "triu_indices_from", "meshgrid",
           "indices", "ix_", "r_", "c_"]
