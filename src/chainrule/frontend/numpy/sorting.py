"""Sorting and searching: sort, argsort, lexsort, partition, argpartition, searchsorted, digitize, isin.

Everything here is the IR's `sort` op (chainrule.ir.sort_ops, as jax.lax.sort):
one node whatever the length, a stable radix sort on the llvm backend, lax.sort
on jax. Order is NumPy's: NaN sorts last, -0.0 ties with 0.0, equal values keep
their order (NumPy's kind="stable", whatever `kind` says). `argsort` sorts an
iota along with the values; derivatives flow through the permutation (the op's
JVP gathers the tangents by it).

`searchsorted` sorts `a` and `v` together with a tag that puts each `v` before
(side="left") or after (side="right") the equal elements of `a`: a value's
position in that order minus its rank among the `v`s is its insertion point.
Two sorts and two scatters, however long `a` and `v` are.
"""

from __future__ import annotations

import numpy as np

from .. import lax
from ..core import bind, is_tensor, type_of
from ..lax import convert, normalize_axis, operand, result_type as _promote
from .ufuncs import equal, logical_not, subtract
from .shapes import concatenate, ravel, reshape
from .reductions import any as _any
from .indexing import take, take_along_axis
from .manipulation import flip


def _iota(shape, axis, dt="int64"):
    return bind("iota", shape=tuple(shape), dimension=axis, dtype=dt)


def _inverse_permutation(perm):
    """inv with inv[perm[i]] = i (perm: a 1-d int64 permutation)."""
    n = type_of(perm).shape[0]
    return bind("scatter", lax.full((n,), 0, "int64"), perm, _iota((n,), 0), axis=0, kind="set")


# --- searching -------------------------------------------------------------------------------------

def searchsorted(a, v, side="left", sorter=None, *, method=None):
    """Insertion points of `v` in the sorted 1-d `a` (int64), as NumPy: NaN sorts last. `method` (JAX's)
    is accepted and ignored: this is always the sort-based search (see the module docstring)."""
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right' (got {side!r})")
    aa = operand(a)
    if type_of(aa).ndim != 1:
        raise ValueError("object too deep for desired array: a must be 1-d")
    if sorter is not None:
        aa = take(aa, sorter)
    vv = operand(v) if not lax.is_weak(v) else v
    dt = _promote(aa, vv)
    aa, vv = convert(aa, dt), convert(vv, dt)
    vshape = type_of(vv).shape
    n, m = type_of(aa).shape[0], int(np.prod(vshape))
    if n == 0 or m == 0:
        return lax.full(vshape, 0, "int64")
    vf = reshape(vv, (m,))
    before, after = (np.int32(1), np.int32(0)) if side == "left" else (np.int32(0), np.int32(1))
    tag = concatenate([lax.full((n,), before, "int32"), lax.full((m,), after, "int32")])
    _, _, perm = bind("sort", concatenate([aa, vf]), tag, _iota((n + m,), 0), dimension=0, num_keys=2)
    where_v = lax.reshape(bind("slice", _inverse_permutation(perm), start_indices=(n,), limit_indices=(n + m,),
                               strides=(1,)), (m,))
    _, vperm = bind("sort", vf, _iota((m,), 0), dimension=0)
    return reshape(subtract(where_v, _inverse_permutation(vperm)), vshape)


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


# --- sorting ---------------------------------------------------------------------------------------

def sort_last_axis(x, with_indices=False):
    """Sort along the last axis; returns (values, int64 indices or None)."""
    x = operand(x)
    t = type_of(x)
    if not with_indices:
        return bind("sort", x, dimension=t.ndim - 1), None
    return bind("sort", x, _iota(t.shape, t.ndim - 1), dimension=t.ndim - 1)


def _along(a, axis):
    x = operand(a)
    if axis is None:
        return ravel(x), 0
    if type_of(x).ndim == 0:
        raise ValueError("Cannot sort a 0-d array")
    return x, normalize_axis(axis, type_of(x).ndim)


def _check_kind(kind, order, name):
    if order is not None:
        raise NotImplementedError(f"{name}(order=...) applies to structured arrays, which chainrule does not have")
    if kind not in (None, "quicksort", "mergesort", "heapsort", "stable"):
        raise ValueError(f"{name}: kind must be one of 'quicksort', 'mergesort', 'heapsort', 'stable' (got {kind!r})")


def _sorted(x, *carried, dimension):
    """The `sort` op on x and `carried`; complex x sorts by its real part, then its imaginary part
    (NumPy's order), through two real keys. Returns the sorted x and carried operands."""
    if not type_of(x).dtype.is_complex:
        out = bind("sort", x, *carried, dimension=dimension)
        return out if carried else (out,)
    t = type_of(x)
    perm = bind("sort", bind("real", x), bind("imag", x), _iota(t.shape, dimension), dimension=dimension,
                num_keys=2)[2]
    return tuple(take_along_axis(v, perm, axis=dimension) for v in (x,) + carried)


def sort(a, axis=-1, kind=None, order=None, stable=None, *, descending=False):
    """Sorted along `axis` (every `kind` is the one stable sort). descending=True (as JAX and the array
    API): the ascending order reversed, so NaN comes first."""
    _check_kind(kind, order, "sort")
    x, axis = _along(a, axis)
    y = _sorted(x, dimension=axis)[0]
    return bind("reverse", y, dimensions=(axis,)) if descending else y


def argsort(a, axis=-1, kind=None, order=None, stable=None, *, descending=False):
    """Stable argsort (ties keep their order, as NumPy's kind='stable'), also when descending (as JAX):
    the reversed input is sorted and its positions mapped back, so equal values keep their order."""
    _check_kind(kind, order, "argsort")
    x, axis = _along(a, axis)
    t = type_of(x)
    if not descending:
        return _sorted(x, _iota(t.shape, axis), dimension=axis)[1]
    n = t.shape[axis]
    _, i = _sorted(bind("reverse", x, dimensions=(axis,)), _iota(t.shape, axis), dimension=axis)
    return bind("reverse", subtract(np.int64(n - 1), i), dimensions=(axis,))


def lexsort(keys, axis=-1):
    """Indices that sort by the last key, then the one before, ... (np.lexsort), stably."""
    if is_tensor(keys) or isinstance(keys, np.ndarray):
        k = operand(keys)
        if type_of(k).ndim == 0:
            raise TypeError("lexsort: keys must have at least one dimension")
        ks = [lax.reshape(bind("slice", k, start_indices=(i,) + (0,) * (type_of(k).ndim - 1),
                                limit_indices=type_of(k).shape[:0] + (i + 1,) + type_of(k).shape[1:],
                                strides=(1,) * type_of(k).ndim), type_of(k).shape[1:])
              for i in range(type_of(k).shape[0])]
    else:
        ks = [operand(k) for k in keys]
    if not ks:
        raise TypeError("need sequence of keys with len > 0 in lexsort")
    shape = lax.broadcast_shapes(*(type_of(k).shape for k in ks))
    if not shape:
        raise ValueError("lexsort: the keys must have at least one dimension")
    ks = [lax.broadcast_to(k, shape) for k in ks]
    axis = normalize_axis(axis, len(shape))
    out = bind("sort", *reversed(ks), _iota(shape, axis), dimension=axis, num_keys=len(ks))
    return out[-1]


def _check_kth(kth, n, name):
    if isinstance(kth, bool) or not isinstance(kth, (int, np.integer)):
        raise TypeError(f"{name}: kth must be an integer (a sequence of kth is not supported), got {kth!r}")
    if not -n <= kth < n:
        raise ValueError(f"{name}: kth(={kth}) out of bounds ({n})")


def partition(a, kth, axis=-1):
    """An arrangement with the kth smallest value at index kth, the smaller ones before it and the larger
    ones after: the fully sorted array (one sort op), a valid partition."""
    x, ax = _along(a, axis)
    _check_kth(kth, type_of(x).shape[ax], "partition")
    return sort(x, ax)


def argpartition(a, kth, axis=-1, kind="introselect", order=None):
    """Indices that partition `a` around its kth smallest value (the stable argsort, a valid one)."""
    if order is not None:
        raise NotImplementedError("argpartition(order=...) applies to structured arrays, which chainrule does not have")
    x, ax = _along(a, axis)
    _check_kth(kth, type_of(x).shape[ax], "argpartition")
    return argsort(x, ax)


def sort_complex(a):
    """Sorted by real part, then imaginary part, as complex (np.sort_complex)."""
    x = operand(a)
    if not type_of(x).dtype.is_complex:
        small = type_of(x).dtype.np.char in "bhBH"  # NumPy's rule: 8/16-bit integers -> complex64
        x = convert(x, "complex64" if small else "complex128")
    return sort(x, axis=-1)


__all__ = ["searchsorted", "isin", "digitize", "sort_last_axis", "sort", "argsort", "lexsort", "partition",
           "argpartition", "sort_complex"]
