"""chainrule.numpy, the long tail: more elementwise functions, NaN-aware and weighted statistics,
closeness tests, polynomials, differences, search by counting.

Composites of primitive ops only (no op of their own), so every function here
works eagerly and symbolically and differentiates through the primitives.
Where NumPy computes in a particular order (polyval's Horner loop, isclose's
formula) the same order is kept so results match NumPy's rounding.
"""

from __future__ import annotations

import builtins

import numpy as np

from ..ir import dtype as as_dtype
from . import lax
from .core import bind, is_tensor, type_of
from .lax import broadcast_to, convert, float_operand, normalize_axes, normalize_axis, operand
from .lax import result_type as _promote
from .numpy_core import (absolute, add, all, divide, equal, greater, isfinite, isnan, less, less_equal,
                         logical_and, logical_not, logical_or, matmul, max, maximum, mean, min, multiply,
                         not_equal, ravel, reshape, signbit, sqrt, subtract, sum, where)
from .numpy_manip import atleast_2d, diagonal, slice_axis

_F64 = as_dtype("float64")


def _fval(x, v):
    """A scalar constant of x's dtype (a 0-d array: broadcast where used)."""
    return np.asarray(v, dtype=type_of(x).dtype.np)


# --- elementwise -----------------------------------------------------------------------------

def cbrt(x):
    """sign(x) |x|^(1/3), refined by one Newton step so it is within an ulp or two of libm's cbrt."""
    x = float_operand(x)
    neg = signbit(x)
    a = where(neg, bind("negate", x), x)  # |x| with slope -1 at -0.0: cbrt'(+-0) = +inf, as JAX
    y = bind("power", a, lax.full_like(a, 1.0 / 3.0))
    ok = logical_and(isfinite(y), not_equal(y, lax.full_like(y, 0)))
    safe = where(ok, y, lax.full_like(y, 1.0))
    three = lax.full_like(y, 3.0)
    # y - (y^3 - a) / (3 y^2), as y - (y - a / y^2) / 3 so y^3 cannot overflow (or underflow) near the ends
    newton = bind("subtract", safe, bind("divide", bind("subtract", safe, bind("divide", a, bind("multiply", safe, safe))),
                                          three))
    y = where(ok, newton, y)
    return where(neg, bind("negate", y), y)


def copysign(x1, x2):
    x1, x2 = lax.promote_and_broadcast(x1, x2)
    x1, x2 = float_operand(x1), float_operand(x2)
    a = bind("abs", x1)
    return where(signbit(x2), bind("negate", a), a)


def heaviside(x1, x2):
    x1, x2 = lax.promote_and_broadcast(x1, x2)
    x1, x2 = float_operand(x1), float_operand(x2)
    zero, one = lax.full_like(x1, 0.0), lax.full_like(x1, 1.0)
    return where(less(x1, zero), zero, where(greater(x1, zero), one, where(equal(x1, zero), x2, x1)))


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


def _float_of(x):
    """NumPy's result_type(x, 1.0): ints and bools become float64, floats stay."""
    x = operand(x)
    return x if type_of(x).dtype.is_float else convert(x, _F64)


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    x = operand(a) if not lax.is_weak(a) else a
    y = _float_of(b) if not lax.is_weak(b) else float(b)
    d = absolute(subtract(x, y))
    tol = add(atol, multiply(rtol, absolute(y)))
    result = logical_or(logical_and(less_equal(d, tol), isfinite(y)), equal(x, y))
    if equal_nan:
        result = logical_or(result, logical_and(isnan(x), isnan(y)))
    return result


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


def result_type(*arrays_and_dtypes):
    """NumPy's result_type, accepting tensors (by their dtype) too."""
    return np.result_type(*[np.dtype(a.dtype) if is_tensor(a) else a for a in arrays_and_dtypes])


# --- differences -------------------------------------------------------------------------------

def diff(a, n=1, axis=-1, prepend=None, append=None):
    x = operand(a)
    t = type_of(x)
    if n < 0:
        raise ValueError(f"order must be non-negative but got {n}")
    if t.ndim == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = normalize_axis(axis, t.ndim)
    from .numpy_core import concatenate

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
    from .numpy_core import concatenate
    d = diff(ravel(ary))
    parts = ([ravel(to_begin)] if to_begin is not None else []) + [d] + ([ravel(to_end)] if to_end is not None else [])
    return concatenate(parts) if len(parts) > 1 else d


def ptp(a, axis=None, keepdims=False):
    return subtract(max(a, axis=axis, keepdims=keepdims), min(a, axis=axis, keepdims=keepdims))


# --- counting ----------------------------------------------------------------------------------

def count_nonzero(a, axis=None, keepdims=False):
    x = operand(a)
    nz = x if type_of(x).dtype.is_bool else not_equal(x, lax.full_like(x, 0))
    return sum(nz, axis=axis, dtype="int64", keepdims=keepdims)


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
    from .numpy_core import prod
    return prod(_nan_replaced(a, 1)[0], axis=axis, dtype=dtype, keepdims=keepdims)


def _nan_count(x, nan, axis, keepdims, dt):
    if nan is None:
        from .numpy_core import _count
        n = _count(x, axis)
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
        from .numpy_core import var
        return var(x, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)
    dt = as_dtype(dtype) if dtype is not None else type_of(x).dtype
    filled, nan = _nan_replaced(convert(x, dt), 0)
    m = divide(sum(filled, axis=axis, keepdims=True), _nan_count(x, nan, axis, True, dt))
    dev = where(nan, lax.full_like(filled, 0), subtract(filled, m))
    s = sum(multiply(dev, dev), axis=axis, keepdims=keepdims)
    n = subtract(_nan_count(x, nan, axis, keepdims, dt), _fval(s, ddof))
    return divide(s, maximum(n, _fval(s, 0)))


def nanstd(a, axis=None, dtype=None, ddof=0, keepdims=False):
    return sqrt(nanvar(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims))


def _nan_extreme(a, axis, keepdims, fill, reducer):
    x = operand(a)
    filled, nan = _nan_replaced(x, fill)
    r = reducer(filled, axis=axis, keepdims=keepdims)
    if nan is None:
        return r
    all_nan = all(nan, axis=axis, keepdims=keepdims)
    return where(all_nan, _fval(r, np.nan), r)


def nanmax(a, axis=None, keepdims=False):
    return _nan_extreme(a, axis, keepdims, -np.inf, max)


def nanmin(a, axis=None, keepdims=False):
    return _nan_extreme(a, axis, keepdims, np.inf, min)


def nanargmax(a, axis=None, keepdims=False):
    from .numpy_core import argmax
    return argmax(_nan_replaced(a, -np.inf)[0], axis=axis, keepdims=keepdims)


def nanargmin(a, axis=None, keepdims=False):
    from .numpy_core import argmin
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
        from .numpy_core import concatenate
        x = concatenate([x, yy], axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    n = type_of(x).shape[1]
    fact = builtins.max(n - ddof, 0)
    xc = subtract(x, mean(x, axis=1, keepdims=True))
    c = matmul(xc, lax.transpose(xc))
    c = multiply(c, _fval(c, np.float64(1.0) / fact if fact else np.inf))
    from .numpy_core import squeeze
    return squeeze(c)


def corrcoef(x, y=None, rowvar=True, dtype=None):
    c = cov(x, y, rowvar, dtype=dtype)
    if type_of(c).ndim == 0:
        return divide(c, c)
    d = diagonal(c)
    sd = sqrt(d)
    c = divide(c, reshape(sd, (-1, 1)))
    c = divide(c, reshape(sd, (1, -1)))
    from .numpy_core import clip
    return clip(c, -1, 1)


# --- polynomials ---------------------------------------------------------------------------------

def polyval(p, x):
    """Horner's rule, in NumPy's order: y = y * x + p[i], starting from zeros_like(x)."""
    pp = operand(p)
    xx = operand(x)
    if type_of(pp).ndim != 1:
        raise ValueError("polyval needs a 1-d coefficient array")
    y = lax.full_like(xx, 0)
    for i in range(type_of(pp).shape[0]):
        coef = slice_axis(pp, 0, i, i + 1)
        y = add(multiply(y, xx), reshape(coef, ()))
    return y


def vander(x, N=None, increasing=False):
    xx = operand(x)
    if type_of(xx).ndim != 1:
        raise ValueError("x must be a one-dimensional array or sequence.")
    n = type_of(xx).shape[0] if N is None else int(N)
    dt = _promote(xx, np.zeros((), np.int64))
    xx = convert(xx, dt)
    cols = []
    if n > 0:
        cols.append(lax.full_like(xx, 1))
    for _ in range(1, n):
        cols.append(multiply(cols[-1], xx))
    if not increasing:
        cols = cols[::-1]
    if not cols:
        return np.zeros((type_of(xx).shape[0], 0), dt.np)
    from .numpy_core import stack
    return stack(cols, axis=1)


# --- searching by counting -----------------------------------------------------------------------

def searchsorted(a, v, side="left", sorter=None):
    """Insertion points in sorted `a` by counting (O(len(a) * len(v)) memory; NaN sorts last as in NumPy)."""
    if sorter is not None:
        raise NotImplementedError("searchsorted with sorter is not supported yet")
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right' (got {side!r})")
    aa = operand(a)
    if type_of(aa).ndim != 1:
        raise ValueError("object too deep for desired array: a must be 1-d")
    vv = operand(v) if not lax.is_weak(v) else v
    dt = _promote(aa, vv)
    aa, vv = convert(aa, dt), convert(vv, dt)
    vshape = type_of(vv).shape
    ve = reshape(vv, vshape + (1,))
    cmp = less(aa, ve) if side == "left" else less_equal(aa, ve)
    count = sum(cmp, axis=-1, dtype="int64")
    if dt.is_float:
        a_nan = isnan(aa)
        n_num = sum(logical_not(a_nan), dtype="int64")
        n_all = np.asarray(type_of(aa).shape[0], np.int64)
        nan_pos = n_num if side == "left" else n_all
        count = where(isnan(vv), nan_pos, count)
    return count


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
    from .numpy_manip import take
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


# --- membership, and what has a data-dependent shape ------------------------------------------------

def isin(element, test_elements, assume_unique=False, invert=False, kind=None):
    """Every element against every test element (O(len(element) * len(test_elements)) work)."""
    x = operand(element) if not lax.is_weak(element) else element
    tst = ravel(operand(test_elements))
    if type_of(tst).shape[0] == 0:
        r = lax.full_like(operand(x), invert, "bool")
        return r
    xs = operand(x)
    hit = equal(reshape(xs, type_of(xs).shape + (1,)), tst)
    from .numpy_core import any as _any
    r = _any(hit, axis=-1)
    return logical_not(r) if invert else r


def _data_dependent(name, hint):
    def fn(*args, **kwargs):
        raise NotImplementedError(f"{name} has a result whose shape depends on the data, which a static graph "
                                  f"cannot have; {hint}")
    fn.__name__ = name
    return fn


# nonzero, flatnonzero, argwhere, bincount and histogram take JAX's static sizes: numpy_sized.py
extract = _data_dependent("extract", "use cnp.where(condition, x, 0)")
unique = _data_dependent("unique", "sort with cnp.sort and compare neighbours instead")
trim_zeros = _data_dependent("trim_zeros", "use cnp.where to mask the zeros")


# --- convolution, integration, gradients ----------------------------------------------------------

def convolve(a, v, mode="full"):
    """1-d convolution as a gather of shifted windows times v: O(len(a) * len(v)) work."""
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
    xp = bind("pad", x, np.zeros((), dt.np), edge_padding_low=(m - 1,), edge_padding_high=(m - 1,))
    idx = (np.arange(L)[:, None] - np.arange(m)[None, :] + m - 1).astype(np.int64)
    from .numpy_manip import take
    full = matmul(take(xp, idx), w)
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
    from .numpy_manip import flip
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
        x = convert(x, _F64)
    out = []
    from .numpy_core import concatenate
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


# --- more elementwise and creation --------------------------------------------------------------------

def ldexp(x1, x2):
    x = float_operand(x1) if lax.is_weak(x1) or not type_of(operand(x1)).dtype.is_float else operand(x1)
    e = operand(x2)
    if not type_of(e).dtype.is_int:
        raise TypeError("ldexp exponents must be integers")
    dt = type_of(x).dtype
    # x * 2^e in up to three exact steps of at most 2^(|e|/3): the result of one power of two could overflow
    # (ldexp(0.5, 1024)) or underflow (ldexp(64, -1080)) where x * 2^e does not
    x, e = lax.promote_and_broadcast(x, convert(e, dt))
    lim = 2200.0 if dt == _F64 else 330.0  # beyond: 0 or inf for every finite nonzero x
    e = bind("clamp", lax.full_like(e, -lim), e, lax.full_like(e, lim))
    e1 = bind("floor", bind("divide", e, lax.full_like(e, 3.0)))
    e2 = bind("floor", bind("divide", bind("subtract", e, e1), lax.full_like(e, 2.0)))
    e3 = bind("subtract", bind("subtract", e, e1), e2)
    two = lax.full_like(e, 2.0)
    one_step = less_equal(absolute(e), lax.full_like(e, 1000.0 if dt == _F64 else 120.0))  # 2^e normal: one rounding
    y = multiply(multiply(multiply(x, bind("power", two, e1)), bind("power", two, e2)), bind("power", two, e3))
    return where(one_step, multiply(x, bind("power", two, e)), y)


def float_power(x1, x2):
    from .numpy_core import power
    return power(convert(operand(x1), _F64), convert(operand(x2), _F64))


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    if is_tensor(start) or is_tensor(stop) or is_tensor(base):
        from .numpy_core import linspace, power
        return power(base, linspace(start, stop, num, endpoint=endpoint))
    return np.logspace(start, stop, num, endpoint, base, None if dtype is None else as_dtype(dtype).np, axis)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    if is_tensor(start) or is_tensor(stop):
        raise NotImplementedError("geomspace needs concrete bounds")
    return np.geomspace(start, stop, num, endpoint, None if dtype is None else as_dtype(dtype).np, axis)


def unravel_index(indices, shape, order="C"):
    if order != "C":
        raise NotImplementedError("only order='C' is supported")
    shape = tuple(int(s) for s in shape)
    idx = operand(indices)
    if not type_of(idx).dtype.is_int:
        raise TypeError("only int indices permitted")
    if not is_tensor(idx):
        return np.unravel_index(idx, shape)
    from .numpy_core import floor_divide, remainder
    out = []
    stride = int(np.prod(shape))
    for s in shape:
        stride //= s
        out.append(remainder(floor_divide(idx, stride), s))
    return tuple(out)


def ravel_multi_index(multi_index, dims, mode="raise", order="C"):
    if order != "C" or mode != "raise":
        raise NotImplementedError("only mode='raise', order='C' are supported")
    dims = tuple(int(d) for d in dims)
    if not builtins.any(is_tensor(i) for i in multi_index):
        return np.ravel_multi_index(tuple(np.asarray(i) for i in multi_index), dims)
    out = None
    stride = int(np.prod(dims))
    for i, d in zip(multi_index, dims):
        stride //= d
        term = multiply(operand(i), stride)
        out = term if out is None else add(out, term)
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
        from .numpy_core import any as _any, stack
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
        from .vmap import vmap
        ops = [operand(a) for a in args]
        cores = core_dims or [0] * len(ops)
        loops = [type_of(o).shape[:type_of(o).ndim - c] for o, c in zip(ops, cores)]
        batch = lax.broadcast_shapes(*loops)
        ops = [lax.broadcast_to(o, batch + type_of(o).shape[len(l):]) for o, l, in zip(ops, loops)]
        n = int(np.prod(batch)) if batch else 1
        flat = [reshape(o, (n,) + type_of(o).shape[len(batch):]) for o in ops]
        out = vmap(pyfunc)(*flat) if n else pyfunc(*[slice_axis(f, 0, 0, 0) for f in flat])
        from .pytree import tree_map
        return tree_map(lambda r: reshape(r, batch + type_of(operand(r)).shape[1:]), out)
    mapped.__name__ = getattr(pyfunc, "__name__", "vectorized")
    mapped.__doc__ = doc or getattr(pyfunc, "__doc__", None)
    return mapped


def apply_along_axis(func1d, axis, arr, *args, **kwargs):
    """func1d on every 1-d slice along `axis`, by cr.vmap over the other axes; its result replaces the axis."""
    from .vmap import vmap
    from .numpy_core import moveaxis
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


# index helpers are NumPy's own objects: they make Python slices and concrete grids
s_ = np.s_
index_exp = np.index_exp
mgrid = np.mgrid
ogrid = np.ogrid
euler_gamma = np.euler_gamma


# --- real numbers as NumPy's complex-aware functions see them ---------------------------------------

def real(val):
    return operand(val)


def imag(val):
    x = operand(val)
    return lax.full_like(x, 0)


def conj(x):
    return operand(x)


conjugate = conj


def isreal(x):
    return lax.full_like(operand(x), True, "bool")


def iscomplex(x):
    return lax.full_like(operand(x), False, "bool")


def isrealobj(x):
    return True


def iscomplexobj(x):
    return False


def isscalar(element):
    return False if is_tensor(element) else np.isscalar(element)


isdtype = np.isdtype


def copy(a, order="K"):
    """Tensors are immutable, so a copy is the tensor itself; arrays are copied."""
    x = operand(a)
    return x if is_tensor(x) else np.array(x, copy=True)


def asanyarray(a, dtype=None):
    from .numpy_array import asarray
    return asarray(a, dtype=dtype)


ascontiguousarray = asanyarray


def fabs(x):
    x = float_operand(x)
    return bind("abs", x)


def modf(x):
    """(fractional part, integral part), both with x's sign."""
    from .numpy_core import trunc
    x = float_operand(x)
    t = trunc(x)
    frac = subtract(x, t)
    inf = equal(bind("abs", x), lax.full_like(x, np.inf))
    return where(inf, copysign(lax.full_like(x, 0.0), x), copysign(frac, x)), t


def _shift_factor(x1, x2):
    xx, k = lax.promote_and_broadcast(x1, x2)
    if not type_of(xx).dtype.is_int:
        raise TypeError("shifts are defined for integers")
    return xx, bind("power", lax.full_like(k, 2), k)


def left_shift(x1, x2):
    """x1 * 2**x2 (two's complement wrap-around, as NumPy's << for shifts below the bit width)."""
    xx, f = _shift_factor(x1, x2)
    return bind("multiply", xx, f)


def right_shift(x1, x2):
    """floor(x1 / 2**x2): NumPy's arithmetic >> for shifts below the bit width."""
    from .numpy_core import floor_divide
    xx, f = _shift_factor(x1, x2)
    return floor_divide(xx, f)


bitwise_left_shift, bitwise_right_shift = left_shift, right_shift


def matvec(x1, x2):
    x, v = operand(x1), operand(x2)
    r = matmul(x, reshape(v, type_of(v).shape + (1,)))
    return reshape(r, type_of(r).shape[:-1])


def vecmat(x1, x2):
    v, x = operand(x1), operand(x2)
    r = matmul(reshape(v, type_of(v).shape[:-1] + (1,) + type_of(v).shape[-1:]), x)
    return reshape(r, type_of(r).shape[:-2] + type_of(r).shape[-1:])


def digitize(x, bins, right=False):
    b = operand(bins)
    if type_of(b).ndim != 1:
        raise ValueError("bins must be one-dimensional")
    if not is_tensor(b) and type_of(b).shape[0] > 1 and np.all(np.diff(b) <= 0) and not np.all(np.diff(b) == 0):
        from .numpy_manip import flip
        n = type_of(b).shape[0]
        return subtract(np.int64(n), searchsorted(flip(b), x, side="left" if right else "right"))
    return searchsorted(b, x, side="left" if right else "right")


def unwrap(p, discont=None, axis=-1, *, period=2 * np.pi):
    """NumPy's unwrap: jumps larger than discont become their period-wrapped value, accumulated."""
    from .numpy_core import concatenate, remainder
    from .numpy_scan import cumsum
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


def fromfunction(function, shape, *, dtype=float, **kwargs):
    return function(*np.indices(tuple(shape), dtype=as_dtype(dtype).np), **kwargs)


broadcast_shapes = np.broadcast_shapes
bartlett, blackman, hamming, hanning, kaiser = np.bartlett, np.blackman, np.hamming, np.hanning, np.kaiser


# --- polynomials as coefficient arrays --------------------------------------------------------------

def _poly_pad(a, n):
    x = ravel(operand(a))
    m = type_of(x).shape[0]
    return x if m == n else bind("pad", x, np.zeros((), type_of(x).dtype.np), edge_padding_low=(n - m,),
                                 edge_padding_high=(0,))


def polyadd(a1, a2):
    x, y = ravel(operand(a1)), ravel(operand(a2))
    n = builtins.max(type_of(x).shape[0], type_of(y).shape[0])
    return add(_poly_pad(x, n), _poly_pad(y, n))


def polysub(a1, a2):
    x, y = ravel(operand(a1)), ravel(operand(a2))
    n = builtins.max(type_of(x).shape[0], type_of(y).shape[0])
    return subtract(_poly_pad(x, n), _poly_pad(y, n))


def polymul(a1, a2):
    return convolve(a1, a2)


def polyder(p, m=1):
    x = ravel(operand(p))
    for _ in range(int(m)):
        n = type_of(x).shape[0]
        if n <= 1:
            return np.zeros(1, type_of(x).dtype.np) if not is_tensor(x) else multiply(slice_axis(x, 0, 0, 1), 0)
        x = multiply(slice_axis(x, 0, 0, n - 1), np.arange(n - 1, 0, -1))
    return x


def polyint(p, m=1, k=None):
    from .numpy_core import concatenate
    x = ravel(operand(p))
    ks = [0.0] * int(m) if k is None else list(np.atleast_1d(k))
    if len(ks) == 1 and m > 1:
        ks = ks * int(m)
    for i in range(int(m)):
        n = type_of(x).shape[0]
        x = divide(x, np.arange(n, 0, -1, dtype=np.float64))
        x = concatenate([x, np.asarray([ks[i]], type_of(x).dtype.np)])
    return x


def polyfit(x, y, deg, rcond=None, full=False, w=None, cov=False):
    """Least squares on NumPy's column-scaled Vandermonde matrix, by Householder QR (full column rank)."""
    if full or cov:
        raise NotImplementedError("polyfit(full=True / cov=True) needs singular values, which are not supported yet")
    from .numpy_linalg import qr, solve
    xx = float_operand(x)
    yy = float_operand(y)
    order = int(deg) + 1
    if order < 1:
        raise ValueError("expected deg >= 0")
    lhs = vander(xx, order)
    rhs = yy
    if w is not None:
        ww = float_operand(w)
        lhs = multiply(lhs, reshape(ww, (-1, 1)))
        rhs = multiply(rhs, ww if type_of(rhs).ndim == 1 else reshape(ww, (-1, 1)))
    scale = sqrt(sum(multiply(lhs, lhs), axis=0))
    lhs = divide(lhs, scale)
    q, r = qr(lhs)
    qt_b = matmul(lax.transpose(q), rhs)
    c = solve(r, qt_b)
    return divide(c, scale if type_of(c).ndim == 1 else reshape(scale, (-1, 1)))


def poly(seq_of_zeros):
    """Coefficients of the polynomial with the given roots: (x - r0)(x - r1)... by repeated convolution."""
    from .numpy_core import concatenate, negative
    z = ravel(operand(seq_of_zeros))
    dt = type_of(z).dtype
    out = np.ones(1, dt.np if dt.is_float else np.float64)
    for i in range(type_of(z).shape[0]):
        root = slice_axis(z, 0, i, i + 1)
        out = convolve(out, concatenate([np.ones(1, type_of(operand(out)).dtype.np), negative(root)]))
    return out


# --- the array API names NumPy 2 has as well ----------------------------------------------------------

def concat(arrays, axis=0):
    from .numpy_core import concatenate
    return concatenate(arrays, axis=axis)


def permute_dims(a, axes):
    return lax.transpose(operand(a), axes)


def matrix_transpose(x):
    from .numpy_core import swapaxes
    return swapaxes(x, -1, -2)


def vecdot(x1, x2, axis=-1):
    return sum(multiply(x1, x2), axis=axis)


def unstack(x, axis=0):
    from .numpy_core import squeeze
    xx = operand(x)
    axis = normalize_axis(axis, type_of(xx).ndim)
    return tuple(squeeze(slice_axis(xx, axis, i, i + 1), axis) for i in range(type_of(xx).shape[axis]))


def divmod(x1, x2):  # noqa: A001  (NumPy's name)
    from .numpy_core import floor_divide, remainder
    return floor_divide(x1, x2), remainder(x1, x2)


__all__ = [_n for _n, _v in list(globals().items())
           if callable(_v) and getattr(_v, "__module__", None) == __name__ and not _n.startswith("_")]

from .numpy_core import (arccos as acos, arccosh as acosh, arcsin as asin, arcsinh as asinh,  # noqa: E402
                         arctan as atan, arctan2 as atan2, arctanh as atanh, invert as bitwise_invert,
                         power as pow)

__all__ += ["acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "bitwise_invert", "pow", "s_", "index_exp",
            "mgrid", "ogrid", "euler_gamma", "isdtype", "broadcast_shapes", "bartlett", "blackman", "hamming",
            "hanning", "kaiser"]
