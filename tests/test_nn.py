"""chainrule.nn against jax.nn: values, first derivatives (kinks included) and second derivatives in
float64; dot_product_attention with masks, causal masking and grouped heads; the initializers from
chainrule.random keys (bit-exact for the uniform ones)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

jax = pytest.importorskip("jax")
jnp = jax.numpy
pytestmark = pytest.mark.usefixtures("jax_x64")

X = np.array([-40.0, -6.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 6.0, 7.0, 40.0, 800.0, -800.0])
ELEMENTWISE = ["relu", "relu6", "leaky_relu", "elu", "celu", "selu", "gelu", "sigmoid", "silu", "swish", "softplus",
               "log_sigmoid", "soft_sign", "hard_tanh", "hard_sigmoid", "hard_silu", "sparse_plus"]


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_activation_values_and_derivatives_as_jax(name):
    f, g = getattr(cr.nn, name), getattr(jax.nn, name)
    np.testing.assert_allclose(f(X), jax.jit(g)(X), rtol=1e-12, atol=1e-14, err_msg=name)
    d = cr.vmap(cr.grad(f))(X)
    np.testing.assert_allclose(d, jax.jit(jax.vmap(jax.grad(g)))(X), rtol=1e-12, atol=1e-14, err_msg=f"{name}'")
    assert np.isfinite(d).all(), name
    inner = X[np.abs(X) < 50]
    d2 = cr.vmap(cr.grad(cr.grad(f)))(inner)
    np.testing.assert_allclose(d2, jax.jit(jax.vmap(jax.grad(jax.grad(g))))(inner), rtol=1e-10, atol=1e-12, err_msg=f"{name}''")


def test_kinks_follow_jax():
    assert cr.grad(cr.nn.relu)(0.0) == 0.0
    assert cr.grad(cr.nn.relu6)(6.0) == 0.0 and cr.grad(cr.nn.relu6)(0.0) == 0.0
    assert cr.grad(cr.nn.leaky_relu)(0.0) == 1.0
    assert cr.grad(cr.nn.hard_tanh)(1.0) == jax.grad(jax.nn.hard_tanh)(1.0) == 1.0
    assert np.isnan(cr.nn.relu(np.nan))


def test_exact_gelu_and_stable_forms():
    np.testing.assert_allclose(cr.nn.gelu(X, approximate=False), jax.nn.gelu(X, approximate=False), rtol=1e-12)
    np.testing.assert_allclose(cr.vmap(cr.grad(lambda v: cr.nn.gelu(v, approximate=False)))(X),
                               jax.vmap(jax.grad(lambda v: jax.nn.gelu(v, approximate=False)))(X), rtol=1e-12)
    inner = X[np.abs(X) < 50]
    np.testing.assert_allclose(cr.vmap(cr.grad(cr.grad(lambda v: cr.nn.gelu(v, approximate=False))))(inner),
                               jax.jit(jax.vmap(jax.grad(jax.grad(lambda v: jax.nn.gelu(v, approximate=False)))))(inner),
                               rtol=1e-10, atol=1e-12)
    assert cr.nn.softplus(1000.0) == 1000.0 and cr.nn.log_sigmoid(-1000.0) == -1000.0
    big = np.array([1000.0, 0.0, -1000.0], np.float32)
    assert np.isfinite(cr.nn.softmax(big)).all() and np.isfinite(cr.nn.log_softmax(big)).all()


def test_normalisers_and_one_hot():
    y = np.random.default_rng(0).normal(size=(4, 6))
    for name in ("softmax", "log_softmax", "glu", "standardize", "logsumexp"):
        for axis in (-1, 0):
            np.testing.assert_allclose(getattr(cr.nn, name)(y, axis=axis),
                                       jax.jit(lambda a: getattr(jax.nn, name)(a, axis=axis))(y),
                                       rtol=1e-10, atol=1e-12, err_msg=name)
    w = np.random.default_rng(1).normal(size=(4, 6))
    for name in ("softmax", "log_softmax", "standardize"):
        gc = cr.grad(lambda v: (getattr(cr.nn, name)(v) * w).sum())(y)
        gj = jax.jit(jax.grad(lambda v: (getattr(jax.nn, name)(v) * w).sum()))(y)
        np.testing.assert_allclose(gc, gj, rtol=1e-9, atol=1e-12, err_msg=name)
    labels = np.array([[0, 2], [5, -1]])
    for axis in (-1, 0, 1):
        np.testing.assert_array_equal(cr.nn.one_hot(labels, 3, axis=axis), jax.nn.one_hot(labels, 3, axis=axis))
    assert cr.nn.one_hot(labels, 3, dtype="float32").dtype == np.float32
    with pytest.raises(ValueError, match="odd"):
        cr.nn.glu(np.ones((2, 3)))


ATTENTION_CASES = [dict(), dict(mask="random", is_causal=True, scale=0.3),
                   pytest.param(dict(bias=True, is_causal=True), marks=pytest.mark.slow)]


@pytest.mark.parametrize("kw", ATTENTION_CASES, ids=lambda kw: "-".join(kw) or "plain")
def test_dot_product_attention_as_jax(kw):
    rs = np.random.default_rng(2)
    q, k, v = rs.normal(size=(2, 5, 4, 8)), rs.normal(size=(2, 6, 2, 8)), rs.normal(size=(2, 6, 2, 8))
    kw = dict(kw)
    if kw.get("mask") == "random":
        kw["mask"] = rs.random((2, 4, 5, 6)) > 0.3
    if kw.get("bias"):
        kw["bias"] = rs.normal(size=(1, 4, 5, 6))
    # as in JAX the softmax runs in float32: compare at float32 accuracy
    np.testing.assert_allclose(cr.nn.dot_product_attention(q, k, v, **kw),
                               jax.jit(lambda *a: jax.nn.dot_product_attention(*a, **kw))(q, k, v), rtol=1e-5, atol=1e-6)

    def loss(mod):
        return lambda q_, k_, v_: (mod.nn.dot_product_attention(q_, k_, v_, **kw) ** 2).sum()
    gc = cr.grad(loss(cr), argnums=(0, 1, 2))(q, k, v)
    gj = jax.jit(jax.grad(loss(jax), argnums=(0, 1, 2)))(q, k, v)
    for a, b in zip(gc, gj):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_dot_product_attention_unbatched_and_errors():
    rs = np.random.default_rng(3)
    q, k, v = (rs.normal(size=(4, 2, 8)).astype(np.float32) for _ in range(3))
    np.testing.assert_allclose(cr.nn.dot_product_attention(q, k, v, is_causal=True),
                               jax.nn.dot_product_attention(q, k, v, is_causal=True), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="do not fit"):
        cr.nn.dot_product_attention(q, k[:, :, :4], v)
    with pytest.raises(TypeError, match="bool"):
        cr.nn.dot_product_attention(q, k, v, mask=np.ones((1, 2, 4, 4)))


def test_initializers_from_chainrule_keys():
    I, J = cr.nn.initializers, jax.nn.initializers
    k, ck = jax.random.PRNGKey(3), cr.random.PRNGKey(3)
    a, b = I.glorot_uniform()(ck, (3, 3, 4, 8), "float32"), jax.jit(lambda kk: J.glorot_uniform()(kk, (3, 3, 4, 8), "float32"))(k)
    assert a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(I.he_normal()(ck, (5, 7)), jax.jit(lambda kk: J.he_normal()(kk, (5, 7)))(k), rtol=1e-12)
    np.testing.assert_allclose(I.orthogonal()(ck, (5, 3)), jax.jit(lambda kk: J.orthogonal()(kk, (5, 3)))(k), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(I.zeros(ck, (2, 2)), np.zeros((2, 2)))
    np.testing.assert_array_equal(I.ones(ck, (2,), "float32"), np.ones(2, np.float32))
    np.testing.assert_array_equal(I.constant(3.0)(ck, (2,)), [3.0, 3.0])
    w = cr.jit(lambda kk: I.he_normal()(kk, (64, 32)))(ck)  # inside jit too
    assert abs(np.std(w) - np.sqrt(2 / 64)) < 0.02
    with pytest.raises(ValueError, match="mode"):
        I.variance_scaling(1.0, "fan_sideways", "normal")


@pytest.mark.slow
def test_every_initializer_as_jax():
    I, J = cr.nn.initializers, jax.nn.initializers
    k, ck = jax.random.PRNGKey(3), cr.random.PRNGKey(3)
    for name in ("glorot_uniform", "he_uniform", "lecun_uniform"):
        for dt in ("float32", "float64"):
            a, b = getattr(I, name)()(ck, (3, 3, 4, 8), dt), getattr(J, name)()(k, (3, 3, 4, 8), dt)
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b, err_msg=name)
    for name in ("glorot_normal", "he_normal", "lecun_normal", "xavier_normal", "kaiming_normal"):
        np.testing.assert_allclose(getattr(I, name)()(ck, (5, 7)), getattr(J, name)()(k, (5, 7)), rtol=1e-12)
    np.testing.assert_allclose(I.variance_scaling(0.5, "fan_geo_avg", "normal")(ck, (4, 6)),
                               J.variance_scaling(0.5, "fan_geo_avg", "normal")(k, (4, 6)), rtol=1e-12)
    for shape, axis in (((5, 3), -1), ((3, 6), 0), ((2, 3, 4), -1)):
        o = I.orthogonal(column_axis=axis)(ck, shape)
        np.testing.assert_allclose(o, J.orthogonal(column_axis=axis)(k, shape), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(I.uniform(0.5)(ck, (4,)), J.uniform(0.5)(k, (4,)))
    np.testing.assert_allclose(I.normal(0.5)(ck, (4,)), J.normal(0.5)(k, (4,)), rtol=1e-12)
    np.testing.assert_allclose(I.truncated_normal(0.5)(ck, (4,)), J.truncated_normal(0.5)(k, (4,)), rtol=1e-12)
