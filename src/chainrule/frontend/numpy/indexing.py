"""Indexing: x[idx] (basic, advanced and boolean), the functional updates behind x.at[...], and
take, take_along_axis, put_along_axis, compress, choose; the in-place names raise with a hint.

NumPy indexing on tensors: basic slicing and integer-array indexing.

Basic indices (ints, slices with any step, None, Ellipsis) become slice,
reverse and reshape; one integer array (a list, array or int tensor) on one
axis becomes a gather with NumPy's negative-index wrap-around (indices past
the end are clamped, as XLA does, never read out of bounds). Several integer
arrays (with ints among them) broadcast together: their dimensions are merged
into one and indexed by the row-major flat index, and the result dimensions go
where NumPy puts them (in place when the advanced indices are adjacent, first
otherwise). `x.at[idx]` gives `.set/.add/.multiply/.get` like JAX, built on
scatter. A concrete boolean mask (a NumPy array or a list of bools) is static,
as in JAX: it stands for the integer arrays of its `nonzero()`. A traced
boolean mask would give a data-dependent shape and is refused.
"""

from __future__ import annotations

import builtins

import numpy as np

from ...ir import dtype as as_dtype
from .. import lax
from ..core import bind, is_tensor, type_of
from ..lax import broadcast_to, normalize_axis, operand
from .ufuncs import add, multiply, negative, remainder
from .shapes import moveaxis, ravel, reshape, stack


# --- gathering ----------------------------------------------------------------------------------

def _wrap_indices(ind, n, mode):
    if is_tensor(ind):
        if mode == "clip":
            return bind("clamp", lax.full_like(ind, 0), ind, lax.full_like(ind, builtins.max(n - 1, 0)))
        if mode == "wrap":
            return remainder(ind, n)
        zero = lax.full_like(ind, 0)
        return bind("select", bind("compare", ind, zero, direction="LT"), bind("add", ind, lax.full_like(ind, n)), ind)
    ind = np.asarray(ind)
    if mode == "clip":
        return np.clip(ind, 0, builtins.max(n - 1, 0))
    if mode == "wrap":
        return np.mod(ind, n) if n else ind
    if ind.size and (ind.min() < -n or ind.max() >= n):
        raise IndexError(f"index {int(ind.max() if ind.max() >= n else ind.min())} is out of bounds for axis "
                         f"with size {n}")
    return np.where(ind < 0, ind + n, ind).astype(ind.dtype)


def _take_operand(indices):
    ind = indices if is_tensor(indices) else np.asarray(indices)
    if not is_tensor(ind) and ind.size == 0:
        ind = ind.astype(np.int64)  # an empty list is an empty integer index, as in NumPy
    d = type_of(ind).dtype if is_tensor(ind) else as_dtype(lax.canonical_array(ind).dtype)
    if not d.is_int:
        raise IndexError("arrays used as indices must be of integer type")
    return ind if is_tensor(ind) else lax.canonical_array(ind)


def take(a, indices, axis=None, mode=None):
    x = operand(a)
    if axis is None:
        x, axis = ravel(x), 0
    t = type_of(x)
    axis = normalize_axis(axis, t.ndim)
    ind = _wrap_indices(_take_operand(indices), t.shape[axis], mode or "raise")
    return bind("gather", x, ind, axis=axis)


def take_along_axis(arr, indices, axis=-1):
    x = operand(arr)
    ind = _take_operand(indices)
    if axis is None:
        x, axis = ravel(x), 0
        if type_of(ind).ndim != 1:
            raise ValueError("when axis=None, `indices` must have a single dimension.")
    t, it = type_of(x), type_of(ind)
    if t.ndim != it.ndim:
        raise ValueError("`indices` and `arr` must have the same number of dimensions")
    axis = normalize_axis(axis, t.ndim)
    ind = _wrap_indices(ind, t.shape[axis], "raise")
    xm, im = moveaxis(x, axis, -1), moveaxis(ind, axis, -1)
    batch = lax.broadcast_shapes(type_of(xm).shape[:-1], type_of(im).shape[:-1])
    xm = broadcast_to(xm, batch + type_of(xm).shape[-1:])
    im = broadcast_to(im, batch + type_of(im).shape[-1:])
    nb = len(batch)
    out = bind("gather", xm, im, axis=nb, batch_dims=nb)
    return moveaxis(out, -1, axis)


def put_along_axis(arr, indices, values, axis):
    raise NotImplementedError("put_along_axis writes in place, which tensors cannot; use "
                              "x.at[...].set(...) for a functional update")


def compress(condition, a, axis=None):
    if is_tensor(condition):
        raise NotImplementedError("compress with a symbolic condition has a data-dependent shape")
    idx = np.flatnonzero(np.asarray(condition))
    return take(a, idx, axis=axis)


def choose(a, choices, mode="raise"):
    """choices[a[i]][i] for every i: the choices stacked and gathered with a as batch-aligned index."""
    idx = _take_operand(a)
    chs = [operand(c) for c in choices]
    n = len(chs)
    shape = lax.broadcast_shapes(type_of(idx).shape, *[type_of(c).shape for c in chs])
    stacked = stack([broadcast_to(c, shape) for c in chs], axis=-1)
    ind = _wrap_indices(idx, n, mode if mode in ("clip", "wrap") else "raise")
    ind = broadcast_to(ind, shape)
    out = take_along_axis(stacked, reshape(ind, shape + (1,)), axis=-1)
    return reshape(out, shape)


def _in_place(name, hint):
    def fn(*args, **kwargs):
        raise NotImplementedError(f"{name} writes in place, which tensors cannot; {hint}")
    fn.__name__ = name
    return fn


fill_diagonal = _in_place("fill_diagonal", "use cnp.where(cnp.eye(n, dtype=bool), value, x)")
put = _in_place("put", "use x.at[indices].set(values)")
putmask = _in_place("putmask", "use cnp.where(mask, values, x)")
place = _in_place("place", "use cnp.where(mask, values, x)")
copyto = _in_place("copyto", "use the value itself (tensors are immutable), or cnp.where(mask, src, dst)")


def is_int_array(i) -> bool:
    if is_tensor(i):
        return type_of(i).dtype.is_int
    if isinstance(i, (list, tuple)):
        return True
    if isinstance(i, np.ndarray):
        if i.dtype == np.bool_:  # only 0-d masks get here (see masks_to_indices)
            raise IndexError("a 0-d boolean index is not supported; use cnp.where(mask, x, 0) instead")
        return i.dtype.kind in "iu"
    return False


def index_operand(i):
    """An integer-array index as a tensor or array; an empty list is an empty int64 index, as in NumPy."""
    if isinstance(i, (list, tuple)) and np.asarray(i, dtype=object).size == 0:
        return np.zeros(np.shape(i), np.int64)
    return lax.operand(i)


def _is_mask(i) -> bool:
    return isinstance(i, np.ndarray) and i.dtype == np.bool_ and i.ndim > 0


def masks_to_indices(idx, shape):
    """Concrete boolean masks replaced by the integer arrays of their nonzero() (static, as in JAX);
    a traced boolean mask is refused: the result's shape would depend on its values."""
    items = []
    for i in (idx if isinstance(idx, tuple) else (idx,)):
        if is_tensor(i) and type_of(i).dtype.name == "bool":
            raise IndexError("boolean mask has a data-dependent shape; use cnp.where(mask, x, 0) instead "
                             "(or a concrete NumPy mask, which is static)")
        if isinstance(i, list) and i and all(isinstance(v, (bool, np.bool_)) for v in i):
            i = np.asarray(i)
        items.append(i)
    if not any(_is_mask(i) for i in items):
        return idx
    consumed = sum(i.ndim if _is_mask(i) else 1 for i in items if i is not None and i is not Ellipsis)
    out, d = [], 0
    for i in items:
        if _is_mask(i):
            dims = tuple(shape[d:d + i.ndim])
            if dims != i.shape:
                raise IndexError(f"boolean index of shape {i.shape} does not match the indexed dimensions "
                                 f"{dims} (axes {d} to {d + i.ndim - 1})")
            out.extend(np.nonzero(i))
            d += i.ndim
            continue
        out.append(i)
        if i is Ellipsis:
            d += len(shape) - consumed
        elif i is not None:
            d += 1
    return tuple(out)


def expand_index(idx, ndim):
    if not isinstance(idx, tuple):
        idx = (idx,)
    if sum(1 for i in idx if i is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    n_real = sum(1 for i in idx if i is not None and i is not Ellipsis)
    if n_real > ndim:
        raise IndexError(f"too many indices for array: array is {ndim}-dimensional, but {n_real} were indexed")
    out = []
    for i in idx:
        if i is Ellipsis:
            out.extend([slice(None)] * (ndim - n_real))
        else:
            out.append(i)
    if not any(i is Ellipsis for i in idx):
        out.extend([slice(None)] * (ndim - n_real))
    return out


def getitem(x, idx):
    x = lax.operand(x)
    t = type_of(x)
    items = expand_index(masks_to_indices(idx, t.shape), t.ndim)
    arrays = [k for k, i in enumerate(items) if i is not None and not isinstance(i, slice) and is_int_array(i)]
    if len(arrays) > 1:
        return _getitem_multi(x, items)
    # 1. basic indexing: slices, ints and None
    starts, limits, strides, rev, out_shape = [], [], [], [], []
    d = 0
    gather_dim = None
    int_dims = []
    for k, i in enumerate(items):
        if i is None:
            out_shape.append(("new",))
            continue
        n = t.shape[d]
        if isinstance(i, slice):
            s, e, st = i.indices(n)
            if st > 0:
                starts.append(s), limits.append(max(e, s)), strides.append(st), rev.append(False)
                length = len(range(s, e, st))
            else:
                # reverse, then slice with a positive stride
                r = range(s, e, st)
                length = len(r)
                if length:
                    first = n - 1 - s
                    starts.append(first), limits.append(first + (length - 1) * (-st) + 1), strides.append(-st)
                else:
                    starts.append(0), limits.append(0), strides.append(1)
                rev.append(True)
            out_shape.append(("dim", d, length))
        elif k in arrays:
            starts.append(0), limits.append(n), strides.append(1), rev.append(False)
            gather_dim = d
            out_shape.append(("gather", d))
        else:
            if is_tensor(i):
                raise IndexError("a scalar tensor index must be an integer tensor")
            try:
                ii = int(i.__index__())
            except (AttributeError, TypeError):
                raise IndexError(f"only integers, slices, None, Ellipsis and integer arrays are valid indices, "
                                 f"got {i!r}") from None
            if not -n <= ii < n:
                raise IndexError(f"index {ii} is out of bounds for axis {d} with size {n}")
            ii %= n
            starts.append(ii), limits.append(ii + 1), strides.append(1), rev.append(False)
            int_dims.append(d)
        d += 1
    y = x
    rev_dims = tuple(k for k, r in enumerate(rev) if r)
    if rev_dims:
        y = bind("reverse", y, dimensions=rev_dims)
    if any(s != 0 for s in starts) or any(l != n for l, n in zip(limits, t.shape)) or any(s != 1 for s in strides):
        y = bind("slice", y, start_indices=tuple(starts), limit_indices=tuple(limits), strides=tuple(strides))
    # 2. the integer array, on its (sliced) dimension
    if gather_dim is not None:
        ind = index_operand(items[arrays[0]])
        ind_t = type_of(ind)
        if not ind_t.dtype.is_int:
            raise IndexError("array indices must be integers")
        n = type_of(y).shape[gather_dim]
        if not is_tensor(ind):
            ind = np.asarray(ind)
            if ind.size and (ind.min() < -n or ind.max() >= n):
                raise IndexError(f"index out of bounds for axis {gather_dim} with size {n}")
            ind = np.where(ind < 0, ind + n, ind).astype(ind.dtype)
        else:
            zero = lax.full_like(ind, 0)
            ind = bind("select", bind("compare", ind, zero, direction="LT"),
                       bind("add", ind, lax.full_like(ind, n)), ind)
        y = bind("gather", y, ind, axis=gather_dim)
        g_shape = ind_t.shape
    # 3. final shape: drop int-indexed dims, insert new axes
    ys = type_of(y).shape
    final = []
    for entry in out_shape:
        if entry[0] == "new":
            final.append(1)
        elif entry[0] == "dim":
            final.extend([entry[2]])
        else:
            final.extend(g_shape)
    final = tuple(final)
    if gather_dim is not None and int_dims and not _adjacent_advanced(items, arrays[0]):
        # NumPy puts the index dimensions first when advanced indices are separated by a slice
        y = bind("reshape", y, shape=final) if ys != final else y
        g_pos = [e[0] for e in out_shape].index("gather")
        nd = len(g_shape)
        perm = list(range(g_pos, g_pos + nd)) + [i for i in range(len(final)) if not g_pos <= i < g_pos + nd]
        return lax.transpose(y, perm)
    if ys != final:
        y = bind("reshape", y, shape=final)
    return y


def _advanced_plan(x, items):
    """Split `items` into slices (applied first) and advanced indices (ints and integer arrays).

    Returns (y, tokens, dims, flat, S): y is x with the slices applied (same rank); tokens list the
    output layout in item order ("dim", d) / ("new",) / ("adv", d); dims are the advanced dimensions;
    flat is the row-major flat index into those dimensions, broadcast to the common index shape S.
    """
    basic, adv, tokens = [], {}, []
    d = 0
    for i in items:
        if i is None:
            tokens.append(("new",))
            continue
        if isinstance(i, slice):
            basic.append(i)
            tokens.append(("dim", d))
        else:
            basic.append(slice(None))
            adv[d] = i
            tokens.append(("adv", d))
        d += 1
    y = getitem(x, tuple(basic)) if any(b != slice(None) for b in basic) else x
    ys = type_of(y).shape
    dims = sorted(adv)
    inds = []
    for dd in dims:
        i, n = adv[dd], ys[dd]
        if is_tensor(i) or isinstance(i, (list, tuple, np.ndarray)):
            ind = index_operand(i)
            if not type_of(ind).dtype.is_int:
                raise IndexError("arrays used as indices must be of integer type")
        else:
            try:
                ind = np.asarray(int(i.__index__()), np.int64)
            except (AttributeError, TypeError):
                raise IndexError(f"only integers, slices, None, Ellipsis and integer arrays are valid indices, "
                                 f"got {i!r}") from None
        if is_tensor(ind):
            ind = lax.convert(ind, "int64")
            ind = bind("select", bind("compare", ind, lax.full_like(ind, 0), direction="LT"),
                       bind("add", ind, lax.full_like(ind, n)), ind)
        else:
            ind = np.asarray(ind, np.int64)
            if ind.size and (ind.min() < -n or ind.max() >= n):
                bad = int(ind.max() if ind.max() >= n else ind.min())
                raise IndexError(f"index {bad} is out of bounds for axis {dd} with size {n}")
            ind = np.where(ind < 0, ind + n, ind)
        inds.append(ind)
    S = lax.broadcast_shapes(*[type_of(i).shape for i in inds])
    flat, stride = None, 1
    for dd, ind in reversed(list(zip(dims, inds))):
        term = ind if stride == 1 else multiply(ind, stride)
        flat = term if flat is None else add(flat, term)
        stride *= ys[dd]
    flat = lax.broadcast_to(flat, S)
    return y, tokens, dims, flat, S


def _advanced_adjacent(tokens) -> bool:
    pos = [k for k, tok in enumerate(tokens) if tok[0] == "adv"]
    return pos == list(range(pos[0], pos[-1] + 1))


def _getitem_multi(x, items):
    """Several integer arrays (and ints): merge the indexed dimensions into one, gather on it."""
    y, tokens, dims, flat, S = _advanced_plan(x, items)
    ys = type_of(y).shape
    rest = [d for d in range(len(ys)) if d not in dims]
    merged = lax.reshape(lax.transpose(y, dims + rest), (int(np.prod([ys[d] for d in dims])),) +
                         tuple(ys[d] for d in rest))
    g = bind("gather", merged, flat, axis=0)  # S + rest
    adjacent = _advanced_adjacent(tokens)
    first = [k for k, tok in enumerate(tokens) if tok[0] == "adv"][0]
    pos = sum(1 for tok in tokens[:first] if tok[0] == "dim") if adjacent else 0
    ns = len(S)
    perm = list(range(ns, ns + pos)) + list(range(ns)) + list(range(ns + pos, ns + len(rest)))
    g = lax.transpose(g, perm)
    final = [] if adjacent else list(S)
    placed = not adjacent
    for tok in tokens:
        if tok[0] == "dim":
            final.append(ys[tok[1]])
        elif tok[0] == "new":
            final.append(1)
        elif not placed:
            final.extend(S)
            placed = True
    return lax.reshape(g, tuple(final))


def _update_multi(x, items, values, kind):
    """`.at[...]` with several integer arrays and full slices elsewhere: scatter on the merged dimensions."""
    if any(i is None for i in items) or any(isinstance(i, slice) and i != slice(None) for i in items):
        raise NotImplementedError("x.at[...] with several integer arrays needs full slices (:) elsewhere")
    t = type_of(x)
    _, tokens, dims, flat, S = _advanced_plan(x, items)
    rest = [d for d in range(t.ndim) if d not in dims]
    merged = lax.reshape(lax.transpose(x, dims + rest), (int(np.prod([t.shape[d] for d in dims])),) +
                         tuple(t.shape[d] for d in rest))
    adjacent = _advanced_adjacent(tokens)
    pos = sum(1 for d in rest if d < dims[0]) if adjacent else 0
    ns = len(S)
    rest_shape = tuple(t.shape[d] for d in rest)
    view_shape = rest_shape[:pos] + tuple(S) + rest_shape[pos:]
    vals = lax.broadcast_to(lax.convert(values, t.dtype), view_shape)
    perm = list(range(pos, pos + ns)) + list(range(pos)) + list(range(pos + ns, ns + len(rest)))
    vals = lax.transpose(vals, perm)
    out = bind("scatter", merged, flat, vals, axis=0, kind=kind)
    out = lax.reshape(out, tuple(t.shape[d] for d in dims) + rest_shape)
    inverse = np.argsort(dims + rest)
    return lax.transpose(out, tuple(int(i) for i in inverse))


def _adjacent_advanced(items, array_pos) -> bool:
    adv = [k for k, i in enumerate(items) if i is not None and not isinstance(i, slice)]
    return adv == list(range(adv[0], adv[-1] + 1))


class _AtIndexer:
    def __init__(self, x):
        self.x = x

    def __getitem__(self, idx):
        return BasicAtRef(self.x, idx)


class BasicAtRef:
    def __init__(self, x, idx):
        self.x, self.idx = x, idx

    def get(self):
        return getitem(self.x, self.idx)

    def set(self, values):
        return update_at(self.x, self.idx, values, "set")

    def add(self, values):
        return update_at(self.x, self.idx, values, "add")

    def multiply(self, values):
        """x[idx] * values written back; a position named twice in idx is multiplied once."""
        cur = getitem(self.x, self.idx)
        return update_at(self.x, self.idx, multiply(cur, values), "set")

    def subtract(self, values):
        return update_at(self.x, self.idx, negative(lax.operand(values)), "add")


def update_at(x, idx, values, kind):
    """Scatter `values` into x[idx]: one integer array on one axis, or basic indices."""
    x = lax.operand(x)
    t = type_of(x)
    items = expand_index(masks_to_indices(idx, t.shape), t.ndim)
    arrays = [k for k, i in enumerate(items) if i is not None and not isinstance(i, slice) and is_int_array(i)]
    if any(i is None for i in items):
        raise NotImplementedError("x.at[...] with None (newaxis) is not supported")
    if not arrays and all(isinstance(i, slice) or not is_int_array(i) for i in items):
        # basic indexing: scatter through an iota of the flat positions
        pos = np.arange(t.size, dtype=np.int64).reshape(t.shape)
        sel = pos[tuple(items)]
        arrays_idx = sel.reshape(-1)
        flat = lax.reshape(x, (t.size,))
        vals = lax.broadcast_to(lax.convert(values, t.dtype), sel.shape)
        vals = lax.reshape(vals, (arrays_idx.size,))
        if arrays_idx.size == 0:
            return x
        out = bind("scatter", flat, arrays_idx, vals, axis=0, kind=kind)
        return lax.reshape(out, t.shape)
    scalars = [k for k, i in enumerate(items) if i is not None and not isinstance(i, slice) and k not in arrays]
    if len(arrays) > 1 or (arrays and scalars):
        return _update_multi(x, items, values, kind)
    if len(arrays) != 1 or any(not (isinstance(i, slice) and i == slice(None)) for k, i in enumerate(items) if k != arrays[0]):
        raise NotImplementedError("x.at[...] supports basic indices, or one integer array on one axis "
                                  "with full slices elsewhere")
    axis = arrays[0]
    ind = index_operand(items[axis])
    n = t.shape[axis]
    if is_tensor(ind):
        ind = bind("select", bind("compare", ind, lax.full_like(ind, 0), direction="LT"),
                   bind("add", ind, lax.full_like(ind, n)), ind)
        in_range = None  # known only when the graph runs
    else:
        ind = np.where(ind < 0, ind + n, ind)
        in_range = bool(np.all((ind >= 0) & (ind < n)))
    upd_shape = t.shape[:axis] + type_of(ind).shape + t.shape[axis + 1:]
    vals = lax.broadcast_to(lax.convert(values, t.dtype), upd_shape)
    if in_range:
        return bind("scatter", x, ind, vals, axis=axis, kind=kind)
    return _scatter_dropping_out_of_range(x, ind, vals, axis, kind)


def _scatter_dropping_out_of_range(x, ind, vals, axis, kind):
    """JAX's `.at[]` semantics: updates at indices outside [0, n) are dropped, not clamped.

    The IR's scatter clamps (it is the transpose of the clamping gather), so
    out-of-range indices are sent to one extra slot past the end, cut off after.
    """
    t = type_of(x)
    n = t.shape[axis]
    lo, hi = [0] * t.ndim, [0] * t.ndim
    hi[axis] = 1
    padded = bind("pad", x, np.zeros((), t.dtype.np), edge_padding_low=tuple(lo), edge_padding_high=tuple(hi))
    if is_tensor(ind):
        it = type_of(ind)
        bad = bind("or", bind("compare", ind, lax.full_like(ind, 0), direction="LT"),
                   bind("compare", ind, lax.full_like(ind, n), direction="GE"))
        ind = bind("select", bad, lax.full(it.shape, n, it.dtype), ind)
    else:
        ind = np.where((ind < 0) | (ind >= n), n, ind)
    out = bind("scatter", padded, ind, vals, axis=axis, kind=kind)
    limit = list(type_of(out).shape)
    limit[axis] = n
    return bind("slice", out, start_indices=(0,) * t.ndim, limit_indices=tuple(limit), strides=(1,) * t.ndim)


__all__ = ["take", "take_along_axis", "put_along_axis", "compress", "choose", "fill_diagonal", "put", "putmask",
           "place", "copyto"]
