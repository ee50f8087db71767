"""The functions a JAX/NumPy user reaches for (issue 16 item 8), against NumPy and JAX.

einsum's interleaved form, reshape(order="F"), sort/argsort(descending=True), r_/c_,
logsumexp(return_sign=True), erfinv and the normal-distribution helpers, the static-shape
forms of nonzero/argwhere/where/bincount/histogram, the quantile methods and the
.at[] updates JAX has. Each runs eagerly, under cr.jit and define-then-run (the harness),
and on the compiled backends (llvm, jax) where they are available.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.backends as backends
import chainrule.numpy as cnp
from test_numpy_harness import check, rand

BACKENDS = ["reference"] + [b for b in ("llvm", "jax") if b in backends.available_backends()]


def on_backends(fn, *args, want=None, rtol=None, atol=None):
    """The harness in every mode on the reference backend, then jit on the compiled ones."""
    check(fn, *args, want=want, rtol=rtol, atol=atol)
    for b in BACKENDS[1:]:
        check(fn, *args, want=want, rtol=rtol, atol=atol, modes=("jit",), backend=b)


# --- einsum, reshape, sort ------------------------------------------------------------------------------

def test_einsum_interleaved(rng):
    a, b = rand(rng, (2, 3, 4)), rand(rng, (4, 5))
    on_backends(lambda xp, a, b: (xp.einsum(a, [0, 1, 2], b, [2, 3], [0, 3, 1]), xp.einsum(a, [0, 1, 2], b, [2, 3]),
                                  xp.einsum(a, [Ellipsis, 2], [Ellipsis]), xp.einsum(b, [30, 1])), a, b)
    with pytest.raises(ValueError, match="sublist"):
        cnp.einsum(a, [0, 1, 60])


@pytest.mark.parametrize("dtype", (np.float32, np.int32))
def test_reshape_order_f(dtype, rng):
    x = rand(rng, (2, 3, 4), dtype)
    on_backends(lambda xp, x: (xp.reshape(x, (4, 6), order="F"), x.reshape(3, -1, order="F"),
                               x.reshape((24,), order="F"), xp.reshape(x[0], 12, order="F"), x.reshape(4, 6, order="C")), x)
    g = cr.grad(lambda x: cnp.sum(cnp.reshape(x, (4, 6), order="F") * np.arange(24.0).reshape(4, 6)))(np.ones((2, 3, 4)))
    np.testing.assert_array_equal(g, np.arange(24.0).reshape(4, 6).reshape((2, 3, 4), order="F"))


def test_sort_descending_matches_jax(rng):
    jax = pytest.importorskip("jax")
    x = rng.integers(0, 4, (3, 9)).astype(np.float64)
    x[0, 2] = np.nan
    for axis in (-1, 0, None):
        with jax.enable_x64(True):
            want = (np.asarray(jax.numpy.sort(x, axis=axis, descending=True)),
                    np.asarray(jax.numpy.argsort(x, axis=axis, descending=True)))
        on_backends(lambda xp, x: (cnp.sort(x, axis=axis, descending=True),
                                   cnp.argsort(x, axis=axis, descending=True)), x, want=want)
    g = cr.grad(lambda v: cnp.sum(cnp.sort(v, descending=True) * np.arange(4.0)))(np.array([2.0, 5.0, 1.0, 3.0]))
    np.testing.assert_array_equal(g, [2.0, 0.0, 3.0, 1.0])


# --- r_ / c_ ---------------------------------------------------------------------------------------------

R_CASES = [lambda xp, a: xp.r_[1:4, 0, 5.5, a[0]], lambda xp, a: xp.c_[a[0], a[1]], lambda xp, a: xp.c_[a, a],
           lambda xp, a: xp.r_["1,2,0", [1, 2], a], lambda xp, a: xp.r_["-1", a, a], lambda xp, a: xp.r_[0:1:5j, a[1]],
           lambda xp, a: xp.r_["0,2", a[0], a[1]], lambda xp, a: xp.c_[1:3, a[:, 0]],
           lambda xp, a: xp.r_[-1:1:6j, [0] * 3, 5, 6], lambda xp, a: xp.r_["0,3,1", a, a]]


@pytest.mark.parametrize("case", range(len(R_CASES)))
def test_r_c(case, rng):
    on_backends(R_CASES[case], rand(rng, (2, 3)))


def test_r_c_dtypes_and_errors():
    check(lambda xp, i: (xp.r_[i, 3], xp.r_[i, 2.5], xp.c_[i, i]), np.array([1, 2], np.int32))
    with pytest.raises(NotImplementedError, match="matrix"):
        cnp.r_["r", [1, 2]]
    with pytest.raises(ValueError, match="first"):
        cnp.r_[[1], "0"]
    g = cr.grad(lambda v: cnp.sum(cnp.r_[v, 2.0 * v, 0:2] ** 2))(np.array([1.0, 3.0]))
    np.testing.assert_allclose(g, 10 * np.array([1.0, 3.0]))


# --- logsumexp(return_sign=True, b=...) --------------------------------------------------------------------

def test_logsumexp_sign_and_weights(rng):
    ss = pytest.importorskip("scipy.special")
    a = rand(rng, (3, 4))
    a[1] = -np.inf
    a[2, 0] = np.inf
    b = np.array([1.0, -2.0, 0.5, 0.0])
    for kw in (dict(), dict(axis=1), dict(axis=1, b=b), dict(axis=1, b=b, return_sign=True),
               dict(axis=0, b=b[:3, None], return_sign=True, keepdims=True), dict(b=np.abs(b), return_sign=True)):
        with np.errstate(all="ignore"):
            want = ss.logsumexp(a, **kw)
        on_backends(lambda xp, a: cnp.special.logsumexp(a, **kw), a, want=want, rtol=1e-14, atol=1e-14)


def test_logsumexp_weights_gradient_matches_jax(rng):
    jax = pytest.importorskip("jax")
    a, b = rand(rng, (3, 5)), rand(rng, (5,), low=0.1, high=2.0)
    b[1] = -0.3
    f = lambda m, xp: (lambda a, b: xp.sum(m.logsumexp(a, axis=1, b=b, return_sign=True)[0]))
    got = cr.grad(f(cnp.special, cnp), argnums=(0, 1))(a, b)
    with jax.enable_x64(True):
        want = jax.grad(f(jax.scipy.special, jax.numpy), argnums=(0, 1))(a, b)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(w), rtol=1e-12, atol=1e-12)


# --- erfinv, ndtr, ndtri, log_ndtr ------------------------------------------------------------------------

def _ulps(got, want, dtype):
    want = np.asarray(want, np.float64)
    return np.abs(np.asarray(got, np.float64) - want) / np.spacing(np.abs(want).astype(dtype)).astype(np.float64)


@pytest.mark.parametrize("dtype", (np.float32, np.float64))
def test_erfinv_accuracy_in_ulp(dtype, rng):
    # scipy's erfinv (Boost) is within 2 ulp of the true value (measured against mpmath at 50 digits);
    # ours (Giles' polynomials, as XLA) is within ~3.3 ulp (float32) and 4 ulp (float64) of the true value
    ss = pytest.importorskip("scipy.special")
    tiny = 1e-7 if dtype == np.float32 else 1e-16
    x = np.concatenate([rng.uniform(-1, 1, 20000), 1 - 10.0 ** rng.uniform(np.log10(tiny), -1, 5000),
                        [0.0, -0.0, 1e-30, 0.5, -0.999]]).astype(dtype)
    x = x[np.abs(x) < 1]
    err = _ulps(cnp.special.erfinv(x), ss.erfinv(x.astype(np.float64)), dtype)
    assert err.max() <= (4.0 if dtype == np.float32 else 6.0), (err.max(), x[err.argmax()])
    assert cnp.special.erfinv(x).dtype == dtype


@pytest.mark.parametrize("dtype", (np.float32, np.float64))
def test_normal_special_functions(dtype):
    ss = pytest.importorskip("scipy.special")
    x = np.array([-np.inf, -1e20, -40.0, -8.0, -1.5, -1.0, -0.3, 0.0, 0.3, 1.0, 1.414, 1.5, 8.0, 40.0, np.inf, np.nan], dtype)
    p = np.array([-0.5, 0.0, 1e-30, 1e-12, 1e-5, 0.02, 0.5, 0.7, 0.999, 1.0, 1.5, np.nan], dtype)
    e = np.array([-1.5, -1.0, -0.999, -0.5, -0.0, 0.0, 0.1, 0.9, 0.9999, 1.0, 2.0, np.nan], dtype)
    tol = dict(rtol=3e-6, atol=0) if dtype == np.float32 else dict(rtol=2e-14, atol=0)
    with np.errstate(all="ignore"):
        want = (ss.ndtr(x.astype(np.float64)).astype(dtype), ss.log_ndtr(x.astype(np.float64)).astype(dtype),
                ss.ndtri(p.astype(np.float64)).astype(dtype), ss.erfinv(e.astype(np.float64)).astype(dtype))
    on_backends(lambda xp, x, p, e: (cnp.special.ndtr(x), cnp.special.log_ndtr(x), cnp.special.ndtri(p),
                                     cnp.special.erfinv(e)), x, p, e, want=want, **tol)


def test_normal_special_gradients_match_jax():
    jax = pytest.importorskip("jax")
    jss = pytest.importorskip("jax.scipy.special")
    cases = {"erfinv": np.array([-0.99, -0.5, 0.0, 0.1, 0.9, 0.999]), "ndtri": np.array([1e-20, 0.01, 0.5, 0.97]),
             "ndtr": np.array([-30.0, -3.0, -1.2, 0.0, 0.2, 1.5, 4.0, 12.0]),
             "log_ndtr": np.array([-30.0, -3.0, -1.2, 0.0, 0.2, 1.5, 4.0, 12.0])}
    for name, x in cases.items():
        got = cr.grad(lambda v: cnp.sum(getattr(cnp.special, name)(v)))(x)
        with jax.enable_x64(True):
            want = jax.grad(lambda v: getattr(jss, name)(v).sum())(x)
        # 1e-9: at -30 JAX's log_ndtr series is 1.6e-10 off (ours matches mpmath to 1e-16 there)
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-9, err_msg=name)
    # second order of erfinv: d/dx (sqrt(pi)/2 exp(y^2)) = 2 y (sqrt(pi)/2 exp(y^2))^2
    y = cnp.special.erfinv(0.3)
    np.testing.assert_allclose(cr.grad(cr.grad(cnp.special.erfinv))(0.3), 2 * y * (np.sqrt(np.pi) / 2 * np.exp(y * y)) ** 2,
                               rtol=1e-9)
    np.testing.assert_allclose(cr.vmap(cr.grad(cnp.special.erfinv))(np.array([0.1, 0.2])),
                               np.sqrt(np.pi) / 2 * np.exp(cnp.special.erfinv(np.array([0.1, 0.2])) ** 2), rtol=1e-14)


# --- static-shape nonzero / argwhere / where(cond) / bincount / histogram ------------------------------------

def _padded(idx, size, fill):
    """NumPy's nonzero result cut or padded to `size` (what JAX's size=/fill_value= give)."""
    fills = fill if isinstance(fill, tuple) else (fill,) * len(idx)
    return tuple(np.concatenate([i[:size], np.full(max(size - len(i), 0), f, np.int64)]).astype(np.int64)
                 for i, f in zip(idx, fills))


@pytest.mark.parametrize("size,fill", [(0, None), (2, None), (5, -1), (9, (7, 8))])
def test_nonzero_with_size(size, fill, rng):
    x = rng.integers(0, 2, (3, 3)) * rng.integers(1, 5, (3, 3))
    x[0] = 0
    x = x.astype(np.float64)
    f = 0 if fill is None else fill
    nz = _padded(np.nonzero(x), size, f)
    flat = _padded(np.nonzero(x.ravel()), size, f[0] if isinstance(f, tuple) else f)[0]
    want = (nz, np.stack(nz, axis=-1) if size else np.zeros((0, 2), np.int64), flat, nz)
    on_backends(lambda xp, x: (cnp.nonzero(x, size=size, fill_value=fill), cnp.argwhere(x, size=size, fill_value=fill),
                               cnp.flatnonzero(x, size=size, fill_value=f[0] if isinstance(f, tuple) else fill),
                               cnp.where(x != 0, size=size, fill_value=fill)), x, want=want)


def test_nonzero_without_size(rng):
    x = rand(rng, (3, 4), np.int32, -1, 1)
    check(lambda xp, x: (xp.nonzero(x), xp.argwhere(x), xp.flatnonzero(x), xp.where(x > 0)), x, modes=("eager",))
    for fn in (cnp.nonzero, cnp.argwhere, cnp.flatnonzero, cnp.where):
        with pytest.raises(NotImplementedError, match="size="):
            cr.jit(fn)(x)
    with pytest.raises(ValueError, match="0d"):
        cnp.nonzero(np.float64(1.0), size=1)


def test_nonzero_matches_jax(rng):
    jnp = pytest.importorskip("jax.numpy")
    x = rng.integers(0, 3, (4, 5)) * (rng.random((4, 5)) < 0.4)
    want = [np.asarray(v) for v in (*jnp.nonzero(x, size=6, fill_value=-1), jnp.argwhere(x, size=3),
                                     jnp.flatnonzero(x, size=12, fill_value=99))]
    got = cr.jit(lambda x: (*cnp.nonzero(x, size=6, fill_value=-1), cnp.argwhere(x, size=3),
                            cnp.flatnonzero(x, size=12, fill_value=99)))(x)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_bincount(rng):
    x = rng.integers(0, 6, 20)
    w = rand(rng, (20,))
    check(lambda xp, x, w: (xp.bincount(x), xp.bincount(x, minlength=9), xp.bincount(x, weights=w)), x, w,
          modes=("eager",))
    want = (np.bincount(x, minlength=8), np.bincount(x, weights=w, minlength=8)[:8], np.bincount(x)[:3])
    on_backends(lambda xp, x, w: (cnp.bincount(x, length=8), cnp.bincount(x, weights=w, length=8),
                                  cnp.bincount(x, length=3)), x, w, want=want, rtol=1e-15, atol=1e-15)
    # JAX: negative values count at 0, values past the length are dropped
    np.testing.assert_array_equal(cr.jit(lambda x: cnp.bincount(x, length=3))(np.array([-1, 0, 5, 2])), [2, 0, 1])
    with pytest.raises(NotImplementedError, match="length="):
        cr.jit(cnp.bincount)(x)
    g = cr.grad(lambda w: cnp.sum(cnp.bincount(np.array([1, 1, 3]), weights=w, length=4) * np.arange(4.0)))(np.ones(3))
    np.testing.assert_array_equal(g, [1.0, 1.0, 3.0])


@pytest.mark.parametrize("dtype", (np.float32, np.float64, np.int32))
def test_histogram(dtype, rng):
    x = rand(rng, (40,), dtype, -3, 3)
    w = rand(rng, (40,), np.float64, 0, 1)
    on_backends(lambda xp, x, w: (xp.histogram(x, bins=7), xp.histogram(x, bins=4, range=(-1, 2.5)),
                                  xp.histogram(x, bins=5, weights=w), xp.histogram(x, bins=3, density=True),
                                  xp.histogram(x, bins=np.array([-3.0, -1.0, 0.5, 3.0]))), x, w,
                rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-14)
    on_backends(lambda xp, x: xp.histogram(x, bins=3), np.full((5,), 2, dtype))  # all equal: range widened by 1/2


def test_histogram_weights_gradient_matches_jax(rng):
    jax = pytest.importorskip("jax")
    x, w = rand(rng, (30,)), rand(rng, (30,), low=0, high=1)
    f = lambda xp: (lambda w: xp.sum(xp.histogram(x, bins=4, weights=w, density=True)[0] * xp.arange(4.0)))
    with jax.enable_x64(True):
        want = jax.grad(f(jax.numpy))(w)
    np.testing.assert_allclose(cr.grad(f(cnp))(w), np.asarray(want), rtol=1e-12)


# --- quantile methods --------------------------------------------------------------------------------------

from chainrule.frontend.numpy.statistics import QUANTILE_METHODS  # noqa: E402


@pytest.mark.parametrize("method", QUANTILE_METHODS)
def test_quantile_methods(method, rng):
    x, xi = rand(rng, (4, 7)), rand(rng, (3, 8), np.int32, 0, 5)
    xf = rand(rng, (9,), np.float32)
    q = np.array([0.0, 0.01, 0.3, 0.5, 0.77, 1.0])
    check(lambda xp, x, xi: (xp.quantile(x, q, axis=1, method=method), xp.quantile(xi, 0.5, method=method),
                             xp.quantile(xi, [0.1, 0.9], axis=0, method=method, keepdims=True),
                             xp.percentile(x, 37.0, axis=0, method=method)), x, xi, rtol=1e-14, atol=1e-14)
    # float32: NumPy forms the virtual index in float64 for some methods, so the last bit may differ
    check(lambda xp, xf: (xp.quantile(xf, 0.4, method=method), xp.quantile(xf, q, method=method)), xf,
          rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("method", ["lower", "nearest", "hazen", "midpoint"])
def test_nanquantile_methods(method, rng):
    x = rand(rng, (3, 9))
    x[0, [1, 4]] = np.nan
    x[2] = np.nan
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        want = (np.nanquantile(x, [0.2, 0.6], axis=1, method=method), np.quantile(x, 0.5, axis=1, method=method),
                np.nanpercentile(x[:2], 50, method=method))
    on_backends(lambda xp, x: (cnp.nanquantile(x, [0.2, 0.6], axis=1, method=method),
                               cnp.quantile(x, 0.5, axis=1, method=method), cnp.nanpercentile(x[:2], 50, method=method)),
                x, want=want, rtol=1e-14, atol=1e-14)


def test_quantile_method_errors_and_gradients(rng):
    with pytest.raises(ValueError, match="not a valid method"):
        cnp.quantile(np.ones(3), 0.5, method="closest")
    jax = pytest.importorskip("jax")
    x = rand(rng, (9,))
    for method in ("linear", "lower", "higher", "midpoint", "nearest"):
        f = lambda xp: (lambda v: xp.sum(xp.quantile(v, xp.array([0.2, 0.55, 0.9]), method=method) * xp.arange(3.0)))
        with jax.enable_x64(True):
            want = jax.grad(f(jax.numpy))(x)
        np.testing.assert_allclose(cr.grad(f(cnp))(x), np.asarray(want), rtol=1e-12, err_msg=method)


# --- .at[].min / max / multiply / divide / power / apply ------------------------------------------------------

AT_OPS = ("min", "max", "multiply", "divide", "power")


def _at_cases(x, i, v, m):
    """The same updates on jax.numpy (m = jnp) and on tensors (m = cnp): duplicates, a negative and an
    out-of-range index (dropped), slices, several integer arrays, a row."""
    out = [getattr(x.at[i], op)(v) for op in AT_OPS]
    out.append(x.at[i].apply(lambda z: z * 2 + 1))
    X = m.reshape(x[:6], (2, 3))
    out += [X.at[:, np.array([0, 0, 2])].min(-1.0), X.at[np.array([0, 1, 1]), np.array([1, 2, 2])].multiply(m.abs(v[:3])),
            X.at[1].power(2.0), X.at[np.array([1, 1]), 1:3].max(m.reshape(v[:4], (2, 2))), x.at[2:5].apply(m.sin),
            x.at[np.array([1, 1, 1])].divide(m.abs(v[:3]) + 1)]
    return out


def test_at_updates_match_jax(rng):
    jax = pytest.importorskip("jax")
    x = rand(rng, (7,), low=0.5, high=2.0)
    i = np.array([4, 0, 4, -1, 9, 2, 2, 2])
    v = rand(rng, (8,), low=0.5, high=2.0)
    with jax.enable_x64(True):
        want = [np.asarray(w) for w in _at_cases(jax.numpy.asarray(x), i, jax.numpy.asarray(v), jax.numpy)]
    for b in BACKENDS:
        got = cr.jit(lambda x, v: _at_cases(x, i, v, cnp), backend=b)(x, v)
        for k, (g, w) in enumerate(zip(got, want)):
            np.testing.assert_allclose(g, w, rtol=1e-14, err_msg=f"case {k} on {b}")
    # traced indices
    got = cr.jit(lambda x, i, v: [getattr(x.at[i], op)(v) for op in AT_OPS] + [x.at[i].apply(cnp.cos)])(x, i, v)
    with jax.enable_x64(True):
        want = [getattr(jax.numpy.asarray(x).at[i], op)(v) for op in AT_OPS] + [jax.numpy.asarray(x).at[i].apply(jax.numpy.cos)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(w), rtol=1e-14)


def test_at_updates_with_a_concrete_boolean_mask():
    x = np.array([1.0, 5.0, 2.0, 8.0])
    mask = np.array([True, False, True, True])
    got = cr.jit(lambda x: (x.at[mask].min(1.5), x.at[mask].power(2.0), x.at[mask].apply(cnp.negative)))(x)
    np.testing.assert_array_equal(got[0], [1.0, 5.0, 1.5, 1.5])
    np.testing.assert_array_equal(got[1], [1.0, 5.0, 4.0, 64.0])
    np.testing.assert_array_equal(got[2], [-1.0, 5.0, -2.0, -8.0])


def test_at_updates_int_dtype():
    x = np.array([5, 3, 8, 1], np.int32)
    got = cr.jit(lambda x: (x.at[np.array([0, 0, 3])].min(np.array([4, 2, 0], np.int32)),
                            x.at[np.array([1, 1])].multiply(3), x.at[np.array([2, 2])].power(2)))(x)
    np.testing.assert_array_equal(got[0], [2, 3, 8, 0])
    np.testing.assert_array_equal(got[1], [5, 27, 8, 1])
    np.testing.assert_array_equal(got[2], [5, 3, 8 ** 4, 1])
    assert all(g.dtype == np.int32 for g in got)
    with pytest.raises(TypeError, match="floating"):
        cr.jit(lambda x: x.at[0].divide(2))(x)


@pytest.mark.parametrize("op", AT_OPS)
def test_at_update_gradients(op):
    jax = pytest.importorskip("jax")
    x, v = np.array([1.5, 2.0, 3.0, 4.0, 5.0]), np.array([0.5, 2.5, 3.2])
    f = lambda m, idx, **kw: (lambda x, v: m.sum(getattr(x.at[idx], op)(v, **kw) * m.arange(5.0)))
    got = cr.grad(f(cnp, np.array([4, 0, 2])), argnums=(0, 1))(x, v)
    with jax.enable_x64(True):  # JAX differentiates scatter_mul only with unique indices
        want = jax.grad(f(jax.numpy, np.array([4, 0, 2]), unique_indices=True), argnums=(0, 1))(x, v)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(w), rtol=1e-13)
    # duplicates: against finite differences, to second order
    cr.check_grads(cr.jit(f(cnp, np.array([4, 0, 4, 1, 2, 2]))), (x, np.array([0.5, 2.5, 3.2, 1.7, 0.3, 2.2])), order=2)


# --- under vmap ---------------------------------------------------------------------------------------------

def test_new_functions_under_vmap(rng):
    ss = pytest.importorskip("scipy.special")
    x, i = rand(rng, (3, 6)), rng.integers(0, 4, (3, 6))
    b = np.linspace(-1, 1, 6)
    cases = {
        "sort": (lambda v: cnp.sort(v, descending=True), lambda v: np.sort(v)[::-1], x),
        "argsort": (lambda v: cnp.argsort(v, descending=True), lambda v: np.argsort(-v, kind="stable"), x),
        "histogram": (lambda v: cnp.histogram(v, bins=3)[0], lambda v: np.histogram(v, bins=3)[0], x),
        "nonzero": (lambda v: cnp.nonzero(v, size=7, fill_value=-1)[0],
                    lambda v: _padded(np.nonzero(v), 7, -1)[0], i),
        "bincount": (lambda v: cnp.bincount(v, length=5), lambda v: np.bincount(v, minlength=5), i),
        "at_max": (lambda v: v.at[np.array([0, 0, 2])].max(np.array([5.0, 1.0, 0.0])),
                   lambda v: np.maximum.at(w := v.copy(), [0, 0, 2], [5.0, 1.0, 0.0]) or w, x),
        "quantile": (lambda v: cnp.quantile(v, 0.4, method="nearest"), lambda v: np.quantile(v, 0.4, method="nearest"), x),
        "logsumexp": (lambda v: cnp.special.logsumexp(v, b=b, return_sign=True)[1],
                      lambda v: ss.logsumexp(v, b=b, return_sign=True)[1], x),
        "erfinv": (lambda v: cnp.special.erfinv(cnp.tanh(v)), lambda v: ss.erfinv(np.tanh(v)), x),
        "r_": (lambda v: cnp.r_[v[:2], 0:2], lambda v: np.r_[v[:2], 0:2], x),
    }
    for name, (f, ref, a) in cases.items():
        np.testing.assert_allclose(cr.vmap(f)(a), np.stack([ref(r) for r in a]), rtol=1e-13, err_msg=name)
