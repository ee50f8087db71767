"""chainrule.numpy, cumulative operations by log-step doubling (Hillis-Steele).

`cumsum(x)` along an axis of length n takes ceil(log2 n) steps; step k adds
to x a copy of itself shifted by 2**k along the axis (a `pad` whose negative
high edge crops what falls off, whose low edge brings in the identity).
That is O(n log n) work in O(log n) ops, each one a primitive with a
derivative rule, so the scan differentiates without a scan op. Float sums
are associated differently from NumPy's left-to-right loop, so they agree to
rounding, not bit for bit; integer results are exact.
"""

from __future__ import annotations

import numpy as np

from .core import bind, type_of
from .lax import convert, normalize_axis, operand
from .numpy_core import _sum_dtype, ravel

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
    x = convert(x, _sum_dtype(x, dtype))
    return associative_scan(op, x, axis, _IDENTITY[op])


def cumsum(a, axis=None, dtype=None):
    return _cumulative("add", a, axis, dtype)


def cumprod(a, axis=None, dtype=None):
    return _cumulative("multiply", a, axis, dtype)


cumproduct = cumprod


def _nan_filled(a, value):
    from .numpy_core import isnan, where
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


__all__ = ["associative_scan", "cumprod", "cumproduct", "cumsum", "cumulative_prod", "cumulative_sum",
           "nancumprod", "nancumsum"]
