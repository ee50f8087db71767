"""Arguments a transformation does not differentiate pass through unchanged (as in JAX)."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp

jax = pytest.importorskip("jax")
jnp = jax.numpy

pytestmark = pytest.mark.usefixtures("jax_x64")


def power_loop(x, n):
    for _ in range(n):  # n must be a Python int here
        x = x * x
    return x


@pytest.mark.parametrize("name", ["grad", "value_and_grad", "jacfwd", "jacrev", "hessian"])
@pytest.mark.parametrize("jitted", [False, True])
def test_python_int_argument_stays_concrete(name, jitted):
    ours, theirs = getattr(cr, name)(power_loop), getattr(jax, name)(power_loop)
    if jitted:
        ours, theirs = cr.jit(ours, static_argnums=1), jax.jit(theirs, static_argnums=1)
    got, want = ours(1.5, 2), theirs(1.5, 2)
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float), rtol=1e-12)


def test_nondiff_argument_may_be_any_python_object():
    def f(x, cfg):
        return cnp.sum(x ** cfg["p"]) * cfg["scale"]
    cfg = {"p": 3, "scale": 2.0}
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(cr.grad(f)(x, cfg), jax.grad(lambda x, c: jnp.sum(x ** c["p"]) * c["scale"])(x, cfg))


def test_traced_nondiff_argument_under_plain_jit_is_a_tensor():
    with pytest.raises(TypeError, match="Python integer"):
        cr.jit(cr.grad(power_loop))(1.5, 2)


def test_argnums_second_argument_with_int_first():
    def f(n, x):
        return cnp.sum(cnp.sin(x) * n)
    x = np.array([0.1, 0.2])
    np.testing.assert_allclose(cr.grad(f, argnums=1)(3, x), jax.grad(lambda n, x: jnp.sum(jnp.sin(x) * n), 1)(3, x))
    np.testing.assert_allclose(cr.jacrev(f, argnums=1)(3, x), jax.jacrev(lambda n, x: jnp.sum(jnp.sin(x) * n), 1)(3, x))
