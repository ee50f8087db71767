"""Reductions, statistics and cumulative ops of chainrule.numpy against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from test_numpy_harness import check, rand

NUMERIC = (np.int32, np.int64, np.float32, np.float64)
AXES = [None, 0, 1, -1, (0, 2), ()]


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if np.dtype(dtype) == np.float32 else dict(rtol=1e-12, atol=1e-12)


REDUCTION_CASES = [(n, d) for n in ["sum", "prod", "max", "min", "amax", "amin"] for d in NUMERIC] + \
    [("sum", np.bool_), ("prod", np.bool_)]


@pytest.mark.parametrize("name,dtype", REDUCTION_CASES)
@pytest.mark.parametrize("axis", AXES)
def test_basic_reductions(name, dtype, axis, rng):
    x = rand(rng, (2, 3, 4), dtype, -2, 2)
    check(lambda xp, x: getattr(xp, name)(x, axis=axis), x, **_tol(dtype))
    check(lambda xp, x: getattr(xp, name)(x, axis=axis, keepdims=True), x, **_tol(dtype))


@pytest.mark.parametrize("name", ["mean", "var", "std"])
@pytest.mark.parametrize("dtype", NUMERIC)
@pytest.mark.parametrize("axis", [None, 0, (1, 2), -1])
def test_moments(name, dtype, axis, rng):
    x = rand(rng, (3, 4, 5), dtype, -3, 3)
    check(lambda xp, x: getattr(xp, name)(x, axis=axis), x, **_tol(dtype))
    if name != "mean":
        check(lambda xp, x: getattr(xp, name)(x, axis=axis, ddof=1, keepdims=True), x, **_tol(dtype))


@pytest.mark.parametrize("name", ["all", "any"])
@pytest.mark.parametrize("dtype", (np.bool_, np.int32, np.float64))
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
def test_all_any(name, dtype, axis, rng):
    x = rand(rng, (3, 4), dtype, 0, 1)
    check(lambda xp, x: getattr(xp, name)(x, axis=axis), x)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dtype", (np.int32, np.float32, np.float64, np.bool_))
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_arg_extremes(name, dtype, axis, rng):
    x = rand(rng, (4, 5), dtype, -3, 3)
    check(lambda xp, x: getattr(xp, name)(x, axis=axis), x)
    if axis is not None:
        check(lambda xp, x: getattr(xp, name)(x, axis=axis, keepdims=True), x)


def test_argmax_nan_and_ties():
    x = np.array([[1.0, 3.0, 3.0, np.nan], [2.0, 2.0, 1.0, 0.0]])
    check(lambda xp, x: (xp.argmax(x, axis=1), xp.argmin(x, axis=1), xp.argmax(x)), x)


def test_sum_dtype_argument_and_methods(rng):
    x = rand(rng, (3, 4), np.int32, -5, 5)
    check(lambda xp, x: (xp.sum(x, dtype=np.float32), xp.prod(x, axis=0, dtype=np.int64)), x)
    check(lambda xp, x: (x.sum(), x.mean(axis=0), x.max(axis=1), x.min(), x.var(), x.std(axis=0),
                         x.prod(axis=1), x.argmax(axis=0), x.argmin(), x.all(), x.any(axis=0)), x,
          rtol=1e-12, atol=1e-12)


def test_empty_reductions():
    x = np.zeros((0, 3), np.float64)
    check(lambda xp, x: (xp.sum(x, axis=0), xp.prod(x, axis=0), xp.max(x, axis=1), xp.any(x, axis=0)), x)
    with pytest.raises(ValueError, match="zero-size"):
        cnp.max(x)


# --- cumulative -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dtype", NUMERIC + (np.bool_,))
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_cumulative(name, dtype, axis, rng):
    x = rand(rng, (3, 9), dtype, -2, 2)
    check(lambda xp, x: getattr(xp, name)(x, axis=axis), x, **_tol(dtype))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 8, 17])
def test_cumsum_lengths_exact_for_ints(n):
    x = np.arange(n, dtype=np.int64) * 3 - 7
    g = check(lambda xp, x: xp.cumsum(x), x)
    steps = sum(1 for node in g.nodes if node.op.name == "pad")
    assert steps == (int(np.ceil(np.log2(n))) if n > 1 else 0)  # log-step doubling, not n steps


def test_cumulative_variants(rng):
    x = rand(rng, (4, 5), np.float64)
    x[1, 2] = np.nan
    check(lambda xp, x: (xp.nancumsum(x, axis=1), xp.nancumprod(x, axis=0), xp.cumsum(x, axis=0, dtype=np.float32)),
          x, rtol=1e-6, atol=1e-6)
    if hasattr(np, "cumulative_sum"):
        check(lambda xp, x: (xp.cumulative_sum(x, axis=1, include_initial=True),
                             xp.cumulative_prod(x, axis=0)), x, rtol=1e-12, atol=1e-12)


# --- NaN-aware and weighted statistics -----------------------------------------------------------

@pytest.mark.parametrize("name", ["nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin",
                                  "nanargmax", "nanargmin"])
@pytest.mark.parametrize("axis", [None, 0, 1])
@pytest.mark.parametrize("dtype", (np.float32, np.float64))
def test_nan_reductions(name, axis, dtype, rng):
    x = rand(rng, (4, 5), dtype)
    x[0, 1] = x[2, 2] = x[3, 1] = np.nan
    check(lambda xp, x: getattr(xp, name)(x, axis=axis), x, **_tol(dtype))


def test_nan_reductions_all_nan_slice_and_ints(rng):
    x = np.array([[np.nan, np.nan], [1.0, np.nan]])
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check(lambda xp, x: (xp.nanmax(x, axis=1), xp.nanmin(x, axis=1), xp.nanmean(x, axis=1)), x)
    i = rand(rng, (3, 4), np.int32)
    check(lambda xp, x: (xp.nansum(x), xp.nanmax(x, axis=0), xp.nanmean(x, axis=1)), i, rtol=1e-12)


@pytest.mark.parametrize("dtype", NUMERIC)
def test_average(dtype, rng):
    x = rand(rng, (3, 4), dtype, 0, 5)
    w = rand(rng, (3, 4), dtype, 1, 3)
    w1 = rand(rng, (4,), dtype, 1, 3)
    tol = _tol(dtype)
    check(lambda xp, x: xp.average(x), x, **tol)
    check(lambda xp, x, w: xp.average(x, weights=w), x, w, **tol)
    check(lambda xp, x, w: xp.average(x, axis=1, weights=w), x, w1, **tol)
    check(lambda xp, x, w: xp.average(x, axis=0, weights=w, returned=True), x, w, **tol)


@pytest.mark.parametrize("dtype", (np.float32, np.float64, np.int32))
def test_cov_corrcoef(dtype, rng):
    x = rand(rng, (3, 6), dtype, -4, 4)
    y = rand(rng, (6,), dtype, -4, 4)
    tol = dict(rtol=1e-11, atol=1e-11)
    check(lambda xp, x: xp.cov(x), x, **tol)
    check(lambda xp, x: xp.cov(x, bias=True), x, **tol)
    check(lambda xp, x: xp.cov(x, rowvar=False, ddof=2), x, **tol)
    check(lambda xp, x, y: xp.cov(x, y), x, y, **tol)
    check(lambda xp, y: xp.cov(y), y, **tol)
    check(lambda xp, x: xp.corrcoef(x), x, **tol)
    check(lambda xp, x, y: xp.corrcoef(x[0], y), x, y, **tol)


@pytest.mark.parametrize("dtype", (np.bool_, np.int32, np.float64))
def test_count_nonzero(dtype, rng):
    x = rand(rng, (3, 4), dtype, -1, 1)
    check(lambda xp, x: (xp.count_nonzero(x, axis=0), xp.count_nonzero(x, axis=1, keepdims=True)), x)
    assert int(cnp.count_nonzero(x)) == np.count_nonzero(x)
    assert int(cr.jit(cnp.count_nonzero)(x)) == np.count_nonzero(x)


def test_ptp(rng):
    x = rand(rng, (3, 4), np.int32, -9, 9)
    check(lambda xp, x: (xp.ptp(x), xp.ptp(x, axis=1)), x)


def _np_logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    r = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return r if keepdims else np.squeeze(r, axis=axis)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("dtype", (np.float32, np.float64))
def test_logsumexp(axis, dtype, rng):
    x = rand(rng, (3, 4), dtype, -50, 50)
    tol = _tol(dtype)
    check(lambda xp, x: cnp.special.logsumexp(x, axis=axis), x, want=_np_logsumexp(x, axis), **tol)
    check(lambda xp, x: cnp.special.logsumexp(x, axis=axis, keepdims=True), x,
          want=_np_logsumexp(x, axis, True), **tol)


def test_logsumexp_infinities():
    x = np.array([[-np.inf, -np.inf], [np.inf, 1.0], [1000.0, 1000.0]])
    want = np.array([-np.inf, np.inf, 1000.0 + np.log(2.0)])
    check(lambda xp, x: cnp.special.logsumexp(x, axis=1), x, want=want)


def test_special_erf_softmax(rng):
    import math
    x = rand(rng, (2, 5), np.float64)
    check(lambda xp, x: cnp.special.erf(x), x, want=np.vectorize(math.erf)(x), rtol=1e-15)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    check(lambda xp, x: cnp.special.softmax(x), x, want=e / e.sum(axis=-1, keepdims=True), rtol=1e-14)


def test_reductions_with_where_and_initial(rng):
    import warnings
    x = rand(rng, (3, 4), np.float64)
    m = rng.random((3, 4)) < 0.6
    m[0] = False  # an all-masked row
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(lambda xp, x, m: (xp.sum(x, axis=0, where=m), xp.sum(x, initial=5.0), xp.prod(x, where=m, initial=2.0),
                                xp.mean(x, axis=1, where=m), xp.var(x, where=m), xp.std(x, axis=0, where=m, ddof=1),
                                xp.max(x, axis=1, where=m, initial=-9.0), xp.min(x, where=m[1], initial=9.0),
                                xp.all(x > 0, axis=0, where=m), xp.any(x > 0, where=m), x.sum(axis=1, where=m),
                                x.max(where=m, initial=0.0)), x, m, rtol=1e-14, atol=1e-14)
    with pytest.raises(ValueError, match="initial"):
        cnp.max(x, where=m)
    with pytest.raises(TypeError, match="out="):
        cnp.sum(x, out=np.empty(()))
