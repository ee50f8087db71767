"""cond, case, while, scan and remat on the llvm backend against the reference backend."""

import numpy as np
import pytest

from chainrule.ir import GraphBuilder, TensorType

from test_llvm_util import check_graph

F = TensorType((3,), "float64")
S = TensorType((), "float64")
I = TensorType((), "int32")


pytestmark = pytest.mark.usefixtures("private_llvm_cache")  # compiles land in a fresh cache


def region(types, fn, name="r"):
    rb = GraphBuilder(name)
    ps = [rb.param(t, f"a{i}") for i, t in enumerate(types)]
    out = fn(rb, *ps)
    return rb.build(list(out) if isinstance(out, (tuple, list)) else [out])


def test_cond_and_case_pick_the_branch():
    b = GraphBuilder("branches")
    p = b.param(TensorType((), "bool"), "p")
    k = b.param(I, "k")
    x = b.param(F, "x")
    y = b.param(F, "y")
    t = region([F, F], lambda rb, u, v: (rb.op("add", rb.op("tanh", u), v), u))
    f = region([F, F], lambda rb, u, v: (rb.op("multiply", u, v), rb.op("exponential", v)))
    c = b.emit("cond", [p, x, y], {}, (t, f)).results
    brs = [region([F], lambda rb, u: rb.op("negate", u)),
           region([F], lambda rb, u: rb.op("sine", u)),
           region([F], lambda rb, u: rb.op("broadcast_in_dim", rb.op("reduce", u, kind="sum", dimensions=(0,)),
                                           shape=(3,), broadcast_dimensions=()))]
    s = b.emit("case", [k, b.op("add", x, y)], {}, tuple(brs)).results
    g = b.build(list(c) + list(s) + [c[0]])
    xx, yy = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.25, -3.0])
    for pv in (True, False):
        for kv in (-5, 0, 1, 2, 3, 100):
            check_graph(g, [np.bool_(pv), np.int32(kv), xx, yy], {i: 2 for i in range(5)})


def test_while_loop_counts_and_accumulates():
    b = GraphBuilder("loop")
    n = b.param(I, "n")
    x = b.param(F, "x")
    zero = b.constant(np.int32(0))
    cond = region([I, I, F], lambda rb, i, m, v: rb.op("compare", i, m, direction="LT"))

    def body(rb, i, m, v):
        one = rb.constant(np.int32(1))
        return rb.op("add", i, one), m, rb.op("add", rb.op("multiply", v, v), rb.op("cosine", v))
    w = b.emit("while", [zero, n, x], {}, (cond, region([I, I, F], body))).results
    g = b.build(list(w))
    for nv in (0, 1, 5):
        check_graph(g, [np.int32(nv), np.array([0.1, -0.2, 0.3])], {2: 16})


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_carries_and_stacks(reverse):
    b = GraphBuilder("scan")
    c = b.param(S, "c")
    h0 = b.param(F, "h0")
    xs = b.param(TensorType((4, 3), "float64"), "xs")

    def body(rb, cc, h, xi):
        cb = rb.op("broadcast_in_dim", cc, shape=(3,), broadcast_dimensions=())
        h2 = rb.op("tanh", rb.op("add", rb.op("multiply", h, cb), xi))
        return h2, rb.op("reduce", h2, kind="sum", dimensions=(0,)), xi
    out = b.emit("scan", [c, h0, xs], {"num_consts": 1, "num_carry": 1, "length": 4, "reverse": reverse},
                 (region([S, F, F], body),)).results
    g = b.build(list(out))
    rng = np.random.default_rng(0)
    check_graph(g, [np.float64(0.7), rng.standard_normal(3), rng.standard_normal((4, 3))], {0: 8, 1: 8})


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("length", [1, 2, 5])
def test_scan_stacking_its_carries_keeps_them_in_the_stacked_output(reverse, length):
    # carries a, b stacked as they enter each step (a twice, b once); a also becomes b and b a
    # (each reads the other's slice), c is not stacked; the carries live in the output's slices
    b = GraphBuilder("stack")
    a0, b0, c0 = (b.param(F, n) for n in ("a0", "b0", "c0"))
    xs = b.param(TensorType((length, 3), "float64"), "xs")

    def body(rb, a, bb, c, xi):
        a2 = rb.op("add", rb.op("multiply", a, c), xi)  # exact ops: results must be bit-identical
        return bb, a2, rb.op("add", c, a), a, rb.op("negate", a), bb, a
    out = b.emit("scan", [a0, b0, c0, xs], {"num_carry": 3, "length": length, "reverse": reverse},
                 (region([F, F, F, F], body),)).results
    g = b.build(list(out))
    rng = np.random.default_rng(1)
    check_graph(g, [rng.standard_normal(3) * 0.5 for _ in range(3)] + [rng.standard_normal((length, 3))])


def test_nested_control_flow_and_empty_scan():
    b = GraphBuilder("nested")
    x = b.param(F, "x")
    p = b.param(TensorType((), "bool"), "p")

    def body(rb, h, xi):
        inner_t = region([F], lambda r2, u: r2.op("sine", u))
        inner_f = region([F], lambda r2, u: r2.op("add", u, xi) if False else r2.op("negate", u))
        pp = rb.op("compare", rb.op("reduce", h, kind="sum", dimensions=(0,)), rb.constant(np.float64(0.0)),
                   direction="GT")
        (h2,) = rb.emit("cond", [pp, h], {}, (inner_t, inner_f)).results
        return rb.op("add", h2, xi), h2
    xs = b.op("broadcast_in_dim", x, shape=(5, 3), broadcast_dimensions=(1,))
    out = b.emit("scan", [x, xs], {"num_carry": 1, "length": 5}, (region([F, F], body),)).results
    empty = b.emit("scan", [x, b.op("slice", xs, start_indices=(0, 0), limit_indices=(0, 3))],
                   {"num_carry": 1, "length": 0}, (region([F, F], lambda rb, h, xi: (h, xi)),)).results
    g = b.build(list(out) + list(empty) + [p])
    check_graph(g, [np.array([0.3, -0.1, 0.2]), np.bool_(True)], {0: 8, 1: 8})


def test_remat_runs_its_region():
    from chainrule.ir import REGISTRY
    if "remat" not in REGISTRY:
        pytest.skip("remat is not registered")
    b = GraphBuilder("remat")
    x = b.param(F, "x")
    w = b.param(S, "w")
    body = region([F, S], lambda rb, u, v: (rb.op("sine", rb.op("multiply", u, rb.op(
        "broadcast_in_dim", v, shape=(3,), broadcast_dimensions=()))), v))
    out = b.emit("remat", [x, w], {"policy": "dots_saveable"}, (body,)).results
    g = b.build([b.op("add", out[0], x), out[1]])
    check_graph(g, [np.array([0.5, 1.0, -2.0]), np.float64(1.25)], {0: 4})
