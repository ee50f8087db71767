"""Batching rules of cond, case, while and scan against an explicit loop over the batch.

Covered: shared and per-element predicates / branch indices (out-of-range
indices run the last branch), while loops whose trip count differs per
element, loop carries that start shared and become batched inside the loop,
and scans (forward and reverse) with batched consts, carries and xs.
"""

import numpy as np
import pytest

from chainrule.ir import GraphBuilder, TensorType
from test_vmap_rules import axes_combos, check_batching, ints, make_args, normalized

F = "float64"


def region(name, types, fn):
    b = GraphBuilder(name)
    ps = [b.param(TensorType(*t)) for t in types]
    return b.build(list(fn(b, *ps)))


def bcast(b, s, shape):
    return b.op("broadcast_in_dim", s, shape=shape, broadcast_dimensions=())


def run_cases(rng, g, gens=None):
    n = 0
    for in_axes in axes_combos(g.param_types):
        args = make_args(rng, g.param_types, normalized(in_axes, g.param_types), gens or {})
        check_batching(g, in_axes, args, rtol=1e-14)
        n += 1
    assert n


def cond_graph():
    ops = [((3,), F), ((), F)]
    tb = region("then", ops, lambda b, x, y: [b.op("multiply", x, bcast(b, y, (3,))), y])
    fb = region("else", ops, lambda b, x, y: [b.op("sine", x), b.op("negate", y)])
    b = GraphBuilder("c")
    p, x, y = b.param(TensorType((), "bool")), b.param(TensorType((3,), F)), b.param(TensorType((), F))
    node = b.emit("cond", [p, x, y], {}, (tb, fb))
    return b.build(list(node.results))


def test_cond(rng):
    run_cases(rng, cond_graph())


def case_graph():
    ops = [((2,), F)]
    brs = (region("b0", ops, lambda b, x: [b.op("exponential", x)]),
           region("b1", ops, lambda b, x: [b.op("negate", x)]),
           region("b2", ops, lambda b, x: [b.op("add", x, x)]))
    b = GraphBuilder("k")
    i, x = b.param(TensorType((), "int32")), b.param(TensorType((2,), F))
    node = b.emit("case", [i, x], {}, brs)
    return b.build(list(node.results))


def test_case_with_out_of_range_indices(rng):
    run_cases(rng, case_graph(), gens={0: ints(-2, 5)})


def while_graph():
    """carry (i, n, x, acc): while i < n: i += 1; x = x * 0.5 + 1; acc = acc + x[0]."""
    carry = [((), "int32"), ((), "int32"), ((2,), F), ((), F)]
    cond = region("cond", carry, lambda b, i, n, x, acc: [b.op("compare", i, n, direction="LT")])

    def body_fn(b, i, n, x, acc):
        one = b.constant(np.int32(1))
        x2 = b.op("add", b.op("multiply", x, bcast(b, b.constant(np.float64(0.5)), (2,))),
                  bcast(b, b.constant(np.float64(1.0)), (2,)))
        first = b.op("reshape", b.op("slice", x2, start_indices=(0,), limit_indices=(1,)), shape=())
        return [b.op("add", i, one), n, x2, b.op("add", acc, first)]

    body = region("body", carry, body_fn)
    b = GraphBuilder("w")
    ps = [b.param(TensorType(*t)) for t in carry]
    node = b.emit("while", ps, {}, (cond, body))
    return b.build(list(node.results))


def test_while_shared_and_per_element_trip_counts(rng):
    g = while_graph()
    # i, n small so loops end: trip counts differ per element when i or n is batched
    run_cases(rng, g, gens={0: ints(-1, 3), 1: ints(0, 5), 2: lambda r, s: r.uniform(-1, 1, s), 3: ints(0, 3, np.float64)})


def test_while_carry_becomes_batched(rng):
    """acc starts shared but adds a batched c each step: the fixpoint must batch it."""
    carry = [((), "int32"), ((), F), ((), F)]
    cond = region("cond", carry, lambda b, i, acc, c: [b.op("compare", i, b.constant(np.int32(3)), direction="LT")])
    body = region("body", carry, lambda b, i, acc, c: [b.op("add", i, b.constant(np.int32(1))), b.op("add", acc, c), c])
    b = GraphBuilder("w2")
    ps = [b.param(TensorType(*t)) for t in carry]
    g = b.build(list(b.emit("while", ps, {}, (cond, body)).results))
    args = [np.int32(0), np.float64(1.0), rng.standard_normal(4)]
    check_batching(g, [None, None, 0], args, size=4)


def scan_graph(reverse=False):
    """consts (w,), carry (h,), xs (x,): h = tanh(h * w + x); y = sum(h)."""
    types = [((2,), F), ((2,), F), ((2,), F)]

    def body_fn(b, w, h, x):
        h2 = b.op("tanh", b.op("add", b.op("multiply", h, w), x))
        return [h2, b.op("reduce", h2, kind="sum", dimensions=(0,))]

    body = region("body", types, body_fn)
    b = GraphBuilder("s")
    w, h, x = b.param(TensorType((2,), F)), b.param(TensorType((2,), F)), b.param(TensorType((4, 2), F))
    node = b.emit("scan", [w, h, x], {"num_consts": 1, "num_carry": 1, "length": 4, "reverse": reverse}, (body,))
    return b.build(list(node.results))


@pytest.mark.parametrize("reverse", [False, True])
def test_scan(rng, reverse):
    run_cases(rng, scan_graph(reverse), gens={k: lambda r, s: r.uniform(-1, 1, s) for k in range(3)})


def test_nested_control_flow(rng):
    """A cond inside a scan body, with a per-element predicate computed in the body."""
    ops = [((), F)]
    tb = region("pos", ops, lambda b, v: [b.op("multiply", v, v)])
    fb = region("neg", ops, lambda b, v: [b.op("negate", v)])

    def body_fn(b, c, x):
        p = b.op("compare", x, b.constant(np.float64(0.0)), direction="GT")
        (r,) = b.emit("cond", [p, x], {}, (tb, fb)).results
        s = b.op("add", c, r)
        return [s, s]

    body = region("body", [((), F), ((), F)], body_fn)
    b = GraphBuilder("n")
    c, x = b.param(TensorType((), F)), b.param(TensorType((5,), F))
    g = b.build(list(b.emit("scan", [c, x], {"num_carry": 1, "length": 5}, (body,)).results))
    run_cases(rng, g, gens={0: lambda r, s: r.uniform(-1, 1, s), 1: lambda r, s: r.uniform(-1, 1, s)})
