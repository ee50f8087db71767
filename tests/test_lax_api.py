"""chainrule.lax against jax.lax: the same arguments give the same values (and derivatives, float64),
eagerly and inside jit; associative_scan on pytrees in log depth; clear errors for bad arguments."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.lax as crl

jax = pytest.importorskip("jax")
jl = jax.lax
jnp = jax.numpy
pytestmark = pytest.mark.usefixtures("jax_x64")

X = np.arange(24.0).reshape(4, 6) / 7.0


def same(a, b, rtol=1e-12):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-13)


CASES = {
    "dynamic_slice": (lambda L, x: L.dynamic_slice(x, (1, -2), (2, 3))),
    "dynamic_slice_clamped": (lambda L, x: L.dynamic_slice(x, (3, 5), (2, 3))),
    "dynamic_update_slice": (lambda L, x: L.dynamic_update_slice(x, np.ones((2, 2)), (3, -1))),
    "dynamic_index_in_dim": (lambda L, x: L.dynamic_index_in_dim(x, -1, 1, keepdims=False)),
    "dynamic_slice_in_dim": (lambda L, x: L.dynamic_slice_in_dim(x, 2, 3, axis=1)),
    "dynamic_update_index_in_dim": (lambda L, x: L.dynamic_update_index_in_dim(x, np.zeros(6), 2, 0)),
    "slice": (lambda L, x: L.slice(x, (1, 0), (4, 6), (2, 3))),
    "slice_in_dim": (lambda L, x: L.slice_in_dim(x, -4, None, 2, axis=1)),
    "index_in_dim": (lambda L, x: L.index_in_dim(x, -1, 0, keepdims=True)),
    "pad": (lambda L, x: L.pad(x, -1.0, [(1, -1, 1), (0, 2, 2)])),
    "concatenate": (lambda L, x: L.concatenate([x, x * 2], 1)),
    "broadcast_in_dim": (lambda L, x: L.broadcast_in_dim(x[:, :1], (4, 3, 5), (0, 1))),
    "broadcast": (lambda L, x: L.broadcast(x, (2,))),
    "reshape_dims": (lambda L, x: L.reshape(x, (6, 4), (1, 0))),
    "squeeze_expand": (lambda L, x: L.squeeze(L.expand_dims(x, (0, 3)), (0,))),
    "rev": (lambda L, x: L.rev(x, (0, 1))),
    "transpose": (lambda L, x: L.transpose(x, (1, 0))),
    "dot_general": (lambda L, x: L.dot_general(x, x, (((1,), (1,)), ((), ())))),
    "dot_general_batch": (lambda L, x: L.dot_general(x.reshape(2, 2, 6), x.reshape(2, 6, 2), (((2,), (1,)), ((0,), (0,))))),
    "select": (lambda L, x: L.select(x > 1.0, x, -x)),
    "clamp": (lambda L, x: L.clamp(0.5, x, 2.0)),
    "integer_pow": (lambda L, x: L.integer_pow(x, 5) + L.integer_pow(x + 1.0, -3)),
    "rsqrt": (lambda L, x: L.rsqrt(x + 1.0)),
    "erf_inv": (lambda L, x: L.erf_inv(x / 4.0 - 0.4)),
    "cumsum": (lambda L, x: L.cumsum(x, axis=1)),
    "cumsum_reverse": (lambda L, x: L.cumsum(x, axis=0, reverse=True)),
    "cumprod": (lambda L, x: L.cumprod(x + 0.5, axis=1)),
    "cummax": (lambda L, x: L.cummax(L.rev(x, (1,)), axis=1)),
    "cummin": (lambda L, x: L.cummin(x, axis=0, reverse=True)),
    "cumlogsumexp": (lambda L, x: L.cumlogsumexp(x, axis=1, reverse=True)),
    "sort": (lambda L, x: L.sort(L.rev(x, (1,)) * np.array([1, -1, 1, -1, 1, -1.0]), dimension=1)),
    "reduce_max": (lambda L, x: L.reduce_max(x, (1,))),
    "stop_gradient": (lambda L, x: L.stop_gradient(x) * x),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_as_jax_lax(name):
    f = CASES[name]
    want = jax.jit(lambda x: f(jl, x))(X)
    same(f(crl, X), want)
    same(cr.jit(lambda x: f(crl, x), backend="reference")(X), want)  # traced (the backends have their own tests)
    if name in ("sort",):
        return
    w = np.cos(np.arange(np.asarray(want).size)).reshape(np.shape(want))
    gc = cr.grad(lambda x: (f(crl, x) * w).sum())(X)
    gj = jax.jit(jax.grad(lambda x: (f(jl, x) * w).sum()))(X)
    same(gc, gj, rtol=1e-9)


def test_compiled_on_llvm():
    f = CASES["dynamic_update_slice"]
    same(cr.jit(lambda x: f(crl, x) + crl.cumlogsumexp(x, axis=1) + crl.pad(x, 0.0, [(0, 0, 0), (0, 0, 0)]))(X),
         f(jl, X) + jl.cumlogsumexp(X, axis=1) + X)


def test_control_flow_names():
    assert crl.fori_loop(0, 5, lambda i, c: c + i, 0.0) == jl.fori_loop(0, 5, lambda i, c: c + i, 0.0)
    assert crl.cond(True, lambda a: a + 1, lambda a: a - 1, 1.0) == 2.0
    assert crl.switch(2, [lambda a: a, lambda a: 2 * a, lambda a: 3 * a], 1.0) == 3.0
    assert crl.while_loop(lambda c: c < 10, lambda c: c * 2, 1) == 16
    carry, ys = crl.scan(lambda c, x: (c + x, c * x), 0.0, np.arange(4.0))
    jc, jys = jl.scan(lambda c, x: (c + x, c * x), 0.0, np.arange(4.0))
    same(carry, jc)
    same(ys, jys)
    same(crl.map(lambda r: (r ** 2).sum(), X), jl.map(lambda r: (r ** 2).sum(), X))
    same(crl.map(lambda r: r * 2, X, batch_size=3), jl.map(lambda r: r * 2, X, batch_size=3))
    vals, idx = crl.top_k(np.array([[3.0, 1.0, 3.0, 2.0], [0.0, 5.0, -1.0, 5.0]]), 3)
    jv, ji = jl.top_k(np.array([[3.0, 1.0, 3.0, 2.0], [0.0, 5.0, -1.0, 5.0]]), 3)
    same(vals, jv)
    np.testing.assert_array_equal(idx, ji)
    k, v = crl.sort_key_val(np.array([3, 1, 2]), np.array([10.0, 20.0, 30.0]))
    np.testing.assert_array_equal(v, [20.0, 30.0, 10.0])


@pytest.mark.parametrize("n,reverse", [(1, False), (5, True), (8, False), (13, True)])
def test_associative_scan_on_pytrees(n, reverse):
    rs = np.random.default_rng(n)
    a, b = rs.normal(size=(3, n)), rs.normal(size=(3, n))

    def affine(l, r):  # composition of x -> a x + b maps: associative, not commutative
        return {"a": l["a"] * r["a"], "b": r["a"] * l["b"] + r["b"]}

    got = crl.associative_scan(affine, {"a": a, "b": b}, reverse=reverse, axis=1)
    want = jax.jit(lambda t: jl.associative_scan(affine, t, reverse=reverse, axis=1))({"a": a, "b": b})
    same(got["a"], want["a"], 1e-10)
    same(got["b"], want["b"], 1e-10)
    calls = []
    crl.associative_scan(lambda l, r: calls.append(1) or l + r, np.ones(1024))
    assert len(calls) <= 2 * 10  # log depth: O(log n) applications of fn
    g = cr.grad(lambda x: crl.associative_scan(lambda l, r: l * r, x).sum())(a[0] + 2)
    same(g, jax.jit(jax.grad(lambda x: jl.associative_scan(lambda l, r: l * r, x).sum()))(a[0] + 2), 1e-10)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="start indices"):
        crl.dynamic_slice(X, (1,), (2, 2))
    with pytest.raises(ValueError, match="padding_config"):
        crl.pad(X, 0.0, [(1, 1)])
    with pytest.raises(ValueError, match="interior"):
        crl.pad(X, 0.0, [(0, 0, -1), (0, 0, 0)])
    with pytest.raises(TypeError, match="dimension_numbers"):
        crl.dot_general(X, X, ((1,), (1,)))
    with pytest.raises(ValueError, match="top_k"):
        crl.top_k(X, 7)
    with pytest.raises(TypeError, match="integer_pow"):
        crl.integer_pow(X, 2.5)
    with pytest.raises(ValueError, match="same size"):
        crl.associative_scan(lambda a, b: a, (np.ones(3), np.ones(4)))
    with pytest.raises(TypeError, match="pred"):
        crl.select(X, X, X)
