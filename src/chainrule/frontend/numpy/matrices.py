"""Triangles and diagonals: tri, tril, triu, diagonal, diag, diagflat, trace.
"""

from __future__ import annotations

import builtins

import numpy as np

from ...ir import dtype as as_dtype
from ..core import bind, type_of
from ..lax import broadcast_to, normalize_axis, operand
from .ufuncs import where
from .shapes import ravel, reshape, transpose
from .reductions import sum
from .manipulation import static_int, slice_axis


# --- triangles and diagonals ---------------------------------------------------------------

def tri(N, M=None, k=0, dtype=float):
    return np.tri(N, M, k, dtype=as_dtype(dtype).np)


def _tri_mask(x, k, lower):
    t = type_of(x)
    if t.ndim < 2:
        raise ValueError("input array must be at least 2-d")
    n, m = t.shape[-2:]
    mask = np.tri(n, m, k, dtype=bool) if lower else ~np.tri(n, m, k - 1, dtype=bool)
    return where(mask, x, np.zeros((), t.dtype.np))


def tril(m, k=0):
    x = operand(m)
    if type_of(x).ndim == 1:
        x = broadcast_to(x, (type_of(x).shape[0],) * 2)
    return _tri_mask(x, static_int(k, "k"), True)


def triu(m, k=0):
    x = operand(m)
    if type_of(x).ndim == 1:
        x = broadcast_to(x, (type_of(x).shape[0],) * 2)
    return _tri_mask(x, static_int(k, "k"), False)


def diagonal(a, offset=0, axis1=0, axis2=1):
    """The diagonal as the last axis: square the two axes, flatten them, slice with stride n + 1."""
    x = operand(a)
    t = type_of(x)
    if t.ndim < 2:
        raise ValueError("diag requires an array of at least two dimensions")
    a1, a2 = normalize_axis(axis1, t.ndim), normalize_axis(axis2, t.ndim)
    if a1 == a2:
        raise ValueError("axis1 and axis2 cannot be the same")
    offset = static_int(offset, "offset")
    rest = [i for i in range(t.ndim) if i not in (a1, a2)]
    x = transpose(x, rest + [a1, a2])
    nd = t.ndim
    r, c = t.shape[a1], t.shape[a2]
    if offset >= 0:
        x = slice_axis(x, nd - 1, builtins.min(offset, c), c)
    else:
        x = slice_axis(x, nd - 2, builtins.min(-offset, r), r)
    r, c = type_of(x).shape[-2:]
    L = builtins.min(r, c)
    x = slice_axis(slice_axis(x, nd - 2, 0, L), nd - 1, 0, L)
    batch = type_of(x).shape[:-2]
    if L == 0:
        return reshape(x, batch + (0,))
    flat = reshape(x, batch + (L * L,))
    return slice_axis(flat, nd - 2, 0, L * L, L + 1)


def diag(v, k=0):
    x = operand(v)
    t = type_of(x)
    k = static_int(k, "k")
    if t.ndim == 2:
        return diagonal(x, k)
    if t.ndim != 1:
        raise ValueError("Input must be 1- or 2-d.")
    n = t.shape[0]
    m = n + builtins.abs(k)
    vp = bind("pad", x, np.zeros((), t.dtype.np), edge_padding_low=(0,), edge_padding_high=(m - n,))
    # row i holds v[i] on row-indexed diagonals (k >= 0), column j holds v[j] otherwise
    grid = broadcast_to(reshape(vp, (m, 1)) if k >= 0 else vp, (m, m))
    return where(np.eye(m, m, k, dtype=bool), grid, np.zeros((), t.dtype.np))


def diagflat(v, k=0):
    return diag(ravel(v), k)


def trace(a, offset=0, axis1=0, axis2=1, dtype=None):
    return sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


__all__ = ["tri", "tril", "triu", "diagonal", "diag", "diagflat", "trace"]
