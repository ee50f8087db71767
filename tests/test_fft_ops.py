"""The `fft` op and chainrule.numpy.fft: against numpy.fft on every backend that runs it, derivatives
against JAX (x64), vmap, the text form, and the errors."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.testing import assert_roundtrip

jax = pytest.importorskip("jax")
jnp = jax.numpy

BACKENDS = ["reference", "jax", "llvm"]


def _z(shape, dt=np.complex128, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)


def _r(shape, dt=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dt)


def _real_of(dt):
    return {"complex64": np.float32, "complex128": np.float64}[dt]


# name, chainrule call, numpy call, input maker
CASES = [
    ("fft", lambda m, a: m.fft(a), lambda a: np.fft.fft(a), lambda dt: _z((3, 12), dt)),
    ("fft-prime-n", lambda m, a: m.fft(a, n=17, axis=0), lambda a: np.fft.fft(a, n=17, axis=0), lambda dt: _z((13, 2), dt)),
    ("fft-crop", lambda m, a: m.fft(a, n=5), lambda a: np.fft.fft(a, n=5), lambda dt: _z((2, 9), dt)),
    ("ifft-ortho", lambda m, a: m.ifft(a, norm="ortho"), lambda a: np.fft.ifft(a, norm="ortho"), lambda dt: _z((30,), dt)),
    ("fft-forward", lambda m, a: m.fft(a, norm="forward"), lambda a: np.fft.fft(a, norm="forward"), lambda dt: _z((7,), dt)),
    ("rfft", lambda m, a: m.rfft(a), lambda a: np.fft.rfft(a), lambda dt: _r((4, 20), _real_of(dt))),
    ("rfft-odd", lambda m, a: m.rfft(a, n=11, norm="ortho"), lambda a: np.fft.rfft(a, n=11, norm="ortho"),
     lambda dt: _r((9,), _real_of(dt))),
    ("irfft", lambda m, a: m.irfft(a), lambda a: np.fft.irfft(a), lambda dt: _z((2, 9), dt)),
    ("irfft-n", lambda m, a: m.irfft(a, n=15, norm="forward"), lambda a: np.fft.irfft(a, n=15, norm="forward"),
     lambda dt: _z((8,), dt)),
    ("fft2", lambda m, a: m.fft2(a), lambda a: np.fft.fft2(a), lambda dt: _z((2, 6, 10), dt)),
    ("ifft2-s", lambda m, a: m.ifft2(a, s=(4, 7)), lambda a: np.fft.ifft2(a, s=(4, 7)), lambda dt: _z((6, 6), dt)),
    ("rfft2", lambda m, a: m.rfft2(a), lambda a: np.fft.rfft2(a), lambda dt: _r((5, 8), _real_of(dt))),
    ("irfft2", lambda m, a: m.irfft2(a, s=(6, 9)), lambda a: np.fft.irfft2(a, s=(6, 9)), lambda dt: _z((6, 5), dt)),
    ("fftn-4d", lambda m, a: m.fftn(a), lambda a: np.fft.fftn(a), lambda dt: _z((2, 3, 4, 5), dt)),
    ("ifftn-axes", lambda m, a: m.ifftn(a, axes=(0, 2)), lambda a: np.fft.ifftn(a, axes=(0, 2)), lambda dt: _z((4, 3, 5), dt)),
    ("rfftn", lambda m, a: m.rfftn(a, axes=(2, 0)), lambda a: np.fft.rfftn(a, axes=(2, 0)),
     lambda dt: _r((6, 2, 7), _real_of(dt))),
    ("irfftn-4d", lambda m, a: m.irfftn(a, s=(2, 3, 4, 6)), lambda a: np.fft.irfftn(a, s=(2, 3, 4, 6), axes=(0, 1, 2, 3)),
     lambda dt: _z((2, 3, 4, 4), dt)),
    ("hfft", lambda m, a: m.hfft(a, n=10), lambda a: np.fft.hfft(a, n=10), lambda dt: _z((6,), dt)),
    ("ihfft", lambda m, a: m.ihfft(a), lambda a: np.fft.ihfft(a), lambda dt: _r((10,), _real_of(dt))),
    ("fftshift", lambda m, a: m.fftshift(a), lambda a: np.fft.fftshift(a), lambda dt: _z((5, 4), dt)),
    ("ifftshift", lambda m, a: m.ifftshift(a, axes=1), lambda a: np.fft.ifftshift(a, axes=1), lambda dt: _z((5, 7), dt)),
]


def _supported(backend):
    if backend == "llvm":
        from chainrule.backends.llvm import UNSUPPORTED
        return "fft" not in UNSUPPORTED
    return True


@pytest.mark.parametrize("dt", ["complex64", "complex128"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_numpy_fft_functions_against_numpy(backend, dt):
    if not _supported(backend):
        pytest.skip("the llvm backend does not lower fft in this build")
    tol = 2e-5 if dt == "complex64" else 1e-12
    inputs = [make(dt) for _, _, _, make in CASES]
    f = cr.jit(lambda *xs: [call(cnp.fft, x) for (_, call, _, _), x in zip(CASES, xs)], backend=backend)
    for (name, _, ref, _), x, got in zip(CASES, inputs, f(*inputs)):
        want = ref(x)
        real_dt = np.float32 if dt == "complex64" else np.float64
        want_dt = np.dtype(dt) if want.dtype.kind == "c" else np.dtype(real_dt)
        assert got.dtype == want_dt, (name, got.dtype, want_dt)
        scale = max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale, err_msg=name)


def test_float32_input_gives_complex64_and_ints_the_default_float():
    assert cnp.fft.fft(np.ones(4, np.float32)).dtype == np.complex64
    assert cnp.fft.rfft(np.ones(4, np.float64)).dtype == np.complex128
    assert cnp.fft.irfft(np.ones(3, np.complex64)).dtype == np.float32
    np.testing.assert_allclose(cnp.fft.fft(np.arange(4)), np.fft.fft(np.arange(4)), atol=1e-6)


def test_frequencies_and_shifts():
    np.testing.assert_allclose(cnp.fft.fftfreq(7, d=0.5), np.fft.fftfreq(7, d=0.5), rtol=1e-7)
    np.testing.assert_allclose(cnp.fft.rfftfreq(8), np.fft.rfftfreq(8), rtol=1e-7)
    x = np.arange(10.0).reshape(2, 5)
    np.testing.assert_array_equal(cnp.fft.fftshift(x), np.fft.fftshift(x))
    np.testing.assert_array_equal(cnp.fft.ifftshift(cnp.fft.fftshift(x)), x)
    with pytest.raises(ValueError, match="positive integer"):
        cnp.fft.fftfreq(0)


def test_errors_name_the_argument():
    with pytest.raises(TypeError, match="rfft does not support complex input"):
        cnp.fft.rfft(_z((4,)))
    with pytest.raises(ValueError, match="norm must be"):
        cnp.fft.fft(_z((4,)), norm="sideways")
    with pytest.raises(ValueError, match="invalid number of data points"):
        cnp.fft.fft(_z((4,)), n=0)
    with pytest.raises(ValueError, match="repeat an axis"):
        cnp.fft.fftn(_z((4, 4)), axes=(0, 0))


def test_fft_graph_text_round_trip():
    g = cr.trace(lambda x: cnp.fft.irfft2(cnp.fft.rfft2(x) * 2, s=(4, 6)), _r((4, 6)))
    text = assert_roundtrip(g)
    assert "fft_type=RFFT" in text and "fft_type=IRFFT" in text and "fft_length=[4,6]" in text


# --- derivatives against JAX (x64) ---------------------------------------------------------------------

GRAD_CASES = [
    ("fft", lambda m, x: m.fft(x * x), True),
    ("ifft-ortho", lambda m, x: m.ifft(x, n=7, norm="ortho"), True),
    ("rfft", lambda m, x: m.rfft(x, n=9), False),
    ("rfft-even", lambda m, x: m.rfft(x * 1.5), False),
    ("irfft", lambda m, x: m.irfft(x, n=10), True),
    ("irfft-odd", lambda m, x: m.irfft(x, n=9, norm="forward"), True),
    ("fft2", lambda m, x: m.fft2(x.reshape(2, 3)), True),
    ("rfftn", lambda m, x: m.rfftn(x.reshape(2, 3)), False),
    ("irfftn", lambda m, x: m.irfftn(x.reshape(2, 3), s=(2, 4)), True),
]


_FAST_LLVM = ("fft", "irfft-odd", "rfftn")


@pytest.mark.parametrize("name, backend", [
    pytest.param(c[0], be, marks=pytest.mark.slow if be == "llvm" and c[0] not in _FAST_LLVM else ())
    for c in GRAD_CASES for be in ("reference", "llvm")])
def test_fft_gradients_match_jax(name, backend):
    _, f, complex_in = next(c for c in GRAD_CASES if c[0] == name)
    x = _z((6,), seed=3) if complex_in else _r((6,), seed=3)
    w = _z((64,), seed=4)

    def loss(m, v):
        y = f(m.fft, v).reshape(-1)
        return m.sum(m.real(y * m.conj(y)) + m.real(y * w[:y.shape[0]]))

    with jax.enable_x64(True):
        want = jax.jit(jax.grad(lambda v: loss(jnp, v)))(x)
    got = cr.jit(cr.grad(lambda v: loss(cnp, v)), backend=backend)(x)
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-10, atol=1e-10)


def test_fft_jvp_and_vjp_are_the_linear_map():
    x, t, ct = _z((5, 8), seed=1), _z((5, 8), seed=2), _z((5, 8), seed=5)
    y, ty = cr.jvp(lambda v: cnp.fft.fft2(v), (x,), (t,))
    np.testing.assert_allclose(ty, np.fft.fft2(t), atol=1e-11)
    _, vjp_fun = cr.vjp(lambda v: cnp.fft.fft(v, norm="ortho"), x)
    with jax.enable_x64(True):
        (want,) = jax.vjp(lambda v: jnp.fft.fft(v, norm="ortho"), jnp.asarray(x))[1](jnp.asarray(ct))
    np.testing.assert_allclose(vjp_fun(ct)[0], np.asarray(want), atol=1e-12)


def test_vmap_of_fft():
    x = _z((3, 4, 8), seed=6)
    f = cr.vmap(lambda v: cnp.fft.fft(v, axis=0), in_axes=2, out_axes=1)
    np.testing.assert_allclose(f(x), np.moveaxis(np.fft.fft(np.moveaxis(x, 2, 0), axis=1), 0, 1), atol=1e-12)
    g = cr.vmap(cr.grad(lambda v: cnp.sum(cnp.abs(cnp.fft.rfft(v)) ** 2)))
    r = _r((3, 6), seed=7)
    with jax.enable_x64(True):
        want = jax.vmap(jax.grad(lambda v: jnp.sum(jnp.abs(jnp.fft.rfft(v)) ** 2)))(r)
    np.testing.assert_allclose(g(r), np.asarray(want), rtol=1e-10)
