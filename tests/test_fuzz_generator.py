"""The random graph generator: every op reachable, graphs well typed, deterministic per seed."""

import collections
import random

import numpy as np
from hypothesis import given, settings

from chainrule.backends.reference import evaluate
from chainrule.fuzz import GenConfig, generate_graph, graphs, graphs_with_inputs, inexact_values, random_inputs
from chainrule.fuzz.generator import DISCONTINUOUS, NOT_GENERATED, generator_table
from chainrule.ir import REAL_DTYPES, REGISTRY, GraphBuilder, TensorType, verify
from chainrule.testing import assert_roundtrip, assert_table_complete, edge_values

SEEDS = range(400)


def test_every_registered_op_has_a_maker():
    assert_table_complete(generator_table(), "fuzz generator", exempt=NOT_GENERATED)


def test_graphs_cover_every_op_and_awkward_shapes():
    ops = collections.Counter()
    dims = collections.Counter()
    dtypes = set()
    for s in SEEDS:
        g = generate_graph(s)
        for node in g.walk():
            ops[node.op.name] += 1
            for r in node.results:
                dims.update(r.shape)
                dtypes.add(r.dtype.name)
        dims.update(len(p.shape) == 0 for p in g.params)
    missing = sorted(set(REGISTRY) - set(ops) - set(NOT_GENERATED))
    assert not missing, f"ops never generated in {len(SEEDS)} graphs: {missing}"
    assert dims[0] > 0 and dims[1] > 0, "empty and size-1 dimensions must appear"
    assert dims[True] > 0, "scalar parameters must appear"
    assert dtypes == {d.name for d in REAL_DTYPES}  # complex joins with the complex ops


def test_graphs_verify_round_trip_and_evaluate():
    for s in range(150):
        g = generate_graph(s)
        verify(g)
        assert_roundtrip(g)
        inputs = random_inputs(g, s)
        with np.errstate(all="ignore"):
            outs = evaluate(g, inputs)
        assert [(o.shape, o.dtype) for o in outs] == [(t.shape, t.dtype.np) for t in g.result_types]


def test_same_seed_same_graph_and_inputs():
    a, b = generate_graph(random.Random(7)), generate_graph(7)
    assert str(a) == str(b)
    assert str(generate_graph(8)) != str(a)
    x, y = random_inputs(a, 3), random_inputs(a, 3)
    assert all(np.array_equal(p, q, equal_nan=True) for p, q in zip(x, y))


def test_config_bounds_are_kept():
    cfg = GenConfig(max_nodes=4, max_params=1, max_rank=2, max_dim=3, dtypes=("float32",))
    for s in range(60):
        g = generate_graph(s, cfg)
        assert len(g.params) <= 1
        for p in g.params:
            assert p.dtype.name == "float32" and p.ndim <= 2 and all(d <= 3 for d in p.shape)
        for node in g.nodes:
            assert all(r.ndim <= 3 and r.type.size <= cfg.max_elements for r in node.results)


def test_ops_restriction():
    cfg = GenConfig(ops=("add", "negate"))
    for s in range(30):
        names = {n.op.name for n in generate_graph(s, cfg).nodes}
        assert names <= {"add", "negate", "constant", "convert", "broadcast_in_dim", "iota"}, names


def test_inexact_values_follow_the_data():
    b = GraphBuilder("t")
    x = b.param(TensorType((3,), "float32"), "x")
    e = b.op("exponential", x)
    s = b.op("add", e, x)
    a = b.op("abs", x)
    i = b.op("convert", x, dtype="int32")
    g = b.build([s, a, i])
    t = inexact_values(g)
    assert id(e) in t and id(s) in t and id(a) not in t and id(i) not in t


def test_discontinuous_ops_never_see_inexact_floats():
    for s in SEEDS:
        g = generate_graph(s)
        t = inexact_values(g)
        for node in g.nodes:
            if node.op.name in DISCONTINUOUS:
                bad = [v for v in node.operands if id(v) in t and v.dtype.is_float]
                if node.op.name == "convert" and node.results[0].dtype.is_float:
                    bad = []  # float to float conversion is continuous
                assert not bad, f"seed {s}: {node.op.name} takes an inexact operand\n{g}"


def test_random_inputs_hold_edge_values():
    b = GraphBuilder("t")
    b.param(TensorType((400,), "float32"), "x")
    b.param(TensorType((400,), "int32"), "i")
    b.param(TensorType((), "bool"), "p")
    g = b.build(list(b.params))
    x, i, p = random_inputs(g, 0)
    assert x.dtype == np.float32 and i.dtype == np.int32 and p.shape == () and p.dtype == np.bool_
    assert np.isnan(x).any() and np.isinf(x).any() and (np.signbit(x) & (x == 0)).any()
    assert (i == np.iinfo(np.int32).min).any() and (i == np.iinfo(np.int32).max).any()
    assert set(edge_values("int32").tolist()) & set(i.tolist())


@settings(max_examples=25, deadline=None, derandomize=True)
@given(graphs(GenConfig(max_nodes=6)))
def test_hypothesis_strategy_gives_valid_graphs(g):
    verify(g)
    assert_roundtrip(g)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(graphs_with_inputs(GenConfig(max_nodes=6)))
def test_hypothesis_strategy_with_inputs(pair):
    g, inputs = pair
    assert [a.shape for a in inputs] == [p.shape for p in g.params]
    with np.errstate(all="ignore"):
        evaluate(g, inputs)


def test_random_inputs_without_subnormals():
    b = GraphBuilder("t")
    b.param(TensorType((2000,), "float64"), "x")
    g = b.build(list(b.params))
    (with_sub,) = random_inputs(g, 1)
    (x,) = random_inputs(g, 1, subnormals=False)
    tiny = np.finfo(np.float64).tiny
    assert ((with_sub != 0) & (np.abs(with_sub) < tiny)).any()
    assert not ((x != 0) & (np.abs(x) < tiny)).any()
    assert (np.signbit(x) & (x == 0)).sum() > (np.signbit(with_sub) & (with_sub == 0)).sum()


def test_no_subnormal_constants_when_asked():
    tiny = {np.dtype(d): np.finfo(d).tiny for d in (np.float16, np.float32, np.float64)}  # bfloat16: kind V, skipped

    def subnormal_constants(cfg):
        n = 0
        for s in range(150):
            for node in generate_graph(s, cfg).walk():
                if node.op.name == "constant":
                    a = node.attrs["value"].array
                    if a.dtype.kind == "f":
                        n += int(((a != 0) & (np.abs(a) < tiny[a.dtype])).sum())
        return n
    assert subnormal_constants(GenConfig()) > 0
    assert subnormal_constants(GenConfig(subnormals=False)) == 0


def test_inexact_values_keep_the_precision_they_arose_in():
    b = GraphBuilder("t")
    x = b.param(TensorType((3,), "float32"), "x")
    t32 = b.op("tanh", x)
    wide = b.op("convert", t32, dtype="float64")
    y = b.param(TensorType((3,), "float64"), "y")
    t64 = b.op("tanh", y)
    mixed = b.op("add", wide, t64)
    g = b.build([wide, t64, mixed])
    t = inexact_values(g)
    assert t[id(wide)] == np.float32 and t[id(t64)] == np.float64 and t[id(mixed)] == np.float32
    from chainrule.fuzz.compare import describe_difference
    got, want = np.array([-0.9999814629554749]), np.array([-0.9999815225601196])  # one float32 ulp
    assert describe_difference(got, want, True) is not None  # float64's tolerance
    assert describe_difference(got, want, t[id(wide)]) is None
