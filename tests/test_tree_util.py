"""cr.tree_util against jax.tree_util, and registered classes as arguments of transformations."""

import dataclasses
from typing import NamedTuple

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule import tree_util as tu

jax = pytest.importorskip("jax")
jnp = jax.numpy

pytestmark = pytest.mark.usefixtures("jax_x64")


@dataclasses.dataclass
class Layer:
    w: object
    b: object
    act: str = dataclasses.field(default="tanh", metadata=dict(static=True))


tu.register_dataclass(Layer)
jax.tree_util.register_dataclass(Layer)


class Pair:
    def __init__(self, a, b):
        self.a, self.b = a, b


tu.register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda _, c: Pair(*c))
jax.tree_util.register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda _, c: Pair(*c))


class Point(NamedTuple):
    x: object
    y: object


TREES = [
    {"b": (1, 2), "a": [3, None]},
    Layer(np.ones(2), np.zeros(2)),
    [Pair(1.0, {"z": 2.0, "y": 3.0}), Point(4, 5)],
    None,
    (),
]


@pytest.mark.parametrize("tree", TREES, ids=range(len(TREES)))
def test_flatten_like_jax(tree):
    leaves, td = tu.tree_flatten(tree)
    jleaves, jtd = jax.tree_util.tree_flatten(tree)
    assert len(leaves) == len(jleaves) == td.num_leaves
    for a, b in zip(leaves, jleaves):
        np.testing.assert_array_equal(a, b)
    assert tu.tree_leaves(tree) == leaves and tu.tree_structure(tree) == td
    back = tu.tree_unflatten(td, leaves)
    assert tu.tree_structure(back) == td
    doubled = tu.tree_map(lambda v: v * 2, tree)
    jdoubled = jax.tree_util.tree_map(lambda v: v * 2, tree)
    for a, b in zip(tu.tree_leaves(doubled), jax.tree_util.tree_leaves(jdoubled)):
        np.testing.assert_array_equal(a, b)


def test_tree_map_several_trees_and_is_leaf():
    assert tu.tree_map(lambda a, b: a + b, {"x": 1, "y": 2}, {"x": 10, "y": 20}) == {"x": 11, "y": 22}
    with pytest.raises(ValueError, match="different structures"):
        tu.tree_map(lambda a, b: a, {"x": 1}, {"y": 1})
    assert tu.tree_map(lambda p: len(p), [(1, 2), (3,)], is_leaf=lambda v: isinstance(v, tuple)) == [2, 1]
    assert tu.tree_reduce(lambda a, b: a + b, [1, (2, 3)]) == 6


def test_register_dataclass_meta_fields_are_static():
    a, b = Layer(np.ones(2), np.zeros(2), "tanh"), Layer(np.ones(2), np.zeros(2), "sin")
    assert tu.tree_structure(a) != tu.tree_structure(b)
    assert len(tu.tree_leaves(a)) == 2
    with pytest.raises(ValueError, match="already registered"):
        tu.register_dataclass(Layer)


def _loss(layer, x):
    return cnp.sum(getattr(cnp, layer.act)(x @ layer.w + layer.b) ** 2)


def _jloss(layer, x):
    return jnp.sum(getattr(jnp, layer.act)(x @ layer.w + layer.b) ** 2)


def test_dataclass_arguments_to_grad_jit_vmap():
    rng = np.random.default_rng(0)
    layer = Layer(rng.standard_normal((3, 2)), rng.standard_normal(2), "tanh")
    x = rng.standard_normal((4, 3))
    want = jax.grad(_jloss)(layer, x)
    for got in (cr.grad(_loss)(layer, x), cr.jit(cr.grad(_loss))(layer, x)):
        assert isinstance(got, Layer) and got.act == "tanh"
        np.testing.assert_allclose(got.w, want.w, rtol=1e-12)
        np.testing.assert_allclose(got.b, want.b, rtol=1e-12)
    xs = rng.standard_normal((5, 4, 3))
    np.testing.assert_allclose(cr.vmap(_loss, in_axes=(None, 0))(layer, xs),
                               jax.vmap(_jloss, in_axes=(None, 0))(layer, xs), rtol=1e-12)
    out = cr.jit(lambda l: Layer(l.w * 2, l.b, l.act))(layer)
    assert isinstance(out, Layer)
    np.testing.assert_allclose(out.w, layer.w * 2)


def test_custom_node_through_jit_and_grad():
    p = Pair(np.array(2.0), np.array(3.0))
    g = cr.jit(cr.grad(lambda p: p.a * p.b ** 2))(p)
    assert isinstance(g, Pair)
    np.testing.assert_allclose([g.a, g.b], [9.0, 12.0])


@tu.register_pytree_node_class
class Scaled:
    def __init__(self, v, k):
        self.v, self.k = v, k

    def tree_flatten(self):
        return (self.v,), self.k

    @classmethod
    def tree_unflatten(cls, k, children):
        return cls(children[0], k)


def test_register_pytree_node_class_and_static_aux():
    f = cr.jit(lambda s: Scaled(s.v * s.k, s.k))
    out = f(Scaled(np.ones(2), 3))
    assert isinstance(out, Scaled) and out.k == 3
    np.testing.assert_allclose(out.v, 3.0)
    f(Scaled(np.ones(2), 4))
    assert f.trace_count == 2  # aux data is part of the signature


def test_export_refuses_registered_classes(tmp_path):
    c = cr.jit(lambda p: p.a + p.b).lower(Pair(np.ones(2), np.ones(2))).compile()
    with pytest.raises(ValueError, match="registered pytree classes \\(Pair\\)"):
        c.export(str(tmp_path / "f.crx"))
