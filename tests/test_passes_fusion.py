"""Fusion: the region rules (check_fusion), decisions on real graphs, and the gradient test."""

import numpy as np
import pytest

from chainrule.backends.reference import evaluate
from chainrule.ir import GraphBuilder, Node, TensorType, get_op, node_key, parse
from chainrule.passes import FusionFormError, check_fusion, fusion_is_well_formed, optimize
from chainrule.passes.cse import cse_graph
from chainrule.passes.fusion import fuse_graph
from chainrule.fuzz.generator import generate_graph, pass_test_config
from chainrule.testing import same_values

F8 = TensorType((8,), "float32")


def _fusion(body_text, operands, kind="loop"):
    body = parse(body_text)
    opdef = get_op("fusion")
    attrs = opdef.normalize_attrs({"kind": kind})
    types = opdef.result_types(tuple(v.type for v in operands), attrs, (body,))
    return Node(opdef, operands, attrs, types, (body,))


def _params(*types):
    b = GraphBuilder()
    return [b.param(t) for t in types]


def test_well_formed_loop_and_reduce():
    (x, y) = _params(F8, TensorType((), "float32"))
    node = _fusion("""func @fused(%a: f32[8], %s: f32[]) -> (f32[8], f32[]) {
  %0 = broadcast_in_dim %s {shape=[8], broadcast_dimensions=[]} : f32[8]
  %1 = constant {value=dense<f32[], [2.0]>} : f32[]
  %2 = broadcast_in_dim %1 {shape=[8], broadcast_dimensions=[]} : f32[8]
  %3 = multiply %a, %0 : f32[8]
  %4 = add %3, %2 : f32[8]
  %5 = reduce %4 {kind=max, dimensions=[0]} : f32[]
  return %4, %5
}""", [x, y], kind="reduce")
    info = check_fusion(node)
    assert (info.kind, info.loop_shape, info.reduce_dims) == ("reduce", (8,), (0,))
    assert fusion_is_well_formed(node)


BAD = {
    "computed broadcast": ("""func @fused(%a: f32[8]) -> (f32[2,8]) {
  %0 = tanh %a : f32[8]
  %1 = broadcast_in_dim %0 {shape=[2,8], broadcast_dimensions=[1]} : f32[2,8]
  %2 = exponential %1 : f32[2,8]
  return %2
}""", "loop", "expected the loop shape"),
    "broadcast of a computed value": ("""func @fused(%a: f32[8]) -> (f32[8]) {
  %0 = exponential %a : f32[8]
  %1 = broadcast_in_dim %0 {shape=[8], broadcast_dimensions=[0]} : f32[8]
  %2 = add %a, %1 : f32[8]
  return %2
}""", "loop", "broadcasts a computed value"),
    "reduce used inside": ("""func @fused(%a: f32[8]) -> (f32[8]) {
  %0 = reduce %a {kind=sum, dimensions=[0]} : f32[]
  %1 = broadcast_in_dim %0 {shape=[8], broadcast_dimensions=[]} : f32[8]
  %2 = add %a, %1 : f32[8]
  return %2
}""", "reduce", "computed value"),
    "shape op": ("""func @fused(%a: f32[8]) -> (f32[8]) {
  %0 = reverse %a {dimensions=[0]} : f32[8]
  %1 = tanh %0 : f32[8]
  return %1
}""", "loop", "may not be fused"),
    "kind mismatch": ("""func @fused(%a: f32[8]) -> (f32[8]) {
  %0 = tanh %a : f32[8]
  return %0
}""", "reduce", "holds no reduce"),
    "vector constant": ("""func @fused(%a: f32[8]) -> (f32[8]) {
  %0 = constant {value=dense<f32[8], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]>} : f32[8]
  %1 = add %a, %0 : f32[8]
  return %1
}""", "loop", "rank-0 constant"),
    "parameter result": ("""func @fused(%a: f32[8]) -> (f32[8], f32[8]) {
  %0 = tanh %a : f32[8]
  return %0, %a
}""", "loop", "is a param"),
    "output kind": ("""func @fused(%a: f32[8]) -> (f32[8]) {
  %0 = tanh %a : f32[8]
  return %0
}""", "output", "kind=output"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_malformed_fusions_are_rejected(name):
    text, kind, message = BAD[name]
    body = parse(text)
    node = _fusion(text, _params(*body.param_types), kind)
    assert not fusion_is_well_formed(node)
    with pytest.raises(FusionFormError, match=message):
        check_fusion(node)


def test_reduce_roots_must_agree():
    (x,) = _params(TensorType((2, 8), "float32"))
    node = _fusion("""func @fused(%a: f32[2,8]) -> (f32[8], f32[2]) {
  %0 = reduce %a {kind=sum, dimensions=[0]} : f32[8]
  %1 = reduce %a {kind=sum, dimensions=[1]} : f32[2]
  return %0, %1
}""", [x], "reduce")
    with pytest.raises(FusionFormError, match="reduce roots differ"):
        check_fusion(node)


EXPENSIVE = {"exponential", "tanh", "log", "sine", "cosine", "logistic", "sqrt", "rsqrt", "power", "divide",
             "reduce", "dot_general", "gather", "exponential_minus_one", "log_plus_one", "atan2", "erf", "tan"}


def _op_counts(graph):
    counts = {}
    for n in graph.walk():
        if n.op.name in EXPENSIVE:
            counts[n.op.name] = counts.get(n.op.name, 0) + 1
    return counts


@pytest.mark.parametrize("seed", range(60))
def test_fusion_never_duplicates_expensive_work(seed):
    g = generate_graph(seed, pass_test_config(max_nodes=22))
    g = cse_graph(g)
    out = fuse_graph(g)
    from chainrule.passes.dce import dce_graph
    assert _op_counts(out) == _op_counts(dce_graph(g))
    for n in out.walk():
        if n.op.name == "fusion":
            check_fusion(n)


def test_fusion_is_not_fooled_into_a_cycle():
    # both exponentials share x, but one feeds the other only through a reduce: merging them would
    # make a cycle (the reduce needs the first fusion, the second needs the reduce)
    g = parse("""func @f(%x: f32[8]) -> (f32[8]) {
  %0 = exponential %x : f32[8]
  %1 = reduce %0 {kind=sum, dimensions=[0]} : f32[]
  %2 = broadcast_in_dim %1 {shape=[8], broadcast_dimensions=[]} : f32[8]
  %3 = tanh %x : f32[8]
  %4 = multiply %3, %2 : f32[8]
  %5 = add %4, %0 : f32[8]
  return %5
}""")
    out = optimize(g, passes="fuse")
    fusions = [n for n in out.nodes if n.op.name == "fusion"]
    assert len(fusions) == 2
    x = np.linspace(-2, 2, 8, dtype=np.float32)
    assert same_values(evaluate(g, [x])[0], evaluate(out, [x])[0])


def _sum_tanh_exp_graph(n=1024, dtype="float32"):
    b = GraphBuilder("loss")
    x = b.param(TensorType((n,), dtype), "x")

    def splat(v):
        c = b.constant(np.asarray(v, dtype=np.dtype(dtype)))
        return b.op("broadcast_in_dim", c, shape=(n,), broadcast_dimensions=())

    t = b.op("tanh", x)
    e = b.op("exponential", b.op("negate", b.op("multiply", x, x)))
    s = b.op("add", b.op("multiply", t, e), b.op("multiply", splat(0.5), x))
    return b.build([b.op("reduce", s, kind="sum", dimensions=(0,))])


def _duplicates(graph):
    """Pairs of nodes (in any one graph or region) that compute the same thing."""
    dups = []
    stack = [graph]
    while stack:
        g = stack.pop()
        seen = set()
        for node in g.nodes:
            key = node_key(node.op, node.operands, node.attrs, tuple(id(r) for r in node.regions))
            if key in seen:
                dups.append(node)
            seen.add(key)
            stack.extend(node.regions)
    return dups


def test_gradient_of_sum_tanh_exp_is_one_or_two_fusions():
    autodiff = pytest.importorskip("chainrule.passes.autodiff")
    if not hasattr(autodiff, "vjp_graph"):
        pytest.skip("chainrule.passes.autodiff.vjp_graph is not there yet")
    g = _sum_tanh_exp_graph()
    grad = autodiff.vjp_graph(g, seed_ones=True)
    out = optimize(grad)
    fusions = [n for n in out.walk() if n.op.name == "fusion"]
    assert 1 <= len(fusions) <= 2, str(out)
    assert not _duplicates(out), str(out)
    assert str(cse_graph(out)) == str(out)
    for n in fusions:
        check_fusion(n)
    x = np.random.default_rng(0).standard_normal(1024).astype(np.float32)
    want, got = evaluate(grad, [x]), evaluate(out, [x])
    assert all(same_values(w, q) for w, q in zip(want, got))
    # the oracle: the derivative by hand
    dx = (1 - np.tanh(x) ** 2) * np.exp(-x * x) + np.tanh(x) * np.exp(-x * x) * (-2 * x) + 0.5
    np.testing.assert_allclose(got[-1], dx, rtol=1e-5, atol=1e-6)
