"""Graphs compose: transformations take a Graph as a function, and jitted or compiled functions
called inside a trace are inlined into it."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp

jax = pytest.importorskip("jax")
jnp = jax.numpy

pytestmark = pytest.mark.usefixtures("jax_x64")

X = np.array([0.1, -0.4, 0.7])


def jf(x):
    return jnp.sum(jnp.sin(x) ** 2)


def cf(x):
    return cnp.sum(cnp.sin(x) ** 2)


@pytest.fixture
def g():
    return cr.trace(cf, X)


def test_grad_of_a_graph(g):
    np.testing.assert_allclose(cr.grad(g)(X), jax.grad(jf)(X), rtol=1e-12)
    np.testing.assert_allclose(cr.jit(cr.grad(g))(X), jax.grad(jf)(X), rtol=1e-12)
    np.testing.assert_allclose(cr.hessian(g)(X), jax.hessian(jf)(X), rtol=1e-12)


def test_vmap_and_jvp_of_a_graph(g):
    xs = np.stack([X, 2 * X])
    np.testing.assert_allclose(cr.vmap(g)(xs), jax.vmap(jf)(xs), rtol=1e-12)
    out, tan = cr.jvp(g, (X,), (np.ones(3),))
    jout, jtan = jax.jvp(jf, (X,), (jnp.ones(3),))
    np.testing.assert_allclose([out, tan], [jout, jtan], rtol=1e-12)


def test_graph_with_several_results_returns_a_list():
    g2 = cr.trace(lambda x: (cnp.sin(x), cnp.cos(x)), X)
    s, c = cr.vmap(g2)(np.stack([X, X]))
    np.testing.assert_allclose(s, np.sin([X, X]))
    np.testing.assert_allclose(cr.jacrev(lambda x: cr.jit(g2)(x)[1])(X), np.diag(-np.sin(X)))


def test_jitted_graph_inside_grad(g):
    np.testing.assert_allclose(cr.grad(lambda x: cr.jit(g)(x)[0])(X), jax.grad(jf)(X), rtol=1e-12)


def test_compiled_inside_a_trace_is_inlined():
    compiled = cr.jit(lambda x, y: {"s": cnp.sum(x * cnp.sin(y))}).lower(X, X).compile()
    got = cr.grad(lambda x: compiled(x, x)["s"])(X)
    np.testing.assert_allclose(got, jax.grad(lambda x: jnp.sum(x * jnp.sin(x)))(X), rtol=1e-12)
    with pytest.raises(TypeError, match=r"f64\[2\], expected f64\[3\]"):
        cr.grad(lambda x: compiled(x[:2], x[:2])["s"])(X)


def test_graph_from_jax_differentiates():
    gj = cr.from_jax(jf, jax.ShapeDtypeStruct((3,), np.float64))
    np.testing.assert_allclose(cr.grad(gj)(X), jax.grad(jf)(X), rtol=1e-12)
