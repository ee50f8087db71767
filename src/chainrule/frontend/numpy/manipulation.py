"""Array manipulation: flips and rotations, atleast_*, stacking and splitting, tile and repeat, pad,
delete and insert, block, resize, rollaxis, and the array-API names concat, permute_dims,
matrix_transpose, unstack.

Everything here is a composite of slice, pad, reverse, reshape, transpose,
broadcast_in_dim, concatenate and gather, so it works eagerly and
symbolically alike and differentiates through the primitives' rules.
Shapes are static: arguments that decide a shape (split points, repeats,
pad widths) must be concrete Python values.
"""

from __future__ import annotations

import builtins

import numpy as np

from .. import lax
from ..core import bind, is_tensor, type_of
from ..lax import broadcast_to, convert, normalize_axis, operand
from .shapes import concatenate, moveaxis, ravel, reshape, squeeze, swapaxes, transpose
from .indexing import getitem


# --- the array API names NumPy 2 has as well ----------------------------------------------------------

def concat(arrays, axis=0):
    return concatenate(arrays, axis=axis)


def permute_dims(a, axes):
    return lax.transpose(operand(a), axes)


def matrix_transpose(x):
    return swapaxes(x, -1, -2)


def unstack(x, axis=0):
    xx = operand(x)
    axis = normalize_axis(axis, type_of(xx).ndim)
    return tuple(squeeze(slice_axis(xx, axis, i, i + 1), axis) for i in range(type_of(xx).shape[axis]))


# --- helpers --------------------------------------------------------------------------------

def slice_axis(x, axis, start, stop, step=1):
    """x[..., start:stop:step, ...] on one axis, with Python's slice rules (negative step allowed)."""
    x = operand(x)
    t = type_of(x)
    idx = [slice(None)] * t.ndim
    idx[axis] = slice(start, stop, step)
    return getitem(x, tuple(idx))


def static_int(v, what):
    if is_tensor(v):
        raise TypeError(f"{what} must be a concrete integer: it decides the shape of the result")
    try:
        return int(v.__index__())
    except (AttributeError, TypeError):
        raise TypeError(f"{what} must be an integer, got {v!r}") from None


def _axes_arg(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (list, tuple)):
        return tuple(normalize_axis(a, ndim) for a in axis)
    return (normalize_axis(axis, ndim),)


# --- flips and rotations ------------------------------------------------------------------

def flip(m, axis=None):
    x = operand(m)
    axes = tuple(sorted(set(_axes_arg(axis, type_of(x).ndim))))
    if not axes or type_of(x).size == 0:
        return x
    return bind("reverse", x, dimensions=axes)


def flipud(m):
    x = operand(m)
    if type_of(x).ndim < 1:
        raise ValueError("Input must be >= 1-d.")
    return flip(x, 0)


def fliplr(m):
    x = operand(m)
    if type_of(x).ndim < 2:
        raise ValueError("Input must be >= 2-d.")
    return flip(x, 1)


def rot90(m, k=1, axes=(0, 1)):
    x = operand(m)
    n = type_of(x).ndim
    if len(axes) != 2:
        raise ValueError("len(axes) must be 2.")
    a0, a1 = normalize_axis(axes[0], n), normalize_axis(axes[1], n)
    if a0 == a1:
        raise ValueError("Axes must be different.")
    k = static_int(k, "k") % 4
    if k == 0:
        return x
    if k == 2:
        return flip(flip(x, a0), a1)
    perm = list(range(n))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return transpose(flip(x, a1), perm)
    return flip(transpose(x, perm), a1)


def roll(a, shift, axis=None):
    x = operand(a)
    t = type_of(x)
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), t.shape)
    shifts = shift if isinstance(shift, (list, tuple)) else (shift,)
    axes = axis if isinstance(axis, (list, tuple)) else (axis,)
    if len(shifts) == 1 and len(axes) > 1:
        shifts = shifts * len(axes)
    if len(axes) == 1 and len(shifts) > 1:
        axes = axes * len(shifts)
    if len(shifts) != len(axes):
        raise ValueError("'shift' and 'axis' should be scalars or 1D sequences of the same length")
    total = {}
    for s, ax in zip(shifts, axes):
        ax = normalize_axis(ax, t.ndim)
        total[ax] = total.get(ax, 0) + static_int(s, "shift")
    for ax, s in sorted(total.items()):
        n = t.shape[ax]
        if n == 0 or s % n == 0:
            continue
        s %= n
        x = concatenate([slice_axis(x, ax, n - s, n), slice_axis(x, ax, 0, n - s)], axis=ax)
    return x


# --- dimension helpers ----------------------------------------------------------------------

def _atleast(arys, n, place):
    out = []
    for a in arys:
        x = operand(a)
        shape = type_of(x).shape
        if len(shape) < n:
            shape = place(shape)
        out.append(reshape(x, shape) if shape != type_of(x).shape else x)
    return out[0] if len(out) == 1 else tuple(out)


def atleast_1d(*arys):
    return _atleast(arys, 1, lambda s: (1,))


def atleast_2d(*arys):
    return _atleast(arys, 2, lambda s: (1,) * (2 - len(s)) + s)


def atleast_3d(*arys):
    def place(s):
        return {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}[len(s)]
    return _atleast(arys, 3, place)


# --- stacking and splitting -----------------------------------------------------------------

def _as_list(tup):
    if is_tensor(tup) or isinstance(tup, np.ndarray):
        return [tup[i] for i in range(type_of(tup).shape[0])]
    return list(tup)


def hstack(tup):
    arrs = [atleast_1d(a) for a in _as_list(tup)]
    return concatenate(arrs, axis=0 if type_of(arrs[0]).ndim == 1 else 1)


def vstack(tup):
    return concatenate([atleast_2d(a) for a in _as_list(tup)], axis=0)


row_stack = vstack


def dstack(tup):
    return concatenate([atleast_3d(a) for a in _as_list(tup)], axis=2)


def column_stack(tup):
    arrs = []
    for a in _as_list(tup):
        x = operand(a)
        if type_of(x).ndim < 2:
            x = reshape(x, (-1, 1))
        arrs.append(x)
    return concatenate(arrs, axis=1)


def append(arr, values, axis=None):
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], axis=0)
    return concatenate([arr, values], axis=axis)


def array_split(ary, indices_or_sections, axis=0):
    x = operand(ary)
    t = type_of(x)
    axis = normalize_axis(axis, t.ndim)
    n = t.shape[axis]
    if isinstance(indices_or_sections, (list, tuple, np.ndarray)):
        bounds = [0] + [static_int(i, "split index") for i in indices_or_sections] + [n]
    else:
        sections = static_int(indices_or_sections, "number of sections")
        if sections <= 0:
            raise ValueError("number sections must be larger than 0.")
        each, extra = divmod(n, sections)
        sizes = [each + 1] * extra + [each] * (sections - extra)
        bounds = [0] + list(np.cumsum(sizes))
    out = []
    for lo, hi in zip(bounds, bounds[1:]):
        lo = lo + n if lo < 0 else lo
        hi = hi + n if hi < 0 else hi
        lo, hi = builtins.min(builtins.max(lo, 0), n), builtins.min(builtins.max(hi, 0), n)
        out.append(slice_axis(x, axis, lo, builtins.max(lo, hi)))
    return out


def split(ary, indices_or_sections, axis=0):
    if not isinstance(indices_or_sections, (list, tuple, np.ndarray)):
        n = type_of(operand(ary)).shape[normalize_axis(axis, type_of(operand(ary)).ndim)]
        sections = static_int(indices_or_sections, "number of sections")
        if sections <= 0 or n % sections:
            raise ValueError("array split does not result in an equal division")
    return array_split(ary, indices_or_sections, axis)


def hsplit(ary, indices_or_sections):
    x = operand(ary)
    if type_of(x).ndim == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return split(x, indices_or_sections, 1 if type_of(x).ndim > 1 else 0)


def vsplit(ary, indices_or_sections):
    if type_of(operand(ary)).ndim < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return split(ary, indices_or_sections, 0)


def dsplit(ary, indices_or_sections):
    if type_of(operand(ary)).ndim < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return split(ary, indices_or_sections, 2)


# --- repetition -------------------------------------------------------------------------------

def tile(A, reps):
    x = operand(A)
    reps = tuple(static_int(r, "reps") for r in (reps if isinstance(reps, (list, tuple)) else (reps,)))
    t = type_of(x)
    n = builtins.max(len(reps), t.ndim)
    shape = (1,) * (n - t.ndim) + t.shape
    reps = (1,) * (n - len(reps)) + reps
    x = reshape(x, shape)
    # interleave a repeat axis before every axis, broadcast, then merge the pairs
    expanded = reshape(x, tuple(v for s in shape for v in (1, s)))
    full = broadcast_to(expanded, tuple(v for r, s in zip(reps, shape) for v in (r, s)))
    return reshape(full, tuple(r * s for r, s in zip(reps, shape)))


def _along_axis(a, axis):
    """(x, its type, axis, its length) for functions that work along one axis, or along the
    flattened array when axis is None (repeat, insert, delete)."""
    x = operand(a)
    if axis is None:
        x, axis = ravel(x), 0
    t = type_of(x)
    axis = normalize_axis(axis, t.ndim)
    return x, t, axis, t.shape[axis]


def repeat(a, repeats, axis=None):
    x, t, axis, n = _along_axis(a, axis)
    if is_tensor(repeats):
        raise TypeError("repeats must be concrete: the result's length depends on them")
    reps = np.asarray(repeats)
    if reps.ndim == 0 or reps.size == 1:
        r = int(reps.reshape(-1)[0])
        if r < 0:
            raise ValueError("repeats may not contain negative values")
        shape = t.shape[:axis + 1] + (1,) + t.shape[axis + 1:]
        full = broadcast_to(reshape(x, shape), t.shape[:axis + 1] + (r,) + t.shape[axis + 1:])
        return reshape(full, t.shape[:axis] + (n * r,) + t.shape[axis + 1:])
    if reps.shape != (n,):
        raise ValueError(f"repeats of shape {reps.shape} do not match axis {axis} of size {n}")
    if (reps < 0).any():
        raise ValueError("repeats may not contain negative values")
    idx = np.repeat(np.arange(n, dtype=np.int64), reps)
    if idx.size == 0:
        return slice_axis(x, axis, 0, 0)
    return bind("gather", x, idx, axis=axis)


# --- padding --------------------------------------------------------------------------------

def _pairs(value, ndim, conv):
    """NumPy's (before, after) per axis from a scalar, a pair, or one pair (or value) per axis."""
    v = np.asarray(value, dtype=object)
    if v.ndim == 0 or v.shape in ((1,), (1, 1)):
        p = conv(v.reshape(-1)[0])
        return [(p, p)] * ndim
    if v.shape in ((2,), (1, 2)):
        return [(conv(v.reshape(-1)[0]), conv(v.reshape(-1)[1]))] * ndim
    if v.shape == (ndim, 2):
        return [(conv(a), conv(b)) for a, b in v]
    if v.shape == (ndim, 1):
        return [(conv(a), conv(a)) for (a,) in v]
    raise ValueError(f"{value!r} cannot be broadcast to ({ndim}, 2)")


def _pad_widths(pad_width, ndim):
    pairs = _pairs(pad_width, ndim, lambda w: static_int(w, "pad width"))
    if builtins.any(a < 0 or b < 0 for a, b in pairs):
        raise ValueError("index can't contain negative values")
    return pairs


def _pair_per_axis(value, ndim):
    if is_tensor(value) or np.ndim(value) == 0:
        return [(value, value)] * ndim
    return _pairs(value, ndim, lambda c: c)


def pad(array, pad_width, mode="constant", constant_values=0, **kwargs):
    x = operand(array)
    t = type_of(x)
    pairs = _pad_widths(pad_width, t.ndim)
    if kwargs:
        raise NotImplementedError(f"pad options {sorted(kwargs)} are not supported yet")
    if mode == "constant":
        cvals = _pair_per_axis(constant_values, t.ndim)
        single = is_tensor(constant_values) or np.ndim(constant_values) == 0 or builtins.all(
            not is_tensor(a) and not is_tensor(b) and a == cvals[0][0] and b == cvals[0][0] for a, b in cvals)
        if single:
            v = convert(cvals[0][0], t.dtype)
            v = lax.reshape(v, ()) if type_of(v).shape else v
            return bind("pad", x, v, edge_padding_low=tuple(a for a, _ in pairs),
                        edge_padding_high=tuple(b for _, b in pairs))
        for ax, ((lo, hi), (cl, ch)) in enumerate(zip(pairs, cvals)):
            x = _pad_axis_with(x, ax, lo, hi, lambda shape, c: broadcast_to(convert(c, t.dtype), shape), (cl, ch))
        return x
    if mode not in ("edge", "reflect", "symmetric", "wrap"):
        raise NotImplementedError(f"pad mode {mode!r} is not supported yet; constant, edge, reflect, symmetric "
                                  "and wrap are")
    for ax, (lo, hi) in enumerate(pairs):
        x = _pad_axis(x, ax, lo, hi, mode)
    return x


def _pad_axis_with(x, ax, lo, hi, fill, cvals):
    t = type_of(x)
    parts = []
    if lo:
        parts.append(fill(t.shape[:ax] + (lo,) + t.shape[ax + 1:], cvals[0]))
    parts.append(x)
    if hi:
        parts.append(fill(t.shape[:ax] + (hi,) + t.shape[ax + 1:], cvals[1]))
    return concatenate(parts, axis=ax) if len(parts) > 1 else x


def _pad_axis(x, ax, lo, hi, mode):
    """One axis of a non-constant pad; wide pads are built in rounds as NumPy does."""
    while lo or hi:
        n = type_of(x).shape[ax]
        if n == 0:
            raise ValueError(f"can't extend empty axis {ax} using modes other than 'constant'")
        if mode == "reflect" and n == 1:
            mode = "edge"
        limit = {"edge": builtins.max(lo, hi), "reflect": n - 1, "symmetric": n, "wrap": n}[mode]
        a, b = builtins.min(lo, limit), builtins.min(hi, limit)
        parts = []
        if a:
            if mode == "edge":
                e = slice_axis(x, ax, 0, 1)
                parts.append(broadcast_to(e, type_of(e).shape[:ax] + (a,) + type_of(e).shape[ax + 1:]))
            elif mode == "reflect":
                parts.append(flip(slice_axis(x, ax, 1, a + 1), ax))
            elif mode == "symmetric":
                parts.append(flip(slice_axis(x, ax, 0, a), ax))
            else:
                parts.append(slice_axis(x, ax, n - a, n))
        parts.append(x)
        if b:
            if mode == "edge":
                e = slice_axis(x, ax, n - 1, n)
                parts.append(broadcast_to(e, type_of(e).shape[:ax] + (b,) + type_of(e).shape[ax + 1:]))
            elif mode == "reflect":
                parts.append(flip(slice_axis(x, ax, n - 1 - b, n - 1), ax))
            elif mode == "symmetric":
                parts.append(flip(slice_axis(x, ax, n - b, n), ax))
            else:
                parts.append(slice_axis(x, ax, 0, b))
        x = concatenate(parts, axis=ax)
        lo, hi = lo - a, hi - b
    return x


# --- deleting and inserting at static positions ----------------------------------------------------

def _static_positions(obj, n, what):
    if is_tensor(obj):
        raise TypeError(f"{what} positions must be concrete: they decide the result's shape")
    if isinstance(obj, slice):
        return np.arange(n)[obj]
    pos = np.asarray(obj)
    if pos.dtype == np.bool_:
        if pos.shape != (n,):
            raise ValueError(f"boolean array argument obj to {what} must be one dimensional and match the axis "
                             f"length of {n}")
        return np.flatnonzero(pos)
    return pos.astype(np.int64)


def delete(arr, obj, axis=None):
    x, t, axis, n = _along_axis(arr, axis)
    pos = _static_positions(obj, n, "delete").reshape(-1)
    if pos.size and (pos.min() < -n or pos.max() >= n):
        raise IndexError(f"index {int(pos.max() if pos.max() >= n else pos.min())} is out of bounds for axis "
                         f"{axis} with size {n}")
    keep = np.setdiff1d(np.arange(n), np.where(pos < 0, pos + n, pos))
    if keep.size == n:
        return x
    if keep.size == 0:
        return slice_axis(x, axis, 0, 0)
    return bind("gather", x, keep.astype(np.int64), axis=axis)


def insert(arr, obj, values, axis=None):
    """Values placed before the given (static) positions, as NumPy's insert."""
    x, t, axis, n = _along_axis(arr, axis)
    scalar_obj = not isinstance(obj, slice) and np.ndim(obj) == 0
    pos = _static_positions(obj, n + 1 if not isinstance(obj, slice) else n, "insert").reshape(-1)
    pos = np.where(pos < 0, pos + n, pos)
    if pos.size and (pos.min() < 0 or pos.max() > n):
        raise IndexError(f"index out of bounds for axis {axis} with size {n}")
    v = convert(operand(values), t.dtype)
    if scalar_obj:
        # NumPy: values keep their own shape along the axis (moved there), broadcast elsewhere
        vt = type_of(v)
        if vt.ndim == t.ndim and vt.ndim:
            vm = moveaxis(v, 0, axis)
        else:
            vm = reshape(v, type_of(v).shape[:0] + (1,) * (t.ndim - vt.ndim) + vt.shape) if vt.ndim < t.ndim else v
            vm = moveaxis(vm, 0, axis) if vt.ndim else vm
        k = type_of(vm).shape[axis] if type_of(vm).ndim else 1
        shape = t.shape[:axis] + (k,) + t.shape[axis + 1:]
        block = broadcast_to(vm, shape)
        p = int(pos[0])
        return concatenate([slice_axis(x, axis, 0, p), block, slice_axis(x, axis, p, n)], axis=axis)
    m = pos.size
    shape = t.shape[:axis] + (m,) + t.shape[axis + 1:]
    vt = type_of(v)
    if vt.ndim == 1 and t.ndim > 1 and vt.shape[0] == m:
        v = reshape(v, (1,) * axis + (m,) + (1,) * (t.ndim - axis - 1))
    block = broadcast_to(v, shape)
    # the merged order: original items at their index, inserted ones before position p (stable)
    order = np.argsort(np.concatenate([2 * np.arange(n) + 1, 2 * pos]), kind="stable")
    both = concatenate([x, block], axis=axis)
    return bind("gather", both, order.astype(np.int64), axis=axis)


# --- assembling and reshaping, more -----------------------------------------------------------------

def block(arrays):
    """NumPy's block: nested lists concatenated innermost-last along -1, -2, ..."""
    def depth(x):
        return 1 + depth(x[0]) if isinstance(x, list) and x else (1 if isinstance(x, list) else 0)

    d = depth(arrays)
    if d == 0:
        return operand(arrays)

    def ndim_of(x):
        return builtins.max(ndim_of(e) for e in x) if isinstance(x, list) else type_of(operand(x)).ndim

    nd = builtins.max(ndim_of(arrays), d)

    def go(x, level):
        if not isinstance(x, list):
            v = operand(x)
            return reshape(v, (1,) * (nd - type_of(v).ndim) + type_of(v).shape)
        parts = [go(e, level + 1) for e in x]
        return concatenate(parts, axis=-(d - level))
    return go(arrays, 0)


def resize(a, new_shape):
    """The data repeated cyclically to fill new_shape (NumPy's function, not the in-place method)."""
    x = ravel(operand(a))
    new_shape = (int(new_shape),) if np.ndim(new_shape) == 0 else tuple(int(s) for s in new_shape)
    total = int(np.prod(new_shape))
    n = type_of(x).shape[0]
    if total == 0 or n == 0:
        return np.zeros(new_shape, type_of(x).dtype.np) if n == 0 else reshape(slice_axis(x, 0, 0, 0), new_shape)
    reps = -(-total // n)
    return reshape(slice_axis(tile(x, reps), 0, 0, total), new_shape)


def rollaxis(a, axis, start=0):
    x = operand(a)
    n = type_of(x).ndim
    axis = normalize_axis(axis, n)
    start = start + n if start < 0 else start
    if not 0 <= start <= n:
        raise ValueError(f"start {start} out of range for {n} dimensions")
    if axis < start:
        start -= 1
    return moveaxis(x, axis, start) if axis != start else x


__all__ = ["concat", "permute_dims", "matrix_transpose", "unstack", "slice_axis", "flip", "flipud", "fliplr", "rot90",
           "roll", "atleast_1d", "atleast_2d", "atleast_3d", "hstack", "vstack", "row_stack", "dstack", "column_stack",
           "append", "array_split", "split", "hsplit", "vsplit", "dsplit", "tile", "repeat", "pad", "delete", "insert",
           "block", "resize", "rollaxis"]
