"""Functions of functions: vectorize, apply_along_axis, apply_over_axes, piecewise, select,
fromfunction.
"""

from __future__ import annotations

import numpy as np

from ...ir import dtype as as_dtype
from .. import lax
from ..core import is_tensor, type_of
from ..lax import convert, normalize_axis, operand, result_type as _promote
from ..pytree import tree_map
from ..vmap import vmap
from .ufuncs import logical_not, where
from .shapes import moveaxis, reshape, stack
from .reductions import any as _any
from .manipulation import slice_axis


def select(condlist, choicelist, default=0):
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    if not condlist:
        raise ValueError("select with an empty condition list is not possible")
    choices = [operand(c) for c in choicelist] + [operand(default)]
    dt = _promote(*choices)
    out = convert(choices[-1], dt)
    for cond, choice in zip(reversed(condlist), reversed(choices[:-1])):
        c = operand(cond)
        if not type_of(c).dtype.is_bool:
            raise TypeError(f"invalid entry in condlist: should be boolean ndarray, got {type_of(c).dtype.name}")
        out = where(c, convert(choice, dt), out)
    return out


# --- functions of functions ------------------------------------------------------------------------

def piecewise(x, condlist, funclist, *args, **kw):
    """NumPy's piecewise as a chain of selects; each function sees the whole array (results are masked)."""
    xx = operand(x)
    if is_tensor(condlist) or (isinstance(condlist, np.ndarray) and condlist.dtype == np.bool_) or (
            not isinstance(condlist, (list, tuple))):
        condlist = [condlist]
    n = len(condlist)
    if len(funclist) not in (n, n + 1):
        raise ValueError(f"with {n} condition(s), either {n} or {n + 1} functions are expected")
    if len(funclist) == n + 1:
        otherwise = logical_not(_any(stack([lax.broadcast_to(operand(c), type_of(xx).shape) for c in condlist]),
                                     axis=0))
        condlist = list(condlist) + [otherwise]
    out = lax.full_like(xx, 0)
    for cond, fn in zip(condlist, funclist):
        val = fn(xx, *args, **kw) if callable(fn) else fn
        out = where(cond, convert(val, type_of(xx).dtype) if not lax.is_weak(val) else val, out)
    return out


def vectorize(pyfunc=None, otypes=None, doc=None, excluded=None, cache=False, signature=None):
    """A function applied elementwise (or per core shape, with `signature`) by cr.vmap over the loop axes."""
    if pyfunc is None:
        return lambda f: vectorize(f, otypes, doc, excluded, cache, signature)
    if excluded:
        raise NotImplementedError("vectorize(excluded=...) is not supported yet")
    core_dims = None
    if signature is not None:
        ins = signature.split("->")[0]
        core_dims = [len([d for d in part.strip("() ").split(",") if d.strip()]) for part in ins.split("),")]

    def mapped(*args):
        ops = [operand(a) for a in args]
        cores = core_dims or [0] * len(ops)
        loops = [type_of(o).shape[:type_of(o).ndim - c] for o, c in zip(ops, cores)]
        batch = lax.broadcast_shapes(*loops)
        ops = [lax.broadcast_to(o, batch + type_of(o).shape[len(l):]) for o, l, in zip(ops, loops)]
        n = int(np.prod(batch)) if batch else 1
        flat = [reshape(o, (n,) + type_of(o).shape[len(batch):]) for o in ops]
        out = vmap(pyfunc)(*flat) if n else pyfunc(*[slice_axis(f, 0, 0, 0) for f in flat])
        return tree_map(lambda r: reshape(r, batch + type_of(operand(r)).shape[1:]), out)
    mapped.__name__ = getattr(pyfunc, "__name__", "vectorized")
    mapped.__doc__ = doc or getattr(pyfunc, "__doc__", None)
    return mapped


def apply_along_axis(func1d, axis, arr, *args, **kwargs):
    """func1d on every 1-d slice along `axis`, by cr.vmap over the other axes; its result replaces the axis."""
    x = operand(arr)
    t = type_of(x)
    axis = normalize_axis(axis, t.ndim)
    xm = moveaxis(x, axis, -1)
    batch = type_of(xm).shape[:-1]
    n = int(np.prod(batch)) if batch else 1
    flat = reshape(xm, (n, t.shape[axis]))
    out = operand(vmap(lambda row: func1d(row, *args, **kwargs))(flat))
    res_core = type_of(out).shape[1:]
    out = reshape(out, batch + res_core)
    if not res_core:
        return out
    nb, nc = len(batch), len(res_core)
    perm = list(range(axis)) + list(range(nb, nb + nc)) + list(range(axis, nb))
    return lax.transpose(out, perm)


def fromfunction(function, shape, *, dtype=float, **kwargs):
    return function(*np.indices(tuple(shape), dtype=as_dtype(dtype).np), **kwargs)


def apply_over_axes(func, a, axes):
    x = operand(a)
    for ax in (axes if isinstance(axes, (list, tuple)) else [axes]):
        ax = normalize_axis(ax, type_of(x).ndim)
        r = operand(func(x, ax))
        if type_of(r).ndim == type_of(x).ndim - 1:
            r = reshape(r, type_of(r).shape[:ax] + (1,) + type_of(r).shape[ax:])
        elif type_of(r).ndim != type_of(x).ndim:
            raise ValueError("function is not returning an array of the correct shape")
        x = r
    return x


__all__ = ["select", "piecewise", "vectorize", "apply_along_axis", "fromfunction", "apply_over_axes"]
