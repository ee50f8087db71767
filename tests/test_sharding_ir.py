"""Shardings in the IR: text form, type errors, passes, autodiff, llvm/reference, artifacts.

Everything here runs on one device (the reference backend simulates shard_map's
mesh; llvm ignores placement); tests/test_shard_map_jax.py runs the same
programs on 8 simulated JAX devices in a subprocess.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule import sharding as sh
from chainrule.ir import IRTypeError, ParseError, parse, print_graph
from chainrule.passes import optimize
from chainrule.sharding import NamedSharding, P

MESH = sh.make_mesh((2, 4), ("data", "model"))
RNG = np.random.default_rng(0)


def _sharded_step():
    def step(x, w):
        h = sh.shard_map(lambda a, b: sh.psum(a @ b, "model"), mesh=MESH,
                         in_specs=(P("data", "model"), P("model")), out_specs=P("data"))(x, w)
        h = cr.with_sharding_constraint(h, NamedSharding(MESH, P("data")))
        return cnp.sum(cnp.tanh(h) * cnp.tanh(h))
    ins = (NamedSharding(MESH, P("data", "model")), NamedSharding(MESH, P("model")))
    return step, ins


X = RNG.normal(size=(8, 16)).astype(np.float32)
W = RNG.normal(size=(16, 4)).astype(np.float32)


def _ops(graph):
    return [n.op.name for n in graph.walk()]


def test_text_round_trip_of_a_sharded_graph():
    step, ins = _sharded_step()
    g = cr.jit(cr.grad(step, argnums=(0, 1)), in_shardings=ins, out_shardings=ins).lower(X, W).graph
    text = print_graph(g)
    assert "mesh=[[data,2],[model,4]]" in text and "spec=[data,model]" in text
    assert "in_specs=[[data,model],[model]]" in text
    assert print_graph(parse(text)) == text
    for op in ("sharding_constraint", "shard_map", "psum"):
        assert op in _ops(g)


@pytest.mark.parametrize("fn", [
    lambda v: sh.all_gather(v, "model", axis=1, tiled=True),
    lambda v: sh.all_gather(v, ("data", "model")),
    lambda v: sh.psum_scatter(v, "model", scatter_dimension=0, tiled=True),
    lambda v: sh.all_to_all(v, "model", 0, 1, tiled=True),
    lambda v: sh.ppermute(v, "model", [(0, 1), (1, 2), (2, 3), (3, 0)]),
    lambda v: sh.pmax(v, "data") - sh.pmin(v, "data") + sh.axis_index("model"),
])
def test_text_round_trip_of_each_collective(fn):
    g = cr.trace(sh.shard_map(fn, mesh=MESH, in_specs=P("data"), out_specs=P("data")), np.zeros((8, 8), np.float32))
    text = print_graph(g)
    assert print_graph(parse(text)) == text


def test_bad_specs_and_meshes_name_what_was_expected():
    x = np.zeros((6, 4), np.float32)
    with pytest.raises(ValueError, match="not an axis of the mesh"):
        cr.with_sharding_constraint(x, NamedSharding(MESH, P("rows")))
    with pytest.raises(ValueError, match="does not split over 8 devices"):
        sh.shard_map(lambda v: v, mesh=MESH, in_specs=P(None, ("data", "model")), out_specs=P())(x)
    with pytest.raises(NameError, match="unbound axis name: 'model'"):
        cr.trace(lambda v: sh.psum(v, "model"), x)
    with pytest.raises(ValueError, match="uses mesh axis data twice"):
        cr.with_sharding_constraint(x, NamedSharding(MESH, P("data", "data")))
    with pytest.raises(ValueError, match="distinct axis names"):
        sh.make_mesh((2, 2), ("a", "a"))
    text = ("func @f(%x: f32[8]) -> (f32[8]) {\n  %0 = sharding_constraint %x {mesh=[[d,3]], spec=[d]} : f32[8]\n"
            "  return %0\n}\n")
    print_graph(parse(text))  # uneven splits are allowed for constraints (XLA pads), as in JAX
    with pytest.raises(ParseError, match="mesh"):
        parse(text.replace("[[d,3]]", "[[d,0]]"))
    bad = ("func @f(%x: f32[8]) -> (f32[8]) {\n  %0 = shard_map %x {mesh=[[d,2]], in_specs=[[d]], out_specs=[[d]]} "
           ": f32[8] regions {\n    func @b(%a: f32[4]) -> (f32[8]) {\n      %0 = all_gather %a {axes=[d], "
           "axis_size=2, tiled=true} : f32[8]\n      return %0\n    }\n  }\n  return %0\n}\n")
    with pytest.raises(ParseError, match="f32"):  # the region's result f32[8] assembles to f32[16], not f32[8]
        parse(bad)
    wrong_size = ("func @f(%x: f32[8]) -> (f32[24]) {\n  %0 = shard_map %x {mesh=[[d,2]], in_specs=[[d]], "
                  "out_specs=[[d]]} : f32[24] regions {\n    func @b(%a: f32[4]) -> (f32[12]) {\n      %0 = all_gather "
                  "%a {axes=[d], axis_size=3, tiled=true} : f32[12]\n      return %0\n    }\n  }\n  return %0\n}\n")
    with pytest.raises(ParseError, match="axis_size=3"):
        parse(wrong_size)
    with pytest.raises(IRTypeError, match="axes"):
        cr.ir.make_node("psum", [cr.ir.GraphBuilder().param(cr.TensorType((2,), "float32"))], {"axes": ()})


def test_passes_keep_constraints_and_never_fuse_or_fold_across_them():
    mesh2 = NamedSharding(MESH, P("data"))

    def f(x):
        c = cr.with_sharding_constraint(cnp.ones(8, np.float32) * 2.0, mesh2)  # a constant: not folded away
        a = cnp.exp(x) + 1.0
        b = cr.with_sharding_constraint(a, mesh2)
        return cnp.exp(b) + 1.0 + c, cnp.exp(x) + 1.0  # the same expression on both sides of the constraint

    g = cr.trace(f, np.zeros(8, np.float32))
    opt = optimize(g, opt_level=2)
    assert _ops(opt).count("sharding_constraint") == 2
    for node in opt.walk():  # fusion regions never hold a constraint
        if node.op.name == "fusion":
            assert "sharding_constraint" not in _ops(node.regions[0])
    x = RNG.normal(size=8).astype(np.float32)
    for a, b in zip(cr.jit(g, backend="reference")(x), cr.jit(opt, backend="reference")(x)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert print_graph(parse(print_graph(opt))) == print_graph(opt)


def test_autodiff_constrains_cotangents_as_jax_does():
    s = NamedSharding(MESH, P(None, "model"))
    f = lambda x: cnp.sum(cnp.sin(cr.with_sharding_constraint(x, s)))  # noqa: E731
    g = cr.trace(cr.grad(f), np.zeros((4, 8), np.float32))
    specs = [n.attrs["spec"] for n in g.walk() if n.op.name == "sharding_constraint"]
    assert specs == [(None, "model"), (None, "model")]  # the primal's and the cotangent's
    x = RNG.normal(size=(4, 8))
    np.testing.assert_allclose(cr.jit(cr.grad(f), backend="reference")(x), np.cos(x), rtol=1e-12)
    jv = cr.trace(lambda x, t: cr.jvp(f, (x,), (t,)), np.zeros((4, 8)), np.zeros((4, 8)))
    assert [n.op.name for n in jv.walk()].count("sharding_constraint") == 2


def test_vmap_of_a_constraint_leaves_the_batch_dimension_unsplit():
    s = NamedSharding(MESH, P("data"))
    g = cr.trace(cr.vmap(lambda v: cr.with_sharding_constraint(v * 2, s)), np.zeros((3, 4, 2)))
    (spec,) = [n.attrs["spec"] for n in g.walk() if n.op.name == "sharding_constraint"]
    assert spec == (None, "data")


@pytest.mark.parametrize("backend", ["llvm", "reference"])
def test_backends_without_devices_ignore_placement(backend):
    if backend not in cr.backends.available_backends():
        pytest.skip(f"{backend} is not available")
    f = lambda x, w: cnp.tanh(x @ w)  # noqa: E731
    ins = (NamedSharding(MESH, P("data")), NamedSharding(MESH, P(None, "model")))
    got = cr.jit(f, backend=backend, in_shardings=ins, out_shardings=NamedSharding(MESH, P("data", "model")))(X, W)
    np.testing.assert_allclose(got, np.tanh(X @ W), rtol=2e-5, atol=1e-6)


def test_llvm_refuses_shard_map_by_name():
    if "llvm" not in cr.backends.available_backends():
        pytest.skip("llvm is not available")
    step, _ = _sharded_step()
    with pytest.raises(NotImplementedError, match="shard_map"):
        cr.jit(step, backend="llvm")(X, W)


def test_artifact_keeps_shardings(tmp_path):
    step, ins = _sharded_step()
    compiled = cr.jit(step, backend="reference", in_shardings=ins).lower(X, W).compile()
    path = tmp_path / "sharded.crx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no native payload for a shard_map: said in a warning
        compiled.export(str(path), payloads=("graph",))
        loaded = cr.load(str(path), payload="graph")
    assert print_graph(loaded.graph) == print_graph(compiled.graph)
    text = print_graph(loaded.graph)
    assert "sharding_constraint" in text and "shard_map" in text and "psum" in text
    np.testing.assert_allclose(loaded(X, W), compiled(X, W), rtol=1e-6)


def test_jax_backend_names_the_devices_a_mesh_needs():
    jax = pytest.importorskip("jax")
    if jax.device_count() >= 8:
        pytest.skip("this process has 8 devices")
    f = cr.jit(lambda x: x * 2, backend="jax", in_shardings=NamedSharding(MESH, P("data")))
    with pytest.raises(ValueError, match="needs 8 devices.*xla_force_host_platform_device_count=8"):
        f(np.ones(4, np.float32))
