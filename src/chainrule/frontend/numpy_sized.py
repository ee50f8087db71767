"""NumPy functions whose result shape depends on the data, with the static shape JAX asks for.

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

import builtins

import numpy as np

from ..ir import dtype as as_dtype
from . import lax
from .core import bind, is_tensor, type_of
from .indexing import _update
from .lax import convert, operand
from .numpy_core import (add, concatenate, divide, equal, greater_equal, less, less_equal, logical_and, maximum, multiply,
                         not_equal, ravel, reshape, stack, subtract, where as _where3)
from .numpy_core import max as _max, min as _min, sum as _sum
from .numpy_manip import slice_axis
from .numpy_scan import cumsum


def _data_dependent(name, hint):
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
            raise _data_dependent("nonzero", "pass size= (and fill_value=) for a static shape, as in JAX, or use "
                                  "cnp.where(mask, x, 0) / cnp.count_nonzero")
        return tuple(i.astype(np.int64) for i in np.nonzero(x))
    size = _static_size(size, "size")
    flat, filled = _first_hits(not_equal(ravel(x), np.zeros((), t.dtype.np)), size)
    out = []
    stride = t.size
    for n, fill in zip(t.shape, _fills(fill_value, t.ndim)):
        stride //= n
        coord = lax.elementwise("remainder", lax.elementwise("divide", flat, np.int64(stride)), np.int64(n))
        out.append(_where3(filled, coord, convert(np.asarray(fill), "int64")))
    return tuple(out)


def _static_size(v, what):
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


# --- counting into static bins ----------------------------------------------------------------------

def bincount(x, weights=None, minlength=0, *, length=None):
    """Counts (or summed weights) of each value in the non-negative int array x. With length= (as JAX) the
    result has that static length: negative values count as 0 and values >= length are dropped."""
    xx = operand(x)
    if not type_of(xx).dtype.is_int and not type_of(xx).dtype.is_bool:
        raise TypeError(f"bincount takes integer values, got {type_of(xx).dtype.name}")
    if type_of(xx).ndim != 1:
        raise ValueError("bincount takes a 1-d array")
    if length is None:
        if is_tensor(xx):
            raise _data_dependent("bincount", "pass length= for a static shape, as in JAX")
        if xx.size and xx.min() < 0:
            raise ValueError("bincount: the input must be non-negative")
        length = builtins.max(int(minlength), int(xx.max()) + 1 if xx.size else 0)
    length = _static_size(length, "length")
    xx = maximum(convert(xx, "int64"), np.int64(0))
    if weights is None:
        w, dt = np.ones((), np.int64), as_dtype("int64")
    else:
        w = operand(weights)
        if type_of(w).shape != type_of(xx).shape:
            raise ValueError(f"bincount: weights of shape {type_of(w).shape} for x of shape {type_of(xx).shape}")
        dt = type_of(w).dtype if type_of(w).dtype.is_float else lax._default_float()
        w = convert(w, dt)
    if length == 0:
        return np.zeros((0,), dt.np)
    zeros = lax.full((length,), 0, dt)
    return _update(zeros if is_tensor(xx) or is_tensor(w) else np.zeros((length,), dt.np), (xx,),
                   lax.broadcast_to(w, type_of(xx).shape), "add")


def _edges(x, bins, range_):
    """Bin edges as NumPy computes them: linspace over range (or the data's min and max, widened by 1/2 each
    way when equal), in the dtype NumPy's linspace uses, then cast to the bins' dtype."""
    xd = type_of(x).dtype
    bin_dt = xd if xd.is_float else lax._default_float()
    if range_ is not None:
        lo, hi = range_
        if is_tensor(lo) or is_tensor(hi):
            lo, hi = convert(operand(lo), bin_dt), convert(operand(hi), bin_dt)
            work = bin_dt
        else:
            if lo > hi:
                raise ValueError("max must be larger than min in range parameter.")
            if not (np.isfinite(lo) and np.isfinite(hi)):
                raise ValueError(f"supplied range of [{lo}, {hi}] is not finite")
            lo, hi = (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)
            lo, hi = np.asarray(float(lo)), np.asarray(float(hi))
            work = as_dtype("float64")
    else:
        if type_of(x).size == 0:
            lo, hi, work = np.asarray(0.0), np.asarray(1.0), as_dtype("float64")
        else:
            lo, hi = _min(x), _max(x)
            if xd.is_float:
                work = xd
            else:
                work = as_dtype("float64")
                lo, hi = convert(lo, work), convert(hi, work)
            same = equal(lo, hi)
            half = np.asarray(0.5, work.np)
            lo, hi = _where3(same, subtract(lo, half), lo), _where3(same, add(hi, half), hi)
    lo, hi = convert(lo, work), convert(hi, work)
    step = divide(subtract(hi, lo), np.asarray(bins, work.np))
    e = add(multiply(np.arange(bins + 1, dtype=work.np), step), lo)
    e = concatenate([slice_axis(e, 0, 0, bins), reshape(hi, (1,))])  # the last edge is hi itself
    return convert(e, bin_dt)


def histogram(a, bins=10, range=None, weights=None, density=None):  # noqa: A002  (NumPy's name)
    """(counts, edges) with a static number of bins: an int (edges over range, or over the data's traced
    min and max) or the edges themselves. Values outside the edges are not counted; the last bin
    includes its right edge, as NumPy's."""
    x = ravel(operand(a))
    if isinstance(bins, str):
        raise NotImplementedError(f"histogram(bins={bins!r}): bin-count estimators choose a data-dependent "
                                  "number of bins; give an int or the edges")
    if np.ndim(bins) == 0 and not is_tensor(bins):
        nb = _static_size(bins, "bins")
        if nb < 1:
            raise ValueError("`bins` must be positive, when an integer")
        edges = _edges(x, nb, range)
    else:
        edges = operand(bins)
        if type_of(edges).ndim != 1 or type_of(edges).shape[0] < 2:
            raise ValueError("`bins` must be 1d with at least two edges, when an array")
        if not type_of(edges).dtype.is_float:
            edges = convert(edges, lax._default_float())
    n_edges = type_of(edges).shape[0]
    from .numpy_extra import searchsorted
    idx = searchsorted(edges, x, side="right")
    last = slice_axis(edges, 0, n_edges - 1, n_edges)
    idx = _where3(equal(x, reshape(last, ())), np.int64(n_edges - 1), idx)
    # idx 0 (below the first edge) lands in a slot cut off below, idx n_edges (above the last) is dropped
    inside = logical_and(greater_equal(idx, np.int64(1)), less_equal(idx, np.int64(n_edges - 1)))
    idx = _where3(inside, idx, np.int64(0))
    counts = bincount(idx, weights, length=n_edges)
    counts = slice_axis(counts, 0, 1, n_edges)
    if density:
        from .numpy_extra import diff
        c = convert(counts, lax._default_float()) if not type_of(counts).dtype.is_float else counts
        widths = convert(diff(edges), type_of(c).dtype)
        counts = divide(divide(c, _sum(c)), widths)
    return counts, edges


__all__ = ["argwhere", "bincount", "flatnonzero", "histogram", "nonzero", "where"]
