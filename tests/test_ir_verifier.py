"""The verifier catches graphs that break the IR's invariants, and says where."""

import numpy as np
import pytest

from chainrule.ir import Attrs, Graph, GraphBuilder, Node, TensorType, Value, VerifyError, get_op, verify
from chainrule.testing import assert_roundtrip

T = TensorType
F = T((3,), "float32")


def simple():
    b = GraphBuilder("g")
    x = b.param(F, "x")
    y = b.op("exponential", x)
    z = b.op("add", y, x)
    return b, x, y, z, b.build([z])


def test_valid_graphs_pass_and_are_returned():
    *_, g = simple()
    assert verify(g) is g
    assert_roundtrip(g)


def test_use_before_def():
    _, x, y, z, g = simple()
    bad = Graph("g", g.params, list(reversed(g.nodes)), g.results)
    with pytest.raises(VerifyError, match=r"@g: node 0 \(add\) uses operand 0 \(f32\[3\]\) before it is defined"):
        verify(bad)


def test_value_from_another_graph():
    other = GraphBuilder("other").param(F, "stranger")
    _, x, y, z, g = simple()
    node = Node(get_op("negate"), [other], Attrs(), [F])
    bad = Graph("g", g.params, g.nodes + [node], [node.results[0]])
    with pytest.raises(VerifyError, match=r"node 2 \(negate\) uses operand 0 .* from outside this graph"):
        verify(bad)


def test_wrong_result_type():
    _, x, y, z, g = simple()
    node = Node(get_op("negate"), [x], Attrs(), [T((3,), "float64")])
    bad = Graph("g", g.params, g.nodes + [node], [node.results[0]])
    with pytest.raises(VerifyError, match=r"node 2 \(negate\) has result types f64\[3\], its type rule gives f32\[3\]"):
        verify(bad)


def test_node_whose_operands_break_the_type_rule():
    _, x, y, z, g = simple()
    i = Value(T((3,), "int32"), None, 1, "i")
    node = Node(get_op("add"), [x, i], Attrs(), [F])
    bad = Graph("g", g.params + [i], g.nodes + [node], [node.results[0]])
    with pytest.raises(VerifyError, match=r"node 2: add: operands types differ"):
        verify(bad)


def test_undefined_result():
    _, x, y, z, g = simple()
    loose = Node(get_op("negate"), [x], Attrs(), [F]).results[0]
    bad = Graph("g", g.params, g.nodes, [z, loose])
    with pytest.raises(VerifyError, match=r"result 1 \(f32\[3\]\) is not defined in this graph"):
        verify(bad)


def test_node_listed_twice():
    _, x, y, z, g = simple()
    bad = Graph("g", g.params, g.nodes + [g.nodes[0]], g.results)
    with pytest.raises(VerifyError, match=r"node 2 \(exponential\) result 0 is defined twice"):
        verify(bad)


def test_parameter_twice_and_parameter_made_by_a_node():
    _, x, y, z, g = simple()
    with pytest.raises(VerifyError, match="parameter 1 appears twice"):
        verify(Graph("g", [x, x], g.nodes, g.results))
    with pytest.raises(VerifyError, match="parameter 0 is produced by a node"):
        verify(Graph("g", [y], [], [y]))


def test_result_not_owned_by_its_node():
    _, x, y, z, g = simple()
    node = Node(get_op("negate"), [x], Attrs(), [F])
    node.results = (Value(F, g.nodes[0], 0),)
    bad = Graph("g", g.params, g.nodes + [node], g.results)
    with pytest.raises(VerifyError, match=r"node 2 \(negate\) result 0 is not owned by it"):
        verify(bad)


def test_region_may_not_capture_outer_values():
    b = GraphBuilder("outer")
    x = b.param(F, "x")
    rb = GraphBuilder("body")
    p = rb.param(F, "p")
    body = rb.build([rb.op("add", p, x)])  # x belongs to the outer graph: not closed
    n = b.emit("fusion", [x], {}, [body])
    g = b.build([n.results[0]])
    with pytest.raises(VerifyError, match=r"@outer/fusion#0.region0: node 0 \(add\) uses operand 1"):
        verify(g)


def test_region_result_types_checked():
    b = GraphBuilder("outer")
    x = b.param(F, "x")
    rb = GraphBuilder("body")
    p = rb.param(F, "p")
    body = rb.build([rb.op("negate", p)])
    n = b.emit("fusion", [x], {}, [body])
    n.results = (Value(T((3,), "float64"), n, 0),)
    g = b.build([n.results[0]])
    with pytest.raises(VerifyError, match=r"node 0 \(fusion\) has result types f64\[3\]"):
        verify(g)


def test_constants_and_multi_result_graphs_verify():
    b = GraphBuilder("m")
    x = b.param(F, "x")
    c = b.constant(np.ones(3, np.float32))
    rb = GraphBuilder("body")
    p, q = rb.param(F, "p"), rb.param(F, "q")
    body = rb.build([rb.op("add", p, q), rb.op("subtract", p, q)])
    n = b.emit("fusion", [x, c], {}, [body])
    g = b.build(list(n.results) + [x])
    verify(g)
    assert_roundtrip(g)
