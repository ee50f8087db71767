"""custom_vjp and custom_jvp: the user's rules are used, survive jit and text, and match JAX."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.ir import parse

jax = pytest.importorskip("jax")
jnp = jax.numpy


def _cr_clip_grad():
    @cr.custom_vjp
    def f(x):
        return cnp.sin(x) * x

    def fwd(x):
        return cnp.sin(x) * x, (cnp.cos(x), x)

    def bwd(res, g):
        c, x = res
        return (cnp.clip(g * c * x, -0.1, 0.1),)

    f.defvjp(fwd, bwd)
    return f


def _jax_clip_grad():
    @jax.custom_vjp
    def f(x):
        return jnp.sin(x) * x

    def fwd(x):
        return jnp.sin(x) * x, (jnp.cos(x), x)

    def bwd(res, g):
        c, x = res
        return (jnp.clip(g * c * x, -0.1, 0.1),)

    f.defvjp(fwd, bwd)
    return f


def test_custom_vjp_uses_the_rule_like_jax():
    f, jf = _cr_clip_grad(), _jax_clip_grad()
    x = np.linspace(-2, 2, 7).astype(np.float32)
    loss = lambda fn, s: lambda v: s.sum(fn(v) ** 2)  # noqa: E731
    got = cr.grad(loss(f, cnp))(x)
    want = jax.grad(loss(jf, jnp))(x)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(cr.jit(cr.grad(loss(f, cnp)))(x), want, rtol=1e-6)
    np.testing.assert_allclose(f(x), jf(x), rtol=1e-6)


def test_custom_vjp_text_round_trip_and_forward_mode_error():
    f = _cr_clip_grad()
    g = cr.trace(cr.grad(lambda v: cnp.sum(f(v))), np.zeros(3, np.float32))
    assert str(parse(str(g))) == str(g)
    gp = cr.trace(f, np.zeros(3, np.float32))
    assert "custom_vjp_call" in str(gp) and str(parse(str(gp))) == str(gp)
    with pytest.raises(TypeError, match="forward-mode"):
        cr.jvp(f, (np.ones(3, np.float32),), (np.ones(3, np.float32),))


def test_custom_jvp_like_jax_and_higher_order():
    @cr.custom_jvp
    def softplus(x):
        return cnp.log1p(cnp.exp(x))

    @softplus.defjvp
    def softplus_jvp(primals, tangents):
        (x,), (dx,) = primals, tangents
        return softplus(x), dx * cnp.special.expit(x)

    @jax.custom_jvp
    def jsoftplus(x):
        return jnp.log1p(jnp.exp(x))

    @jsoftplus.defjvp
    def jsoftplus_jvp(primals, tangents):
        (x,), (dx,) = primals, tangents
        return jsoftplus(x), dx * jax.nn.sigmoid(x)

    x = 0.7
    assert np.isclose(cr.grad(softplus)(x), jax.grad(jsoftplus)(x))
    assert np.isclose(cr.grad(cr.grad(softplus))(x), jax.grad(jax.grad(jsoftplus))(x))
    _, t = cr.jvp(softplus, (x,), (2.0,))
    _, jt = jax.jvp(jsoftplus, (x,), (2.0,))
    assert np.isclose(t, jt)
    g = cr.trace(softplus, 1.0)
    assert "custom_jvp_call" in str(g) and str(parse(str(g))) == str(g)


def test_custom_rule_that_differs_from_the_function_is_what_grad_uses():
    @cr.custom_jvp
    def f(x):
        return x * 1.0

    @f.defjvp
    def f_jvp(p, t):
        return f(p[0]), t[0] * 5.0

    assert float(cr.grad(f)(3.0)) == 5.0


def test_bwd_returning_wrong_types_is_a_clear_error():
    @cr.custom_vjp
    def f(x):
        return x * 2.0

    f.defvjp(lambda x: (x * 2.0, ()), lambda res, g: (g, g))
    with pytest.raises(TypeError, match="cotangent"):
        f(np.ones(2))
