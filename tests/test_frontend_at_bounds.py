"""`x.at[i].set/add` drops updates at out-of-range indices, as JAX does; in-trace constants stay small."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp

jax = pytest.importorskip("jax")
jnp = jax.numpy


@pytest.mark.parametrize("kind", ["set", "add"])
@pytest.mark.parametrize("idx", [[0, 7, -1, -9, 2], [1, 2], [5], [-6]])
def test_out_of_range_updates_are_dropped_like_jax(kind, idx):
    x = np.arange(5.0)
    idx = np.array(idx)
    want = np.asarray(getattr(jnp.asarray(x).at[idx], kind)(10.0))
    np.testing.assert_array_equal(cr.jit(lambda v, i: getattr(v.at[i], kind)(10.0))(x, idx), want)  # traced idx
    np.testing.assert_array_equal(cr.jit(lambda v: getattr(v.at[idx], kind)(10.0))(x), want)  # constant idx


def test_gradient_through_dropped_updates_matches_jax():
    x = np.linspace(-1, 1, 5)
    i = np.array([0, 9, -2])
    got = cr.grad(lambda v, i: cnp.sum(v.at[i].add(v[0]) ** 2))(x, i)
    want = jax.grad(lambda v, i: jnp.sum(v.at[i].add(v[0]) ** 2))(x, i)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_zeros_inside_a_trace_are_a_broadcast_not_a_literal():
    g = cr.trace(lambda x: x + cnp.zeros((1000, 1000)) + cnp.ones_like(x), np.ones((1000, 1000)))
    assert max(n.attrs["value"].array.size for n in g.nodes if n.op.name == "constant") == 1
    np.testing.assert_array_equal(cr.jit(lambda x: x + cnp.zeros((3, 3)))(np.ones((3, 3))), np.ones((3, 3)))
