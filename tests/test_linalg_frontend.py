"""chainrule.numpy.linalg and chainrule.scipy.linalg on the primitives: values against numpy.linalg-based
oracles, error messages, and graphs whose size does not grow with the matrices'."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
import chainrule.scipy.linalg as csl
from linalg_backends import backend_params

TOL = dict(rtol=1e-10, atol=1e-11)


def _t(x):
    return np.swapaxes(x, -1, -2)


@pytest.fixture
def mats(rng):
    a = rng.standard_normal((2, 4, 4))
    return dict(spd=a @ _t(a) + 4 * np.eye(4), gen=rng.standard_normal((2, 4, 4)) + 3 * np.eye(4),
                b=rng.standard_normal((2, 4, 3)), v=rng.standard_normal(4), rect=rng.standard_normal((5, 3)))


# --- graph size: one node per decomposition, whatever n -----------------------------------------------------

SIZED = {
    "solve": lambda n: (lambda a, b: cnp.linalg.solve(a, b), [(n, n), (n, 2)]),
    "inv": lambda n: (cnp.linalg.inv, [(n, n)]),
    "det": lambda n: (cnp.linalg.det, [(n, n)]),
    "slogdet": lambda n: (cnp.linalg.slogdet, [(n, n)]),
    "cholesky": lambda n: (cnp.linalg.cholesky, [(n, n)]),
    "qr": lambda n: (cnp.linalg.qr, [(n, n)]),
    "eigh": lambda n: (cnp.linalg.eigh, [(n, n)]),
    "svd": lambda n: (cnp.linalg.svd, [(n, n)]),
    "pinv": lambda n: (cnp.linalg.pinv, [(n, n)]),
    "lstsq": lambda n: (lambda a, b: cnp.linalg.lstsq(a, b)[0], [(n, n), (n,)]),
    "matrix_rank": lambda n: (cnp.linalg.matrix_rank, [(n, n)]),
    "norm2": lambda n: (lambda a: cnp.linalg.norm(a, 2), [(n, n)]),
    "cond": lambda n: (cnp.linalg.cond, [(n, n)]),
    "scipy.lu": lambda n: (csl.lu, [(n, n)]),
    "scipy.lu_solve": lambda n: (lambda a, b: csl.lu_solve(csl.lu_factor(a), b), [(n, n), (n,)]),
    "scipy.cho_solve": lambda n: (lambda a, b: csl.cho_solve(csl.cho_factor(a), b), [(n, n), (n,)]),
    "scipy.expm": lambda n: (csl.expm, [(n, n)]),
    "grad.solve": lambda n: (cr.grad(lambda a, b: cnp.sum(cnp.linalg.solve(a, b))), [(n, n), (n,)]),
    "grad.svdvals": lambda n: (cr.grad(lambda a: cnp.sum(cnp.linalg.svd(a, compute_uv=False))), [(n, n)]),
}


def _count(graph):
    return sum(1 for _ in graph.walk())


@pytest.mark.parametrize("name", sorted(SIZED))
def test_graph_size_does_not_grow_with_n(name):
    sizes = []
    for n in (3, 48):
        fn, shapes = SIZED[name](n)
        sizes.append(_count(cr.trace(fn, *[cr.Spec(s, "float64") for s in shapes])))
    assert sizes[0] == sizes[1], f"{name}: {sizes[0]} nodes at n=3, {sizes[1]} at n=48"


# --- chainrule.numpy.linalg -----------------------------------------------------------------------------

@pytest.mark.parametrize("backend", backend_params("reference", "jax", "llvm"))
def test_numpy_linalg_values(backend, mats):
    m = mats
    fns = {
        "solve": lambda xp: xp.linalg.solve(m["gen"], m["b"]),
        "solve_broadcast": lambda xp: xp.linalg.solve(m["gen"], m["b"][0]),
        "solve_vector": lambda xp: xp.linalg.solve(m["gen"][0], m["v"]),
        "inv": lambda xp: xp.linalg.inv(m["gen"]),
        "det": lambda xp: xp.linalg.det(m["gen"]),
        "slogdet": lambda xp: xp.linalg.slogdet(-m["gen"]),
        "cholesky": lambda xp: xp.linalg.cholesky(m["spd"]),
        "eigvalsh": lambda xp: xp.linalg.eigvalsh(m["spd"]),
        "svdvals": lambda xp: xp.linalg.svd(m["rect"], compute_uv=False),
        "pinv": lambda xp: xp.linalg.pinv(m["rect"]),
        "lstsq": lambda xp: xp.linalg.lstsq(m["rect"], m["v"][:3] @ m["rect"].T)[0],
        "norms": lambda xp: (xp.linalg.norm(m["rect"], 2), xp.linalg.norm(m["rect"], -2), xp.linalg.norm(m["rect"], "nuc")),
        "cond": lambda xp: (xp.linalg.cond(m["gen"]), xp.linalg.cond(m["gen"], "fro")),
        "matrix_power": lambda xp: xp.linalg.matrix_power(m["gen"], -2),
        "tensorsolve": lambda xp: xp.linalg.tensorsolve(m["gen"][0].reshape(2, 2, 2, 2), m["v"].reshape(2, 2)),
        "tensorinv": lambda xp: xp.linalg.tensorinv(m["gen"][0].reshape(2, 2, 4), ind=2),
    }
    names = sorted(fns)
    got = cr.jit(lambda: tuple(fns[k](cnp) for k in names), backend=backend)()
    for k, g in zip(names, got):
        w = fns[k](np)
        for gi, wi in zip(cr.tree.flatten(g)[0], cr.tree.flatten(w)[0]):
            np.testing.assert_allclose(gi, wi, **TOL, err_msg=k)


def test_singular_and_indefinite_inputs_give_inf_nan_not_errors():
    sing = np.array([[1.0, 2.0], [2.0, 4.0]])
    assert float(cnp.linalg.det(sing)) == 0.0
    assert not np.isfinite(cnp.linalg.solve(sing, np.ones(2))).all()
    assert np.isnan(cnp.linalg.cholesky(-np.eye(2))).any()


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="square"):
        cnp.linalg.inv(np.ones((2, 3)))
    with pytest.raises(ValueError, match="b has 3 rows, expected 2"):
        cnp.linalg.solve(np.eye(2), np.ones((3, 1)))
    with pytest.raises(ValueError, match="UPLO"):
        cnp.linalg.eigh(np.eye(2), UPLO="X")
    with pytest.raises(ValueError, match="eigvals: the last 2 dimensions of the array must be square"):
        cnp.linalg.eigvals(np.ones((2, 3)))


# --- chainrule.scipy.linalg ------------------------------------------------------------------------------

def test_scipy_cholesky_family(mats):
    s, b = mats["spd"][0], mats["b"][0]
    u = csl.cholesky(s)
    np.testing.assert_allclose(_t(u) @ u, s, **TOL)
    assert np.all(np.tril(u, -1) == 0)
    np.testing.assert_allclose(csl.cholesky(s, lower=True), np.linalg.cholesky(s), **TOL)
    for lower in (True, False):
        c = csl.cho_factor(s, lower=lower)
        assert c[1] is lower
        np.testing.assert_allclose(csl.cho_solve(c, b), np.linalg.solve(s, b), **TOL)
        np.testing.assert_allclose(csl.cho_solve(c, b[:, 0]), np.linalg.solve(s, b[:, 0]), **TOL)
    np.testing.assert_allclose(csl.solve(s, b, assume_a="pos"), np.linalg.solve(s, b), **TOL)


def test_scipy_triangular_and_lu(mats):
    a, b = mats["gen"][0], mats["b"][0]
    for trans, op in ((0, lambda t: t), ("T", _t), (2, _t)):
        for lower, tri in ((True, np.tril), (False, np.triu)):
            x = csl.solve_triangular(a, b, trans=trans, lower=lower)
            np.testing.assert_allclose(op(tri(a)) @ x, b, **TOL)
    x = csl.solve_triangular(a, b[:, 0], lower=True, unit_diagonal=True)
    np.testing.assert_allclose((np.tril(a, -1) + np.eye(4)) @ x, b[:, 0], **TOL)
    np.testing.assert_allclose(csl.solve(np.triu(a), b, assume_a="upper triangular"), np.linalg.solve(np.triu(a), b),
                               **TOL)
    for m in (a, mats["rect"], mats["rect"].T):
        p, l, u = csl.lu(m)
        np.testing.assert_allclose(p @ l @ u, m, **TOL)
        pl, u2 = csl.lu(m, permute_l=True)
        np.testing.assert_allclose(pl @ u2, m, **TOL)
    lu, piv = csl.lu_factor(mats["gen"])
    assert piv.dtype == np.int32
    for trans, op in ((0, lambda t: t), (1, _t), (2, _t)):
        np.testing.assert_allclose(csl.lu_solve((lu, piv), mats["b"], trans=trans),
                                   np.linalg.solve(op(mats["gen"]), mats["b"]), **TOL)
    np.testing.assert_allclose(csl.solve(a, b[:, 0]), np.linalg.solve(a, b[:, 0]), **TOL)
    np.testing.assert_allclose(csl.det(a), np.linalg.det(a), **TOL)
    np.testing.assert_allclose(csl.inv(a), np.linalg.inv(a), **TOL)


def test_scipy_qr_eigh_svd(mats):
    r = mats["rect"]
    q, rr = csl.qr(r)
    assert q.shape == (5, 5) and rr.shape == (5, 3)
    np.testing.assert_allclose(q, np.linalg.qr(r, mode="complete")[0], **TOL)
    np.testing.assert_allclose(csl.qr(r, mode="economic")[1], np.linalg.qr(r)[1], **TOL)
    (r_only,) = csl.qr(r, mode="r")
    np.testing.assert_allclose(r_only, rr, **TOL)
    s = mats["spd"]
    np.testing.assert_allclose(csl.eigh(s, eigvals_only=True), np.linalg.eigvalsh(s), **TOL)
    np.testing.assert_allclose(csl.eigh(np.triu(s), lower=False)[0], np.linalg.eigvalsh(s), **TOL)
    np.testing.assert_allclose(csl.svd(r, compute_uv=False), np.linalg.svd(r, compute_uv=False), **TOL)
    with pytest.raises(NotImplementedError, match="generalized"):
        csl.eigh(s[0], s[0])


@pytest.mark.parametrize("dt, tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_expm(dt, tol, rng):
    a = rng.standard_normal((4, 4))
    s = (a + a.T) / 2
    for scale in (1e-3, 0.2, 1.0, 3.0, 40.0):  # every Padé degree, and scaling and squaring
        w, v = np.linalg.eigh(scale * s)
        want = (v * np.exp(w)) @ v.T  # exp of a symmetric matrix by its eigendecomposition
        got = csl.expm((scale * s).astype(dt))
        assert got.dtype == dt
        np.testing.assert_allclose(got, want, rtol=tol * 10 if scale == 40.0 else tol, atol=tol * np.abs(want).max())
    nil = np.triu(rng.standard_normal((3, 3)), 1)  # nilpotent: exp is I + N + N^2/2 exactly
    np.testing.assert_allclose(csl.expm(nil), np.eye(3) + nil + nil @ nil / 2, atol=1e-14)
    np.testing.assert_allclose(csl.expm(nil, upper_triangular=True), np.eye(3) + nil + nil @ nil / 2, atol=1e-14)
    batch = np.stack([s, 2 * s, -s]).reshape(3, 1, 4, 4)
    got = csl.expm(batch)
    for i, c in enumerate((1, 2, -1)):
        w, v = np.linalg.eigh(c * s)
        np.testing.assert_allclose(got[i, 0], (v * np.exp(w)) @ v.T, rtol=1e-12, atol=1e-12)
    assert np.isnan(csl.expm(1e8 * s)).all()  # more than max_squarings=16 squarings: NaN, as JAX


@pytest.mark.slow  # an XLA compile of the five Padé branches: seconds
def test_expm_on_the_jax_backend(rng):
    a = rng.standard_normal((3, 3))
    np.testing.assert_allclose(cr.jit(csl.expm, backend="jax")(a), csl.expm(a), rtol=1e-12, atol=1e-13)
