"""The long tail of chainrule.numpy against NumPy: sort, order statistics, closeness,
differences, searchsorted, interpolation."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from test_numpy_harness import check, rand

FLOATS = (np.float32, np.float64)


# --- sort / argsort --------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13])
@pytest.mark.parametrize("dtype", (np.int32, np.float64, np.bool_))
def test_sort_lengths(n, dtype, rng):
    x = rand(rng, (2, n), dtype, -3, 3)
    check(lambda xp, x: xp.sort(x), x)
    check(lambda xp, x: xp.argsort(x, kind="stable") if xp is np else xp.argsort(x), x)


def test_sort_axes_nan_inf(rng):
    x = rand(rng, (3, 4, 5), np.float32)
    x[0, 0, :3] = [np.nan, np.inf, -np.inf]
    x[1, 2, 1] = np.nan
    check(lambda xp, x: (xp.sort(x, axis=0), xp.sort(x, axis=1), xp.sort(x, axis=None),
                         xp.argsort(x, axis=1, kind="stable") if xp is np else xp.argsort(x, axis=1)), x)


def test_argsort_is_stable_with_ties():
    x = np.array([3, 1, 2, 1, 3, 1, 0, 2, 2], np.int64)
    check(lambda xp, x: xp.argsort(x, kind="stable") if xp is np else xp.argsort(x), x)


def test_sort_graph_is_one_sort_node_at_any_length():
    for n in (16, 1024, 1 << 16):
        g = cr.jit(cnp.sort).lower(np.ones(n)).graph
        assert [node.op.name for node in g.nodes] == ["sort"]


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("dtype", (np.int32, np.float32, np.float64))
def test_median(axis, dtype, rng):
    x = rand(rng, (2, 3, 5), dtype, -9, 9)
    check(lambda xp, x: xp.median(x, axis=axis), x)
    check(lambda xp, x: xp.median(x, axis=axis, keepdims=True), x)


def test_median_with_nan(rng):
    x = rand(rng, (3, 4), np.float64)
    x[1, 2] = np.nan
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(lambda xp, x: (xp.median(x, axis=1), xp.median(x), xp.nanmedian(x, axis=1)), x, rtol=1e-15)


@pytest.mark.parametrize("q", [0.0, 0.25, 0.5, 0.9, 1.0, [0.1, 0.5, 0.99], np.array([0.3, 0.7])])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_quantile_percentile(q, axis, rng):
    x = rand(rng, (4, 7), np.float64)
    check(lambda xp, x: xp.quantile(x, q, axis=axis), x, rtol=1e-14, atol=1e-14)
    qp = q * 100 if isinstance(q, (float, np.ndarray)) else [v * 100 for v in q]
    check(lambda xp, x: xp.percentile(x, qp, axis=axis), x, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("dtype", (np.int32, np.float32))
def test_quantile_dtypes_and_keepdims(dtype, rng):
    x = rand(rng, (4, 6), dtype, -9, 9)
    check(lambda xp, x: (xp.quantile(x, 0.3), xp.quantile(x, [0.2, 0.8], axis=1, keepdims=True)), x,
          rtol=1e-6, atol=1e-6)


def test_quantile_with_tensor_q(rng):
    x = rand(rng, (5, 6))
    q = np.array([0.1, 0.6, 1.0])
    check(lambda xp, x, q: xp.quantile(x, q, axis=1), x, q, rtol=1e-14, atol=1e-14)


def test_nanquantile(rng):
    x = rand(rng, (4, 6))
    x[0, 1] = x[2, 3] = x[2, 5] = np.nan
    check(lambda xp, x: (xp.nanquantile(x, 0.4, axis=1), xp.nanpercentile(x, [10, 90], axis=0)), x,
          rtol=1e-13, atol=1e-13)


def test_quantile_out_of_range():
    with pytest.raises(ValueError, match="range"):
        cnp.quantile(np.ones(3), 1.5)


# --- closeness -------------------------------------------------------------------------------------

def test_isclose_allclose(rng):
    a = rand(rng, (6,), np.float64)
    b = a + np.array([0, 1e-9, 1e-3, 0, 0, 0])
    a[3], b[3] = np.nan, np.nan
    a[4], b[4] = np.inf, np.inf
    a[5], b[5] = -np.inf, np.inf
    check(lambda xp, a, b: (xp.isclose(a, b), xp.isclose(a, b, equal_nan=True), xp.isclose(a, b, rtol=1e-2),
                            xp.allclose(a[:2], b[:2]), xp.allclose(a, b, equal_nan=True),
                            xp.isclose(a, 0.5), xp.isclose(a, b, atol=1e-2)), a, b)
    i = rand(rng, (4,), np.int32)
    check(lambda xp, i: (xp.isclose(i, i + 1, atol=1), xp.allclose(i, i)), i)
    f = rand(rng, (4,), np.float32)
    check(lambda xp, f: xp.isclose(f, f * (1 + 1e-6)), f)


def test_array_equal(rng):
    a = rand(rng, (3,), np.float64)
    b = a.copy()
    b[1] = np.nan
    check(lambda xp, a, b: (xp.array_equal(a, a), xp.array_equal(a, b), xp.array_equal(b, b, equal_nan=True),
                            xp.array_equiv(a, a[None])), a, b)


# --- differences -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", (np.int32, np.float64, np.bool_))
def test_diff(dtype, rng):
    x = rand(rng, (4, 6), dtype, -5, 5)
    check(lambda xp, x: (xp.diff(x), xp.diff(x, axis=0), xp.diff(x, n=2), xp.diff(x, n=0), xp.diff(x, n=7)), x)


def test_diff_prepend_append_ediff1d(rng):
    x = rand(rng, (3, 4), np.float64)
    check(lambda xp, x: (xp.diff(x, prepend=0.0), xp.diff(x, axis=0, append=x[:1]), xp.ediff1d(x),
                         xp.ediff1d(x, to_begin=[9.0], to_end=[-1.0, 1.0])), x)


# --- search and interpolation ----------------------------------------------------------------------

@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted(side, rng):
    a = np.sort(rand(rng, (8,), np.float64, -3, 3))
    a[2] = a[3]  # a tie
    a = np.append(a, np.nan)
    v = np.array([[-5.0, a[2], 0.0], [a[0], 9.0, np.nan]])
    check(lambda xp, a, v: (xp.searchsorted(a, v, side=side), xp.searchsorted(a, 0.5, side=side)), a, v)
    ai = np.array([1, 3, 3, 7], np.int32)
    check(lambda xp, ai: xp.searchsorted(ai, [0, 3, 4, 8], side=side), ai)


def test_interp(rng):
    xp_ = np.array([0.0, 1.0, 2.5, 4.0])
    fp = np.array([1.0, -1.0, 3.0, 0.5])
    x = np.array([-1.0, 0.0, 0.3, 1.0, 2.0, 3.9, 4.0, 7.0])
    check(lambda xp, x, a, b: (xp.interp(x, a, b), xp.interp(x, a, b, left=-9.0, right=9.0)), x, xp_, fp,
          rtol=1e-15, atol=1e-15)
    check(lambda xp, x: xp.interp(x, [1.0], [5.0]), x)


# --- misc long tail ----------------------------------------------------------------------------------

def test_cbrt_edges():
    x = np.array([0.0, -0.0, 8.0, -27.0, 1e-300, -1e300, np.inf, -np.inf, np.nan, 2.0])
    check(lambda xp, x: xp.cbrt(x), x, rtol=1e-13)  # XLA flushes the subnormal Newton residual of 1e-300


def test_copysign_signed_zero():
    x = np.array([1.0, -2.0, 3.0, -0.0, np.inf])
    y = np.array([-0.0, 0.0, -1.0, 1.0, -np.inf])
    check(lambda xp, x, y: (xp.copysign(x, y), xp.copysign(x, -1.0), xp.copysign(3, y)), x, y)


def test_heaviside_nan():
    x = np.array([-1.0, 0.0, 2.0, np.nan])
    check(lambda xp, x: (xp.heaviside(x, 0.5), xp.heaviside(x, x)), x)


def test_compress(rng):
    x = rand(rng, (3, 4))
    check(lambda xp, x: (xp.compress([True, False, True], x, axis=0), xp.compress([0, 1, 1, 0], x, axis=1)), x)


# --- convolution, integration, gradients -------------------------------------------------------------

@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("n,m", [(6, 3), (3, 6), (5, 5), (1, 4), (4, 1)])
def test_convolve_correlate(mode, n, m, rng):
    a, v = rand(rng, (n,), np.float64), rand(rng, (m,), np.float64)
    check(lambda xp, a, v: (xp.convolve(a, v, mode), xp.correlate(a, v, mode)), a, v, rtol=1e-13, atol=1e-13)
    ai = rand(rng, (n,), np.int32)
    check(lambda xp, a: xp.convolve(a, [1, -2, 1], mode), ai)


def test_trapezoid_and_gradient(rng):
    y = rand(rng, (4, 6), np.float64)
    x = np.sort(rand(rng, (6,), np.float64))
    check(lambda xp, y: (xp.trapezoid(y), xp.trapezoid(y, dx=0.5, axis=0)), y, rtol=1e-14, atol=1e-14)
    check(lambda xp, y, x: xp.trapezoid(y, x), y, x, rtol=1e-14, atol=1e-14)
    check(lambda xp, y: (xp.gradient(y), xp.gradient(y, 0.5, axis=1), xp.gradient(y, 2.0, edge_order=2),
                         xp.gradient(y[0])), y, rtol=1e-14, atol=1e-14)
    check(lambda xp, y: xp.gradient(y), rand(rng, (5,), np.int32), rtol=1e-15)


def test_misc_elementwise_and_creation(rng):
    x = rand(rng, (5,), np.float32)
    e = rand(rng, (5,), np.int32, -3, 3)
    check(lambda xp, x, e: (xp.ldexp(x, e), xp.float_power(x, 2), xp.divmod(x, 0.7), xp.pow(x, 2),
                            xp.acos(x / 4), xp.atan2(x, x + 1), xp.bitwise_invert(e)), x, e, rtol=1e-6, atol=1e-6)
    check(lambda xp, x: (xp.logspace(0, 2, 5), xp.geomspace(1, 8, 4), xp.logspace(0, 1, 3, base=2.0)), x)


def test_index_arithmetic(rng):
    i = rng.integers(0, 24, size=(5,))
    check(lambda xp, i: xp.unravel_index(i, (2, 3, 4)), i)
    a, b = rng.integers(0, 3, size=(4,)), rng.integers(0, 5, size=(4,))
    check(lambda xp, a, b: xp.ravel_multi_index((a, b), (3, 5)), a, b)


def test_array_api_names(rng):
    x = rand(rng, (2, 3, 4), np.float64)
    check(lambda xp, x: (xp.concat([x, x], axis=1), xp.permute_dims(x, (2, 0, 1)), xp.matrix_transpose(x),
                         xp.vecdot(x, x), xp.unstack(x, axis=1)), x, rtol=1e-14)


def test_dtype_names_and_introspection(rng):
    x = rand(rng, (3,), np.float32)

    def f(xp, x):
        assert xp.issubdtype(x.dtype, xp.floating) and not xp.issubdtype(x.dtype, xp.integer)
        assert xp.finfo(x.dtype).eps == np.finfo(np.float32).eps and xp.iinfo(xp.int32).max == 2 ** 31 - 1
        assert xp.result_type(x, 1.0) == np.float32 and xp.result_type(x, np.int64) == np.float64
        return (x.astype(xp.bool_), x.astype(xp.int32), xp.astype(x, "float64"), x.astype(float), x.astype(int),
                xp.zeros(2, xp.bool_), xp.ones(2, bool), xp.full(2, 3, xp.dtype("int32")))
    check(f, x)


def test_tensor_setitem_divmod(rng):
    p = cr.placeholder((3,), "float64")
    with pytest.raises(TypeError, match=r"\.at\[idx\]\.set"):
        p[0] = 1.0
    x = rand(rng, (3,), np.float64)
    f = cr.jit(lambda x: divmod(x, 0.75) + divmod(2.5, x))
    for g, w in zip(f(x), divmod(x, 0.75) + divmod(2.5, x)):
        np.testing.assert_array_equal(g, w)


def test_scalar_tensor_index(rng):
    x = rand(rng, (4, 4), np.float64)
    f = cr.jit(lambda x, i: (x[i], x[:, i], x[i, 1]))
    for i in [0, 3, -1, -4]:
        got = f(x, np.int64(i))
        for g, w in zip(got, (x[i], x[:, i], x[i, 1])):
            np.testing.assert_array_equal(g, w)


# --- ufunc methods ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["add", "multiply", "maximum", "minimum", "logical_and", "logical_or"])
@pytest.mark.parametrize("dtype", (np.int32, np.float64, np.bool_))
def test_ufunc_reduce_accumulate(name, dtype, rng):
    if dtype == np.bool_ and name in ("maximum", "minimum"):
        dtype = np.int64
    x = rand(rng, (3, 5), dtype, -3, 3)
    tol = dict(rtol=1e-12, atol=1e-12)
    check(lambda xp, x: (getattr(xp, name).reduce(x), getattr(xp, name).reduce(x, axis=1, keepdims=True),
                         getattr(xp, name).accumulate(x), getattr(xp, name).accumulate(x, axis=1)), x, **tol)


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "maximum", "less", "power", "arctan2", "logaddexp"])
def test_ufunc_outer(name, rng):
    a, b = rand(rng, (3,), np.float64, 0.5, 2), rand(rng, (2, 2), np.float64, 0.5, 2)
    check(lambda xp, a, b: getattr(xp, name).outer(a, b), a, b, rtol=1e-14, atol=1e-14)


def test_ufunc_at_points_to_at():
    with pytest.raises(NotImplementedError, match=r"x\.at\[indices\]\.add"):
        cnp.add.at(np.zeros(3), [0, 1], 1.0)


# --- delete / insert / isin / refusals ---------------------------------------------------------------

@pytest.mark.parametrize("obj", [1, [0, 2], slice(1, 3), -1, np.array([True, False, False, True])])
@pytest.mark.parametrize("axis", [None, 1])
def test_delete(obj, axis, rng):
    x = rand(rng, (3, 4), np.float32)
    if isinstance(obj, np.ndarray) and axis is None:
        return
    check(lambda xp, x: xp.delete(x, obj, axis=axis), x)


@pytest.mark.parametrize("obj,values", [(1, 9.0), ([0, 2], [7.0, 8.0]), (4, [1.0, 2.0, 3.0]), ([1, 1], 5.0),
                                        (-1, 0.0), (1, [[1.0], [2.0], [3.0]])])
@pytest.mark.parametrize("axis", [None, 1])
def test_insert(obj, values, axis, rng):
    x = rand(rng, (3, 4), np.float64)
    try:
        np.insert(x, obj, values, axis=axis)
    except ValueError:
        return  # NumPy refuses this combination too
    check(lambda xp, x: xp.insert(x, obj, values, axis=axis), x)
    check(lambda xp, x, v: xp.insert(x, obj, v, axis=axis), x, np.asarray(values))


def test_isin(rng):
    x = rand(rng, (3, 4), np.int32, 0, 6)
    check(lambda xp, x: (xp.isin(x, [1, 5, 7]), xp.isin(x, np.array([[2], [3]]), invert=True), xp.isin(x, [])), x)
    check(lambda xp, x, t: xp.isin(x, t), x, np.array([0, 4], np.int32))


@pytest.mark.parametrize("name", ["nonzero", "flatnonzero", "argwhere", "unique", "bincount", "extract"])
def test_data_dependent_shapes_are_refused(name):
    # traced, without size=/length= (concrete arrays get NumPy's answer: see test_numpy_fns.py)
    with pytest.raises(NotImplementedError, match="depends on the data"):
        cr.jit(getattr(cnp, name))(np.array([1, 0, 2]))


def test_clip_min_max_keywords(rng):
    x = rand(rng, (5,), np.float32)
    check(lambda xp, x: (xp.clip(x, min=-1), xp.clip(x, max=0.5), xp.clip(x, min=-0.5, max=0.5)), x)


# --- functions of functions ---------------------------------------------------------------------------

def test_piecewise(rng):
    x = rand(rng, (7,), np.float64)
    check(lambda xp, x: xp.piecewise(x, [x < 0, x >= 0], [lambda v: -v, lambda v: v ** 2]), x)
    check(lambda xp, x: xp.piecewise(x, [x < -1, x > 1], [0.0, lambda v: 2 * v, lambda v: v]), x)
    check(lambda xp, x: xp.piecewise(x, x > 0, [lambda v: v + 1]), x)


def test_vectorize_and_apply_along_axis(rng):
    a, b = rand(rng, (2, 3)), rand(rng, (3,))
    want = np.vectorize(lambda a, b: a - b if a > b else a + b)(a, b)
    vf = cnp.vectorize(lambda a, b: cnp.where(a > b, a - b, a + b))
    check(lambda xp, a, b: vf(a, b), a, b, want=want)
    m = rand(rng, (3, 4))
    vs = cnp.vectorize(lambda r: cnp.sum(r * r), signature="(n)->()")
    check(lambda xp, m: vs(m), m, want=np.sum(m * m, axis=1), rtol=1e-15)
    check(lambda xp, m: (xp.apply_along_axis(lambda r: xp.sum(r ** 2), 1, m),
                         xp.apply_along_axis(lambda r: r[::-1] * 2, 0, m),
                         xp.apply_along_axis(lambda r: xp.outer(r, r), 1, m)), m, rtol=1e-15)


def test_index_helpers(rng):
    x = rand(rng, (4, 5))
    check(lambda xp, x: (x[xp.s_[1:3, ::2]], x[xp.index_exp[::-1]], xp.mgrid[0:2, 0:3], xp.ogrid[0:3][0]), x)


# --- more of NumPy's namespace ---------------------------------------------------------------------

def test_block_choose_resize_rollaxis(rng):
    a, b = rand(rng, (2, 2)), rand(rng, (2, 3))
    check(lambda xp, a, b: (xp.block([[a, b], [b[:, :2] * 2, b - 1]]), xp.block([a[0], 1.0, b[1]]), xp.block(a)), a, b)
    idx = np.array([[0, 1, 2], [2, 1, 0]])
    check(lambda xp, i, c: (xp.choose(i, [c[0], c[1] * 10, -c]), xp.choose(i, [c[0], c[1]], mode="clip")), idx, b)
    x = rand(rng, (2, 3, 4), np.int32)
    check(lambda xp, x: (xp.resize(x, (5, 7)), xp.resize(x[0, 0], 3), xp.rollaxis(x, 2), xp.rollaxis(x, 0, 3),
                         xp.apply_over_axes(xp.sum, x, [0, 2])), x)


def test_static_index_helpers(rng):
    x = rand(rng, (4, 5))
    check(lambda xp, x: (x[xp.tril_indices_from(x, -1)], x[xp.triu_indices(4, 1, 5)], x[:4, :4][xp.diag_indices(4)],
                         x[:4, :4][xp.diag_indices_from(x[:4, :4])]), x)


@pytest.mark.parametrize("name", ["fill_diagonal", "put", "putmask", "place", "copyto"])
def test_in_place_functions_refused(name):
    with pytest.raises(NotImplementedError, match="in place"):
        getattr(cnp, name)(np.zeros((2, 2)), 0, 0)


def test_real_valued_complex_helpers(rng):
    x = rand(rng, (5,), np.float32)
    check(lambda xp, x: (xp.real(x), xp.imag(x), xp.conj(x), xp.conjugate(x), xp.isreal(x), xp.iscomplex(x),
                         xp.copy(x), xp.asanyarray(x), xp.ascontiguousarray(x), xp.fabs(x), *xp.modf(x)), x)
    assert cnp.isrealobj(x) and not cnp.iscomplexobj(x) and cnp.isscalar(1.0) and not cnp.isscalar(x)


def test_shifts_matvec_digitize_unwrap(rng):
    i, k = rand(rng, (6,), np.int64, -50, 50), rand(rng, (6,), np.int64, 0, 5)
    check(lambda xp, i, k: (xp.left_shift(i, k), xp.right_shift(i, k), xp.left_shift(i, 3), xp.right_shift(i, 1)),
          i, k)
    m, v = rand(rng, (2, 3, 4)), rand(rng, (4,))
    if hasattr(np, "matvec"):
        check(lambda xp, m, v: (xp.matvec(m, v), xp.vecmat(v[:3], m)), m, v, rtol=1e-14, atol=1e-14)
    x = rand(rng, (7,), np.float64, -1, 12)
    up, down = np.array([0.0, 1.0, 2.5, 4.0, 10.0]), np.array([10.0, 4.0, 2.5, 1.0, 0.0])
    check(lambda xp, x: (xp.digitize(x, up), xp.digitize(x, up, right=True), xp.digitize(x, down),
                         xp.digitize(x, down, right=True)), x)
    ph = np.cumsum(rand(rng, (3, 9), np.float64, -3, 3), axis=1)
    check(lambda xp, p: (xp.unwrap(p), xp.unwrap(p, axis=0), xp.unwrap(p, discont=4.0), xp.unwrap(p, period=4.0)),
          ph, rtol=1e-13, atol=1e-13)


def test_polynomial_coefficients(rng):
    a, b, r = rand(rng, (3,)), rand(rng, (5,)), rand(rng, (4,))
    check(lambda xp, a, b, r: (xp.polyadd(a, b), xp.polysub(b, a), xp.polymul(a, b), xp.polyder(b), xp.polyder(b, 3),
                               xp.polyint(a), xp.polyint(a, 2, k=[1.0, 2.0]), xp.poly(r)), a, b, r,
          rtol=1e-13, atol=1e-13)


def test_fromfunction_windows_shapes():
    check(lambda xp: (xp.fromfunction(lambda i, j: xp.where(i > j, i * 2, j), (3, 4)), xp.hanning(5),
                      xp.broadcast_shapes((3, 1), (4,))), want=None)
