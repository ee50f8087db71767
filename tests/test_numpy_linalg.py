"""Products and einsum in chainrule.numpy against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from linalg_backends import backend_params
from test_numpy_harness import check, rand

MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
                 ((5, 2, 3), (5, 3, 4)), ((1, 2, 3), (6, 3, 4)), ((2, 1, 2, 3), (3, 3, 2))]


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if np.dtype(dtype) == np.float32 else dict(rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shapes", MATMUL_SHAPES)
@pytest.mark.parametrize("dtype", (np.int32, np.float32, np.float64))
def test_matmul(shapes, dtype, rng):
    a, b = rand(rng, shapes[0], dtype), rand(rng, shapes[1], dtype)
    check(lambda xp, a, b: (xp.matmul(a, b), a @ b), a, b, **_tol(dtype))


DOT_SHAPES = [((), (3,)), ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((2, 2, 3), (4, 3, 5))]


@pytest.mark.parametrize("shapes", DOT_SHAPES)
def test_dot(shapes, rng):
    a, b = rand(rng, shapes[0], np.float64), rand(rng, shapes[1], np.float64)
    check(lambda xp, a, b: xp.dot(a, b), a, b, rtol=1e-12, atol=1e-12)


def test_dot_method_and_mixed_dtypes(rng):
    a, b = rand(rng, (2, 3), np.int32), rand(rng, (3,), np.float32)
    check(lambda xp, a, b: (a.dot(b), xp.vdot(a[0], b), xp.dot(a, b)), a, b, rtol=1e-6)


def test_inner_outer_tensordot(rng):
    a, b = rand(rng, (2, 3, 4), np.float64), rand(rng, (4, 3, 2), np.float64)
    v, w = rand(rng, (4,), np.float64), rand(rng, (5,), np.float64)
    tol = dict(rtol=1e-12, atol=1e-12)
    check(lambda xp, a, v, w: (xp.inner(a, v), xp.inner(v, v), xp.outer(v, w), xp.outer(a[0], w)), a, v, w, **tol)
    check(lambda xp, a, b: (xp.tensordot(a, b, 1), xp.tensordot(a, b, ([1, 2], [1, 0])), xp.tensordot(a, b, 0),
                            xp.tensordot(a, b, axes=([0], [2]))), a, b, **tol)


EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("i,i->", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("iij->j", [(3, 3, 2)]),
    ("bij,bjk->bik", [(5, 2, 3), (5, 3, 4)]),
    ("bij,bjk->bki", [(5, 2, 3), (5, 3, 4)]),
    ("...ij,...jk->...ik", [(5, 2, 3), (3, 4)]),
    ("...ij,...jk", [(2, 1, 2, 3), (4, 3, 2)]),
    ("i...->...", [(3, 2, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("ab,cd,bc->ad", [(2, 3), (4, 5), (3, 4)]),
    ("ijk,jil->kl", [(2, 3, 4), (3, 2, 5)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("ij,ij,ij->i", [(3, 4), (3, 4), (3, 4)]),
    ("ij,kj->ikj", [(2, 3), (4, 3)]),
    ("i,i,i->i", [(3,), (3,), (3,)]),
    ("ijj,k->ik", [(2, 3, 3), (4,)]),
    ("ij,j->i", [(3, 1), (4,)]),
    ("ba", [(2, 3)]),
]


@pytest.mark.parametrize("spec,shapes", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
@pytest.mark.parametrize("dtype", (np.int64, np.float32, np.float64))
def test_einsum(spec, shapes, dtype, rng):
    ops = [rand(rng, s, dtype) for s in shapes]
    check(lambda xp, *ops: xp.einsum(spec, *ops), *ops, **_tol(dtype))


def test_einsum_bool_and_dtype(rng):
    a, b = rand(rng, (3, 4), np.bool_), rand(rng, (4, 2), np.bool_)
    check(lambda xp, a, b: xp.einsum("ij,jk->ik", a, b), a, b)
    x = rand(rng, (3, 4), np.int32)
    check(lambda xp, x: xp.einsum("ij->i", x, dtype=np.float64), x)


def test_einsum_contracts_with_dot_general(rng):
    a, b = rand(rng, (5, 2, 3), np.float32), rand(rng, (5, 3, 4), np.float32)
    g = cr.jit(lambda a, b: cnp.einsum("bij,bjk->bik", a, b)).lower(a, b).graph
    ops = [n.op.name for n in g.nodes]
    assert ops.count("dot_general") == 1 and "reduce" not in ops


@pytest.mark.parametrize("spec,n,msg", [("ij,jk->ik", 1, "operand"), ("ij->k", 1, "does not appear"),
                                        ("ijk->i", 1, "names 3 axes"), ("i$->i", 1, "invalid"),
                                        ("ii->ii", 1, "repeats")])
def test_einsum_errors(spec, n, msg):
    with pytest.raises(ValueError, match=msg):
        cnp.einsum(spec, *[np.ones((2, 2))] * n)


def test_einsum_size_mismatch():
    with pytest.raises(ValueError, match="sizes"):
        cnp.einsum("ij,jk->ik", np.ones((2, 3)), np.ones((4, 2)))


# --- chainrule.numpy.linalg ------------------------------------------------------------------------

def _lin(xp):
    return xp.linalg


@pytest.mark.parametrize("ord", [None, 1, 2, np.inf, -np.inf, 0, 3, 0.5])
def test_vector_norms(ord, rng):
    x = rand(rng, (3, 5), np.float64)
    x[0, 1] = 0.0
    check(lambda xp, x: (xp.linalg.norm(x[0], ord), xp.linalg.norm(x, ord, axis=1),
                         xp.linalg.norm(x, ord, axis=0, keepdims=True)), x, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("ord", [None, "fro", 1, -1, np.inf, -np.inf, 2, -2, "nuc"])
def test_matrix_norms(ord, rng):
    x = rand(rng, (2, 3, 4), np.float32)
    check(lambda xp, x: (xp.linalg.norm(x[0], ord), xp.linalg.norm(x, ord, axis=(1, 2)),
                         xp.linalg.norm(x, ord, axis=(2, 0), keepdims=True)), x, rtol=1e-6, atol=1e-6)
    check(lambda xp, x: xp.linalg.norm(x), x, rtol=1e-6)


def test_norm_of_ints(rng):
    check(lambda xp, x: (xp.linalg.norm(x), xp.linalg.norm(x, 1)), rand(rng, (4,), np.int32), rtol=1e-15)


def _well_conditioned(rng, shape):
    a = rng.standard_normal(shape)
    return a + 3 * np.eye(shape[-1])


@pytest.mark.parametrize("n", [1, 2, 4])
def test_solve_inv_det(n, rng):
    a = _well_conditioned(rng, (2, n, n))
    b = rng.standard_normal((2, n, 3))
    v = rng.standard_normal((n,))
    tol = dict(rtol=1e-10, atol=1e-12)
    check(lambda xp, a, b: (xp.linalg.solve(a, b), xp.linalg.inv(a), xp.linalg.det(a)), a, b, **tol)
    check(lambda xp, a, v: xp.linalg.solve(a[0], v), a, v, **tol)
    check(lambda xp, a: tuple(xp.linalg.slogdet(a)), a, **tol)


def test_solve_needs_pivoting(rng):
    a = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 3.0], [4.0, -3.0, 8.0]])  # zero leading pivot
    b = np.array([1.0, 2.0, 3.0])
    check(lambda xp, a, b: (xp.linalg.solve(a, b), xp.linalg.det(a), xp.linalg.inv(a)), a, b,
          rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", backend_params())
def test_det_of_singular_is_zero(backend):
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    assert float(cnp.linalg.det(a)) == 0.0
    assert float(cr.jit(cnp.linalg.det, backend=backend)(a)) == 0.0


def test_cholesky(rng):
    a = rng.standard_normal((3, 4, 4))
    s = a @ np.swapaxes(a, -1, -2) + np.eye(4)
    check(lambda xp, s: xp.linalg.cholesky(s), s, rtol=1e-12, atol=1e-12)
    check(lambda xp, s: xp.linalg.cholesky(s, upper=True), s, rtol=1e-12, atol=1e-12)


def test_matrix_power_multi_dot(rng):
    a = _well_conditioned(rng, (2, 3, 3)) / 3
    b, c = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    check(lambda xp, a: tuple(xp.linalg.matrix_power(a, k) for k in (0, 1, 2, 5, -2)), a, rtol=1e-11, atol=1e-11)
    check(lambda xp, a, b, c: xp.linalg.multi_dot([a[0], b, c]), a, b, c, rtol=1e-12, atol=1e-12)


def test_linalg_array_api_names(rng):
    x = rand(rng, (2, 3, 3), np.float64)
    check(lambda xp, x: (xp.linalg.trace(x), xp.linalg.diagonal(x, offset=1), xp.linalg.matrix_transpose(x),
                         xp.linalg.vecdot(x, x), xp.linalg.outer(x[0, 0], x[1, 1]), xp.linalg.matmul(x, x),
                         xp.linalg.tensordot(x[0], x[1], axes=1), xp.linalg.vector_norm(x, axis=-1),
                         xp.linalg.matrix_norm(x)), x, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", ["eig", "eigvals"])
def test_general_eigenvalues_are_complex_as_in_jax(name):
    got = getattr(cnp.linalg, name)(np.diag([2.0, 3.0]))  # more in test_linalg_eig.py
    w = got[0] if name == "eig" else got
    assert np.asarray(w).dtype == np.complex128
    np.testing.assert_allclose(np.sort_complex(np.asarray(w)), [2, 3])


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (3, 3), (2, 5, 2), (1, 1)])
@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
def test_qr_matches_lapack_signs(shape, mode, rng):
    a = rand(rng, shape, np.float64)
    check(lambda xp, a: tuple(xp.linalg.qr(a, mode=mode)) if mode != "r" else xp.linalg.qr(a, mode=mode), a,
          rtol=1e-12, atol=1e-12)


def test_qr_rank_deficient_column_and_float32(rng):
    a = np.array([[0.0, 1.0], [0.0, 2.0], [0.0, 3.0]])
    check(lambda xp, a: tuple(xp.linalg.qr(a)), a, rtol=1e-14, atol=1e-14)
    f = rand(rng, (5, 3), np.float32)
    check(lambda xp, a: tuple(xp.linalg.qr(a)), f, rtol=1e-5, atol=1e-5)


def test_polyfit(rng):
    x = np.linspace(-1, 2, 12)
    y = 3 * x ** 3 - x + rng.standard_normal(12) * 0.1
    w = np.abs(y) + 1
    check(lambda xp, x, y: (xp.polyfit(x, y, 3), xp.polyfit(x, xp.stack([y, 2 * y], 1), 2), xp.polyfit(x, y, 0)),
          x, y, rtol=1e-11, atol=1e-11)
    check(lambda xp, x, y, w: xp.polyfit(x, y, 2, w=w), x, y, w, rtol=1e-11, atol=1e-11)


def _sym(rng, shape, dtype=np.float64):
    a = rng.standard_normal(shape)
    return (a + np.swapaxes(a, -1, -2)).astype(dtype)


def _eigh_abs(xp, a):
    w, v = xp.linalg.eigh(a)
    return w, xp.abs(v)


@pytest.mark.parametrize("n", [1, 2, 4])
def test_eigh(n, rng):
    a = _sym(rng, (2, n, n))
    w, v = np.linalg.eigh(a)
    # eigenvectors are unique up to sign: compare |v|, and rebuild a from the factors
    check(_eigh_abs, a, want=(w, np.abs(v)), rtol=1e-12, atol=1e-12)
    wc, vc = cnp.linalg.eigh(a)
    np.testing.assert_allclose(vc @ (wc[..., None] * np.swapaxes(vc, -1, -2)), a, atol=1e-12)
    np.testing.assert_allclose(np.swapaxes(vc, -1, -2) @ vc, np.broadcast_to(np.eye(n), a.shape), atol=1e-12)


def test_eigh_reads_one_triangle_and_float32(rng):
    a = _sym(rng, (4, 4))
    lower_only = np.tril(a) + np.triu(np.full((4, 4), 99.0), 1)
    modes = ("eager", "jit")
    check(lambda xp, m: xp.linalg.eigvalsh(m), lower_only, want=np.linalg.eigvalsh(a), rtol=1e-12, atol=1e-12,
          modes=modes)
    check(lambda xp, m: xp.linalg.eigvalsh(m, UPLO="U"), lower_only.T, want=np.linalg.eigvalsh(a), rtol=1e-12,
          atol=1e-12, modes=modes)
    f = _sym(rng, (3, 3), np.float32)
    check(lambda xp, m: xp.linalg.eigvalsh(m), f, rtol=1e-5, atol=1e-5, modes=modes)


def _svd_parts(xp, a, full):
    u, sv, vh = xp.linalg.svd(a, full_matrices=full)
    k = min(a.shape[-2:])
    # singular vectors are unique up to sign: compare |u|, |vh| on the k leading vectors
    return sv, xp.abs(u[..., :, :k]), xp.abs(vh[..., :k, :])


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (3, 3), (2, 5, 2), (1, 1)])
@pytest.mark.parametrize("full", [True, False])
def test_svd(shape, full, rng):
    a = rand(rng, shape, np.float64)
    check(lambda xp, a: _svd_parts(xp, a, full), a, rtol=1e-12, atol=1e-12, modes=("eager", "jit"))
    u, sv, vh = cnp.linalg.svd(a, full_matrices=full)
    k = min(shape[-2:])
    np.testing.assert_allclose((u[..., :, :k] * sv[..., None, :]) @ vh[..., :k, :], a, atol=1e-12)
    np.testing.assert_allclose(np.swapaxes(u, -1, -2) @ u, np.broadcast_to(np.eye(u.shape[-1]), u.shape[:-2] +
                                                                           (u.shape[-1],) * 2), atol=1e-12)
    check(lambda xp, a: (xp.linalg.svd(a, compute_uv=False), xp.linalg.svdvals(a)), a, rtol=1e-12, atol=1e-12,
          modes=("eager", "jit"))


def test_pinv_rank_cond_lstsq(rng):
    a = rand(rng, (5, 3), np.float64)
    low_rank = np.outer(np.arange(1.0, 4.0), np.arange(1.0, 5.0))
    b, bm = rand(rng, (5,), np.float64), rand(rng, (5, 2), np.float64)
    tol = dict(rtol=1e-11, atol=1e-11, modes=("eager", "jit"))
    check(lambda xp, a, r: (xp.linalg.pinv(a), xp.linalg.pinv(r), xp.linalg.matrix_rank(a), xp.linalg.matrix_rank(r),
                            xp.linalg.cond(a), xp.linalg.cond(a, -2), xp.linalg.cond(a[:3], 1)), a, low_rank, **tol)
    check(lambda xp, a, b: tuple(xp.linalg.lstsq(a, b)), a, b, **tol)
    check(lambda xp, a, b: tuple(xp.linalg.lstsq(a, b)), a, bm, **tol)
    check(lambda xp, a, b: xp.linalg.lstsq(a.T, b[:3])[0], a, b, **tol)
