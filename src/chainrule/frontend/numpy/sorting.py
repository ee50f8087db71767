"""Sorting and searching: sort, argsort, searchsorted, digitize, isin.

chainrule.numpy sorting and order statistics, without a sort op: a bitonic sorting network.

The IR has no `sort` op yet, so `sort` is a fixed network of compare-exchange
steps over a static length: pad the axis to a power of two m with a value
that sorts last, then for block sizes k = 2, 4, ..., m merge with one "flip"
step (element p of a block against element k-1-p) and half-cleaners
(p against p + j, j = k/4 ... 1). Each step is reshape + slice (+ reverse) +
compare + select + concatenate over the whole array at once, so the graph
has O(log^2 m) steps and O(m log^2 m) work. A compare-exchange is a pair of
selects, so gradients flow to the values (as with a sort op's permutation).

Order is NumPy's: NaN sorts last. `argsort` carries the indices through
the same network and breaks ties by index, so it is stable
(NumPy's kind="stable").
"""

from __future__ import annotations

import numpy as np

from .. import lax
from ..core import bind, constant_tensor, is_tensor, type_of
from ..lax import convert, normalize_axis, operand, result_type as _promote
from .ufuncs import equal, greater, isnan, less, less_equal, logical_and, logical_not, logical_or, subtract, where
from .shapes import concatenate, moveaxis, ravel, reshape
from .reductions import any as _any, sum
from .manipulation import flip, slice_axis


# --- searching by counting -----------------------------------------------------------------------

def searchsorted(a, v, side="left", sorter=None):
    """Insertion points in sorted `a` by counting (O(len(a) * len(v)) memory; NaN sorts last as in NumPy)."""
    if sorter is not None:
        raise NotImplementedError("searchsorted with sorter is not supported yet")
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right' (got {side!r})")
    aa = operand(a)
    if type_of(aa).ndim != 1:
        raise ValueError("object too deep for desired array: a must be 1-d")
    vv = operand(v) if not lax.is_weak(v) else v
    dt = _promote(aa, vv)
    aa, vv = convert(aa, dt), convert(vv, dt)
    vshape = type_of(vv).shape
    ve = reshape(vv, vshape + (1,))
    cmp = less(aa, ve) if side == "left" else less_equal(aa, ve)
    count = sum(cmp, axis=-1, dtype="int64")
    if dt.is_float:
        a_nan = isnan(aa)
        n_num = sum(logical_not(a_nan), dtype="int64")
        n_all = np.asarray(type_of(aa).shape[0], np.int64)
        nan_pos = n_num if side == "left" else n_all
        count = where(isnan(vv), nan_pos, count)
    return count


# --- membership, and what has a data-dependent shape ------------------------------------------------

def isin(element, test_elements, assume_unique=False, invert=False, kind=None):
    """Every element against every test element (O(len(element) * len(test_elements)) work)."""
    x = operand(element) if not lax.is_weak(element) else element
    tst = ravel(operand(test_elements))
    if type_of(tst).shape[0] == 0:
        r = lax.full_like(operand(x), invert, "bool")
        return r
    xs = operand(x)
    hit = equal(reshape(xs, type_of(xs).shape + (1,)), tst)
    r = _any(hit, axis=-1)
    return logical_not(r) if invert else r


def digitize(x, bins, right=False):
    b = operand(bins)
    if type_of(b).ndim != 1:
        raise ValueError("bins must be one-dimensional")
    if not is_tensor(b) and type_of(b).shape[0] > 1 and np.all(np.diff(b) <= 0) and not np.all(np.diff(b) == 0):
        n = type_of(b).shape[0]
        return subtract(np.int64(n), searchsorted(flip(b), x, side="left" if right else "right"))
    return searchsorted(b, x, side="left" if right else "right")


# --- the network -----------------------------------------------------------------------------------

def _sentinel(dt):
    if dt.is_float:
        return np.nan
    if dt.is_bool:
        return True
    return np.iinfo(dt.np).max


def _after(a, b):
    """a sorts strictly after b (NaN last)."""
    if type_of(a).dtype.is_float:
        return logical_or(greater(a, b), logical_and(isnan(a), logical_not(isnan(b))))
    return greater(a, b)


def _tied(a, b):
    if type_of(a).dtype.is_float:
        return logical_or(equal(a, b), logical_and(isnan(a), isnan(b)))
    return equal(a, b)


def _exchange(lo, hi, ilo, ihi):
    swap = _after(lo, hi)
    if ilo is not None:
        swap = logical_or(swap, logical_and(_tied(lo, hi), greater(ilo, ihi)))
    new = (bind("select", swap, hi, lo), bind("select", swap, lo, hi))
    if ilo is None:
        return new + (None, None)
    return new + (bind("select", swap, ihi, ilo), bind("select", swap, ilo, ihi))


def _step(x, i, rows, block, half, flip_second):
    """One layer: within blocks of `block`, compare position p < half with p + half (or block-1-p)."""
    B, m = rows, type_of(x).shape[-1]
    y = reshape(x, (B, m // block, block))
    lo, hi = slice_axis(y, 2, 0, half), slice_axis(y, 2, half, block)
    yi = reshape(i, (B, m // block, block)) if i is not None else None
    ilo = slice_axis(yi, 2, 0, half) if yi is not None else None
    ihi = slice_axis(yi, 2, half, block) if yi is not None else None
    if flip_second:
        hi = flip(hi, 2)
        ihi = flip(ihi, 2) if ihi is not None else None
    lo, hi, ilo, ihi = _exchange(lo, hi, ilo, ihi)
    if flip_second:
        hi = flip(hi, 2)
        ihi = flip(ihi, 2) if ihi is not None else None
    x = reshape(concatenate([lo, hi], axis=2), (B, m))
    if i is not None:
        i = reshape(concatenate([ilo, ihi], axis=2), (B, m))
    return x, i


def sort_last_axis(x, with_indices=False):
    """Sort along the last axis; returns (values, int64 indices or None)."""
    x = operand(x)
    t = type_of(x)
    n = t.shape[-1]
    batch = t.shape[:-1]
    rows = int(np.prod(batch)) if batch else 1
    idx = None
    if with_indices:
        line = np.arange(n, dtype=np.int64)
        line = constant_tensor(line) if is_tensor(x) else line
        idx = lax.broadcast_to(line, t.shape)
    if n <= 1 or t.size == 0:
        return x, idx
    m = 1 << (n - 1).bit_length()
    xs = reshape(x, (rows, n))
    if m > n:
        fill = np.asarray(_sentinel(t.dtype), t.dtype.np)
        xs = bind("pad", xs, fill, edge_padding_low=(0, 0), edge_padding_high=(0, m - n))
    ids = None
    if with_indices:
        line = np.arange(m, dtype=np.int64)
        ids = lax.broadcast_to(constant_tensor(line) if is_tensor(x) else line, (rows, m))
    k = 2
    while k <= m:
        xs, ids = _step(xs, ids, rows, k, k // 2, True)
        j = k // 4
        while j >= 1:
            xs, ids = _step(xs, ids, rows, 2 * j, j, False)
            j //= 2
        k *= 2
    xs = reshape(slice_axis(xs, 1, 0, n), t.shape)
    if with_indices:
        ids = reshape(slice_axis(ids, 1, 0, n), t.shape)
    return xs, ids


def _along(a, axis):
    x = operand(a)
    if axis is None:
        return ravel(x), 0
    return x, normalize_axis(axis, type_of(x).ndim)


def sort(a, axis=-1, kind=None, order=None, stable=None, *, descending=False):
    """descending=True (as JAX and the array API): the ascending order reversed, so NaN comes first."""
    if order is not None:
        raise NotImplementedError("sort(order=...) applies to structured arrays, which chainrule does not have")
    x, axis = _along(a, axis)
    if type_of(x).ndim == 0:
        raise ValueError("Cannot sort a 0-d array")
    y, _ = sort_last_axis(moveaxis(x, axis, -1))
    if descending:
        y = flip(y, -1)
    return moveaxis(y, -1, axis)


def argsort(a, axis=-1, kind=None, order=None, stable=None, *, descending=False):
    """Stable argsort (ties keep their order, as NumPy's kind='stable'), also when descending (as JAX):
    the reversed input is sorted and its positions mapped back, so equal values keep their order."""
    if order is not None:
        raise NotImplementedError("argsort(order=...) applies to structured arrays, which chainrule does not have")
    x, axis = _along(a, axis)
    if type_of(x).ndim == 0:
        raise ValueError("Cannot sort a 0-d array")
    x = moveaxis(x, axis, -1)
    if descending:
        n = type_of(x).shape[-1]
        _, i = sort_last_axis(flip(x, -1), with_indices=True)
        i = flip(subtract(np.int64(n - 1), i), -1)
    else:
        _, i = sort_last_axis(x, with_indices=True)
    return moveaxis(i, -1, axis)


__all__ = ["searchsorted", "isin", "digitize", "sort_last_axis", "sort", "argsort"]
