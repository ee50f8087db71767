"""cond, case, while, scan and the custom-derivative calls on the reference backend, against
plain-Python loops written here."""

import numpy as np
import pytest

from chainrule.backends import compile
from chainrule.ir import GraphBuilder, TensorType
from chainrule.testing import assert_roundtrip, assert_same

T = TensorType


def region(name, types, fn):
    b = GraphBuilder(name)
    ps = [b.param(t, f"a{i}") for i, t in enumerate(types)]
    out = fn(b, *ps)
    return b.build(list(out) if isinstance(out, (list, tuple)) else [out])


def run(graph, *args):
    assert_roundtrip(graph)
    return compile(graph, backend="reference")(*args)


def test_cond_picks_a_branch():
    t = T((3,), "float64")
    b = GraphBuilder("c")
    p, x = b.param(T((), "bool"), "p"), b.param(t, "x")
    yes = region("yes", [t], lambda rb, a: rb.op("negate", a))
    no = region("no", [t], lambda rb, a: rb.op("exponential", a))
    g = b.build(list(b.emit("cond", [p, x], {}, [yes, no]).results))
    x0 = np.array([0.0, -1.5, np.inf])
    assert_same(run(g, np.array(True), x0)[0], -x0)
    assert_same(run(g, np.array(False), x0)[0], np.exp(x0))


@pytest.mark.parametrize("index,want", [(0, 0), (1, 1), (2, 2), (3, 2), (-1, 2), (2**31 - 1, 2)])
def test_case_runs_last_branch_when_out_of_range(index, want):
    t = T((), "int32")
    b = GraphBuilder("k")
    i = b.param(t, "i")
    branches = [region(f"b{k}", [], lambda rb, k=k: rb.constant(np.int32(10 * k))) for k in range(3)]
    g = b.build(list(b.emit("case", [i], {}, branches).results))
    assert run(g, np.array(index, np.int32))[0] == 10 * want


def test_while_counts():
    ti, tf = T((), "int32"), T((2,), "float32")
    b = GraphBuilder("w")
    n, x = b.param(ti, "n"), b.param(tf, "x")
    zero = b.constant(np.int32(0))
    cond = region("cond", [ti, ti, tf], lambda rb, i, m, v: rb.op("compare", i, m, direction="LT"))

    def body(rb, i, m, v):
        return [rb.op("add", i, rb.constant(np.int32(1))), m, rb.op("multiply", v, v)]
    node = b.emit("while", [zero, n, x], {}, [cond, region("body", [ti, ti, tf], body)])
    g = b.build(list(node.results))
    for trips in (0, 1, 3, -4):
        want = np.array([1.5, -0.5], np.float32)
        for _ in range(max(trips, 0)):
            want = want * want
        got = run(g, np.array(trips, np.int32), np.array([1.5, -0.5], np.float32))
        assert got[0] == max(trips, 0)
        assert_same(got[2], want)


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_over_scalars_and_rows(reverse):
    """Slices of a 1-d xs are scalars: the body must get 0-d arrays (ops like
    dynamic_update_slice write into them)."""
    b = GraphBuilder("s")
    c = b.param(T((), "float64"), "c")
    h = b.param(T((), "float64"), "h")
    xs = b.param(T((4,), "float64"), "xs")
    rows = b.param(T((4, 2), "int32"), "rows")

    def body(rb, c_, h_, x, row):
        x2 = rb.emit("dynamic_update_slice", [x, x], {}).results[0]
        new_h = rb.op("add", rb.op("multiply", h_, c_), x2)
        return [new_h, new_h, rb.op("reduce", row, kind="sum", dimensions=(0,))]
    bodyg = region("body", [T((), "float64"), T((), "float64"), T((), "float64"), T((2,), "int32")], body)
    node = b.emit("scan", [c, h, xs, rows], {"num_consts": 1, "num_carry": 1, "length": 4, "reverse": reverse}, [bodyg])
    g = b.build(list(node.results))
    cv, hv = 0.5, 1.0
    xv = np.array([1.0, -2.0, 3.0, np.inf])
    rv = np.arange(8, dtype=np.int32).reshape(4, 2)
    got = run(g, np.array(cv), np.array(hv), xv, rv)
    ys, sums = np.empty(4), np.empty(4, np.int32)
    for i in (range(3, -1, -1) if reverse else range(4)):
        hv = hv * cv + xv[i]
        ys[i], sums[i] = hv, rv[i].sum()
    assert_same(got[0], np.array(hv))
    assert_same(got[1], ys)
    assert_same(got[2], sums)


def test_scan_of_length_zero_returns_the_initial_carry():
    b = GraphBuilder("z")
    h = b.param(T((2,), "float32"), "h")
    xs = b.param(T((0, 3), "float32"), "xs")
    body = region("body", [T((2,), "float32"), T((3,), "float32")], lambda rb, a, x: [rb.op("negate", a), x])
    node = b.emit("scan", [h, xs], {"num_carry": 1, "length": 0}, [body])
    got = run(b.build(list(node.results)), np.array([1.0, -0.0], np.float32), np.zeros((0, 3), np.float32))
    assert_same(got[0], np.array([1.0, -0.0], np.float32))
    assert got[1].shape == (0, 3)


def test_custom_calls_run_their_primal_region():
    t = T((3,), "float64")
    b = GraphBuilder("cj")
    x = b.param(t, "x")
    primal = region("primal", [t], lambda rb, a: rb.op("sine", a))
    jvp = region("jvp", [t, t], lambda rb, a, da: [rb.op("sine", a), rb.op("multiply", rb.op("cosine", a), da)])
    fwd = region("fwd", [t], lambda rb, a: [rb.op("sine", a), rb.op("cosine", a)])
    bwd = region("bwd", [t, t], lambda rb, cos, g: rb.op("multiply", cos, g))
    y1 = b.emit("custom_jvp_call", [x], {}, [primal, jvp]).results[0]
    y2 = b.emit("custom_vjp_call", [x], {}, [primal, fwd, bwd]).results[0]
    xv = np.array([0.0, 1.0, -2.0])
    got = run(b.build([y1, y2]), xv)
    assert_same(got[0], np.sin(xv), rtol=1e-15)
    assert_same(got[1], np.sin(xv), rtol=1e-15)


def test_custom_vjp_lin_cannot_be_evaluated():
    t = T((2,), "float32")
    b = GraphBuilder("lin")
    r, g = b.param(t, "r"), b.param(t, "g")
    bwd = region("bwd", [t, t], lambda rb, res, ct: rb.op("multiply", res, ct))
    y = b.emit("custom_vjp_lin", [r, g], {"num_residuals": 1, "output_index": 0}, [bwd]).results[0]
    graph = b.build([y])
    assert_roundtrip(graph)
    with pytest.raises(NotImplementedError, match="custom_vjp_lin cannot be evaluated"):
        compile(graph, backend="reference")(np.ones(2, np.float32), np.ones(2, np.float32))


@pytest.mark.parametrize("policy", ["nothing_saveable", "dots_saveable"])
def test_remat_runs_its_region(policy):
    t = T((2, 2), "float64")
    b = GraphBuilder("r")
    x, w = b.param(t, "x"), b.param(t, "w")
    body = region("body", [t, t], lambda rb, a, c: rb.op("tanh", rb.op("dot_general", a, c, lhs_contracting=(1,),
                                                                          rhs_contracting=(0,))))
    y = b.emit("remat", [x, w], {"policy": policy}, [body]).results[0]
    xv, wv = np.array([[1.0, -2.0], [0.5, 0.0]]), np.array([[0.25, 1.0], [-1.0, 3.0]])
    got = run(b.build([y]), xv, wv)[0]
    want = np.tanh(np.array([[1.0 * 0.25 + 2.0, 1.0 - 6.0], [0.125, 0.5]]))
    assert_same(got, want, rtol=1e-15)
