"""Differences, integrals and signals: diff, ediff1d, gradient, trapezoid, unwrap, convolve,
correlate, interp.
"""

from __future__ import annotations

import builtins

import numpy as np

from ...ir import dtype as as_dtype
from .. import lax
from ..core import bind, is_tensor, type_of
from ..lax_conv import conv_general_dilated
from ..lax import broadcast_to, convert, float_operand, normalize_axes, normalize_axis, operand, result_type as _promote
from .ufuncs import (F64, absolute, add, divide, equal, greater, less, logical_and, multiply, not_equal, remainder,
                     subtract, where)
from .shapes import concatenate, ravel, reshape
from .reductions import cumsum, sum
from .indexing import take
from .manipulation import flip, slice_axis
from .sorting import searchsorted


# --- differences -------------------------------------------------------------------------------

def diff(a, n=1, axis=-1, prepend=None, append=None):
    x = operand(a)
    t = type_of(x)
    if n < 0:
        raise ValueError(f"order must be non-negative but got {n}")
    if t.ndim == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = normalize_axis(axis, t.ndim)

    def edge(v):
        v = operand(v)
        shape = t.shape[:axis] + (1,) + t.shape[axis + 1:]
        return broadcast_to(v, shape) if type_of(v).ndim == 0 else v

    parts = ([edge(prepend)] if prepend is not None else []) + [x] + ([edge(append)] if append is not None else [])
    if len(parts) > 1:
        x = concatenate(parts, axis=axis)
    for _ in range(n):
        m = type_of(x).shape[axis]
        hi, lo = slice_axis(x, axis, 1, m), slice_axis(x, axis, 0, builtins.max(m - 1, 0))
        x = not_equal(hi, lo) if type_of(x).dtype.is_bool else subtract(hi, lo)
    return x


def ediff1d(ary, to_end=None, to_begin=None):
    d = diff(ravel(ary))
    parts = ([ravel(to_begin)] if to_begin is not None else []) + [d] + ([ravel(to_end)] if to_end is not None else [])
    return concatenate(parts) if len(parts) > 1 else d


def interp(x, xp, fp, left=None, right=None, period=None):
    """Linear interpolation (xp increasing), with the segment found by counting."""
    if period is not None:
        raise NotImplementedError("interp with period is not supported yet")
    xx, xpp, fpp = float_operand(x), float_operand(xp), float_operand(fp)
    n = type_of(xpp).shape[0]
    if type_of(xpp).ndim != 1 or type_of(fpp).shape != (n,):
        raise ValueError("fp and xp are not of the same length.")
    if n == 0:
        raise ValueError("array of sample points is empty")
    dt = _promote(xx, xpp, fpp)
    xx, xpp, fpp = convert(xx, dt), convert(xpp, dt), convert(fpp, dt)
    f0, fl = reshape(slice_axis(fpp, 0, 0, 1), ()), reshape(slice_axis(fpp, 0, n - 1, n), ())
    lval = f0 if left is None else convert(left, dt)
    rval = fl if right is None else convert(right, dt)
    if n == 1:
        y = broadcast_to(f0, type_of(xx).shape)
    else:
        j = subtract(searchsorted(xpp, xx, side="right"), 1)
        j = bind("clamp", lax.full_like(j, 0), j, lax.full_like(j, n - 2)) if is_tensor(j) else np.clip(j, 0, n - 2)
        x0, x1 = take(xpp, j), take(xpp, add(j, 1))
        y0, y1 = take(fpp, j), take(fpp, add(j, 1))
        slope = divide(subtract(y1, y0), subtract(x1, x0))
        y = add(multiply(slope, subtract(xx, x0)), y0)
        y = where(equal(xx, reshape(slice_axis(xpp, 0, n - 1, n), ())), fl, y)
    xp0, xpl = reshape(slice_axis(xpp, 0, 0, 1), ()), reshape(slice_axis(xpp, 0, n - 1, n), ())
    y = where(less(xx, xp0), lval, y)
    return where(greater(xx, xpl), rval, y)


# --- convolution, integration, gradients ----------------------------------------------------------

def convolve(a, v, mode="full"):
    """1-d convolution: one `convolution` node (the kernel flipped, padded by len(v) - 1 each side)."""
    x, w = operand(a), operand(v)
    if type_of(x).ndim != 1 or type_of(w).ndim != 1:
        raise ValueError("object too deep for desired array: convolve takes 1-d arrays")
    n, m = type_of(x).shape[0], type_of(w).shape[0]
    if n == 0 or m == 0:
        raise ValueError("v cannot be empty" if m == 0 else "a cannot be empty")
    dt = _promote(x, w)
    if dt.is_bool:
        dt = as_dtype("int64")
    x, w = convert(x, dt), convert(w, dt)
    L = n + m - 1
    full = conv_general_dilated(reshape(x, (1, 1, n)), reshape(flip(w), (1, 1, m)), (1,), ((m - 1, m - 1),))
    full = reshape(full, (L,))
    if mode == "full":
        return full
    lo = builtins.min(n, m)
    if mode == "same":
        start, length = (lo - 1) // 2, builtins.max(n, m)
    elif mode == "valid":
        start, length = lo - 1, builtins.max(n, m) - lo + 1
    else:
        raise ValueError(f"mode must be one of 'full', 'same' or 'valid', got {mode!r}")
    return slice_axis(full, 0, start, start + length)


def correlate(a, v, mode="valid"):
    return convolve(a, flip(operand(v)), mode)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    yy = operand(y)
    t = type_of(yy)
    axis = normalize_axis(axis, t.ndim)
    n = t.shape[axis]
    if x is None:
        d = dx
    else:
        xx = operand(x)
        d = diff(xx) if type_of(xx).ndim == 1 else diff(xx, axis=axis)
        if type_of(xx).ndim == 1 and t.ndim > 1:
            shape = [1] * t.ndim
            shape[axis] = type_of(d).shape[0]
            d = reshape(d, shape)
    mid = divide(add(slice_axis(yy, axis, 1, n), slice_axis(yy, axis, 0, builtins.max(n - 1, 0))), 2.0)
    return sum(multiply(d, mid), axis=axis)


trapz = trapezoid


def gradient(f, *varargs, axis=None, edge_order=1):
    """Second-order central differences inside, first- or second-order one-sided at the edges (scalar spacing)."""
    x = operand(f)
    t = type_of(x)
    axes = normalize_axes(axis, t.ndim)
    if len(varargs) == 0:
        spacing = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0 and not is_tensor(varargs[0]):
        spacing = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes) and builtins.all(np.ndim(v) == 0 and not is_tensor(v) for v in varargs):
        spacing = list(varargs)
    else:
        raise NotImplementedError("gradient supports scalar spacings only (no coordinate arrays) yet")
    if edge_order not in (1, 2):
        raise ValueError("'edge_order' greater than 2 not supported")
    if not t.dtype.is_float:
        x = convert(x, F64)
    out = []
    for ax, h in zip(axes, spacing):
        n = t.shape[ax]
        if n < edge_order + 1:
            raise ValueError("Shape of array too small to calculate a numerical gradient, "
                             "at least (edge_order + 1) elements are required.")
        h = float(h)
        inner = divide(subtract(slice_axis(x, ax, 2, n), slice_axis(x, ax, 0, n - 2)), 2.0 * h)
        if edge_order == 1:
            first = divide(subtract(slice_axis(x, ax, 1, 2), slice_axis(x, ax, 0, 1)), h)
            last = divide(subtract(slice_axis(x, ax, n - 1, n), slice_axis(x, ax, n - 2, n - 1)), h)
        else:
            a, b, c = -1.5 / h, 2.0 / h, -0.5 / h
            first = add(add(multiply(a, slice_axis(x, ax, 0, 1)), multiply(b, slice_axis(x, ax, 1, 2))),
                        multiply(c, slice_axis(x, ax, 2, 3)))
            a, b, c = 0.5 / h, -2.0 / h, 1.5 / h
            last = add(add(multiply(a, slice_axis(x, ax, n - 3, n - 2)), multiply(b, slice_axis(x, ax, n - 2, n - 1))),
                       multiply(c, slice_axis(x, ax, n - 1, n)))
        out.append(concatenate([first, inner, last], axis=ax))
    return out[0] if len(out) == 1 else tuple(out)


def unwrap(p, discont=None, axis=-1, *, period=2 * np.pi):
    """NumPy's unwrap: jumps larger than discont become their period-wrapped value, accumulated."""
    x = float_operand(p)
    t = type_of(x)
    axis = normalize_axis(axis, t.ndim)
    n = t.shape[axis]
    if n < 2:
        return x
    half = period / 2
    discont = half if discont is None else builtins.max(discont, half)
    dd = diff(x, axis=axis)
    ddmod = subtract(remainder(add(dd, half), period), half)
    ddmod = where(logical_and(equal(ddmod, -half), greater(dd, 0)), lax.full_like(ddmod, half), ddmod)
    corr = subtract(ddmod, dd)
    corr = where(less(absolute(dd), discont), lax.full_like(corr, 0), corr)
    rest = add(slice_axis(x, axis, 1, n), cumsum(corr, axis=axis))
    return concatenate([slice_axis(x, axis, 0, 1), rest], axis=axis)


__all__ = ["diff", "ediff1d", "interp", "convolve", "correlate", "trapezoid", "trapz", "gradient", "unwrap"]
