"""prune_scan drops a scan's dead carries, outputs and operands, and reverse mode uses it.

Oracle: the reference backend on the unpruned graph (the pruned one must give the
same live results), and the llvm backend on the pruned one.
"""

import numpy as np
import pytest

import chainrule as cr
from chainrule.backends import compile as compile_graph
from chainrule.backends.reference import evaluate
from chainrule.ir import Graph, GraphBuilder, TensorType, verify
from chainrule.passes.scan_prune import prune_scan
from test_checkpoint_memory import loss as rnn_loss  # the RNN, plain or in checkpointed chunks

F64 = "float64"
V = TensorType((3,), F64)


def _scan_graph():
    """scan over xs with consts (w, unused_by_live) and carries a, b, c, d; ys (y_dead, y_live).
    a' = tanh(a * w + c + x0), c' = c * w (a reads c), b' = b + a * v + x1 (nothing live reads b),
    d' = d (dead), y_dead = b * v, y_live = a * c."""
    body = GraphBuilder("body")
    w, v, a, b, c, d, x0, x1 = (body.param(V) for _ in range(8))
    a2 = body.op("tanh", body.op("add", body.op("add", body.op("multiply", a, w), c), x0))
    b2 = body.op("add", body.op("add", b, body.op("multiply", a, v)), x1)
    c2 = body.op("multiply", c, w)
    region = body.build([a2, b2, c2, d, body.op("multiply", b, v), body.op("multiply", a, c)])
    g = GraphBuilder("f")
    ps = [g.param(V) for _ in range(6)] + [g.param(TensorType((5, 3), F64)) for _ in range(2)]
    node = g.emit("scan", ps, {"num_consts": 2, "num_carry": 4, "length": 5}, (region,))
    return g, node


def test_dead_carries_outputs_and_operands_go_and_live_results_agree():
    g, node = _scan_graph()
    live_results = [node.results[0], node.results[5]]  # final a, stacked y_live
    full = g.build(live_results)
    new, kept = prune_scan(node, {id(r) for r in live_results})
    assert kept == [0, 2, 5]  # carries a and c (a reads c), output y_live
    assert new.attrs["num_consts"] == 1 and new.attrs["num_carry"] == 2
    assert [new.operands.index(v) for v in (node.operands[0], node.operands[2], node.operands[4],
                                            node.operands[6])] == [0, 1, 2, 3]  # w, a, c, x0: v, b, d, x1 gone
    (body,) = new.regions
    assert [p.index for p in body.params] == list(range(4))  # fresh params at their new positions
    pruned = verify(Graph("p", full.params, [new], [new.results[0], new.results[2]]))
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(p.type.shape) * 0.5 for p in full.params]
    want = evaluate(full, args)
    for backend_run in (lambda: evaluate(pruned, args), lambda: compile_graph(pruned, backend="llvm")(*args)):
        for got, w in zip(backend_run(), want):
            np.testing.assert_allclose(np.asarray(got), w, rtol=1e-14, atol=1e-15)


def test_nothing_to_prune_gives_none():
    g, node = _scan_graph()
    assert prune_scan(node, {id(r) for r in node.results}) is None


def _loop_dots(graph):
    """dot_general nodes in the bodies of innermost scans (the per-step GEMMs)."""
    out = 0
    for n in graph.walk():
        if n.op.name == "scan" and not any(m.op.name == "scan" for m in n.regions[0].walk()):
            out += sum(m.op.name == "dot_general" for m in n.regions[0].walk())
    return out


@pytest.mark.parametrize("backend", ["reference", "llvm"])
def test_checkpointed_chunked_scan_recomputes_only_the_primal(backend):
    # the backward pass recomputes a chunk as a joint primal/tangent scan whose tangents are zero and
    # unread: pruned, per step that is the forward dot, its recomputation and the backward's three
    rng = np.random.default_rng(1)
    W = rng.standard_normal((4, 4)) * 0.4
    xs = rng.standard_normal((6, 3, 2, 4)) * 0.3
    g = cr.jit(cr.grad(rnn_loss(True))).lower(W, xs).graph
    assert _loop_dots(g) == 5
    got = compile_graph(g, backend=backend)(W, xs)
    got = got[0] if isinstance(got, (list, tuple)) else got
    plain = evaluate(cr.jit(cr.grad(rnn_loss(False))).lower(W, xs.reshape(18, 2, 4)).graph, [W, xs.reshape(18, 2, 4)])
    np.testing.assert_allclose(got, plain[0], rtol=1e-12, atol=1e-13)
