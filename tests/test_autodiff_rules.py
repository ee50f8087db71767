"""The rule tables against the op registry, the entry points' contracts and error paths,
symbolic zeros, and the cheap-gradient principle (node counts)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from chainrule.ir import REGISTRY, GraphBuilder, OpDef, TensorType
from chainrule.passes.autodiff import (EXPANSIONS, JVP_RULES, NON_DIFFERENTIABLE, TRANSPOSE_RULES,
                                       NonDifferentiableError, jvp_graph, vjp_graph)
from chainrule.testing import assert_table_complete
from test_autodiff_helpers import check_graph, jax, jax_x64, run, to_jax
from test_autodiff_ops import CASES

F64 = TensorType((3,), "float64")


def _ops_used(graph):
    return Counter(n.op.name for n in graph.walk())


# --- tables ----------------------------------------------------------------------------------------

def test_every_registered_op_has_a_jvp_rule_or_a_reason():
    rules = set(JVP_RULES) | set(EXPANSIONS)
    assert_table_complete(rules, "autodiff JVP_RULES + EXPANSIONS", exempt=NON_DIFFERENTIABLE)


def test_tables_do_not_overlap():
    assert not set(JVP_RULES) & set(NON_DIFFERENTIABLE)
    assert not set(JVP_RULES) & set(EXPANSIONS)
    assert not set(NON_DIFFERENTIABLE) & set(EXPANSIONS)


def test_linear_ops_have_transpose_rules():
    linear = {"negate", "add", "subtract", "multiply", "divide", "convert", "broadcast_in_dim", "reshape",
              "transpose", "slice", "pad", "concatenate", "reverse", "reduce", "dot_general", "dynamic_slice",
              "dynamic_update_slice", "gather", "scatter", "select"}
    assert linear <= set(TRANSPOSE_RULES), sorted(linear - set(TRANSPOSE_RULES))
    assert set(TRANSPOSE_RULES) <= set(REGISTRY)


WINDOW_OPS = {"convolution", "reduce_window", "select_and_gather_add", "select_and_scatter_add"}
COMPLEX_OPS = {"real", "imag", "complex", "conj", "fft"}
SHARDING_OPS = {"sharding_constraint", "shard_map", "psum", "all_gather", "psum_scatter", "all_to_all", "ppermute"}


def test_every_differentiable_op_is_exercised_by_the_op_tests():
    used = set()
    for case in CASES:
        used |= set(_ops_used(case.graph()))
    custom = {"custom_jvp_call", "custom_vjp_call", "custom_vjp_lin"}  # tested in test_autodiff_custom.py
    custom |= {"cond", "case", "while", "scan"}  # tested in test_control_flow_autodiff.py
    custom |= SHARDING_OPS  # tested in test_shard_map.py and test_sharding_ir.py (they need a mesh)
    custom |= {"cholesky", "triangular_solve", "lu", "qr", "eigh", "svd"}  # tested in test_linalg_grad.py
    custom |= {"eig"}  # tested in test_linalg_eig.py
    custom |= WINDOW_OPS  # tested in test_conv.py and test_reduce_window.py (against JAX, to second order)
    custom |= COMPLEX_OPS | {"sort"}  # tested in test_complex_autodiff.py, test_fft_ops.py and test_sort_op.py
    missing = sorted(set(JVP_RULES) - used - custom)
    assert not missing, f"ops with a JVP rule but no derivative test in test_autodiff_ops: {missing}"
    assert "fusion" in used


def test_every_transpose_rule_is_exercised():
    used = set()
    for case in CASES:
        g = case.graph()
        # the ops the linear part holds are those the JVP graph applies to tangents
        used |= set(_ops_used(jvp_graph(g)))
    control_flow = {"cond", "case", "while", "scan", "remat"}  # tested in test_control_flow_autodiff.py, test_checkpoint.py
    control_flow |= SHARDING_OPS  # tested in test_shard_map.py and test_sharding_ir.py
    control_flow |= {"triangular_solve"}  # tested in test_linalg_grad.py
    control_flow |= WINDOW_OPS  # tested in test_conv.py and test_reduce_window.py
    control_flow |= COMPLEX_OPS  # tested in test_complex_autodiff.py and test_fft_ops.py
    assert set(TRANSPOSE_RULES) - {"custom_vjp_lin"} - control_flow <= used, sorted(set(TRANSPOSE_RULES) - used)


# --- contracts --------------------------------------------------------------------------------------

def _two_input_graph():
    b = GraphBuilder("f")
    x = b.param(F64, "x")
    n = b.param(TensorType((3,), "int32"), "n")
    y = b.op("multiply", b.op("sine", x), b.op("convert", n, dtype="float64"))
    return b.build([y, b.op("add", n, n)])


def test_signatures_of_jvp_and_vjp_graphs():
    g = _two_input_graph()
    jg = check_graph(jvp_graph(g))
    assert jg.param_types == g.param_types + (F64,)
    assert jg.result_types == g.result_types * 2
    vg = check_graph(vjp_graph(g))
    assert vg.param_types == g.param_types + g.result_types
    assert vg.result_types == g.result_types + (F64,)
    vs = check_graph(vjp_graph(g, seed_ones=True))
    assert vs.param_types == g.param_types
    x, n = np.array([0.1, 0.2, 0.3]), np.array([1, 2, 3], np.int32)
    out = run(vs, [x, n])
    np.testing.assert_allclose(out[2], np.cos(x) * n)  # seed 1 on the float result, none on the int one
    np.testing.assert_array_equal(run(jg, [x, n, np.ones(3)])[3], np.zeros(3, np.int32))


def test_integer_wrt_is_a_type_error_like_jax():
    g = _two_input_graph()
    for fn in (jvp_graph, vjp_graph):
        with pytest.raises(TypeError, match=r"requires float or complex inputs, but argument 1 has dtype int32"):
            fn(g, wrt=[1])
    with pytest.raises(ValueError, match="out of range"):
        vjp_graph(g, wrt=[2])
    with pytest.raises(ValueError, match="twice"):
        jvp_graph(g, wrt=[0, 0])


def test_unknown_op_raises_a_clear_error_only_on_differentiated_paths():
    mystery = OpDef("mystery_op", lambda types, attrs, regions: (types[0],), category="unary")
    b = GraphBuilder("f")
    x = b.param(F64, "x")
    c = b.param(F64, "c")
    y = b.emit(mystery, (x,)).results[0]
    g = b.build([b.op("add", y, b.op("sine", c))])
    for fn in (jvp_graph, vjp_graph):
        with pytest.raises(NonDifferentiableError, match="'mystery_op'.*no JVP rule"):
            fn(g)
    vg = vjp_graph(g, wrt=[1])  # x's path is not differentiated, so no rule is needed
    assert [p.type for p in vg.params] == [F64] * 3
    assert sum(n.op.name == "cosine" for n in vg.nodes) == 1


def test_wrt_order_is_the_order_of_tangents_and_cotangents():
    b = GraphBuilder("f")
    x, y = b.param(F64, "x"), b.param(TensorType((2,), "float64"), "y")
    s = b.op("reduce", b.op("sine", y), kind="sum", dimensions=(0,))
    g = b.build([b.op("multiply", x, b.op("broadcast_in_dim", s, shape=(3,), broadcast_dimensions=()))])
    jg = check_graph(jvp_graph(g, wrt=[1, 0]))
    assert [p.type for p in jg.params[2:]] == [TensorType((2,), "float64"), F64]
    vg = check_graph(vjp_graph(g, wrt=[1, 0]))
    assert vg.result_types[1:] == (TensorType((2,), "float64"), F64)
    x0, y0, ct = np.array([1.0, 2.0, 3.0]), np.array([0.5, -0.5]), np.array([1.0, 0.0, 2.0])
    out = run(vg, [x0, y0, ct])
    np.testing.assert_allclose(out[1], np.cos(y0) * np.dot(ct, x0))
    np.testing.assert_allclose(out[2], ct * np.sin(y0).sum())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float32_and_float64_derivative_graphs_keep_their_dtype(dtype):
    from op_tables import BINARY_DOMAINS, UNARY_DOMAINS
    t = TensorType((3,), dtype)
    for op, arity in [(o, 1) for o in UNARY_DOMAINS] + [(o, 2) for o in BINARY_DOMAINS]:
        b = GraphBuilder("f")
        xs = [b.param(t, f"x{i}") for i in range(arity)]
        g = b.build([b.op("reduce", b.op(op, *xs), kind="sum", dimensions=(0,))])
        gg = check_graph(vjp_graph(g, seed_ones=True))
        for dg in (gg, check_graph(jvp_graph(gg))):
            out = run(dg, [np.full(3, 0.7, t.dtype.np)] * len(dg.params))
            assert all(o.dtype == t.dtype.np for o in out), (op, [o.dtype for o in out])
            assert np.isfinite(np.concatenate([o.reshape(-1) for o in out])).all(), op


def test_derivative_nodes_keep_the_source_location_of_the_node_they_differentiate():
    b = GraphBuilder("f")
    x = b.param(F64, "x")
    y = b.emit("tanh", (x,), {}, loc="model.py:12").results[0]
    s = b.emit("reduce", (y,), {"kind": "sum", "dimensions": (0,)}, loc="model.py:13").results[0]
    g = b.build([s])
    vg = vjp_graph(g, seed_ones=True)
    locs = Counter(n.loc for n in vg.nodes)
    assert set(locs) <= {"model.py:12", "model.py:13", None} and locs["model.py:12"] >= 3, locs
    assert next(n for n in vg.nodes if n.op.name == "tanh").loc == "model.py:12"
    mystery = OpDef("mystery_op", lambda types, attrs, regions: (types[0],), category="unary")
    b = GraphBuilder("f")
    x = b.param(F64, "x")
    g = b.build([b.emit(mystery, (x,), loc="model.py:7").results[0]])
    with pytest.raises(NonDifferentiableError, match="'mystery_op' at model.py:7"):
        vjp_graph(g)


def test_input_graph_is_untouched():
    g = _two_input_graph()
    before = str(g)
    vjp_graph(jvp_graph(g))
    assert str(g) == before


@pytest.mark.parametrize("case", CASES[::7], ids=[c.name for c in CASES[::7]])
def test_no_dead_code(case):
    g = case.graph()
    for dg in (jvp_graph(g), vjp_graph(g), vjp_graph(vjp_graph(g))):
        used = {id(v) for n in dg.nodes for v in n.operands} | {id(r) for r in dg.results}
        dead = [n.op.name for n in dg.nodes if not any(id(r) in used for r in n.results)]
        assert not dead, f"{case.name}: dead nodes {dead}"


# --- zeros stay symbolic ------------------------------------------------------------------------------

def test_unused_paths_materialize_no_zeros():
    b = GraphBuilder("f")
    x, y = b.param(F64, "x"), b.param(F64, "y")
    g = b.build([b.op("multiply", x, y), b.op("exponential", y)])
    jg = check_graph(jvp_graph(g, wrt=[0]))
    ops = _ops_used(jg)
    # t * y for the product; the only constant is the zero tangent the contract returns for exp(y)
    assert ops["exponential"] == 1 and ops["multiply"] == 2 and ops["constant"] == 1, ops
    vg = check_graph(vjp_graph(g, wrt=[0]))
    ct1 = vg.params[3]
    assert not any(ct1 is v for n in vg.nodes for v in n.operands), "cotangent of the unused result was used"
    assert "constant" not in _ops_used(vg)


def test_stop_gradient_cuts_the_path():
    b = GraphBuilder("f")
    x = b.param(F64, "x")
    g = b.build([b.op("tanh", b.op("stop_gradient", x))])
    vg = check_graph(vjp_graph(g))
    assert _ops_used(vg) == Counter({"stop_gradient": 1, "tanh": 1, "constant": 1, "broadcast_in_dim": 1})
    np.testing.assert_array_equal(run(vg, [np.ones(3), np.ones(3)])[1], np.zeros(3))


def test_cotangents_meeting_are_summed_once():
    b = GraphBuilder("f")
    x = b.param(F64, "x")
    parts = [b.op("reduce", b.op(op, x), kind="sum", dimensions=(0,)) for op in ("sine", "cosine", "exponential")]
    g = b.build([b.op("add", b.op("add", parts[0], parts[1]), parts[2])])
    vg = check_graph(vjp_graph(g, seed_ones=True))
    assert _ops_used(vg)["add"] == 2 + 2  # forward's two adds, then one sum of three contributions
    x0 = np.array([0.1, -0.4, 0.9])
    np.testing.assert_allclose(run(vg, [x0])[1], np.cos(x0) - np.sin(x0) + np.exp(x0), rtol=1e-14)


def test_broadcast_is_undone_by_reduce_sum():
    b = GraphBuilder("f")
    x = b.param(TensorType((1, 3), "float64"), "x")
    y = b.op("tanh", b.op("broadcast_in_dim", x, shape=(4, 2, 3), broadcast_dimensions=(1, 2)))
    g = b.build([b.op("reduce", y, kind="sum", dimensions=(0, 1, 2))])
    vg = check_graph(vjp_graph(g, seed_ones=True))
    reduces = [n for n in vg.nodes if n.op.name == "reduce"]
    assert any(n.attrs["dimensions"] == (0, 1) for n in reduces), str(vg)
    x0 = np.array([[0.3, -0.2, 1.0]])
    np.testing.assert_allclose(run(vg, [x0])[1], 8 * (1 - np.tanh(x0) ** 2), rtol=1e-14)


# --- numerics at the edges, against JAX --------------------------------------------------------------------

def _unary_grad(op, xs, build_extra=None):
    b = GraphBuilder("f")
    x = b.param(TensorType((len(xs),), "float64"), "x")
    y = build_extra(b, x) if build_extra else b.op(op, x)
    g = b.build([b.op("reduce", y, kind="sum", dimensions=(0,))])
    return g, run(check_graph(vjp_graph(g, seed_ones=True)), [np.asarray(xs, np.float64)])[1]


@pytest.mark.skipif(jax is None, reason="jax not installed")
@pytest.mark.parametrize("op,xs", [
    ("sqrt", [0.0, 1e-300, 4.0]),
    ("rsqrt", [1e-300, 4.0]),
    ("logistic", [-800.0, -40.0, 0.0, 40.0, 800.0]),
    ("tanh", [-400.0, -20.0, 0.0, 20.0, 400.0]),
    ("exponential_minus_one", [-1e-12, 0.0, 1e-12]),
    ("log_plus_one", [-0.999999, 0.0, 1e12]),
    ("erf", [-30.0, 0.0, 1e-8, 30.0]),
    ("abs", [-2.0, -0.0, 0.0, 3.0, np.nan]),  # JAX: select(x >= 0, t, -t): 1 at +-0, -1 at NaN
])
def test_edge_values_match_jax(op, xs):
    g, ours = _unary_grad(op, xs)
    with jax_x64():
        theirs = np.asarray(jax.grad(lambda x: to_jax(g)(x)[0])(np.asarray(xs, np.float64)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=0)
    if op == "abs":
        np.testing.assert_array_equal(ours, [-1.0, 1.0, 1.0, 1.0, -1.0])


@pytest.mark.skipif(jax is None, reason="jax not installed")
def test_power_at_zero_and_negative_base_match_jax():
    xs = [-3.0, -1.0, 0.0, 0.5]

    def build(b, x):
        outs = []
        for e in (1.0, 2.0, 3.0, -1.0):
            c = b.op("broadcast_in_dim", b.constant(np.float64(e)), shape=(4,), broadcast_dimensions=())
            outs.append(b.op("power", x, c))
        acc = outs[0]
        for o in outs[1:]:
            acc = b.op("add", acc, o)
        return acc

    g, ours = _unary_grad(None, xs, build)
    with jax_x64():
        theirs = np.asarray(jax.grad(lambda x: to_jax(g)(x)[0])(np.asarray(xs)))
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_allclose(ours, theirs, rtol=1e-14)
    # the exponent-tangent term never evaluates log of a negative base when the exponent is constant
    assert "log" not in _ops_used(vjp_graph(g, seed_ones=True))
    assert not np.isnan(ours[[0, 1, 3]]).any()


def test_power_with_zero_exponent_has_zero_derivative_at_zero():
    # d/dx x^0 = 0 everywhere (JAX's select(y == 0, 0, ...) guard; jax 0.10's own rule gives nan at x = 0)
    g, ours = _unary_grad(None, [0.0, -2.0, 3.0], lambda b, x: b.op(
        "power", x, b.op("broadcast_in_dim", b.constant(np.float64(0.0)), shape=(3,), broadcast_dimensions=())))
    np.testing.assert_array_equal(ours, [0.0, 0.0, 0.0])


def test_power_with_variable_exponent_at_zero_base_is_finite():
    b = GraphBuilder("f")
    x, y = b.param(TensorType((2,), "float64"), "x"), b.param(TensorType((2,), "float64"), "y")
    g = b.build([b.op("reduce", b.op("power", x, y), kind="sum", dimensions=(0,))])
    out = run(check_graph(vjp_graph(g, seed_ones=True)), [np.array([0.0, 2.0]), np.array([2.0, 3.0])])
    np.testing.assert_allclose(out[1], [0.0, 12.0])
    np.testing.assert_allclose(out[2], [0.0, 8 * np.log(2.0)])  # d/dy 0^y = 0 (JAX: log(1) * 0)


def test_max_over_an_empty_dimension_has_zero_tangent():
    # JAX's jvp gives 0/0 = nan here; a sum over no elements of the tangent is 0, and agrees with the vjp
    b = GraphBuilder("f")
    x = b.param(TensorType((0, 3), "float64"), "x")
    g = b.build([b.op("reduce", x, kind="max", dimensions=(0,))])
    out = run(check_graph(jvp_graph(g)), [np.zeros((0, 3)), np.zeros((0, 3))])
    np.testing.assert_array_equal(out[0], np.full(3, -np.inf))
    np.testing.assert_array_equal(out[1], np.zeros(3))


# --- cheap gradient --------------------------------------------------------------------------------------

def _tanh_exp_graph(n=1024):
    b = GraphBuilder("f")
    x = b.param(TensorType((n,), "float32"), "x")
    t = b.op("multiply", b.op("tanh", x), b.op("exponential", b.op("negate", b.op("multiply", x, x))))
    half = b.op("broadcast_in_dim", b.constant(np.float32(0.5)), shape=(n,), broadcast_dimensions=())
    return b.build([b.op("reduce", b.op("add", t, b.op("multiply", half, x)), kind="sum", dimensions=(0,))])


def mlp_squared_loss_graph(dtype="float32", batch=8, sizes=(4, 16, 3)):
    b = GraphBuilder("mlp")
    x = b.param(TensorType((batch, sizes[0]), dtype), "x")
    ws = []
    for i, (m, n) in enumerate(zip(sizes, sizes[1:])):
        ws.append((b.param(TensorType((m, n), dtype), f"w{i}"), b.param(TensorType((n,), dtype), f"b{i}")))
    y = b.param(TensorType((batch, sizes[-1]), dtype), "y")
    h = x
    for i, (w, bias) in enumerate(ws):
        n = w.shape[1]
        h = b.op("add", b.op("dot_general", h, w, lhs_contracting=(1,), rhs_contracting=(0,)),
                 b.op("broadcast_in_dim", bias, shape=(batch, n), broadcast_dimensions=(1,)))
        if i < len(ws) - 1:
            h = b.op("tanh", h)
    d = b.op("subtract", h, y)
    return b.build([b.op("reduce", b.op("multiply", d, d), kind="sum", dimensions=(0, 1))])


@pytest.mark.parametrize("make,wrt", [(_tanh_exp_graph, None), (mlp_squared_loss_graph, [1, 2, 3, 4])])
def test_reverse_graph_costs_at_most_three_forwards(make, wrt):
    g = make()
    vg = check_graph(vjp_graph(g, wrt=wrt, seed_ones=True))
    fwd, rev = g.num_nodes(), vg.num_nodes()
    assert rev <= 3 * fwd, f"{g.name}: reverse graph has {rev} nodes for a forward of {fwd}\n{vg}"
    flops = Counter(n.op.name for n in vg.nodes)
    if g.name == "mlp":  # each matmul of the forward costs two in the reverse (one per operand), no more
        assert flops["dot_general"] == 3 * 2 - 1  # the input x needs no gradient
        assert "transpose" not in flops  # weight gradients are x^T @ ct directly, in the weight's layout
