"""Reductions (sum, prod, mean, var, std, max, min, all, any, argmax, argmin, ptp, count_nonzero,
array_equal) and cumulative reductions (cumsum, cumprod, their NaN forms, associative_scan).

Cumulative operations: chainrule.numpy, cumulative operations by log-step doubling (Hillis-Steele).

`cumsum(x)` along an axis of length n takes ceil(log2 n) steps; step k adds
to x a copy of itself shifted by 2**k along the axis (a `pad` whose negative
high edge crops what falls off, whose low edge brings in the identity).
That is O(n log n) work in O(log n) ops, each one a primitive with a
derivative rule, so the scan differentiates without a scan op. Float sums
are associated differently from NumPy's left-to-right loop, so they agree to
rounding, not bit for bit; integer results are exact.
"""

from __future__ import annotations

import builtins

import numpy as np

from ...ir import dtype as as_dtype
from .. import lax
from ..core import bind, type_of
from ..lax import broadcast_to, convert, normalize_axes, normalize_axis, operand, reduce
from .ufuncs import (as_bool, add, equal, isclose, isnan, logical_and, logical_or, maximum, minimum, multiply,
                     not_equal, subtract, where)
from .transcendental import sqrt
from .shapes import ravel, reshape


# --- reductions ---------------------------------------------------------------------

def sum_dtype(x, dtype):
    if dtype is not None:
        return as_dtype(dtype)
    d = type_of(x).dtype
    if d.is_bool:
        return as_dtype("int64")
    if d.is_int and d.bits < 64:  # NumPy sums small ints in the platform integer
        return as_dtype("uint64" if d.is_unsigned else "int64")
    return d


def _no_out(out, name):
    if out is not None:
        raise TypeError(f"{name}(out=...) writes in place, which tensors cannot; use the returned value")


def _masked(x, where_, fill):
    """x where the mask holds, `fill` elsewhere (NumPy's where= of reductions)."""
    if where_ is None or where_ is True:
        return x
    m = broadcast_to(as_bool(where_), type_of(x).shape)
    return bind("select", m, x, lax.full_like(x, fill))


def _where_count(x, axis, keepdims, where_, dt):
    """Elements taking part in each reduction: a static count, or the mask summed."""
    if where_ is None or where_ is True:
        n = reduced_size(x, axis)
        return n
    m = convert(broadcast_to(as_bool(where_), type_of(x).shape), dt)
    return reduce(m, "sum", axis, keepdims)


def sum(a, axis=None, dtype=None, keepdims=False, *, out=None, initial=None, where=None):
    _no_out(out, "sum")
    x = operand(a)
    x = _masked(convert(x, sum_dtype(x, dtype)), where, 0)
    r = reduce(x, "sum", axis, keepdims)
    return r if initial is None else add(r, initial)


def prod(a, axis=None, dtype=None, keepdims=False, *, out=None, initial=None, where=None):
    _no_out(out, "prod")
    x = operand(a)
    x = _masked(convert(x, sum_dtype(x, dtype)), where, 1)
    r = reduce(x, "prod", axis, keepdims)
    return r if initial is None else multiply(r, initial)


def reduced_size(x, axis):
    t = type_of(x)
    axes = normalize_axes(axis, t.ndim)
    return int(np.prod([t.shape[a] for a in axes])) if axes else 1


def mean(a, axis=None, dtype=None, keepdims=False, *, out=None, where=None):
    _no_out(out, "mean")
    x = operand(a)
    d = as_dtype(dtype) if dtype is not None else type_of(x).dtype
    if not d.is_inexact:
        d = lax.default_float_type()
    out_d = d
    if d.is_narrow_float:  # NumPy: float16 means are computed in float32 and rounded once
        d = as_dtype("float32")
    x = convert(x, d)
    s = reduce(_masked(x, where, 0), "sum", axis, keepdims)
    n = _where_count(x, axis, keepdims, where, d)
    return convert(bind("divide", s, lax.full_like(s, n) if isinstance(n, int) else n), out_d)


def var(a, axis=None, dtype=None, ddof=0, keepdims=False, *, out=None, where=None, mean=None):
    _no_out(out, "var")
    x = operand(a)
    m = _mean(x, axis, dtype, keepdims=True, where=where) if mean is None else operand(mean)
    x = convert(x, type_of(m).dtype)
    dev = bind("subtract", x, broadcast_to(m, type_of(x).shape))
    if type_of(dev).dtype.is_complex:  # NumPy: the mean of |x - mean|^2, a real result
        dev = bind("abs", dev)
    s = reduce(_masked(bind("multiply", dev, dev), where, 0), "sum", axis, keepdims)
    n = _where_count(x, axis, keepdims, where, type_of(s).dtype)
    if isinstance(n, int):
        return bind("divide", s, lax.full_like(s, builtins.max(n - ddof, 0)))
    return bind("divide", s, maximum(bind("subtract", n, lax.full_like(n, ddof)), 0))


_mean = mean


def std(a, axis=None, dtype=None, ddof=0, keepdims=False, *, out=None, where=None, mean=None):
    return sqrt(var(a, axis, dtype, ddof, keepdims, out=out, where=where, mean=mean))


def _lowest(dt):
    return -np.inf if dt.is_float else (False if dt.is_bool else np.iinfo(dt.np).min)


def _highest(dt):
    return np.inf if dt.is_float else (True if dt.is_bool else np.iinfo(dt.np).max)


def max(a, axis=None, keepdims=False, initial=None, *, out=None, where=None):
    _no_out(out, "max")
    x = operand(a)
    if where is not None and where is not True and initial is None:
        raise ValueError("reduction operation 'maximum' does not have an identity, so to use a where mask one has "
                         "to specify 'initial'")
    _check_nonempty(x, axis, "max", initial)
    r = reduce(_masked(x, where, _lowest(type_of(x).dtype)), "max", axis, keepdims)
    return r if initial is None else maximum(r, initial)


def min(a, axis=None, keepdims=False, initial=None, *, out=None, where=None):
    _no_out(out, "min")
    x = operand(a)
    if where is not None and where is not True and initial is None:
        raise ValueError("reduction operation 'minimum' does not have an identity, so to use a where mask one has "
                         "to specify 'initial'")
    _check_nonempty(x, axis, "min", initial)
    r = reduce(_masked(x, where, _highest(type_of(x).dtype)), "min", axis, keepdims)
    return r if initial is None else minimum(r, initial)


amax, amin = max, min


def _check_nonempty(x, axis, name, initial):
    if initial is None and reduced_size(x, axis) == 0 and type_of(x).size == 0:
        raise ValueError(f"zero-size array to reduction operation {name} which has no identity")


def all(a, axis=None, keepdims=False, *, out=None, where=None):
    _no_out(out, "all")
    return reduce(_masked(as_bool(a), where, True), "and", axis, keepdims)


def any(a, axis=None, keepdims=False, *, out=None, where=None):
    _no_out(out, "any")
    return reduce(_masked(as_bool(a), where, False), "or", axis, keepdims)


def _arg(op, a, axis, keepdims):
    x = operand(a)
    if type_of(x).dtype.is_bool:
        x = convert(x, "int32")
    if axis is None:
        x = reshape(x, (-1,))
        axis = 0
    t = type_of(x)
    axis = normalize_axis(axis, t.ndim)
    if t.shape[axis] == 0:
        raise ValueError(f"attempt to get {op} of an empty sequence")
    r = bind(op, x, dimension=axis, index_dtype="int64")
    if keepdims:
        r = lax.reshape(r, t.shape[:axis] + (1,) + t.shape[axis + 1:])
    return r


def argmax(a, axis=None, keepdims=False):
    return _arg("argmax", a, axis, keepdims)


def argmin(a, axis=None, keepdims=False):
    return _arg("argmin", a, axis, keepdims)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return all(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1, a2, equal_nan=False):
    x, y = operand(a1), operand(a2)
    if type_of(x).shape != type_of(y).shape:
        return np.asarray(False)
    eq = equal(x, y)
    if equal_nan:
        eq = logical_or(eq, logical_and(isnan(x), isnan(y)))
    return all(eq)


def array_equiv(a1, a2):
    x, y = operand(a1), operand(a2)
    try:
        lax.broadcast_shapes(type_of(x).shape, type_of(y).shape)
    except ValueError:
        return np.asarray(False)
    return all(equal(x, y))


def ptp(a, axis=None, keepdims=False):
    return subtract(max(a, axis=axis, keepdims=keepdims), min(a, axis=axis, keepdims=keepdims))


# --- counting ----------------------------------------------------------------------------------

def count_nonzero(a, axis=None, keepdims=False):
    x = operand(a)
    nz = x if type_of(x).dtype.is_bool else not_equal(x, lax.full_like(x, 0))
    return sum(nz, axis=axis, dtype="int64", keepdims=keepdims)


_IDENTITY = {"add": 0, "multiply": 1}


def associative_scan(op: str, x, axis: int, identity):
    """Inclusive scan of the binary primitive `op` along `axis` (Hillis-Steele doubling)."""
    t = type_of(x)
    n = t.shape[axis]
    fill = np.asarray(identity, dtype=t.dtype.np)
    k = 1
    while k < n:
        lo = tuple(k if d == axis else 0 for d in range(t.ndim))
        hi = tuple(-k if d == axis else 0 for d in range(t.ndim))
        shifted = bind("pad", x, fill, edge_padding_low=lo, edge_padding_high=hi)
        x = bind(op, x, shifted)
        k *= 2
    return x


def _cumulative(op, a, axis, dtype):
    x = operand(a)
    if axis is None:
        x, axis = ravel(x), 0
    t = type_of(x)
    axis = normalize_axis(axis, t.ndim)
    x = convert(x, sum_dtype(x, dtype))
    return associative_scan(op, x, axis, _IDENTITY[op])


def cumsum(a, axis=None, dtype=None):
    return _cumulative("add", a, axis, dtype)


def cumprod(a, axis=None, dtype=None):
    return _cumulative("multiply", a, axis, dtype)


cumproduct = cumprod


def _nan_filled(a, value):
    x = operand(a)
    if not type_of(x).dtype.is_float:
        return x
    return where(isnan(x), np.asarray(value, type_of(x).dtype.np), x)


def nancumsum(a, axis=None, dtype=None):
    return cumsum(_nan_filled(a, 0), axis, dtype)


def nancumprod(a, axis=None, dtype=None):
    return cumprod(_nan_filled(a, 1), axis, dtype)


def _with_initial(op, a, axis, dtype, include_initial):
    x = operand(a)
    if axis is None:
        if type_of(x).ndim > 1:
            raise ValueError("axis must be given for arrays of more than one dimension")
        axis = 0
    r = _cumulative(op, x, axis, dtype)
    if include_initial:
        t = type_of(r)
        ax = normalize_axis(axis, t.ndim)
        lo = tuple(1 if d == ax else 0 for d in range(t.ndim))
        r = bind("pad", r, np.asarray(_IDENTITY[op], t.dtype.np), edge_padding_low=lo,
                 edge_padding_high=(0,) * t.ndim)
    return r


def cumulative_sum(x, axis=None, dtype=None, include_initial=False):
    return _with_initial("add", x, axis, dtype, include_initial)


def cumulative_prod(x, axis=None, dtype=None, include_initial=False):
    return _with_initial("multiply", x, axis, dtype, include_initial)


__all__ = ["sum", "prod", "mean", "var", "std", "max", "min", "amax", "amin", "all", "any", "argmax", "argmin",
           "allclose", "array_equal", "array_equiv", "ptp", "count_nonzero", "associative_scan", "cumsum", "cumprod",
           "cumproduct", "nancumsum", "nancumprod", "cumulative_sum", "cumulative_prod"]
