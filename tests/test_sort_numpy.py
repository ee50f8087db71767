"""chainrule.numpy's sorting functions on the sort op, against NumPy (values) and JAX (derivatives, top_k)
on the reference, jax and llvm backends."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.frontend import lax as crlax
from chainrule.testing import assert_same
from test_numpy_harness import check

jax = pytest.importorskip("jax")
jnp = jax.numpy
pytestmark = pytest.mark.usefixtures("jax_x64")

BACKENDS = ["reference", "jax", "llvm"]


def modes(backend):
    """Every mode on llvm (the default backend); the others once, jitted (their compiles are slow)."""
    return ("eager", "jit", "function") if backend == "llvm" else ("jit",)


def data(rng, shape, dtype=np.float64, edges=True):
    x = np.round(rng.standard_normal(shape) * 3, 1).astype(dtype)
    if edges and x.dtype.kind == "f":
        f = x.reshape(-1)
        f[::7] = np.nan
        f[1::5] = -0.0
        f[2::9] = np.inf
        f[3::11] = -np.inf
    return x


def stable(xp, fn, *a, **k):
    return fn(*a, kind="stable", **k) if xp is np else fn(*a, **k)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sort_argsort_lexsort(backend, rng):
    x = data(rng, (4, 37))
    ints = rng.integers(-3, 3, (4, 37)).astype(np.int32)
    check(lambda xp, x: (xp.sort(x), xp.sort(x, axis=0), xp.sort(x, axis=None), stable(xp, xp.argsort, x, axis=0),
                         stable(xp, xp.argsort, x, axis=-1)), x, backend=backend, modes=modes(backend))
    check(lambda xp, i: (xp.sort(i, axis=0), stable(xp, xp.argsort, i), xp.lexsort((i[1], i[0])), xp.lexsort(i)),
          ints, backend=backend, modes=modes(backend))


def test_descending_matches_jax(rng):
    x = np.array([2.0, np.nan, 1.0, 2.0, -0.0, 0.0, 1.0])
    np.testing.assert_array_equal(cnp.sort(x, descending=True), jnp.sort(x, descending=True))
    np.testing.assert_array_equal(cnp.argsort(x, descending=True), jnp.argsort(x, descending=True))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted_and_digitize(backend, side, rng):
    a = np.sort(data(rng, (50,)))
    v = data(rng, (3, 8))
    v[0, :4] = a[[0, 10, 20, 49]]  # exact hits: the side decides
    bins = np.array([-2.0, -1.0, 0.0, 1.5, 3.0])
    perm = rng.permutation(50)
    check(lambda xp, a, v: (xp.searchsorted(a, v, side=side), xp.searchsorted(a, 0.5, side=side),
                            xp.digitize(v, bins, right=side == "right"),
                            xp.searchsorted(a[perm], v, side=side, sorter=np.argsort(perm))), a, v,
          backend=backend, modes=modes(backend)[:2])


def test_searchsorted_graph_does_not_grow_with_n():
    sizes = set()
    for n in (16, 1024, 1 << 16):
        g = cr.jit(cnp.searchsorted).lower(np.zeros(n), np.zeros(5)).graph
        sizes.add(len(g.nodes))
    assert len(sizes) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_median_quantile_percentile(backend, rng):
    x = data(rng, (3, 21), edges=False)
    y = x.copy()
    y[1, 3] = np.nan
    check(lambda xp, x: (xp.median(x), xp.median(x, axis=1), xp.quantile(x, 0.3), xp.quantile(x, [0.1, 0.9], axis=0),
                         xp.percentile(x, 75, axis=1), xp.nanmedian(x, axis=1)), x, backend=backend, rtol=1e-12,
          modes=modes(backend))
    check(lambda xp, y: (xp.median(y, axis=1), xp.nanmedian(y, axis=1), xp.nanquantile(y, 0.4, axis=1)), y,
          backend=backend, rtol=1e-12, modes=("jit",))


UNIQUE_X = np.round(np.random.default_rng(3).standard_normal((4, 6)) * 2)
UNIQUE_X[0, :3] = np.nan


def _sized(values, size, fill):
    """jnp.unique's padding: the first `size` entries, the rest `fill`."""
    out = np.full((size,), fill, values.dtype)
    out[:min(size, len(values))] = values[:size]
    return out


def _jnp_unique():
    """What jnp.unique(UNIQUE_X, ..., size=) returns (checked against JAX by test_unique_oracle_is_jax's)."""
    u, idx, inv, cnt = np.unique(UNIQUE_X, return_index=True, return_inverse=True, return_counts=True)
    return ([_sized(u, 12, u[0]), _sized(idx, 12, idx[0]), inv.reshape(UNIQUE_X.shape), _sized(cnt, 12, 0)],
            [_sized(u, 3, u[0]), _sized(u, 30, -7.0)])


@pytest.mark.slow
def test_unique_oracle_is_jax():
    want_all, want_sized = _jnp_unique()
    got = jnp.unique(UNIQUE_X, return_index=True, return_inverse=True, return_counts=True, size=12)
    for g, w in zip(got, want_all):
        np.testing.assert_array_equal(np.asarray(g), w)
    np.testing.assert_array_equal(jnp.unique(UNIQUE_X, size=30, fill_value=-7.0), want_sized[1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_unique_with_size_matches_jax(backend):
    x = UNIQUE_X
    want_all, want_sized = _jnp_unique()

    def f(x):
        return (cnp.unique(x, return_index=True, return_inverse=True, return_counts=True, size=12),
                cnp.unique(x, size=3), cnp.unique(x, size=30, fill_value=-7.0))
    got_all, got3, got30 = cr.jit(f, backend=backend)(x)
    for g, w in zip(list(got_all) + [got3, got30], want_all + want_sized):
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(cnp.unique(x), np.unique(x))  # concrete, without size: NumPy's answer
    with pytest.raises(NotImplementedError, match="size="):
        cr.jit(cnp.unique)(x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_partition(backend, rng):
    x = data(rng, (5, 9), edges=False)
    for kth in (0, 4, -1):
        p = cr.jit(lambda x: cnp.partition(x, kth), backend=backend)(x)
        ip = cr.jit(lambda x: cnp.argpartition(x, kth, axis=0), backend=backend)(x)
        k = kth % 9
        want = np.partition(x, kth)
        np.testing.assert_array_equal(p[:, k], want[:, k])
        assert np.all(p[:, :k] <= p[:, k:k + 1]) and np.all(p[:, k + 1:] >= p[:, k:k + 1])
        np.testing.assert_array_equal(np.take_along_axis(x, ip, 0)[kth % 5], np.partition(x, kth, axis=0)[kth % 5])
    with pytest.raises(ValueError, match="out of bounds"):
        cnp.partition(x, 9)


@pytest.mark.parametrize("backend", BACKENDS)
def test_top_k_matches_jax(backend, rng):
    x = np.array([[1.0, np.nan, 3.0, 3.0, -0.0, 0.0, -np.inf, 2.0]])
    x = np.concatenate([x, np.round(rng.standard_normal((3, 8)))])
    for k in (0, 1, 5, 8):
        v, i = cr.jit(lambda x: crlax.top_k(x, k), backend=backend)(x)
        wv, wi = jax.lax.top_k(x, k)
        np.testing.assert_array_equal(v, wv)
        np.testing.assert_array_equal(i, wi)
        assert i.dtype == np.int32
    ints = rng.integers(0, 4, (3, 10)).astype(np.int32)
    v, i = crlax.top_k(ints, 4)
    wv, wi = jax.lax.top_k(ints, 4)
    np.testing.assert_array_equal(v, wv)
    np.testing.assert_array_equal(i, wi)
    with pytest.raises(ValueError, match="k must be"):
        crlax.top_k(ints, 11)


def test_derivatives_match_jax(rng):
    x = rng.standard_normal((4, 7))
    x[1, 2] = x[1, 5]  # a tie
    w = rng.standard_normal((4, 7))
    cases = {
        "sort": lambda xp, x: (xp.sort(x, axis=1) * w).sum(),
        "sort_axis0": lambda xp, x: (xp.sort(x, axis=0) ** 2 * w).sum(),
        "median": lambda xp, x: xp.median(x, axis=1).sum() + xp.median(x),
        "quantile": lambda xp, x: (xp.quantile(x, np.array([0.2, 0.7]), axis=0) * 3).sum(),
        "top_k": lambda xp, x: (crlax if xp is cnp else jax.lax).top_k(x, 3)[0].sum() * 2,
        "take_argsort": lambda xp, x: (xp.take_along_axis(x, xp.argsort(x, axis=1), axis=1) * w).sum(),
    }
    for name, f in cases.items():
        got = cr.grad(lambda x: f(cnp, x))(x)
        want = jax.jit(jax.grad(lambda x: f(jnp, x)))(x)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=name)


def test_vmap_of_sorting_functions(rng):
    x = data(rng, (3, 11), edges=False)
    np.testing.assert_array_equal(cr.vmap(cnp.sort)(x), np.sort(x, axis=1))
    np.testing.assert_array_equal(cr.vmap(cnp.argsort)(x), np.argsort(x, axis=1, kind="stable"))
    np.testing.assert_allclose(cr.vmap(cnp.median)(x), np.median(x, axis=1))
    a = np.sort(x[0])
    np.testing.assert_array_equal(cr.vmap(lambda v: cnp.searchsorted(a, v))(x),
                                  np.searchsorted(a, x))


@pytest.mark.parametrize("backend", BACKENDS)
def test_complex_sorts_by_real_then_imaginary_part(backend, rng):
    z = (rng.integers(-2, 3, (3, 11)) + 1j * rng.integers(-2, 3, (3, 11))).astype(np.complex64)
    check(lambda xp, z: (xp.sort(z), xp.sort(z, axis=0), stable(xp, xp.argsort, z)), z, backend=backend,
          modes=("jit",))
    i = rng.integers(-5, 5, 9).astype(np.int16)
    check(lambda xp, i: xp.sort_complex(i), i, backend=backend, modes=("jit",))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dt", ["float16", "bfloat16"])
def test_narrow_floats_sort_along_any_axis(backend, dt, rng):
    import ml_dtypes
    npd = np.dtype(getattr(ml_dtypes, dt) if dt == "bfloat16" else dt)
    x = data(rng, (5, 7)).astype(npd)
    wide = x.astype(np.float32)
    f = cr.jit(lambda x: (cnp.sort(x, axis=0), cnp.argsort(x), cnp.argsort(x, axis=0)), backend=backend)
    s, a, a0 = f(x)
    assert_same(np.asarray(s).astype(np.float32), np.sort(wide, axis=0))
    assert_same(np.asarray(a), np.argsort(wide, kind="stable"))
    assert_same(np.asarray(a0), np.argsort(wide, axis=0, kind="stable"))


def test_bad_arguments_say_what_was_expected():
    x = np.ones((3, 4))
    with pytest.raises(ValueError, match="side must be"):
        cnp.searchsorted(x[0], 1.0, side="middle")
    with pytest.raises(ValueError, match="kind must be"):
        cnp.sort(x, kind="bogo")
    with pytest.raises(ValueError, match="0-d"):
        cnp.sort(np.float64(1.0))
    with pytest.raises(ValueError, match="num_keys"):
        crlax.sort((x, x), num_keys=3)
