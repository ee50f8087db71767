"""jacfwd / jacrev / hessian, now built on vmap, against JAX on pytrees, several outputs and argnums."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp

jax = pytest.importorskip("jax")
jnp = jax.numpy


pytestmark = pytest.mark.usefixtures("jax_x64")


def close(got, want):
    gl, _ = cr.tree.flatten(got)
    wl, _ = jax.tree_util.tree_flatten(want)
    assert len(gl) == len(wl)
    for g, w in zip(gl, wl):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, (g.shape, w.shape)
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-12)


def body(m):
    def f(p, x):
        y = m.tanh(x @ p["w"]) * p["s"]
        return {"y": y, "n": m.sum(y ** 2)}
    return f


ARGS = ({"w": np.arange(6.0).reshape(3, 2) / 7, "s": np.array(1.5)}, np.array([[0.2, -0.4, 1.0], [1.0, 0.5, -2.0]]))


@pytest.mark.parametrize("jac", ["jacfwd", "jacrev"])
@pytest.mark.parametrize("argnums", [0, 1, (0, 1)])
def test_jacobians_of_pytrees_match_jax(jac, argnums):
    got = getattr(cr, jac)(body(cnp), argnums=argnums)(*ARGS)
    want = jax.jit(getattr(jax, jac)(body(jnp), argnums=argnums))(*ARGS)
    close(got, want)
    close(cr.jit(getattr(cr, jac)(body(cnp), argnums=argnums))(*ARGS), want)


@pytest.mark.parametrize("jac", ["jacfwd", "jacrev"])
def test_has_aux_and_vmap_of_jacobian(jac):
    def cf(x):
        return cnp.sin(x) * cnp.sum(x), cnp.max(x)

    def jf(x):
        return jnp.sin(x) * jnp.sum(x), jnp.max(x)

    x = np.array([0.3, 1.1, -0.7])
    close(getattr(cr, jac)(cf, has_aux=True)(x), jax.jit(getattr(jax, jac)(jf, has_aux=True))(x))
    xs = np.stack([x, 2 * x])
    close(cr.vmap(getattr(cr, jac)(lambda v: cf(v)[0]))(xs), jax.jit(jax.vmap(getattr(jax, jac)(lambda v: jf(v)[0])))(xs))


def test_hessian_of_matrix_argument():
    def cf(w):
        return cnp.sum(cnp.tanh(w @ w.T))

    def jf(w):
        return jnp.sum(jnp.tanh(w @ w.T))

    w = np.array([[0.1, 0.2, -0.3], [0.5, -0.1, 0.2]])
    close(cr.hessian(cf)(w), jax.jit(jax.hessian(jf))(w))
