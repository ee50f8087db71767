"""What has a data-dependent shape: nonzero, flatnonzero, argwhere and where(condition) take JAX's
static `size`, and so does `unique` (built on the sort op); extract and trim_zeros raise with a hint
(bincount and histogram, which take `length=`/`bins`, are in statistics.py).

A static graph cannot return "as many indices as there are nonzeros", so, as
jax.numpy does, `nonzero`/`flatnonzero`/`argwhere`/`where(condition)` take
`size=` (the first `size` hits, the rest `fill_value`), `bincount` takes
`length=`, and `histogram` has as many bins as `bins` says (its range may be
the traced min and max of the data). On concrete arrays without `size`/
`length` they compute NumPy's answer at once; on traced tensors without them
they raise the data-dependent-shape error.

The hits are placed by one scatter: a running count of the mask gives each
hit its output slot, hits beyond `size` go to a slot that is cut off.
"""

from __future__ import annotations

import numpy as np

from .. import lax
from ..core import bind, is_tensor, type_of
from ..lax import convert, operand
from .ufuncs import (greater_equal, isnan, less, logical_and, logical_not, logical_or, not_equal, subtract,
                     where as _where3)
from .shapes import ravel, reshape, stack
from .reductions import cumsum
from .manipulation import slice_axis
from .sorting import sort_last_axis


def _data_dependent(name, hint):
    def fn(*args, **kwargs):
        raise NotImplementedError(f"{name} has a result whose shape depends on the data, which a static graph "
                                  f"cannot have; {hint}")
    fn.__name__ = name
    return fn


# nonzero, flatnonzero, argwhere, where(condition) and unique below take JAX's static sizes; these two cannot
extract = _data_dependent("extract", "use cnp.where(condition, x, 0)")
trim_zeros = _data_dependent("trim_zeros", "use cnp.where to mask the zeros")


def data_dependent_error(name, hint):
    return NotImplementedError(f"{name} has a result whose shape depends on the data, which a static graph cannot "
                               f"have; {hint}")


def _fills(fill_value, n):
    if fill_value is None:
        return [0] * n
    if isinstance(fill_value, (tuple, list)):
        if len(fill_value) != n:
            raise ValueError(f"fill_value must be a scalar or a tuple of length {n}, got length {len(fill_value)}")
        return list(fill_value)
    return [fill_value] * n


def _first_hits(mask, size):
    """Flat positions (int64, shape (size,)) of the first `size` true elements of the 1-d `mask`, and
    whether each slot was filled."""
    n = type_of(mask).shape[0]
    if n == 0 or size == 0:
        return np.zeros((size,), np.int64), np.zeros((size,), np.bool_)
    m = convert(mask, "int64")
    rank = subtract(cumsum(m), np.int64(1))
    hit = logical_and(not_equal(m, np.int64(0)), less(rank, np.int64(size)))
    slot = _where3(hit, rank, np.int64(size))  # misses and hits past `size` go to the extra slot
    pos = np.arange(n, dtype=np.int64)
    out = bind("scatter", np.full((size + 1,), -1, np.int64), slot, pos, axis=0, kind="set")
    out = slice_axis(out, 0, 0, size)
    return out, greater_equal(out, np.int64(0))


def nonzero(a, *, size=None, fill_value=None):
    """Indices of the nonzero elements, one array per dimension; with size= (as JAX) exactly `size` of them,
    padded with fill_value (default 0, or one value per dimension)."""
    x = operand(a)
    t = type_of(x)
    if t.ndim == 0:
        raise ValueError("Calling nonzero on 0d arrays is not allowed. Use cnp.atleast_1d(scalar).nonzero() instead.")
    if size is None:
        if is_tensor(x):
            raise data_dependent_error("nonzero", "pass size= (and fill_value=) for a static shape, as in JAX, or use "
                                  "cnp.where(mask, x, 0) / cnp.count_nonzero")
        return tuple(i.astype(np.int64) for i in np.nonzero(x))
    size = static_size(size, "size")
    flat, filled = _first_hits(not_equal(ravel(x), np.zeros((), t.dtype.np)), size)
    out = []
    stride = t.size
    for n, fill in zip(t.shape, _fills(fill_value, t.ndim)):
        stride //= n
        coord = lax.elementwise("remainder", lax.elementwise("divide", flat, np.int64(stride)), np.int64(n))
        out.append(_where3(filled, coord, convert(np.asarray(fill), "int64")))
    return tuple(out)


def static_size(v, what):
    if is_tensor(v):
        raise TypeError(f"{what} must be a concrete int (it fixes the result's shape), got a traced value")
    v = int(v)
    if v < 0:
        raise ValueError(f"{what} must be non-negative, got {v}")
    return v


def flatnonzero(a, *, size=None, fill_value=None):
    return nonzero(ravel(operand(a)), size=size, fill_value=fill_value)[0]


def argwhere(a, *, size=None, fill_value=None):
    """(size, ndim) indices of the nonzero elements; fill_value a scalar or one value per column."""
    x = operand(a)
    t = type_of(x)
    if t.ndim == 0:
        x = reshape(x, (1,))
        idx = nonzero(x, size=size, fill_value=fill_value)
        return reshape(idx[0], (type_of(idx[0]).shape[0], 0)) if is_tensor(idx[0]) else \
            np.zeros((np.shape(idx[0])[0], 0), np.int64)
    idx = nonzero(x, size=size, fill_value=fill_value)
    if not any(is_tensor(i) for i in idx):
        return np.stack(idx, axis=-1).astype(np.int64)
    return stack(idx, axis=-1)


def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None, *, equal_nan=True,
           size=None, fill_value=None, sorted=True):
    """The sorted distinct values (NaNs as one when equal_nan, as NumPy); with size= (as jnp.unique) exactly
    `size` of them, padded with fill_value (default: the smallest value; indices pad with the smallest value's
    index, counts with 0). return_index/return_inverse/return_counts as NumPy; the inverse has ar's shape."""
    if axis is not None:
        raise NotImplementedError("unique(axis=...) is not supported yet; unique works on the flattened array")
    x = operand(ar)
    if size is None:
        if is_tensor(x):
            raise data_dependent_error("unique", "pass size= (and fill_value=) for a static shape, as in JAX")
        return np.unique(np.asarray(x), return_index, return_inverse, return_counts, equal_nan=equal_nan)
    size = static_size(size, "size")
    t = type_of(x)
    n = t.size
    if n == 0:
        raise ValueError("unique with size= needs a non-empty array (there is no smallest value to pad with)")
    flat = reshape(x, (n,))
    s, perm = sort_last_axis(flat, with_indices=True)
    first = bind("iota", shape=(n,), dimension=0, dtype="int64")
    if n > 1:
        lo, hi = slice_axis(s, 0, 0, n - 1), slice_axis(s, 0, 1, n)
        new = not_equal(hi, lo)
        if t.dtype.is_float and equal_nan:
            new = logical_and(new, logical_not(logical_and(isnan(hi), isnan(lo))))
        mask = lax.reshape(bind("concatenate", np.ones((1,), np.bool_), new, dimension=0), (n,))
    else:
        mask = np.ones((1,), np.bool_)
    # the first element of each group, in order, then the rest: a stable sort on "not first"
    _, us, uperm, upos = bind("sort", logical_not(mask), s, perm, first, dimension=0)
    count = lax.reduce(convert(mask, "int64"), "sum")

    def head(v, pad):  # the first `size` entries (padded when size > n)
        if size <= n:
            return slice_axis(v, 0, 0, size)
        return bind("pad", v, np.asarray(pad, type_of(v).dtype.np), edge_padding_low=(0,),
                    edge_padding_high=(size - n,))
    valid = less(bind("iota", shape=(size,), dimension=0, dtype="int64"), count)
    fill = slice_axis(s, 0, 0, 1) if fill_value is None else convert(np.asarray(fill_value), t.dtype)
    out = [_where3(valid, head(us, 0), lax.broadcast_to(lax.reshape(fill, ()), (size,)))]
    if return_index:
        out.append(_where3(valid, head(uperm, 0), lax.broadcast_to(lax.reshape(slice_axis(perm, 0, 0, 1), ()), (size,))))
    if return_inverse:
        group = subtract(cumsum(convert(mask, "int64")), np.int64(1))
        inv = bind("scatter", np.zeros((n,), np.int64), perm, group, axis=0, kind="set")
        out.append(lax.reshape(inv, t.shape))
    if return_counts:
        nxt = bind("pad", slice_axis(upos, 0, 1, n), np.asarray(n, np.int64), edge_padding_low=(0,),
                   edge_padding_high=(1,))
        nxt = _where3(less(bind("iota", shape=(n,), dimension=0, dtype="int64"), subtract(count, np.int64(1))),
                      nxt, np.int64(n))
        out.append(_where3(valid, head(subtract(nxt, upos), 0), np.int64(0)))
    return out[0] if len(out) == 1 else tuple(out)


def where(condition, x=None, y=None, /, *, size=None, fill_value=None):
    """where(condition, x, y) selects; where(condition) is nonzero(condition), with size=/fill_value= as JAX."""
    if x is None and y is None:
        return nonzero(condition, size=size, fill_value=fill_value)
    if x is None or y is None:
        raise ValueError("either both or neither of x and y should be given")
    if size is not None or fill_value is not None:
        raise ValueError("size= and fill_value= apply to where(condition) with one argument only")
    return _where3(condition, x, y)


__all__ = ["extract", "unique", "trim_zeros", "nonzero", "flatnonzero", "argwhere", "where"]
