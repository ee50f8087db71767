"""The llvm backend's `eig` kernel (backends/llvm/lapack_eig.py, LAPACK geev): against jax.lax.linalg.eig (the
same LAPACK call, so the same eigenvalue order, eigenvector phases and unpacking of real conjugate pairs),
against numpy.linalg.eig and the reference backend by what does not depend on conventions (eigenvalues as
sets, a v = v diag(w), u^H a = diag(w) u^H, unit columns), NaN/inf input, batches, threads, and exported
artifacts: a fresh process without llvmlite, and C (examples/c) finding dgeev through CHAINRULE_LAPACK."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.frontend.core import bind

pytest.importorskip("llvmlite")
pytestmark = pytest.mark.usefixtures("jax_x64")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DTYPES = [np.float64, np.float32, np.complex128, np.complex64]
FLAGS = [(False, True), (True, True), (True, False), (False, False)]


def _single(dt):
    return np.dtype(dt) in (np.float32, np.complex64)


def _tol(dt):
    return dict(rtol=2e-4, atol=2e-4) if _single(dt) else dict(rtol=1e-9, atol=1e-9)


def _matrices(rng, dt, shape):
    a = rng.standard_normal(shape)  # real matrices of this size have complex conjugate pairs among their eigenvalues
    if np.dtype(dt).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dt)


def _eig(a, left, right, backend="llvm", **kw):
    f = lambda x: bind("eig", x, compute_left_eigenvectors=left, compute_right_eigenvectors=right)  # noqa: E731
    got = cr.jit(f, backend=backend, **kw)(a)
    got = list(got) if isinstance(got, (tuple, list)) else [got]
    return [np.asarray(g) for g in got]


def _sorted(w):
    return np.sort_complex(np.round(np.asarray(w, np.complex128), 6))  # a conjugate pair sorts the same each time


def _check(a, res, left, right, dt):
    """The results by their defining properties, and the eigenvalues against numpy.linalg.eig."""
    cdt = np.complex64 if _single(dt) else np.complex128
    tol = _tol(dt)
    assert len(res) == 1 + left + right
    assert all(r.dtype == cdt for r in res)
    w = res[0]
    assert w.shape == a.shape[:-1]
    np.testing.assert_allclose(_sorted(w), _sorted(np.linalg.eigvals(a.astype(np.complex128))), **tol)
    a = a.astype(np.complex128)
    for k, v in enumerate(res[1:]):
        assert v.shape == a.shape
        np.testing.assert_allclose(np.linalg.norm(v, axis=-2), 1, **tol)  # unit columns
        if left and k == 0:
            vh = np.conj(np.swapaxes(v, -1, -2))
            np.testing.assert_allclose(vh @ a, w[..., :, None] * vh, **tol)  # u^H a = diag(w) u^H
        else:
            np.testing.assert_allclose(a @ v, v * w[..., None, :], **tol)  # a v = v diag(w)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("left,right", FLAGS)
def test_eig_against_jax_numpy_and_the_reference_backend(dt, left, right, rng):
    jax = pytest.importorskip("jax")
    a = _matrices(rng, dt, (2, 3, 6, 6))  # batched over two leading dimensions
    got = _eig(a, left, right)
    _check(a, got, left, right, dt)
    if np.dtype(dt).kind == "f":
        assert np.abs(got[0].imag).max() > 0.1  # conjugate pairs did occur
    want = jax.lax.linalg.eig(a, compute_left_eigenvectors=left, compute_right_eigenvectors=right)
    for g, w in zip(got, want):  # the same LAPACK routine on the same matrix: same order and phases
        np.testing.assert_allclose(g, np.asarray(w), **_tol(dt))
    ref = _eig(a, left, right, backend="reference")
    np.testing.assert_allclose(_sorted(got[0]), _sorted(ref[0]), **_tol(dt))
    if right and not _single(dt):  # numpy.linalg.eig's right eigenvectors are LAPACK's too (in double precision)
        np.testing.assert_allclose(got[-1], ref[-1], **_tol(dt))


def test_real_pairs_are_unpacked_as_conjugates(rng):
    """A rotation block gives +-i: the second vector of a pair is the first one's conjugate, exactly."""
    a = np.array([[0.0, -2.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    w, vl, vr = _eig(a, True, True)
    np.testing.assert_allclose(_sorted(w), _sorted([2j, -2j, 3]), atol=1e-12)
    j = int(np.argmax(w.imag))
    k = int(np.argmin(w.imag))
    assert w[j] == np.conj(w[k])
    for v in (vl, vr):
        np.testing.assert_array_equal(v[:, k], np.conj(v[:, j]))
    _check(a, [w, vl, vr], True, True, np.float64)


@pytest.mark.parametrize("dt", [np.float64, np.complex64])
def test_nan_or_inf_gives_nan_for_that_matrix_only(dt, rng):
    a = _matrices(rng, dt, (3, 4, 4))
    a[0, 1, 2] = np.nan
    a[2, 3, 3] = np.inf
    for left, right in FLAGS:
        got = _eig(a, left, right)
        ref = _eig(a, left, right, backend="reference")
        for g, r in zip(got, ref):
            assert np.isnan(g[[0, 2]].real).all() and np.isnan(g[[0, 2]].imag).all()
            assert np.isnan(r[[0, 2]]).all()
            assert not np.isnan(g[1]).any()
        _check(a[1], [g[1] for g in got], left, right, dt)


def test_empty_batches_and_matrices():
    for shape in [(0, 3, 3), (2, 0, 0), (0, 0)]:
        got = _eig(np.zeros(shape), True, True)
        assert [g.shape for g in got] == [shape[:-1], shape, shape]
    for g, w in zip(_eig(np.array([[2.5]]), True, True), ([2.5], [[1.0]], [[1.0]])):
        np.testing.assert_array_equal(g, np.array(w, np.complex128))


def test_large_matrix_on_one_or_two_threads_and_inside_a_loop(rng):
    """n >= 192: OpenBLAS may use threads; the results do not depend on it. A kernel inside a scan region."""
    a = rng.standard_normal((200, 200))
    one = _eig(a, False, True, threads=1)
    two = _eig(a, False, True, threads=2)
    np.testing.assert_allclose(two[0], one[0], rtol=1e-10, atol=1e-10)
    _check(a, one, False, True, np.float64)

    def f(m):
        return cr.fori_loop(0, 2, lambda i, c: c + cnp.real(cnp.linalg.eigvals(c))[:, None] * 0.0 + 1.0, m)
    b = rng.standard_normal((5, 5))
    np.testing.assert_allclose(cr.jit(f, backend="llvm")(b), cr.jit(f, backend="reference")(b), rtol=1e-12)


def test_numpy_frontend_and_eigenvalue_gradient_on_llvm(rng):
    a = rng.standard_normal((2, 5, 5))
    w, v = cr.jit(cnp.linalg.eig, backend="llvm")(a)
    _check(a, [np.asarray(w), np.asarray(v)], False, True, np.float64)
    wv = cr.jit(cnp.linalg.eigvals, backend="llvm")(a)
    np.testing.assert_allclose(wv, w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_sorted(wv), _sorted(np.linalg.eigvals(a)), rtol=1e-9, atol=1e-9)
    # the eigenvalues' derivative goes through the left and right eigenvectors (an eig with both)
    f = lambda x: cnp.sum(cnp.real(cnp.linalg.eigvals(x)) ** 3 + cnp.imag(cnp.linalg.eigvals(x)) ** 2)  # noqa: E731
    got = cr.jit(cr.grad(f), backend="llvm")(a[0])
    want = cr.jit(cr.grad(f), backend="reference")(a[0])
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8)


# -- artifacts

def model(a):
    w, vr = cnp.linalg.eig(a)
    return cnp.real(w), cnp.imag(w), cnp.real(vr), cnp.imag(vr)


def pattern():
    """examples/c/main.c's input: element i = 0.5 * sin(0.1 * i)."""
    return [(0.5 * np.sin(0.1 * np.arange(25))).reshape(5, 5)]


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("eig") / "model.crx")
    comp = cr.jit(model, backend="llvm").lower(*pattern()).compile()
    cr.export(comp, path, payloads=["native"])
    return path, comp(*pattern())


def test_artifacts_call_geev_in_a_fresh_process_without_llvmlite(artifact, tmp_path):
    path, want = artifact
    w = np.linalg.eigvals(pattern()[0])
    np.testing.assert_allclose(_sorted(want[0] + 1j * want[1]), _sorted(w), rtol=1e-10, atol=1e-10)
    # and complex input (zgeev), with left eigenvectors
    c = (pattern()[0] + 1j * pattern()[0].T ** 2).astype(np.complex64)
    cpath = str(tmp_path / "complex.crx")
    comp = cr.jit(lambda x: bind("eig", x, compute_left_eigenvectors=True), backend="llvm").lower(c).compile()
    cr.export(comp, cpath, payloads=["native"])
    want = list(want) + list(comp(c))
    np.save(tmp_path / "a.npy", pattern()[0])
    np.save(tmp_path / "c.npy", c)
    code = ("import sys, numpy as np, chainrule as cr\n"
            f"f, g = cr.load({path!r}), cr.load({cpath!r})\n"
            f"out = list(f(np.load({str(tmp_path / 'a.npy')!r}))) + list(g(np.load({str(tmp_path / 'c.npy')!r})))\n"
            f"np.savez({str(tmp_path / 'out.npz')!r}, *out)\n"
            "print(f.payload, g.payload, 'llvmlite' in sys.modules)\n")
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split() == ["native", "native", "False"]
    got = np.load(tmp_path / "out.npz")
    assert len(got.files) == len(want) == 7
    for i, w in enumerate(want):
        np.testing.assert_array_equal(got[f"arr_{i}"], w)


def test_c_program_finds_geev_through_chainrule_lapack(artifact, tmp_path):
    from test_llvm_lapack import check_c_program
    check_c_program(*artifact, tmp_path)