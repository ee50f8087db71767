"""The llvm backend's fused solve (backends/llvm/lu_solve.py): lu -> gather -> two triangular solves planned
as one LAPACK kernel that poses the transposed problem. Against the reference backend (numpy.linalg op by
op), NumPy and JAX; the plan shows which graphs fuse and which keep the four kernels."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.backends.llvm.plan import make_plan

RNG = np.random.default_rng(23)


def _kinds(f, *args):
    graph = cr.jit(f, backend="llvm").lower(*args).optimized_graph()
    return [k.kind for k in make_plan(graph).kernels]


def _solve(a, b):
    return cnp.linalg.solve(a, b)


def _tol(dt):
    return dict(rtol=2e-4, atol=2e-4) if np.dtype(dt) == np.float32 else dict(rtol=1e-10, atol=1e-10)


def _well_conditioned(shape, dt):
    n = shape[-1]
    return (RNG.standard_normal(shape) + n * np.eye(n)).astype(dt)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("ashape,bshape", [((5, 5), (5, 3)), ((3, 4, 4), (3, 4, 2)), ((6, 6), (6,)),
                                           ((2, 3, 7, 7), (2, 3, 7, 7)), ((1, 1), (1, 1)), ((3, 3), (3, 0)),
                                           ((0, 4, 4), (0, 4, 2)), ((70, 70), (70, 9))])
def test_solve_fuses_and_agrees_with_the_reference_backend_and_numpy(dt, ashape, bshape):
    a = _well_conditioned(ashape, dt)
    a += RNG.standard_normal(ashape).astype(dt)  # pivoting matters: not diagonally dominant
    b = RNG.standard_normal(bshape).astype(dt)
    kinds = _kinds(_solve, a, b)
    assert "lu_solve" in kinds and "lu" not in kinds and "triangular_solve" not in kinds, kinds
    got = cr.jit(_solve, backend="llvm")(a, b)
    want = cr.jit(_solve, backend="reference")(a, b)
    assert got.shape == want.shape == np.linalg.solve(a, b).shape and got.dtype == want.dtype == dt
    cond = np.linalg.cond(a.astype(np.float64)).max() if a.size else 1.0
    scale = min(cond, 1e3)
    np.testing.assert_allclose(got, want, **{k: v * scale for k, v in _tol(dt).items()})
    np.testing.assert_allclose(got, np.linalg.solve(a, b), **{k: v * scale for k, v in _tol(dt).items()})


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_inv_fuses_and_pivots_where_it_must(dt):
    a = np.array([[0.0, 2.0, 1.0], [1.0, 0.0, 3.0], [4.0, 1.0, 0.0]], dt)  # a zero first pivot
    a = np.stack([a, a.T, np.eye(3, dtype=dt)[::-1]])
    assert "lu_solve" in _kinds(cnp.linalg.inv, a)
    got = cr.jit(cnp.linalg.inv, backend="llvm")(a)
    np.testing.assert_allclose(got, np.linalg.inv(a), **_tol(dt))
    np.testing.assert_allclose(got, cr.jit(cnp.linalg.inv, backend="reference")(a), **_tol(dt))


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_singular_matrix_gives_inf_or_nan_only_where_it_is(dt):
    a = _well_conditioned((3, 4, 4), dt)
    a[1] = np.array([[1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0], [0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0]], dt)
    b = RNG.standard_normal((3, 4, 2)).astype(dt)
    got = cr.jit(_solve, backend="llvm")(a, b)
    want = cr.jit(_solve, backend="reference")(a, b)
    assert not np.isfinite(got[1]).all() and not np.isfinite(want[1]).all()
    np.testing.assert_allclose(got[[0, 2]], np.linalg.solve(a[[0, 2]], b[[0, 2]]), **_tol(dt))
    sing = np.array([[1.0, 2.0], [2.0, 4.0]], dt)
    assert not np.isfinite(cr.jit(_solve, backend="llvm")(sing, np.ones(2, dt))).all()


def test_factors_read_elsewhere_or_broadcast_keep_the_four_kernels():
    a = _well_conditioned((3, 4, 4), np.float64)
    b = RNG.standard_normal((3, 4, 2))
    both = lambda a, b: (cnp.linalg.solve(a, b), cnp.linalg.det(a))  # noqa: E731  (det reads lu and pivots)
    kinds = _kinds(both, a, b)
    got = cr.jit(both, backend="llvm")(a, b)
    np.testing.assert_allclose(got[0], np.linalg.solve(a, b), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(got[1], np.linalg.det(a), rtol=1e-10)
    assert "lu" in kinds and "lu_solve" not in kinds, kinds
    # one a, a batch of b: the factors are broadcast to b's batch, so they are not the solve's own
    bb = RNG.standard_normal((5, 4, 2))
    assert "lu_solve" not in _kinds(_solve, a[0], bb)
    np.testing.assert_allclose(cr.jit(_solve, backend="llvm")(a[0], bb), np.linalg.solve(a[0], bb), rtol=1e-10,
                               atol=1e-10)
    # a batch of a, one b (broadcast): fused
    assert "lu_solve" in _kinds(_solve, a, b[0])
    np.testing.assert_allclose(cr.jit(_solve, backend="llvm")(a, b[0]), np.linalg.solve(a, b[0]), rtol=1e-10,
                               atol=1e-10)


def test_large_enough_for_threads_and_inside_vmap():
    """n = 700 takes getrf's multi-threaded path; vmap makes a batched solve that fuses too."""
    a = _well_conditioned((700, 700), np.float64)
    b = RNG.standard_normal((700, 3))
    for threads in (1, 2):
        got = cr.jit(_solve, backend="llvm", threads=threads)(a, b)
        np.testing.assert_allclose(got, np.linalg.solve(a, b), rtol=1e-9, atol=1e-9)
    a4 = _well_conditioned((4, 5, 5), np.float64)
    b4 = RNG.standard_normal((4, 5))
    f = cr.vmap(_solve)
    assert "lu_solve" in _kinds(f, a4, b4)
    np.testing.assert_allclose(cr.jit(f, backend="llvm")(a4, b4), np.linalg.solve(a4, b4[..., None])[..., 0],
                               rtol=1e-10, atol=1e-10)


@pytest.mark.usefixtures("jax_x64")
def test_derivatives_through_solve_and_inv_agree_with_jax():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    a = _well_conditioned((2, 4, 4), np.float64) + RNG.standard_normal((2, 4, 4))
    b = RNG.standard_normal((2, 4, 3))
    w = RNG.standard_normal((2, 4, 3))

    def loss(xp):
        return lambda a, b: xp.sum(xp.linalg.solve(a, b) * w) + xp.sum(xp.linalg.inv(a) ** 2)
    got = cr.jit(cr.grad(loss(cnp), argnums=(0, 1)), backend="llvm")(a, b)
    want = jax.jit(jax.grad(loss(jnp), argnums=(0, 1)))(a, b)
    for g, x in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(x), rtol=1e-9, atol=1e-10)
    da, db = RNG.standard_normal(a.shape), RNG.standard_normal(b.shape)
    _, t = cr.jvp(lambda a, b: cnp.linalg.solve(a, b), (a, b), (da, db))
    _, tj = jax.jvp(lambda a, b: jnp.linalg.solve(a, b), (a, b), (da, db))
    np.testing.assert_allclose(t, np.asarray(tj), rtol=1e-9, atol=1e-10)


def test_exported_solve_finds_its_lapack_routines_in_a_fresh_process(tmp_path):
    import os
    import subprocess
    import sys
    from chainrule.backends.llvm.lapack_export import lapack_slots
    a = _well_conditioned((2, 6, 6), np.float32)
    b = RNG.standard_normal((2, 6, 3)).astype(np.float32)
    graph = cr.jit(_solve, backend="llvm").lower(a, b).optimized_graph()
    assert sorted(lapack_slots(make_plan(graph)).values()) == ["sgetrf", "strsm"]
    comp = cr.jit(_solve, backend="llvm").lower(a, b).compile()
    path = str(tmp_path / "solve.crx")
    cr.export(comp, path, payloads=["native"])
    np.savez(tmp_path / "in.npz", a=a, b=b)
    code = ("import sys, numpy as np, chainrule as cr\n"
            f"d = np.load({str(tmp_path / 'in.npz')!r})\n"
            f"np.save({str(tmp_path / 'out.npy')!r}, cr.load({path!r})(d['a'], d['b']))\n"
            "print('llvmlite' in sys.modules)\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": os.path.join(root, "src")})
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split() == ["False"]
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), comp(a, b))
