"""chainrule.numpy sorting and order statistics, without a sort op: a bitonic sorting network.

The IR has no `sort` op yet, so `sort` is a fixed network of compare-exchange
steps over a static length: pad the axis to a power of two m with a value
that sorts last, then for block sizes k = 2, 4, ..., m merge with one "flip"
step (element p of a block against element k-1-p) and half-cleaners
(p against p + j, j = k/4 ... 1). Each step is reshape + slice (+ reverse) +
compare + select + concatenate over the whole array at once, so the graph
has O(log^2 m) steps and O(m log^2 m) work. A compare-exchange is a pair of
selects, so gradients flow to the values (as with a sort op's permutation).

Order is NumPy's: NaN sorts last. `argsort` carries the indices through
the same network and breaks ties by index, so it is stable
(NumPy's kind="stable").
"""

from __future__ import annotations

import numpy as np

from ..ir import dtype as as_dtype
from . import lax
from .core import bind, constant_tensor, is_tensor, type_of
from .lax import convert, normalize_axes, normalize_axis, operand
from .numpy_core import (add, concatenate, equal, floor, greater, isnan, logical_and, logical_not, logical_or,
                         moveaxis, multiply, ravel, reshape, subtract, where)
from .numpy_manip import flip, slice_axis, take_along_axis


# --- the network -----------------------------------------------------------------------------------

def _sentinel(dt):
    if dt.is_float:
        return np.nan
    if dt.is_bool:
        return True
    return np.iinfo(dt.np).max


def _after(a, b):
    """a sorts strictly after b (NaN last)."""
    if type_of(a).dtype.is_float:
        return logical_or(greater(a, b), logical_and(isnan(a), logical_not(isnan(b))))
    return greater(a, b)


def _tied(a, b):
    if type_of(a).dtype.is_float:
        return logical_or(equal(a, b), logical_and(isnan(a), isnan(b)))
    return equal(a, b)


def _exchange(lo, hi, ilo, ihi):
    swap = _after(lo, hi)
    if ilo is not None:
        swap = logical_or(swap, logical_and(_tied(lo, hi), greater(ilo, ihi)))
    new = (bind("select", swap, hi, lo), bind("select", swap, lo, hi))
    if ilo is None:
        return new + (None, None)
    return new + (bind("select", swap, ihi, ilo), bind("select", swap, ilo, ihi))


def _step(x, i, rows, block, half, flip_second):
    """One layer: within blocks of `block`, compare position p < half with p + half (or block-1-p)."""
    B, m = rows, type_of(x).shape[-1]
    y = reshape(x, (B, m // block, block))
    lo, hi = slice_axis(y, 2, 0, half), slice_axis(y, 2, half, block)
    yi = reshape(i, (B, m // block, block)) if i is not None else None
    ilo = slice_axis(yi, 2, 0, half) if yi is not None else None
    ihi = slice_axis(yi, 2, half, block) if yi is not None else None
    if flip_second:
        hi = flip(hi, 2)
        ihi = flip(ihi, 2) if ihi is not None else None
    lo, hi, ilo, ihi = _exchange(lo, hi, ilo, ihi)
    if flip_second:
        hi = flip(hi, 2)
        ihi = flip(ihi, 2) if ihi is not None else None
    x = reshape(concatenate([lo, hi], axis=2), (B, m))
    if i is not None:
        i = reshape(concatenate([ilo, ihi], axis=2), (B, m))
    return x, i


def sort_last_axis(x, with_indices=False):
    """Sort along the last axis; returns (values, int64 indices or None)."""
    x = operand(x)
    t = type_of(x)
    n = t.shape[-1]
    batch = t.shape[:-1]
    rows = int(np.prod(batch)) if batch else 1
    idx = None
    if with_indices:
        line = np.arange(n, dtype=np.int64)
        line = constant_tensor(line) if is_tensor(x) else line
        idx = lax.broadcast_to(line, t.shape)
    if n <= 1 or t.size == 0:
        return x, idx
    m = 1 << (n - 1).bit_length()
    xs = reshape(x, (rows, n))
    if m > n:
        fill = np.asarray(_sentinel(t.dtype), t.dtype.np)
        xs = bind("pad", xs, fill, edge_padding_low=(0, 0), edge_padding_high=(0, m - n))
    ids = None
    if with_indices:
        line = np.arange(m, dtype=np.int64)
        ids = lax.broadcast_to(constant_tensor(line) if is_tensor(x) else line, (rows, m))
    k = 2
    while k <= m:
        xs, ids = _step(xs, ids, rows, k, k // 2, True)
        j = k // 4
        while j >= 1:
            xs, ids = _step(xs, ids, rows, 2 * j, j, False)
            j //= 2
        k *= 2
    xs = reshape(slice_axis(xs, 1, 0, n), t.shape)
    if with_indices:
        ids = reshape(slice_axis(ids, 1, 0, n), t.shape)
    return xs, ids


def _along(a, axis):
    x = operand(a)
    if axis is None:
        return ravel(x), 0
    return x, normalize_axis(axis, type_of(x).ndim)


def sort(a, axis=-1, kind=None, order=None, stable=None, *, descending=False):
    """descending=True (as JAX and the array API): the ascending order reversed, so NaN comes first."""
    if order is not None:
        raise NotImplementedError("sort(order=...) applies to structured arrays, which chainrule does not have")
    x, axis = _along(a, axis)
    if type_of(x).ndim == 0:
        raise ValueError("Cannot sort a 0-d array")
    y, _ = sort_last_axis(moveaxis(x, axis, -1))
    if descending:
        y = flip(y, -1)
    return moveaxis(y, -1, axis)


def argsort(a, axis=-1, kind=None, order=None, stable=None, *, descending=False):
    """Stable argsort (ties keep their order, as NumPy's kind='stable'), also when descending (as JAX):
    the reversed input is sorted and its positions mapped back, so equal values keep their order."""
    if order is not None:
        raise NotImplementedError("argsort(order=...) applies to structured arrays, which chainrule does not have")
    x, axis = _along(a, axis)
    if type_of(x).ndim == 0:
        raise ValueError("Cannot sort a 0-d array")
    x = moveaxis(x, axis, -1)
    if descending:
        n = type_of(x).shape[-1]
        _, i = sort_last_axis(flip(x, -1), with_indices=True)
        i = flip(subtract(np.int64(n - 1), i), -1)
    else:
        _, i = sort_last_axis(x, with_indices=True)
    return moveaxis(i, -1, axis)


# --- order statistics -------------------------------------------------------------------------------

def _sorted_last(a, axis, as_float=True):
    """The array with the reduced axes flattened into one last axis, sorted; plus the kept shape."""
    x = operand(a)
    t = type_of(x)
    axes = normalize_axes(axis, t.ndim)
    keep = [d for d in range(t.ndim) if d not in axes]
    x = lax.transpose(x, keep + list(axes))
    kept_shape = tuple(t.shape[d] for d in keep)
    n = int(np.prod([t.shape[d] for d in axes])) if axes else 1
    x = reshape(x, kept_shape + (n,))
    if as_float and not type_of(x).dtype.is_float:
        x = convert(x, "float64")
    s, _ = sort_last_axis(x)
    return s, n, axes


def _keepdims(r, t_shape, axes, lead=()):
    shape = lead + tuple(1 if d in axes else s for d, s in enumerate(t_shape))
    return reshape(r, shape)


def _lerp(a, b, g):
    """NumPy's _lerp: a + (b - a) g, or b - (b - a)(1 - g) where g >= 0.5 (exact at both ends)."""
    d = subtract(b, a)
    one = np.asarray(1, type_of(d).dtype.np)
    return where(lax.elementwise("compare", g, 0.5, direction="GE"), subtract(b, multiply(d, subtract(one, g))),
                 add(a, multiply(d, g)))


# NumPy's quantile methods (Hyndman & Fan): the continuous ones by (alpha, beta) of the virtual index
# n q + alpha + q (1 - alpha - beta) - 1, and the discrete ones, which pick one order statistic.
_ALPHA_BETA = {"interpolated_inverted_cdf": (0.0, 1.0), "hazen": (0.5, 0.5), "weibull": (0.0, 0.0),
               "median_unbiased": (1 / 3.0, 1 / 3.0), "normal_unbiased": (3 / 8.0, 3 / 8.0)}
_DISCRETE = ("lower", "higher", "nearest", "inverted_cdf", "closest_observation")
QUANTILE_METHODS = ("linear", "midpoint", "averaged_inverted_cdf") + tuple(_ALPHA_BETA) + _DISCRETE


def _c(x, v):
    return np.asarray(v, type_of(x).dtype.np)


def _discrete_index(method, cnt, qq):
    """The (float-valued) order statistic a discrete method picks, before clamping to [0, cnt - 1]."""
    from .numpy_core import ceil, remainder, rint
    last = multiply(subtract(cnt, _c(cnt, 1)), qq)
    if method == "lower":
        return floor(last)
    if method == "higher":
        return ceil(last)
    if method == "nearest":
        return rint(last)  # NumPy's around: halves to even
    idx = subtract(multiply(cnt, qq), _c(cnt, 1.5 if method == "closest_observation" else 1.0))
    prev = floor(idx)
    at_prev = equal(subtract(idx, prev), _c(idx, 0))
    if method == "closest_observation":  # the even order statistic (1-based) at g = 0
        at_prev = logical_and(at_prev, equal(remainder(prev, _c(prev, 2)), _c(prev, 1)))
    return where(at_prev, prev, add(prev, _c(prev, 1)))


def _virtual_index(method, cnt, qq):
    if method == "linear":
        return multiply(subtract(cnt, _c(cnt, 1)), qq)
    if method == "midpoint":
        from .numpy_core import ceil
        v = multiply(subtract(cnt, _c(cnt, 1)), qq)
        return multiply(_c(v, 0.5), add(floor(v), ceil(v)))
    if method == "averaged_inverted_cdf":
        return subtract(multiply(cnt, qq), _c(cnt, 1))
    alpha, beta = _ALPHA_BETA[method]
    return subtract(add(multiply(cnt, qq), add(_c(qq, alpha), multiply(qq, _c(qq, 1 - alpha - beta)))), _c(cnt, 1))


def _quantile_sorted(s, count, q, dt, nan_policy, method="linear", s_raw=None):
    """Quantiles of sorted rows `s` (..., n) with `count` valid values per row, by NumPy's `method`.

    `q` is a 0-d or 1-d float array/tensor; the result has q's dimensions first. Discrete methods take
    their order statistic from `s_raw` (the rows sorted in the input's own dtype) when given.
    """
    n = type_of(s).shape[-1]
    q = convert(q, dt) if not lax.is_weak(q) else np.asarray(q, dt.np)
    qt = type_of(q)
    lead = qt.shape
    qq = reshape(q, (1,) * (type_of(s).ndim - 1) + (int(np.prod(lead)) if lead else 1,))
    cnt = convert(count, dt)
    last = subtract(cnt, np.asarray(1, dt.np))
    shape = type_of(s).shape[:-1] + (type_of(qq).shape[-1],)
    if method in _DISCRETE:
        src = s if s_raw is None else s_raw
        idx = lax.elementwise("clamp", np.asarray(0, dt.np), _discrete_index(method, cnt, qq), last)
        r = take_along_axis(src, lax.broadcast_to(convert(idx, "int64"), shape), axis=-1)
    else:
        virtual = _virtual_index(method, cnt, qq)
        prev = floor(virtual)
        gamma = subtract(virtual, prev)
        if method == "averaged_inverted_cdf":
            gamma = where(equal(gamma, np.asarray(0, dt.np)), np.asarray(0.5, dt.np), np.asarray(1, dt.np))
        elif method == "midpoint":
            gamma = where(equal(gamma, np.asarray(0, dt.np)), np.asarray(0, dt.np), np.asarray(0.5, dt.np))
        prev_i = convert(lax.elementwise("clamp", np.asarray(0, dt.np), prev, last), "int64")
        next_i = convert(lax.elementwise("clamp", np.asarray(0, dt.np), add(prev, np.asarray(1, dt.np)), last),
                         "int64")
        below = lax.elementwise("compare", virtual, np.asarray(0, dt.np), direction="LT")
        next_i = where(below, prev_i, next_i)  # before the first value: the first value
        at_top = lax.elementwise("compare", virtual, last, direction="GE")
        gamma = where(at_top, np.asarray(0, dt.np), gamma)
        a = take_along_axis(s, lax.broadcast_to(prev_i, shape), axis=-1)
        b = take_along_axis(s, lax.broadcast_to(next_i, shape), axis=-1)
        r = _lerp(a, b, lax.broadcast_to(gamma, shape))
    rdt = type_of(r).dtype
    if nan_policy == "propagate" and rdt.is_float and type_of(s).dtype.is_float and n:
        has_nan = isnan(slice_axis(s, type_of(s).ndim - 1, n - 1, n))
        r = where(has_nan, np.asarray(np.nan, rdt.np), r)
    r = moveaxis(r, -1, 0)
    return reshape(r, lead + type_of(r).shape[1:])


def _q_dtype(x, q):
    xd = type_of(operand(x)).dtype
    base = xd if xd.is_float else as_dtype("float64")
    if lax.is_weak(q):
        return base
    return lax.result_type(np.zeros((), base.np), q if is_tensor(q) else np.asarray(q, np.float64))


def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, weights=None):
    return _quantile(a, q, axis, method, keepdims, weights, "propagate")


def nanquantile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, weights=None):
    return _quantile(a, q, axis, method, keepdims, weights, "omit")


def _quantile(a, q, axis, method, keepdims, weights, nan_policy):
    if method not in QUANTILE_METHODS:
        raise ValueError(f"'{method}' is not a valid method. Use one of: {', '.join(QUANTILE_METHODS)}")
    if weights is not None:
        raise NotImplementedError("weighted quantiles are not supported yet")
    x = operand(a)
    t = type_of(x)
    if not is_tensor(q) and np.ndim(q) > 1:
        raise NotImplementedError("quantiles q of more than one dimension are not supported yet")
    if not is_tensor(q) and np.any((np.asarray(q) < 0) | (np.asarray(q) > 1)):
        raise ValueError("Quantiles must be in the range [0, 1]")
    dt = _q_dtype(x, q)
    s_raw = None
    if method in _DISCRETE:  # they pick an order statistic, in the input's own dtype (as NumPy)
        s_raw, n, axes = _sorted_last(x, axis, as_float=False)
        s = convert(s_raw, dt)
    else:
        s, n, axes = _sorted_last(convert(x, dt) if t.dtype.is_float else x, axis)
        s = convert(s, dt)
    if n == 0:
        raise ValueError("cannot take a quantile of an empty array")
    if nan_policy == "omit" and dt.is_float:
        from .numpy_core import sum as _sum
        count = _sum(logical_not(isnan(s)), axis=-1, dtype=dt, keepdims=True)
    else:
        count = np.asarray(n, dt.np)
    r = _quantile_sorted(s, count, q, dt, nan_policy, method, s_raw)
    if nan_policy == "omit" and dt.is_float:
        all_nan = equal(count, np.asarray(0, dt.np))
        r = where(reshape(all_nan, type_of(all_nan).shape[:-1]), np.asarray(np.nan, dt.np), r)
    if keepdims:
        lead = type_of(operand(q)).shape if not lax.is_weak(q) else ()
        r = _keepdims(r, t.shape, axes, lead)
    return r


def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, weights=None):
    return quantile(a, _percent(q), axis, method=method, keepdims=keepdims, weights=weights)


def nanpercentile(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, weights=None):
    return nanquantile(a, _percent(q), axis, method=method, keepdims=keepdims, weights=weights)


def _percent(q):
    if lax.is_weak(q):
        return q / 100
    from .numpy_core import divide
    return divide(q, 100)


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """The middle value, or the mean of the two middle values, as NumPy computes it; NaN if any NaN."""
    x = operand(a)
    t = type_of(x)
    s, n, axes = _sorted_last(x, axis)
    if n == 0:
        raise ValueError("cannot take the median of an empty array")
    dt = type_of(s).dtype
    last = type_of(s).ndim - 1
    lo = slice_axis(s, last, (n - 1) // 2, (n - 1) // 2 + 1)
    if n % 2:
        r = lo
    else:
        hi = slice_axis(s, last, n // 2, n // 2 + 1)
        r = lax.elementwise("divide", add(lo, hi), np.asarray(2, dt.np))
    r = where(isnan(slice_axis(s, last, n - 1, n)), np.asarray(np.nan, dt.np), r)
    r = reshape(r, type_of(r).shape[:-1])
    return _keepdims(r, t.shape, axes) if keepdims else r


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    x = operand(a)
    if not type_of(x).dtype.is_float:
        return median(x, axis, keepdims=keepdims)
    return nanquantile(x, 0.5, axis, keepdims=keepdims)


__all__ = ["argsort", "median", "nanmedian", "nanpercentile", "nanquantile", "percentile", "quantile", "sort",
           "sort_last_axis"]
