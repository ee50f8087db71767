"""What has a data-dependent shape: nonzero, flatnonzero, argwhere and where(condition) take JAX's
static `size`; extract, unique and trim_zeros raise with a hint (bincount and histogram, which take
`length=`/`bins`, are in statistics.py).

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
from .ufuncs import greater_equal, less, logical_and, not_equal, subtract, where as _where3
from .shapes import ravel, reshape, stack
from .reductions import cumsum
from .manipulation import slice_axis


def _data_dependent(name, hint):
    def fn(*args, **kwargs):
        raise NotImplementedError(f"{name} has a result whose shape depends on the data, which a static graph "
                                  f"cannot have; {hint}")
    fn.__name__ = name
    return fn


# nonzero, flatnonzero, argwhere and where(condition) below take JAX's static sizes; these three cannot
extract = _data_dependent("extract", "use cnp.where(condition, x, 0)")
unique = _data_dependent("unique", "sort with cnp.sort and compare neighbours instead")
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
