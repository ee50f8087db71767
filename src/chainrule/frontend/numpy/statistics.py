"""Statistics: NaN-aware reductions, average, cov, corrcoef, quantiles, percentiles and medians,
bincount and histogram (with static sizes).

Quantiles and medians sort with the sort op (one node whatever the length); bincount and histogram
place their counts with one scatter.
"""

from __future__ import annotations

import builtins

import numpy as np

from ...ir import dtype as as_dtype
from .. import lax
from ..core import is_tensor, type_of
from ..lax import broadcast_to, convert, normalize_axes, operand, result_type as _promote
from .ufuncs import (scalar_like, add, ceil, clip, divide, equal, floor, greater_equal, isnan, less_equal, logical_and,
                     logical_not, maximum, multiply, remainder, rint, subtract, where, where as _where3)
from .transcendental import sqrt
from .shapes import concatenate, moveaxis, ravel, reshape, squeeze
from .reductions import (reduced_size, all, argmax, argmin, max, max as _max, mean, min, min as _min, prod, sum, sum as _sum,
                         var)
from .indexing import update_at, take_along_axis
from .manipulation import atleast_2d, slice_axis
from .matrices import diagonal
from .products import matmul
from .sorting import searchsorted, sort_last_axis
from .sized import data_dependent_error, static_size
from .calculus import diff


# --- NaN-aware reductions ------------------------------------------------------------------------

def _nan_replaced(a, value):
    x = operand(a)
    if not type_of(x).dtype.is_float:
        return x, None
    nan = isnan(x)
    return where(nan, lax.full_like(x, value), x), nan


def nansum(a, axis=None, dtype=None, keepdims=False):
    return sum(_nan_replaced(a, 0)[0], axis=axis, dtype=dtype, keepdims=keepdims)


def nanprod(a, axis=None, dtype=None, keepdims=False):
    return prod(_nan_replaced(a, 1)[0], axis=axis, dtype=dtype, keepdims=keepdims)


def _nan_count(x, nan, axis, keepdims, dt):
    if nan is None:
        n = reduced_size(x, axis)
        return np.asarray(n, dtype=dt.np)
    return sum(logical_not(nan), axis=axis, dtype=dt, keepdims=keepdims)


def nanmean(a, axis=None, dtype=None, keepdims=False):
    x = operand(a)
    if not type_of(x).dtype.is_float:
        return mean(x, axis=axis, dtype=dtype, keepdims=keepdims)
    dt = as_dtype(dtype) if dtype is not None else type_of(x).dtype
    filled, nan = _nan_replaced(x, 0)
    s = sum(filled, axis=axis, dtype=dt, keepdims=keepdims)
    return divide(s, _nan_count(x, nan, axis, keepdims, dt))


def nanvar(a, axis=None, dtype=None, ddof=0, keepdims=False):
    x = operand(a)
    if not type_of(x).dtype.is_float:
        return var(x, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)
    dt = as_dtype(dtype) if dtype is not None else type_of(x).dtype
    filled, nan = _nan_replaced(convert(x, dt), 0)
    m = divide(sum(filled, axis=axis, keepdims=True), _nan_count(x, nan, axis, True, dt))
    dev = where(nan, lax.full_like(filled, 0), subtract(filled, m))
    s = sum(multiply(dev, dev), axis=axis, keepdims=keepdims)
    n = subtract(_nan_count(x, nan, axis, keepdims, dt), scalar_like(s, ddof))
    return divide(s, maximum(n, scalar_like(s, 0)))


def nanstd(a, axis=None, dtype=None, ddof=0, keepdims=False):
    return sqrt(nanvar(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims))


def _nan_extreme(a, axis, keepdims, fill, reducer):
    x = operand(a)
    filled, nan = _nan_replaced(x, fill)
    r = reducer(filled, axis=axis, keepdims=keepdims)
    if nan is None:
        return r
    all_nan = all(nan, axis=axis, keepdims=keepdims)
    return where(all_nan, scalar_like(r, np.nan), r)


def nanmax(a, axis=None, keepdims=False):
    return _nan_extreme(a, axis, keepdims, -np.inf, max)


def nanmin(a, axis=None, keepdims=False):
    return _nan_extreme(a, axis, keepdims, np.inf, min)


def nanargmax(a, axis=None, keepdims=False):
    return argmax(_nan_replaced(a, -np.inf)[0], axis=axis, keepdims=keepdims)


def nanargmin(a, axis=None, keepdims=False):
    return argmin(_nan_replaced(a, np.inf)[0], axis=axis, keepdims=keepdims)


# --- weighted statistics ------------------------------------------------------------------------

def average(a, axis=None, weights=None, returned=False, keepdims=False):
    x = operand(a)
    if weights is None:
        avg = mean(x, axis=axis, keepdims=keepdims)
        t = type_of(x)
        n = int(np.prod([t.shape[i] for i in normalize_axes(axis, t.ndim)]))
        scl = lax.full_like(avg, n) if returned else None
        return (avg, scl) if returned else avg
    w = operand(weights)
    t, wt = type_of(x), type_of(w)
    dt = _promote(x, w)
    if not t.dtype.is_float:
        dt = lax.result_type(x, w, 1.0)
    if t.shape != wt.shape:
        if axis is None:
            raise TypeError("Axis must be specified when shapes of a and weights differ.")
        axes = normalize_axes(axis, t.ndim)
        if wt.shape != tuple(t.shape[i] for i in axes):
            raise ValueError("Shape of weights must be consistent with shape of a along specified axis.")
        shape = [1] * t.ndim
        for i in axes:
            shape[i] = t.shape[i]
        w = reshape(w, shape)
    w = convert(w, dt)
    scl = sum(broadcast_to(w, t.shape), axis=axis, dtype=dt, keepdims=keepdims)
    avg = divide(sum(multiply(convert(x, dt), w), axis=axis, keepdims=keepdims), scl)
    return (avg, broadcast_to(scl, type_of(avg).shape)) if returned else avg


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, dtype=None):
    if fweights is not None or aweights is not None:
        raise NotImplementedError("cov with fweights/aweights is not supported yet")
    x = operand(m)
    if type_of(x).ndim > 2:
        raise ValueError("m has more than 2 dimensions")
    dt = as_dtype(dtype) if dtype is not None else lax.result_type(x, *([operand(y)] if y is not None else []),
                                                                   np.zeros((), np.float64))
    x = convert(atleast_2d(x), dt)
    if not rowvar and type_of(x).shape[0] != 1:
        x = lax.transpose(x)
    if y is not None:
        yy = convert(atleast_2d(operand(y)), dt)
        if not rowvar and type_of(yy).shape[0] != 1:
            yy = lax.transpose(yy)
        x = concatenate([x, yy], axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    n = type_of(x).shape[1]
    fact = builtins.max(n - ddof, 0)
    xc = subtract(x, mean(x, axis=1, keepdims=True))
    c = matmul(xc, lax.transpose(xc))
    c = multiply(c, scalar_like(c, np.float64(1.0) / fact if fact else np.inf))
    return squeeze(c)


def corrcoef(x, y=None, rowvar=True, dtype=None):
    c = cov(x, y, rowvar, dtype=dtype)
    if type_of(c).ndim == 0:
        return divide(c, c)
    d = diagonal(c)
    sd = sqrt(d)
    c = divide(c, reshape(sd, (-1, 1)))
    c = divide(c, reshape(sd, (1, -1)))
    return clip(c, -1, 1)


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


# --- counting into static bins ----------------------------------------------------------------------

def bincount(x, weights=None, minlength=0, *, length=None):
    """Counts (or summed weights) of each value in the non-negative int array x. With length= (as JAX) the
    result has that static length: negative values count as 0 and values >= length are dropped."""
    xx = operand(x)
    if not type_of(xx).dtype.is_int and not type_of(xx).dtype.is_bool:
        raise TypeError(f"bincount takes integer values, got {type_of(xx).dtype.name}")
    if type_of(xx).ndim != 1:
        raise ValueError("bincount takes a 1-d array")
    if length is None:
        if is_tensor(xx):
            raise data_dependent_error("bincount", "pass length= for a static shape, as in JAX")
        if xx.size and xx.min() < 0:
            raise ValueError("bincount: the input must be non-negative")
        length = builtins.max(int(minlength), int(xx.max()) + 1 if xx.size else 0)
    length = static_size(length, "length")
    xx = maximum(convert(xx, "int64"), np.int64(0))
    if weights is None:
        w, dt = np.ones((), np.int64), as_dtype("int64")
    else:
        w = operand(weights)
        if type_of(w).shape != type_of(xx).shape:
            raise ValueError(f"bincount: weights of shape {type_of(w).shape} for x of shape {type_of(xx).shape}")
        dt = type_of(w).dtype if type_of(w).dtype.is_float else lax.default_float_type()
        w = convert(w, dt)
    if length == 0:
        return np.zeros((0,), dt.np)
    zeros = lax.full((length,), 0, dt)
    return update_at(zeros if is_tensor(xx) or is_tensor(w) else np.zeros((length,), dt.np), (xx,),
                   lax.broadcast_to(w, type_of(xx).shape), "add")


def _edges(x, bins, range_):
    """Bin edges as NumPy computes them: linspace over range (or the data's min and max, widened by 1/2 each
    way when equal), in the dtype NumPy's linspace uses, then cast to the bins' dtype."""
    xd = type_of(x).dtype
    bin_dt = xd if xd.is_float else lax.default_float_type()
    if range_ is not None:
        lo, hi = range_
        if is_tensor(lo) or is_tensor(hi):
            lo, hi = convert(operand(lo), bin_dt), convert(operand(hi), bin_dt)
            work = bin_dt
        else:
            if lo > hi:
                raise ValueError("max must be larger than min in range parameter.")
            if not (np.isfinite(lo) and np.isfinite(hi)):
                raise ValueError(f"supplied range of [{lo}, {hi}] is not finite")
            lo, hi = (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)
            lo, hi = np.asarray(float(lo)), np.asarray(float(hi))
            work = as_dtype("float64")
    else:
        if type_of(x).size == 0:
            lo, hi, work = np.asarray(0.0), np.asarray(1.0), as_dtype("float64")
        else:
            lo, hi = _min(x), _max(x)
            if xd.is_float:
                work = xd
            else:
                work = as_dtype("float64")
                lo, hi = convert(lo, work), convert(hi, work)
            same = equal(lo, hi)
            half = np.asarray(0.5, work.np)
            lo, hi = _where3(same, subtract(lo, half), lo), _where3(same, add(hi, half), hi)
    lo, hi = convert(lo, work), convert(hi, work)
    step = divide(subtract(hi, lo), np.asarray(bins, work.np))
    e = add(multiply(np.arange(bins + 1, dtype=work.np), step), lo)
    e = concatenate([slice_axis(e, 0, 0, bins), reshape(hi, (1,))])  # the last edge is hi itself
    return convert(e, bin_dt)


def histogram(a, bins=10, range=None, weights=None, density=None):  # noqa: A002  (NumPy's name)
    """(counts, edges) with a static number of bins: an int (edges over range, or over the data's traced
    min and max) or the edges themselves. Values outside the edges are not counted; the last bin
    includes its right edge, as NumPy's."""
    x = ravel(operand(a))
    if isinstance(bins, str):
        raise NotImplementedError(f"histogram(bins={bins!r}): bin-count estimators choose a data-dependent "
                                  "number of bins; give an int or the edges")
    if np.ndim(bins) == 0 and not is_tensor(bins):
        nb = static_size(bins, "bins")
        if nb < 1:
            raise ValueError("`bins` must be positive, when an integer")
        edges = _edges(x, nb, range)
    else:
        edges = operand(bins)
        if type_of(edges).ndim != 1 or type_of(edges).shape[0] < 2:
            raise ValueError("`bins` must be 1d with at least two edges, when an array")
        if not type_of(edges).dtype.is_float:
            edges = convert(edges, lax.default_float_type())
    n_edges = type_of(edges).shape[0]
    idx = searchsorted(edges, x, side="right")
    last = slice_axis(edges, 0, n_edges - 1, n_edges)
    idx = _where3(equal(x, reshape(last, ())), np.int64(n_edges - 1), idx)
    # idx 0 (below the first edge) lands in a slot cut off below, idx n_edges (above the last) is dropped
    inside = logical_and(greater_equal(idx, np.int64(1)), less_equal(idx, np.int64(n_edges - 1)))
    idx = _where3(inside, idx, np.int64(0))
    counts = bincount(idx, weights, length=n_edges)
    counts = slice_axis(counts, 0, 1, n_edges)
    if density:
        c = convert(counts, lax.default_float_type()) if not type_of(counts).dtype.is_float else counts
        widths = convert(diff(edges), type_of(c).dtype)
        counts = divide(divide(c, _sum(c)), widths)
    return counts, edges


__all__ = ["nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin", "nanargmax", "nanargmin", "average",
           "cov", "corrcoef", "quantile", "nanquantile", "percentile", "nanpercentile", "median", "nanmedian",
           "bincount", "histogram"]
