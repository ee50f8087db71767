"""chainrule.lax, part two: map, associative_scan, the cumulative reductions, sort and top_k (jax.lax's names).

`associative_scan(fn, elems, reverse=False, axis=0)` is JAX's parallel prefix scan on pytrees: the
odd/even recursion of Blelloch (Ladner and Fischer) with O(log n) depth, so `fn` is applied to whole
slices at once and is called O(log n) times; `fn` must be associative and work elementwise on
batches of elements.
"""

from __future__ import annotations

import numpy as np

from . import pytree
from .core import bind, type_of
from .lax import convert, normalize_axis, operand
from .lax_ops import concatenate, rev, slice_in_dim
from .control_flow import scan
from .vmap import vmap
from .numpy.reductions import associative_scan as _doubling_scan
from .numpy.sorting import argsort, sort as _np_sort
from .numpy.indexing import take_along_axis
from .numpy.shapes import moveaxis
from .numpy.transcendental import logaddexp


def map(f, xs, *, batch_size=None):  # noqa: A001  (jax.lax's name)
    """[f(x) for x in xs] along the leading axis of the pytree xs, as a scan (jax.lax.map).

    batch_size=b maps `cr.vmap(f)` over chunks of b elements (the remainder is vmapped on its own)."""
    if batch_size is not None:
        leaves, tree = pytree.flatten(xs)
        n = type_of(leaves[0]).shape[0]
        b = int(batch_size)
        if b <= 0:
            raise ValueError(f"map: batch_size must be positive, got {batch_size}")
        full = (n // b) * b
        parts = []
        if full:
            chunked = [bind("reshape", slice_in_dim(x, 0, full), shape=(n // b, b) + type_of(x).shape[1:])
                       for x in leaves]
            ys = map(vmap(f), pytree.unflatten(tree, chunked))
            parts.append(pytree.tree_map(lambda y: bind("reshape", y, shape=(full,) + type_of(y).shape[2:]), ys))
        if n - full:
            rest = [slice_in_dim(x, full, n) for x in leaves]
            parts.append(vmap(f)(pytree.unflatten(tree, rest)))
        if len(parts) == 1:
            return parts[0]
        return pytree.tree_map(lambda a, c: concatenate([a, c], 0), parts[0], parts[1])
    _, ys = scan(lambda c, x: (c, f(x)), (), xs)
    return ys


def _interleave(a, b, axis):
    """a[0], b[0], a[1], b[1], ... along axis; a has as many elements as b or one more."""
    ta, tb = type_of(a), type_of(b)
    na, nb = ta.shape[axis], tb.shape[axis]
    head = slice_in_dim(a, 0, nb, axis=axis) if na != nb else a
    sa = ta.shape[:axis] + (nb, 1) + ta.shape[axis + 1:]
    pair = bind("concatenate", bind("reshape", head, shape=sa), bind("reshape", b, shape=sa), dimension=axis + 1)
    out = bind("reshape", pair, shape=ta.shape[:axis] + (2 * nb,) + ta.shape[axis + 1:])
    if na != nb:
        out = bind("concatenate", out, slice_in_dim(a, nb, na, axis=axis), dimension=axis)
    return out


def associative_scan(fn, elems, reverse=False, axis=0):
    """Inclusive scan of the associative `fn` over `axis` of the pytree `elems`, as jax.lax.associative_scan."""
    leaves, tree = pytree.flatten(elems)
    leaves = [operand(x) for x in leaves]
    if not leaves:
        return elems
    ndims = {type_of(x).ndim for x in leaves}
    nd = min(ndims)
    axis = normalize_axis(axis, nd)
    sizes = {type_of(x).shape[axis] for x in leaves}
    if len(sizes) != 1:
        raise ValueError(f"associative_scan: array inputs must have the same size along axis {axis}, got "
                         f"{[type_of(x).shape[axis] for x in leaves]}")
    if reverse:
        leaves = [rev(x, (axis,)) for x in leaves]

    def combine(a, b):
        out = fn(pytree.unflatten(tree, a), pytree.unflatten(tree, b))
        out_leaves, out_tree = pytree.flatten(out)
        if out_tree != tree:
            raise TypeError(f"associative_scan: fn must return a value of the structure of elems ({tree}), "
                            f"got {out_tree}")
        want = [type_of(x).shape for x in a]
        got = [type_of(x).shape for x in out_leaves]
        if got != want:
            raise TypeError(f"associative_scan: fn must work elementwise (shapes {want} in, got {got} out)")
        return [operand(x) for x in out_leaves]

    def scan_(xs):
        n = type_of(xs[0]).shape[axis]
        if n < 2:
            return xs
        reduced = combine([slice_in_dim(x, 0, n - 1, 2, axis) for x in xs], [slice_in_dim(x, 1, n, 2, axis) for x in xs])
        odd = scan_(reduced)
        if n % 2 == 0:
            m = type_of(odd[0]).shape[axis]
            even = combine([slice_in_dim(o, 0, m - 1, 1, axis) for o in odd], [slice_in_dim(x, 2, n, 2, axis) for x in xs])
        else:
            even = combine(odd, [slice_in_dim(x, 2, n, 2, axis) for x in xs])
        even = [bind("concatenate", slice_in_dim(x, 0, 1, 1, axis), e, dimension=axis) for x, e in zip(xs, even)]
        return [_interleave(e, o, axis) for e, o in zip(even, odd)]

    out = scan_(leaves)
    if reverse:
        out = [rev(x, (axis,)) for x in out]
    return pytree.unflatten(tree, out)


def _identity(kind, dt):
    if kind == "add":
        return 0
    if kind == "multiply":
        return 1
    lo = kind == "maximum"
    if dt.is_float:
        return -np.inf if lo else np.inf
    if dt.is_bool:
        return not lo
    info = np.iinfo(dt.np)
    return info.min if lo else info.max


def _cumulative(kind, name):
    def f(operand_, axis=0, reverse=False):
        x = operand(operand_)
        t = type_of(x)
        ax = normalize_axis(axis, t.ndim)
        if t.dtype.is_bool and kind in ("add", "multiply"):
            raise TypeError(f"{name}: bool operands are not supported (convert first)")
        if reverse:
            x = rev(x, (ax,))
        r = _doubling_scan(kind, x, ax, _identity(kind, t.dtype))
        return rev(r, (ax,)) if reverse else r
    f.__name__ = name
    f.__doc__ = f"The inclusive cumulative {kind} along `axis` (reverse=True from the end), as jax.lax.{name}."
    return f


cumsum = _cumulative("add", "cumsum")
cumprod = _cumulative("multiply", "cumprod")
cummax = _cumulative("maximum", "cummax")
cummin = _cumulative("minimum", "cummin")


def cumlogsumexp(operand_, axis=0, reverse=False):
    """log(cumsum(exp(x))) along `axis`, computed stably (log-depth scan of logaddexp)."""
    x = operand(operand_)
    if not type_of(x).dtype.is_float:
        raise TypeError(f"cumlogsumexp: needs a float operand, got {type_of(x).dtype}")
    return associative_scan(logaddexp, x, reverse=reverse, axis=axis)


def sort(operand_, dimension=-1, is_stable=True, num_keys=1):
    """Sorts one array, or several arrays by the first (num_keys=1), along `dimension`, as jax.lax.sort."""
    if isinstance(operand_, (tuple, list)):
        if num_keys != 1:
            raise NotImplementedError("sort: num_keys > 1 is not supported yet")
        ops = [operand(o) for o in operand_]
        order = argsort(ops[0], axis=dimension)
        return tuple(take_along_axis(o, order, axis=dimension) for o in ops)
    if num_keys != 1:
        raise ValueError("sort: num_keys must be 1 for a single operand")
    return _np_sort(operand(operand_), axis=dimension)


def sort_key_val(keys, values, dimension=-1, is_stable=True):
    k, v = sort((keys, values), dimension, is_stable)
    return k, v


def top_k(operand_, k, *, axis=-1):
    """The k largest entries along `axis` and their indices, largest first; ties go to the lower index."""
    x = operand(operand_)
    t = type_of(x)
    if t.ndim == 0:
        raise ValueError("top_k: operand must have at least one dimension")
    axis = normalize_axis(axis, t.ndim)
    k = int(k)
    if not 0 <= k <= t.shape[axis]:
        raise ValueError(f"top_k: k must be between 0 and the size of axis {axis} ({t.shape[axis]}), got {k}")
    xm = moveaxis(x, axis, -1)
    idx = argsort(xm, axis=-1, descending=True)
    idx = slice_in_dim(idx, 0, k, axis=type_of(idx).ndim - 1)
    vals = take_along_axis(xm, idx, axis=-1)
    return moveaxis(vals, -1, axis), moveaxis(convert(idx, "int32"), -1, axis)


__all__ = ["map", "associative_scan", "cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp", "sort",
           "sort_key_val", "top_k"]
