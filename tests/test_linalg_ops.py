"""The linear-algebra ops (chainrule.ir.linalg_ops) on every backend against numpy.linalg, their type
errors, text round trip and batching (vmap)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule.frontend.core import bind
from chainrule.ir import IRTypeError, TensorType, parse, typed
from chainrule.testing import assert_roundtrip
from linalg_backends import backend_params

pytestmark = pytest.mark.usefixtures("jax_x64")

BACKENDS = backend_params()
DTYPES = [np.float64, np.float32]
DTYPES_F32_SLOW = [np.float64, pytest.param(np.float32, marks=pytest.mark.slow)]  # compile time: keep the default run short


def _tol(dt):
    return dict(rtol=2e-4, atol=2e-4) if np.dtype(dt) == np.float32 else dict(rtol=1e-10, atol=1e-10)


def _t(x):
    return np.swapaxes(x, -1, -2)


def _spd(rng, shape, dt=np.float64):
    a = rng.standard_normal(shape)
    return (a @ _t(a) + shape[-1] * np.eye(shape[-1])).astype(dt)


def _run(backend, fn, *args):
    return cr.jit(fn, backend=backend)(*args)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dt", DTYPES)
def test_cholesky(backend, dt, rng):
    s = _spd(rng, (3, 5, 5), dt)
    noisy = s + np.triu(np.full((5, 5), 7.0, dt), 1)  # the lower factor reads only the lower triangle
    lo, up = _run(backend, lambda a, b: (bind("cholesky", a), bind("cholesky", _t_op(b), lower=False)), noisy, noisy)
    want = np.linalg.cholesky(s.astype(np.float64))
    np.testing.assert_allclose(lo, want, **_tol(dt))
    np.testing.assert_allclose(up, _t(want), **_tol(dt))
    assert lo.dtype == dt and np.all(np.triu(lo, 1) == 0) and np.all(np.tril(up, -1) == 0)


def _t_op(x):
    n = x.ndim
    return bind("transpose", x, permutation=tuple(range(n - 2)) + (n - 1, n - 2))


@pytest.mark.parametrize("backend", BACKENDS)
def test_cholesky_of_indefinite_matrix_is_nan(backend):
    out = _run(backend, lambda a: bind("cholesky", a), np.stack([np.eye(3), -np.eye(3)]))
    np.testing.assert_array_equal(out[0], np.eye(3))
    assert np.isnan(np.diagonal(out[1])).all()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dt", DTYPES)
def test_triangular_solve_every_attribute(backend, dt, rng):
    a = (rng.standard_normal((2, 4, 4)) + 4 * np.eye(4)).astype(dt)
    b = rng.standard_normal((2, 4, 3)).astype(dt)
    combos = list(itertools.product([True, False], repeat=4))

    def f(a, b):
        return tuple(bind("triangular_solve", a, b if ls else _t_op(b), left_side=ls, lower=lo, transpose_a=tr,
                          unit_diagonal=ud) for ls, lo, tr, ud in combos)
    outs = _run(backend, f, a, b)
    for (ls, lo, tr, ud), x in zip(combos, outs):
        t = np.tril(a) if lo else np.triu(a)
        if ud:
            t = t.copy()
            t[..., range(4), range(4)] = 1
        op = _t(t) if tr else t
        rhs = b if ls else _t(b)
        got = op.astype(np.float64) @ x if ls else x @ op.astype(np.float64)
        np.testing.assert_allclose(got, rhs, **_tol(dt), err_msg=f"left_side={ls} lower={lo} transpose={tr} unit={ud}")


def _lu_parts(lu, m, n):
    k = min(m, n)
    l = np.tril(lu[..., :, :k], -1) + np.eye(m, k)
    u = np.triu(lu[..., :k, :])
    return l, u


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(2, 5, 3), (3, 5)])
@pytest.mark.parametrize("dt", DTYPES_F32_SLOW)
def test_lu(backend, shape, dt, rng):
    a = rng.standard_normal(shape).astype(dt)
    lu, piv, perm = _run(backend, lambda a: bind("lu", a), a)
    m, n = shape[-2:]
    assert piv.dtype == np.int32 and perm.dtype == np.int32
    assert piv.shape == shape[:-2] + (min(m, n),) and perm.shape == shape[:-2] + (m,)
    l, u = _lu_parts(lu.astype(np.float64), m, n)
    pa = np.take_along_axis(a.astype(np.float64), perm[..., :, None], axis=-2)
    np.testing.assert_allclose(l @ u, pa, **_tol(dt))
    assert np.all(np.abs(l) <= 1 + 1e-6)  # partial pivoting: multipliers bounded by 1
    # the permutation is the pivots' row swaps applied in order
    np.testing.assert_array_equal(bind("lu_pivots_to_permutation", piv, permutation_size=m), perm)


@pytest.mark.parametrize("backend", BACKENDS)
def test_lu_pivots_match_lapack_and_singular_matrix(backend):
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])  # rank 2
    lu, piv, perm = _run(backend, lambda a: bind("lu", a), a)
    np.testing.assert_array_equal(piv, [1, 2, 2])  # LAPACK getrf: the first largest pivot, 0-based
    np.testing.assert_array_equal(perm, [1, 2, 0])
    assert lu[2, 2] == 0 and np.isfinite(lu).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_lu_pivots_to_permutation(backend, rng):
    piv = np.array([[2, 2, 3], [0, 3, 3], [1, 1, 2]], np.int32)
    perm = _run(backend, lambda p: bind("lu_pivots_to_permutation", p, permutation_size=4), piv)
    for p, got in zip(piv, perm):
        want = list(range(4))
        for i, j in enumerate(p):
            want[i], want[j] = want[j], want[i]
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(2, 4, 3), (3, 4)])
@pytest.mark.parametrize("full", [True, False])
@pytest.mark.parametrize("dt", DTYPES_F32_SLOW)
def test_qr_matches_numpy_signs_included(backend, shape, full, dt, rng):
    a = rng.standard_normal(shape).astype(dt)
    q, r = _run(backend, lambda a: bind("qr", a, full_matrices=full), a)
    wq, wr = np.linalg.qr(a, mode="complete" if full else "reduced")
    np.testing.assert_allclose(q, wq, **_tol(dt))
    np.testing.assert_allclose(r, wr, **_tol(dt))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("dt", DTYPES)
def test_eigh(backend, lower, dt, rng):
    a = rng.standard_normal((3, 5, 5))
    s = (a + _t(a)).astype(dt)
    noise = np.triu(np.full((5, 5), 9.0, dt), 1) if lower else np.tril(np.full((5, 5), 9.0, dt), -1)
    v, w = _run(backend, lambda a: bind("eigh", a, lower=lower), s + noise)
    ww, wv = np.linalg.eigh(s.astype(np.float64))
    np.testing.assert_allclose(w, ww, **_tol(dt))
    assert np.all(np.diff(w, axis=-1) >= 0)
    # eigenvectors up to sign: compare |v^T v_numpy| with the identity, and rebuild the matrix
    np.testing.assert_allclose(np.abs(_t(v.astype(np.float64)) @ wv), np.broadcast_to(np.eye(5), s.shape), **_tol(dt))
    np.testing.assert_allclose((v * w[..., None, :]) @ _t(v), s, **_tol(dt))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(2, 5, 3), (3, 5)])
@pytest.mark.parametrize("full", [True, False])
@pytest.mark.parametrize("dt", DTYPES_F32_SLOW)
def test_svd(backend, shape, full, dt, rng):
    a = rng.standard_normal(shape).astype(dt)
    u, s, vh, s_only = _run(backend, lambda a: (*bind("svd", a, full_matrices=full), bind("svd", a, compute_uv=False)),
                            a)
    ws = np.linalg.svd(a.astype(np.float64), compute_uv=False)
    np.testing.assert_allclose(s, ws, **_tol(dt))
    np.testing.assert_allclose(s_only, ws, **_tol(dt))
    k = min(shape[-2:])
    m, n = shape[-2:]
    assert u.shape[-2:] == (m, m if full else k) and vh.shape[-2:] == (n if full else k, n)
    np.testing.assert_allclose((u[..., :, :k] * s[..., None, :]) @ vh[..., :k, :], a, **_tol(dt))
    np.testing.assert_allclose(_t(u) @ u, np.broadcast_to(np.eye(u.shape[-1]), u.shape[:-2] + (u.shape[-1],) * 2),
                               **_tol(dt))


@pytest.mark.parametrize("backend", ["reference"] + [p for p in BACKENDS if p == "jax"])
def test_empty_matrices(backend):
    e = np.zeros((0, 0))
    lu, piv, perm = _run(backend, lambda a: bind("lu", a), e)
    assert lu.shape == (0, 0) and piv.shape == (0,) and perm.shape == (0,)
    assert _run(backend, lambda a: bind("cholesky", a), np.zeros((2, 0, 0))).shape == (2, 0, 0)


# --- type rules -------------------------------------------------------------------------------------

@pytest.mark.parametrize("op, types, attrs, match", [
    ("cholesky", [((3, 4), "float64")], {}, "square matrices"),
    ("cholesky", [((3, 3), "int32")], {}, "float32/float64"),
    ("eigh", [((3,), "float64")], {}, "rank >= 2"),
    ("triangular_solve", [((3, 3), "float64"), ((4, 2), "float64")], {"left_side": True}, "b with 3 rows"),
    ("triangular_solve", [((3, 3), "float64"), ((2, 4), "float64")], {}, "b with 3 columns"),
    ("triangular_solve", [((2, 3, 3), "float64"), ((3, 3, 2), "float64")], {"left_side": True}, "same leading"),
    ("triangular_solve", [((3, 3), "float32"), ((3, 2), "float64")], {"left_side": True}, "one float dtype"),
    ("svd", [((3, 3), "float64")], {"compute_uv": 1}, "True or False"),
    ("lu_pivots_to_permutation", [((3,), "int32")], {"permutation_size": 2}, "permutation_size >= "),
    ("lu_pivots_to_permutation", [((3,), "int64")], {"permutation_size": 4}, "int32 pivots"),
])
def test_type_errors_name_the_op_and_what_was_expected(op, types, attrs, match):
    with pytest.raises(IRTypeError, match=match) as e:
        typed(op, tuple(TensorType(s, d) for s, d in types), attrs, ())
    assert op in str(e.value)


@pytest.mark.parametrize("op, attrs, shape, want", [
    ("qr", {"full_matrices": True}, (2, 5, 3), [(2, 5, 5), (2, 5, 3)]),
    ("qr", {"full_matrices": False}, (2, 5, 3), [(2, 5, 3), (2, 3, 3)]),
    ("qr", {"full_matrices": False}, (3, 5), [(3, 3), (3, 5)]),
    ("svd", {"full_matrices": False}, (5, 3), [(5, 3), (3,), (3, 3)]),
    ("svd", {"full_matrices": True}, (3, 5), [(3, 3), (3,), (5, 5)]),
    ("svd", {"compute_uv": False}, (4, 3, 5), [(4, 3)]),
    ("eigh", {}, (4, 3, 3), [(4, 3, 3), (4, 3)]),
    ("lu", {}, (2, 3, 5), [(2, 3, 5), (2, 3), (2, 3)]),
])
def test_result_shapes(op, attrs, shape, want):
    _, _, types = typed(op, (TensorType(shape, "float64"),), attrs, ())
    assert [t.shape for t in types] == want


def test_text_round_trip_of_every_linalg_op(rng):
    def f(a, b):
        lu, piv, perm = bind("lu", a)
        q, r = bind("qr", a, full_matrices=False)
        v, w = bind("eigh", a, lower=False)
        u, s, vh = bind("svd", a)
        return (bind("cholesky", a, lower=False), bind("triangular_solve", a, b, left_side=True, unit_diagonal=True),
                lu, bind("lu_pivots_to_permutation", piv, permutation_size=4), q, r, v, w, u, s, vh,
                bind("svd", a, compute_uv=False))
    g = cr.trace(f, cr.Spec((2, 4, 4), "float64"), cr.Spec((2, 4, 3), "float64"))
    assert_roundtrip(g)
    text = str(g)
    for op in ("cholesky", "triangular_solve", "lu ", "lu_pivots_to_permutation", "qr", "eigh", "svd"):
        assert op in text
    assert "lower=false" in text and "unit_diagonal=true" in text and "compute_uv=false" in text
    assert str(parse(text)) == text


# --- batching -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["reference"] + [p for p in BACKENDS if p == "jax"])
def test_vmap_of_every_op_equals_the_loop(backend, rng):
    a = rng.standard_normal((3, 4, 4)) + 4 * np.eye(4)
    a = a @ _t(a)
    b = rng.standard_normal((4, 2))

    def f(a, b):
        lu, piv, perm = bind("lu", a)
        return (bind("cholesky", a), bind("triangular_solve", a, b, left_side=True, lower=True), lu, piv, perm,
                bind("lu_pivots_to_permutation", piv, permutation_size=4), *bind("qr", a), bind("eigh", a)[1],
                bind("svd", a, compute_uv=False))
    batched = cr.jit(cr.vmap(f, in_axes=(0, None)), backend=backend)(a, b)
    for i in range(3):
        for got, want in zip(batched, f(a[i], b)):
            np.testing.assert_allclose(got[i], want, rtol=1e-10, atol=1e-10)
    # batch dimension elsewhere than in front, and an unbatched a with a batched b
    moved = cr.vmap(lambda a: bind("cholesky", a), in_axes=2, out_axes=1)(np.moveaxis(a, 0, 2))
    np.testing.assert_allclose(np.moveaxis(moved, 1, 0), bind("cholesky", a), rtol=1e-12)
    bs = rng.standard_normal((5, 4, 2))
    xs = cr.vmap(lambda b: bind("triangular_solve", a[0], b, left_side=True), in_axes=0)(bs)
    np.testing.assert_allclose(xs, np.stack([bind("triangular_solve", a[0], x, left_side=True) for x in bs]),
                               rtol=1e-12)


def test_from_jax_imports_the_linalg_primitives(rng):
    jnp = pytest.importorskip("jax.numpy")
    jsl = pytest.importorskip("jax.scipy.linalg")
    import jax
    from chainrule.backends.reference import evaluate
    a = rng.standard_normal((3, 4, 4))
    s = a @ _t(a) + 4 * np.eye(4)
    b = rng.standard_normal((3, 4, 2))

    def f(s, a, b):
        return (jnp.linalg.cholesky(s), jnp.linalg.qr(a)[1], jnp.linalg.eigvalsh(s), jnp.linalg.svd(a)[1],
                jnp.linalg.svd(a, compute_uv=False), jnp.linalg.solve(a, b), jsl.lu_solve(jsl.lu_factor(a), b),
                jsl.solve_triangular(a, b, lower=True, trans=1))
    g = cr.from_jax(f, s, a, b)
    names = {n.op.name for n in g.walk()}
    assert {"cholesky", "qr", "eigh", "svd", "lu", "triangular_solve", "lu_pivots_to_permutation"} <= names
    for got, want in zip(evaluate(g, [s, a, b]), jax.jit(f)(s, a, b)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
