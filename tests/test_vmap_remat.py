"""vmap of checkpointed functions (the `remat` op) against a loop and against jax."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.passes.batching import batch_graph
from test_vmap_rules import B, check_batching

jax = pytest.importorskip("jax")
jnp = jax.numpy


pytestmark = pytest.mark.usefixtures("jax_x64")


def block(m, ckpt):
    @ckpt
    def layer(w, x):
        return m.tanh(x @ w) * m.sin(x @ w)
    return lambda w, x: m.sum(layer(w, layer(w, x)) ** 2)


def test_batched_remat_stays_a_checkpoint(rng):
    g = cr.trace(block(cnp, cr.checkpoint), cr.Spec((3, 3), "float64"), cr.Spec((3,), "float64"))
    bg = check_batching(g, [None, 0], [rng.standard_normal((3, 3)), rng.standard_normal((B, 3))])
    assert [n.op.name for n in bg.nodes].count("remat") == 2


def test_per_example_gradients_through_checkpoint_match_jax(rng):
    w, xs = rng.standard_normal((3, 3)) * 0.5, rng.standard_normal((4, 3))
    got = cr.vmap(cr.grad(block(cnp, cr.checkpoint)), in_axes=(None, 0))(w, xs)
    want = jax.jit(jax.vmap(jax.grad(block(jnp, jax.checkpoint)), in_axes=(None, 0)))(w, xs)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    got = cr.grad(lambda w: cnp.sum(cr.vmap(block(cnp, cr.checkpoint), in_axes=(None, 0))(w, xs)))(w)
    want = jax.grad(lambda w: jnp.sum(jax.vmap(block(jnp, jax.checkpoint), in_axes=(None, 0))(w, xs)))(w)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_unbatched_remat_is_copied(rng):
    g = cr.trace(block(cnp, cr.checkpoint), cr.Spec((3, 3), "float64"), cr.Spec((3,), "float64"))
    bg = batch_graph(g, [None, None], B)
    assert [n.op.name for n in bg.nodes].count("remat") == 2
