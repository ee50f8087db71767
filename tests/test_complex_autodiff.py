"""Derivatives on complex numbers against JAX (x64): grad of real-valued functions of complex inputs
(JAX's conjugate convention), holomorphic grad, jvp, vjp, and vmap."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp

jax = pytest.importorskip("jax")
jnp = jax.numpy


def _z(shape, seed=0, dt=np.complex128):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0.5, 1.5, shape) * np.exp(1j * rng.uniform(-2.5, 2.5, shape))).astype(dt)


# Each: (chainrule function, JAX function) of one complex array, both elementwise.
ELEMENTWISE = {
    "abs": (cnp.abs, jnp.abs), "exp": (cnp.exp, jnp.exp), "log": (cnp.log, jnp.log), "sqrt": (cnp.sqrt, jnp.sqrt),
    "sin": (cnp.sin, jnp.sin), "cos": (cnp.cos, jnp.cos), "tan": (cnp.tan, jnp.tan), "tanh": (cnp.tanh, jnp.tanh),
    "expm1": (cnp.expm1, jnp.expm1), "log1p": (cnp.log1p, jnp.log1p), "square": (lambda z: z * z, lambda z: z * z),
    "recip": (lambda z: 1.0 / z, lambda z: 1.0 / z), "pow": (lambda z: z ** (0.5 + 1j), lambda z: z ** (0.5 + 1j)),
    "real": (cnp.real, jnp.real), "imag": (cnp.imag, jnp.imag), "conj": (cnp.conj, jnp.conj),
    "angle": (cnp.angle, jnp.angle), "neg": (lambda z: -z, lambda z: -z),
    "div": (lambda z: z / (z * z + 2.0), lambda z: z / (z * z + 2.0)),
}


def _real_loss(f, np_mod):
    """A real-valued function of the op's output (complex or real): sum |y|^2 + sum real(y)."""
    def loss(z):
        y = f(z)
        return np_mod.sum(np_mod.real(y * np_mod.conj(y))) + np_mod.sum(np_mod.real(y) * 0.5)
    return loss


_CORE = {"abs", "exp", "log", "sqrt", "div", "real", "imag", "conj", "angle", "pow"}  # the rest: slow


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in _CORE else pytest.mark.slow)
                                  for n in sorted(ELEMENTWISE)])
def test_grad_of_real_valued_function_of_complex_input_matches_jax(name):
    f, jf = ELEMENTWISE[name]
    z = _z((5,), 1)
    with jax.enable_x64(True):
        want = jax.jit(jax.grad(_real_loss(jf, jnp)))(jnp.asarray(z))
    for be in ("reference", "jax") if name in ("abs", "div", "angle") else ("reference",):
        got = cr.jit(cr.grad(_real_loss(f, cnp)), backend=be)(z)
        assert got.dtype == np.complex128
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-10, atol=1e-12, err_msg=name)


HOLOMORPHIC = ["exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "expm1", "log1p", "square", "recip", "pow", "neg",
               "div"]


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in _CORE else pytest.mark.slow)
                                  for n in HOLOMORPHIC])
def test_holomorphic_grad_matches_jax(name):
    f, jf = ELEMENTWISE[name]
    z = _z((4,), 2)
    with jax.enable_x64(True):
        want = jax.jit(jax.grad(lambda x: jnp.sum(jf(x)), holomorphic=True))(jnp.asarray(z))
    got = cr.jit(cr.grad(lambda x: cnp.sum(f(x)), holomorphic=True), backend="reference")(z)
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-10, atol=1e-12)


def test_jvp_and_vjp_on_complex_match_jax():
    def f(z, w):
        return cnp.exp(z) * w / (1.0 + cnp.abs(z)) + cnp.conj(w) * z

    def jf(z, w):
        return jnp.exp(z) * w / (1.0 + jnp.abs(z)) + jnp.conj(w) * z

    z, w, tz, tw, ct = _z((3,), 3), _z((3,), 4), _z((3,), 5), _z((3,), 6), _z((3,), 7)
    with jax.enable_x64(True):
        jy, jt = jax.jit(lambda *a: jax.jvp(jf, a[:2], a[2:]))(z, w, tz, tw)
        jcz, jcw = jax.jit(lambda a, b, c: jax.vjp(jf, a, b)[1](c))(z, w, ct)
    y, t = cr.jit(lambda *a: cr.jvp(f, a[:2], a[2:]), backend="reference")(z, w, tz, tw)
    np.testing.assert_allclose(y, np.asarray(jy), rtol=1e-12)
    np.testing.assert_allclose(t, np.asarray(jt), rtol=1e-11, atol=1e-13)
    cz, cw = cr.jit(lambda a, b, c: cr.vjp(f, a, b)[1](c), backend="reference")(z, w, ct)
    np.testing.assert_allclose(cz, np.asarray(jcz), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(cw, np.asarray(jcw), rtol=1e-11, atol=1e-13)


def test_grad_through_real_imag_complex_and_a_mixed_float_input():
    def f(x, z):  # x real, z complex
        w = z * x + 1j * x
        return cnp.sum(cnp.abs(w) ** 2 + cnp.angle(w) * cnp.imag(z))

    def jf(x, z):
        w = z * x + 1j * x
        return jnp.sum(jnp.abs(w) ** 2 + jnp.angle(w) * jnp.imag(z))

    x, z = np.linspace(0.5, 1.5, 4), _z((4,), 8)
    with jax.enable_x64(True):
        jgx, jgz = jax.jit(jax.grad(jf, argnums=(0, 1)))(jnp.asarray(x), jnp.asarray(z))
    gx, gz = cr.jit(cr.grad(f, argnums=(0, 1)), backend="reference")(x, z)
    assert gx.dtype == np.float64 and gz.dtype == np.complex128
    np.testing.assert_allclose(gx, np.asarray(jgx), rtol=1e-11)
    np.testing.assert_allclose(gz, np.asarray(jgz), rtol=1e-11)


def test_second_derivative_on_complex():
    def f(z):
        return cnp.sum(cnp.abs(cnp.exp(z)) ** 2)

    def jf(z):
        return jnp.sum(jnp.abs(jnp.exp(z)) ** 2)

    z = _z((3,), 9)
    with jax.enable_x64(True):
        want = jax.jit(lambda a: jax.jvp(jax.grad(jf), (a,), (jnp.ones(3, jnp.complex128),))[1])(z)
    got = cr.jit(lambda a: cr.jvp(cr.grad(f), (a,), (np.ones(3, np.complex128),))[1], backend="reference")(z)
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-10)


def test_grad_errors_name_the_complex_convention():
    z = _z((2,), 1)
    with pytest.raises(TypeError, match="holomorphic=True"):
        cr.grad(lambda x: cnp.sum(x * x))(z)
    with pytest.raises(TypeError, match="requires complex inputs"):
        cr.grad(lambda x: cnp.sum(x * 1j), holomorphic=True)(np.ones(2))
    with pytest.raises(TypeError, match="requires a complex output"):
        cr.grad(lambda x: cnp.sum(cnp.abs(x)), holomorphic=True)(z)


def test_vmap_of_complex_functions():
    z = _z((4, 3), 10)
    f = cr.vmap(lambda r: cnp.sum(r * cnp.conj(r)) + cnp.angle(r[0]))
    np.testing.assert_allclose(f(z), np.sum(z * z.conj(), axis=1) + np.angle(z[:, 0]), rtol=1e-13)
    g = cr.vmap(cr.grad(lambda r: cnp.sum(cnp.abs(r) ** 2)))
    np.testing.assert_allclose(g(z), 2 * np.conj(z), rtol=1e-13)  # JAX's convention: 2 conj(z) for |z|^2
