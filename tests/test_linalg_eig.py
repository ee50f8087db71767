"""The `eig` op (jax.lax.linalg.eig) and cnp.linalg.eig/eigvals: eigenvalues against numpy.linalg.eig (as
sets: LAPACK's order is not specified), eigenvectors by a v = v diag(w) and unit norms, batching, the
eigenvalues' derivative against JAX and finite differences, the eigenvectors' honest error, text round trip
and from_jax. tests/test_llvm_eig.py has more on the llvm backend's geev kernel."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.frontend.core import bind
from chainrule.ir import IRTypeError, TensorType, parse, typed
from chainrule.testing import assert_roundtrip
from linalg_backends import backend_params

pytestmark = pytest.mark.usefixtures("jax_x64")

BACKENDS = backend_params("reference", "jax", "llvm")


def _tol(dt):
    return dict(rtol=1e-4, atol=1e-4) if np.dtype(dt) in (np.float32, np.complex64) else dict(rtol=1e-9, atol=1e-9)


def _sorted(w):
    return np.sort_complex(np.round(np.asarray(w), 8))  # rounding: a conjugate pair sorts the same way each time


def _check_eig(a, w, v, dt):
    cdt = np.complex64 if np.dtype(dt) in (np.float32, np.complex64) else np.complex128
    assert w.dtype == cdt and v.dtype == cdt
    assert w.shape == a.shape[:-1] and v.shape == a.shape
    tol = _tol(dt)
    np.testing.assert_allclose(_sorted(w), _sorted(np.linalg.eig(a.astype(np.complex128))[0]), **tol)
    np.testing.assert_allclose(a @ v, v * w[..., None, :], **tol)  # a v = v diag(w)
    np.testing.assert_allclose(np.linalg.norm(v, axis=-2), 1, **tol)  # unit columns, as LAPACK geev


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dt", [np.float64, np.float32, np.complex128])
def test_eig_values_and_vectors(backend, dt, rng):
    a = rng.standard_normal((3, 4, 4))  # a batch: real matrices with complex pairs among their eigenvalues
    if np.dtype(dt).kind == "c":
        a = a + 1j * rng.standard_normal((3, 4, 4))
    a = a.astype(dt)
    w, v = cr.jit(cnp.linalg.eig, backend=backend)(a)
    _check_eig(a, np.asarray(w), np.asarray(v), dt)
    assert np.abs(np.asarray(w).imag).max() > 0.1  # complex eigenvalues did occur
    wv = cr.jit(cnp.linalg.eigvals, backend=backend)(a)
    np.testing.assert_allclose(_sorted(wv), _sorted(w), **_tol(dt))


@pytest.mark.parametrize("backend", BACKENDS)
def test_left_eigenvectors(backend, rng):
    a = rng.standard_normal((2, 3, 3))
    w, vl, vr = cr.jit(lambda a: bind("eig", a, compute_left_eigenvectors=True), backend=backend)(a)
    w, vl, vr = map(np.asarray, (w, vl, vr))
    vlh = np.conj(np.swapaxes(vl, -1, -2))
    np.testing.assert_allclose(vlh @ a, w[..., :, None] * vlh, rtol=1e-9, atol=1e-9)  # vl^H a = diag(w) vl^H
    np.testing.assert_allclose(a @ vr, vr * w[..., None, :], rtol=1e-9, atol=1e-9)
    w_only = cr.jit(lambda a: bind("eig", a, compute_right_eigenvectors=False), backend=backend)(a)
    np.testing.assert_allclose(_sorted(w_only), _sorted(w), rtol=1e-9, atol=1e-9)


def test_frontend_accepts_ints_and_numpy_semantics_differ_only_in_dtype():
    a = np.array([[2, 1], [0, 3]])
    w, v = cnp.linalg.eig(a)
    assert np.asarray(w).dtype == np.complex128  # NumPy gives float64 here; JAX, as here, complex
    np.testing.assert_allclose(_sorted(w), [2, 3])
    np.testing.assert_allclose(a @ v, v * np.asarray(w)[None, :], atol=1e-12)
    with pytest.raises(ValueError, match="eig: the last 2 dimensions of the array must be square"):
        cnp.linalg.eig(np.ones((2, 3)))


def test_vmap_of_eig_equals_the_loop(rng):
    a = rng.standard_normal((3, 4, 4))
    w = cr.vmap(cnp.linalg.eigvals, in_axes=2)(np.moveaxis(a, 0, 2))
    for i in range(3):
        np.testing.assert_allclose(_sorted(w[i]), _sorted(np.linalg.eigvals(a[i])), rtol=1e-10, atol=1e-10)


# --- derivatives -------------------------------------------------------------------------------------------

def _a(rng):
    return rng.standard_normal((4, 4)) + np.diag([0.0, 3.0, 6.0, 9.0])  # well-separated eigenvalues, one pair


@pytest.mark.parametrize("backend", BACKENDS)
def test_grad_of_the_real_parts_sum_is_the_identity(backend, rng):
    a = _a(rng)
    g = cr.jit(cr.grad(lambda a: cnp.sum(cnp.real(cnp.linalg.eigvals(a)))), backend=backend)(a)
    np.testing.assert_allclose(g, np.eye(4), rtol=1e-9, atol=1e-9)  # sum of eigenvalues = trace


def test_grad_of_eigenvalues_against_jax_and_finite_differences(rng):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    a = rng.standard_normal((3, 3))
    wgt = np.array([1.0, -2.0, 0.5])

    def f(xp, a):  # smooth in a: symmetric functions of the eigenvalues do not depend on their order
        w = xp.linalg.eigvals(a)
        return xp.sum(xp.real(w * w * w) * wgt.sum() + xp.imag(w) ** 2)
    got = cr.jit(cr.grad(lambda a: f(cnp, a)), backend="jax")(a)
    want = jax.jit(jax.grad(lambda a: f(jnp, a)))(a)
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8)
    eps = 1e-6
    fd = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        d = np.zeros_like(a)
        d[i] = eps
        fd[i] = (f(np, a + d) - f(np, a - d)) / (2 * eps)
    np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-5)
    # complex input: JAX's convention (the conjugate of df/dz*, times 2)
    c = a + 1j * rng.standard_normal((3, 3))
    gc = cr.grad(lambda a: cnp.sum(cnp.imag(cnp.linalg.eigvals(a)) ** 2))(c)
    wc = jax.grad(lambda a: jnp.sum(jnp.imag(jnp.linalg.eigvals(a)) ** 2))(c)
    np.testing.assert_allclose(gc, wc, rtol=1e-8, atol=1e-8)


def test_eigenvectors_have_no_derivative_as_in_jax(rng):
    with pytest.raises(NotImplementedError, match="eigenvalues only, not the eigenvectors"):
        cr.grad(lambda a: cnp.sum(cnp.real(cnp.linalg.eig(a)[0])))(_a(rng))


# --- IR: types, text, from_jax ---------------------------------------------------------------------------

def test_types_and_errors():
    _, _, c = typed("eig", (TensorType((2, 3, 3), "float32"),), {"compute_left_eigenvectors": True}, ())
    assert [(t.shape, t.dtype.name) for t in c] == [((2, 3), "complex64"), ((2, 3, 3), "complex64"),
                                                    ((2, 3, 3), "complex64")]
    _, _, c = typed("eig", (TensorType((3, 3), "complex128"),), {"compute_right_eigenvectors": False}, ())
    assert [(t.shape, t.dtype.name) for t in c] == [((3,), "complex128")]
    with pytest.raises(IRTypeError, match="float16"):
        typed("eig", (TensorType((3, 3), "float16"),), {}, ())
    with pytest.raises(IRTypeError, match="square"):
        typed("eig", (TensorType((3,), "float64"),), {}, ())


def test_text_round_trip():
    g = cr.trace(lambda a: (*bind("eig", a, compute_left_eigenvectors=True), cnp.linalg.eigvals(a)),
                 cr.Spec((2, 3, 3), "float64"))
    assert_roundtrip(g)
    text = str(g)
    assert "eig" in text and "compute_left_eigenvectors=true" in text and "compute_right_eigenvectors=false" in text
    assert str(parse(text)) == text


def test_from_jax(rng):
    jax = pytest.importorskip("jax")
    from chainrule.backends.reference import evaluate
    a = rng.standard_normal((2, 3, 3))
    g = cr.from_jax(lambda a: jax.numpy.linalg.eig(a), a)
    assert "eig" in {n.op.name for n in g.walk()}
    w, v = evaluate(g, [a])
    _check_eig(a, np.asarray(w), np.asarray(v), np.float64)
