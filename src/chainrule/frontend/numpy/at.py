"""`x.at[idx]` updates whose duplicates combine: min, max, multiply, divide, power, apply (as JAX).

`.set`/`.add` are one scatter each (indexing.py). The others need every
update aimed at one element combined, and the IR's scatter only sets or adds,
so they are built as: the flat position of every element of x[idx] (indexing
a padded iota, so out-of-range integer indices are dropped, as JAX's .at[]
does), a stable sort of the updates by position, a segmented inclusive scan
(log2(k) shift-and-combine steps over the k updates) that leaves each
position's combined update on its last entry, and one scatter of those last
entries, whose positions are then unique. JAX's meaning with duplicates:
min/max combine, multiply/divide/power multiply the values first
(x / (v1 v2), x ** (v1 v2)), apply(f) applies f once per occurrence.
"""

from __future__ import annotations

import numpy as np

from .. import lax
from ..control_flow import fori_loop
from ..core import bind, is_tensor, type_of
from .ufuncs import (divide, equal, greater_equal, logical_and, logical_or, maximum, minimum, multiply, not_equal,
                     power, where)
from .shapes import concatenate, reshape
from .indexing import BasicAtRef, expand_index, index_operand, is_int_array, masks_to_indices, getitem, take
from .manipulation import slice_axis
from .sorting import argsort


def _positions(t, idx):
    """Flat positions in x (shape t) of the elements of x[idx], shaped as x[idx]; t.size marks a dropped one."""
    items = expand_index(masks_to_indices(idx, t.shape), t.ndim)  # a concrete boolean mask: its nonzero()
    size = t.size
    pos = np.arange(size, dtype=np.int64).reshape(t.shape)
    new, d = [], 0
    for i in items:
        if i is None:
            new.append(i)
            continue
        if not isinstance(i, slice) and is_int_array(i):
            n = t.shape[d]
            ind = index_operand(i)
            if not type_of(ind).dtype.is_int:
                raise IndexError("arrays used as indices must be of integer type")
            widths = [(0, 0)] * t.ndim
            widths[d] = (0, 1)
            pos = np.pad(pos, widths, constant_values=size)  # index n of this axis: dropped
            if is_tensor(ind):
                ind = lax.convert(ind, "int64")
                out = logical_or(bind("compare", ind, lax.full_like(ind, -n), direction="LT"),
                                 greater_equal(ind, np.int64(n)))
                ind = where(out, np.int64(n), where(bind("compare", ind, lax.full_like(ind, 0), direction="LT"),
                                                    bind("add", ind, lax.full_like(ind, n)), ind))
            else:
                ind = np.asarray(ind, np.int64)
                ind = np.where((ind < -n) | (ind >= n), n, np.where(ind < 0, ind + n, ind))
            new.append(ind)
        else:
            new.append(i)
        d += 1
    return getitem(pos, tuple(new))


def _shift(v, d, fill):
    """v shifted right by d along its only axis, `fill` coming in."""
    k = type_of(v).shape[0]
    head = lax.full((d,), fill, type_of(v).dtype)
    return concatenate([head, slice_axis(v, 0, 0, k - d)])


def _combine(x, idx, values, seg_op, final_op):
    """x with final_op(x[p], seg_op-combination of all updates aimed at p) at every position p hit."""
    x = lax.operand(x)
    t = type_of(x)
    pos = _positions(t, idx)
    vals = lax.broadcast_to(lax.convert(values, t.dtype), type_of(pos).shape)
    k, n = type_of(pos).size, t.size
    if k == 0 or n == 0:
        return x
    pos, vals = reshape(pos, (k,)), reshape(vals, (k,))
    order = argsort(pos)  # stable: duplicates keep their order (min/max/multiply do not care)
    sp, sv = take(pos, order), take(vals, order)
    d = 1
    while d < k:  # segmented inclusive scan: entry i combines the run of equal positions ending at i
        same = equal(sp, _shift(sp, d, -1))
        sv = where(same, seg_op(_shift(sv, d, 0), sv), sv)
        d *= 2
    last = not_equal(sp, concatenate([slice_axis(sp, 0, 1, k), np.full((1,), -1, np.int64)]))
    target = where(logical_and(last, bind("compare", sp, lax.full_like(sp, n), direction="LT")), sp, np.int64(n))
    flat = reshape(x, (n,))
    padded = bind("pad", flat, np.zeros((), t.dtype.np), edge_padding_low=(0,), edge_padding_high=(1,))
    agg = slice_axis(bind("scatter", padded, target, sv, axis=0, kind="set"), 0, 0, n)
    hit = slice_axis(bind("scatter", np.zeros((n + 1,), np.int32), target, lax.full((k,), 1, "int32"), axis=0,
                          kind="set"), 0, 0, n)
    out = where(not_equal(hit, np.int32(0)), final_op(flat, agg), flat)
    return reshape(out, t.shape)


def _counts(x, idx):
    """How many updates of x.at[idx] aim at each element of x (int32, shaped as x)."""
    t = type_of(lax.operand(x))
    pos = _positions(t, idx)
    k, n = type_of(pos).size, t.size
    if k == 0 or n == 0:
        return np.zeros(t.shape, np.int32)
    ones = lax.full((k,), 1, "int32")
    c = bind("scatter", np.zeros((n + 1,), np.int32), reshape(pos, (k,)), ones, axis=0, kind="add")
    return reshape(slice_axis(c, 0, 0, n), t.shape)


def _no_clip(mode):
    if mode not in (None, "drop", "promise_in_bounds"):
        raise NotImplementedError(f"x.at[...] mode={mode!r}: out-of-range indices are dropped (mode='drop')")


class AtRef(BasicAtRef):
    """`x.at[idx]` with JAX's full set of updates."""

    def multiply(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """x[idx] * values; a position named twice is multiplied by both values (as JAX)."""
        _no_clip(mode)
        return _combine(self.x, self.idx, values, multiply, multiply)

    mul = multiply

    def divide(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """x[idx] / values; a position named twice is divided by both."""
        _no_clip(mode)
        x = lax.operand(self.x)
        if not type_of(x).dtype.is_float:
            raise TypeError("x.at[...].divide needs a floating-point x (the result keeps x's dtype)")
        return _combine(x, self.idx, values, multiply, divide)

    def power(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """x[idx] ** values; a position named twice is raised to the product of both (x ** a) ** b."""
        _no_clip(mode)
        return _combine(self.x, self.idx, values, multiply, power)

    def min(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """minimum(x[idx], values), the smallest of all values aimed at one position."""
        _no_clip(mode)
        return _combine(self.x, self.idx, values, minimum, minimum)

    def max(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """maximum(x[idx], values), the largest of all values aimed at one position."""
        _no_clip(mode)
        return _combine(self.x, self.idx, values, maximum, maximum)

    def apply(self, func, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """func(x[idx]) written back; func is applied once per time a position is named (as JAX)."""
        _no_clip(mode)
        x = lax.operand(self.x)
        c = _counts(x, self.idx)
        if not is_tensor(c):
            rounds = int(np.max(c)) if np.size(c) else 0
            for r in range(1, rounds + 1):
                x = where(greater_equal(c, np.int32(r)), lax.convert(func(x), type_of(x).dtype), x)
            return x
        dt = type_of(x).dtype
        rounds = int(type_of(_positions(type_of(x), self.idx)).size)  # static: at most one round per update
        return fori_loop(1, rounds + 1, lambda r, z: where(greater_equal(c, lax.convert(r, "int32")),
                                                           lax.convert(func(z), dt), z), x)


class AtIndexer:
    def __init__(self, x):
        self.x = x

    def __getitem__(self, idx):
        return AtRef(self.x, idx)


__all__ = ["AtRef", "AtIndexer"]
