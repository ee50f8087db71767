"""custom_jvp_call / custom_vjp_call at the graph level: the user's rule is what the pass uses,
in forward, reverse and second order; forward mode through custom_vjp is refused like JAX."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.ir import GraphBuilder, TensorType
from chainrule.passes.autodiff import NonDifferentiableError, jvp_graph, vjp_graph
from test_autodiff_helpers import check_graph, run

T = TensorType((4,), "float64")


def _softplus_custom_jvp(rule_scale=None):
    """softplus with a custom JVP t * logistic(x) (or t * rule_scale, a rule that differs from f)."""
    p = GraphBuilder("softplus")
    x = p.param(T)
    primal = p.build([p.op("log_plus_one", p.op("exponential", x))])
    j = GraphBuilder("softplus_jvp")
    x, t = j.param(T), j.param(T)
    y = j.op("log_plus_one", j.op("exponential", x))
    if rule_scale is None:
        dy = j.op("multiply", t, j.op("logistic", x))
    else:
        dy = j.op("multiply", t, j.op("broadcast_in_dim", j.constant(np.float64(rule_scale)), shape=(4,),
                                      broadcast_dimensions=()))
    rule = j.build([y, dy])
    b = GraphBuilder("f")
    xp = b.param(T, "x")
    (out,) = b.emit("custom_jvp_call", (xp,), {}, (primal, rule)).results
    return b.build([b.op("reduce", b.op("multiply", out, out), kind="sum", dimensions=(0,))])


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_custom_jvp_forward_reverse_and_second_order():
    g = _softplus_custom_jvp()
    x = np.array([-1.0, 0.0, 0.5, 2.0])
    sp = np.log1p(np.exp(x))
    want_grad = 2 * sp * _sigmoid(x)
    jg = check_graph(jvp_graph(g))
    np.testing.assert_allclose(run(jg, [x, np.ones(4)])[1], want_grad.sum(), rtol=1e-13)
    vg = check_graph(vjp_graph(g, seed_ones=True))
    np.testing.assert_allclose(run(vg, [x])[1], want_grad, rtol=1e-13)
    # the Hessian differentiates the rule itself: d/dx 2 sp s = 2 s^2 + 2 sp s (1 - s)
    hv = check_graph(jvp_graph(vg))
    s = _sigmoid(x)
    np.testing.assert_allclose(run(hv, [x, np.ones(4)])[3], 2 * s * s + 2 * sp * s * (1 - s), rtol=1e-12)


def test_custom_jvp_rule_is_used_even_when_it_differs_from_the_function():
    g = _softplus_custom_jvp(rule_scale=3.0)
    x = np.array([-1.0, 0.0, 0.5, 2.0])
    out = run(check_graph(vjp_graph(g, seed_ones=True)), [x])[1]
    np.testing.assert_allclose(out, 2 * np.log1p(np.exp(x)) * 3.0, rtol=1e-13)
    # the primal still comes from region 0, kept as a custom_jvp_call node
    assert any(n.op.name == "custom_jvp_call" for n in vjp_graph(g, seed_ones=True).nodes)


def _two_output_custom_vjp(clip=None):
    """(x, y) -> (x*y, sin(x)+y) with a VJP rule; `clip` bounds the cotangent of x (a rule that differs)."""
    def fn(name, with_res):
        b = GraphBuilder(name)
        x, y = b.param(T), b.param(T)
        outs = [b.op("multiply", x, y), b.op("add", b.op("sine", x), y)]
        return b.build(outs + ([b.op("cosine", x), x, y] if with_res else []))
    primal, fwd = fn("f", False), fn("f_fwd", True)
    r = GraphBuilder("f_bwd")
    c, x, y, g1, g2 = (r.param(T) for _ in range(5))
    dx = r.op("add", r.op("multiply", g1, y), r.op("multiply", g2, c))
    if clip is not None:
        lo = r.op("broadcast_in_dim", r.constant(np.float64(-clip)), shape=(4,), broadcast_dimensions=())
        hi = r.op("broadcast_in_dim", r.constant(np.float64(clip)), shape=(4,), broadcast_dimensions=())
        dx = r.op("clamp", lo, dx, hi)
    bwd = r.build([dx, r.op("add", r.op("multiply", g1, x), g2)])
    b = GraphBuilder("g")
    xp, yp = b.param(T, "x"), b.param(T, "y")
    o1, o2 = b.emit("custom_vjp_call", (xp, yp), {}, (primal, fwd, bwd)).results
    return b.build([o1, b.op("tanh", o2)])


def test_custom_vjp_reverse_mode_uses_bwd():
    g = _two_output_custom_vjp()
    rng = np.random.default_rng(0)
    x, y, c1, c2 = (rng.standard_normal(4) for _ in range(4))
    vg = check_graph(vjp_graph(g))
    out = run(vg, [x, y, c1, c2])
    np.testing.assert_allclose(out[0], x * y)
    g2 = c2 * (1 - np.tanh(np.sin(x) + y) ** 2)
    np.testing.assert_allclose(out[2], c1 * y + g2 * np.cos(x), rtol=1e-13)
    np.testing.assert_allclose(out[3], c1 * x + g2, rtol=1e-13)
    # the reverse graph holds the inlined fwd and bwd regions, no custom op
    assert not any(n.op.name.startswith("custom_") for n in vg.walk())


def test_custom_vjp_rule_that_differs_is_what_reverse_mode_uses():
    g = _two_output_custom_vjp(clip=0.1)
    x, y = np.linspace(-1, 1, 4), np.linspace(2, 3, 4)
    out = run(check_graph(vjp_graph(g, wrt=[0])), [x, y, np.ones(4), np.zeros(4)])
    np.testing.assert_allclose(out[2], np.clip(y, -0.1, 0.1))


def test_custom_vjp_second_order_differentiates_bwd():
    g = _two_output_custom_vjp()
    x, y = np.array([0.3, -0.2, 1.0, 0.5]), np.array([1.0, 2.0, -1.0, 0.1])
    gg = check_graph(vjp_graph(g, wrt=[0]))  # (x, y, c1, c2) -> (o1, o2, dx)
    hv = check_graph(jvp_graph(gg, wrt=[1]))  # d dx / dy along v
    v = np.ones(4)
    c1, c2 = np.full(4, 0.5), np.zeros(4)
    # dx = c1 * y (c2 = 0) so d dx/dy . v = c1
    np.testing.assert_allclose(run(hv, [x, y, c1, c2, v])[-1], c1)


def test_forward_mode_through_custom_vjp_is_refused_like_jax():
    g = _two_output_custom_vjp()
    with pytest.raises(TypeError, match="forward-mode") as info:
        jvp_graph(g)
    assert isinstance(info.value, NonDifferentiableError)
    # a custom_vjp function off the differentiated path is fine
    assert len(jvp_graph(g, wrt=[]).params) == 2
