"""cond, case, while and scan in the IR: type rules, text form, verifier, reference evaluation.

The oracle for evaluation is plain Python (a loop, an if) on the same numbers.
"""

import numpy as np
import pytest

from chainrule.backends.reference import evaluate
from chainrule.ir import GraphBuilder, IRTypeError, TensorType, verify
from chainrule.testing import assert_roundtrip

F64 = TensorType((), "float64")
F32 = TensorType((), "float32")
I32 = TensorType((), "int32")
BOOL = TensorType((), "bool")
V3 = TensorType((3,), "float64")


def region(name, param_types, fn):
    b = GraphBuilder(name)
    ps = [b.param(t) for t in param_types]
    out = fn(b, *ps)
    return b.build(list(out) if isinstance(out, (list, tuple)) else [out])


def one_node(op, operand_types, regions, attrs=None):
    b = GraphBuilder("f")
    ps = [b.param(t, f"x{i}") for i, t in enumerate(operand_types)]
    node = b.emit(op, ps, attrs or {}, regions)
    return b.build(list(node.results))


def run(g, *args):
    return evaluate(g, [np.asarray(a) for a in args])


# --- cond / case -----------------------------------------------------------------------------

def _cond_graph():
    t = region("t", [F64, F64], lambda b, x, y: b.op("multiply", x, y))
    f = region("f", [F64, F64], lambda b, x, y: b.op("subtract", x, y))
    return one_node("cond", [BOOL, F64, F64], (t, f))


def test_cond_runs_the_chosen_branch():
    g = _cond_graph()
    assert g.result_types == (F64,)
    assert run(g, True, 3.0, 4.0)[0] == 12.0
    assert run(g, False, 3.0, 4.0)[0] == -1.0


def test_case_runs_branch_index_and_the_last_branch_out_of_range():
    brs = tuple(region(f"b{k}", [F64], lambda b, x, k=k: b.op("add", x, b.constant(np.float64(10 * k))))
                for k in range(3))
    g = one_node("case", [I32, F64], brs)
    for idx, want in [(0, 1.0), (1, 11.0), (2, 21.0), (3, 21.0), (100, 21.0), (-1, 21.0), (-7, 21.0)]:
        assert run(g, np.int32(idx), 1.0)[0] == want, idx


def test_case_with_one_branch_and_no_operands():
    only = region("c", [], lambda b: b.constant(np.float32(2.5)))
    g = one_node("case", [I32], (only,))
    assert run(g, np.int32(5))[0] == np.float32(2.5)
    assert_roundtrip(g)


@pytest.mark.parametrize("types, regions, match", [
    ([F64, F64], None, "predicate has type f64"),
    ([TensorType((2,), "bool"), F64], None, "predicate has type bool"),
    ([BOOL, F32], None, "branch 0 parameters"),
])
def test_cond_type_errors(types, regions, match):
    t = region("t", [F64], lambda b, x: x)
    with pytest.raises(IRTypeError, match=match):
        one_node("cond", types, regions or (t, t))


def test_cond_branches_must_agree_on_results():
    t = region("t", [F64], lambda b, x: x)
    f = region("f", [F64], lambda b, x: b.op("convert", x, dtype="float32"))
    with pytest.raises(IRTypeError, match=r"branch 1 returns \(f32\[\]\).*same result types as branch 0"):
        one_node("cond", [BOOL, F64], (t, f))
    with pytest.raises(IRTypeError, match="got 1 regions.*expected 2"):
        one_node("cond", [BOOL, F64], (t,))


def test_case_type_errors():
    t = region("t", [F64], lambda b, x: x)
    with pytest.raises(IRTypeError, match="index has type i64"):
        one_node("case", [TensorType((), "int64"), F64], (t, t))
    with pytest.raises(IRTypeError, match="no branches"):
        one_node("case", [I32, F64], ())


# --- while ---------------------------------------------------------------------------------

def _while_graph():
    # (i, x): while i < n: i += 1; x = x * 1.5 + 1
    def cond(b, i, x, n):
        return b.op("compare", i, n, direction="LT")

    def body(b, i, x, n):
        one = b.constant(np.int32(1))
        return [b.op("add", i, one), b.op("add", b.op("multiply", x, b.constant(np.float64(1.5))),
                                          b.constant(np.float64(1.0))), n]

    types = [I32, F64, I32]
    return one_node("while", types, (region("cond", types, cond), region("body", types, body)))


def test_while_matches_a_python_loop():
    g = _while_graph()
    for n in (0, 1, 5):
        i, x = 0, 2.0
        while i < n:
            i, x = i + 1, x * 1.5 + 1
        got = run(g, np.int32(0), 2.0, np.int32(n))
        assert int(got[0]) == i and got[1] == x


def test_while_type_errors():
    types = [I32, F64]
    good_cond = region("c", types, lambda b, i, x: b.op("compare", i, i, direction="LT"))
    bad_cond = region("c", types, lambda b, i, x: i)
    body = region("b", types, lambda b, i, x: [i, x])
    changes = region("b", types, lambda b, i, x: [i, b.op("convert", x, dtype="float32")])
    with pytest.raises(IRTypeError, match=r"cond returns \(i32\[\]\).*one bool\[\] predicate"):
        one_node("while", types, (bad_cond, body))
    with pytest.raises(IRTypeError, match=r"body returns \(i32\[\], f32\[\]\).*the carry's types"):
        one_node("while", types, (good_cond, changes))
    with pytest.raises(IRTypeError, match="body parameters"):
        one_node("while", [I32, F32], (region("c", [I32, F32], lambda b, i, x: b.op("compare", i, i,
                                                                                    direction="LT")), body))


# --- scan ----------------------------------------------------------------------------------

def _scan_graph(reverse=False, length=4):
    # consts (w), carry (c), xs (x: f64[L], k: i32[L, 2]) -> carry' = c * w + x, ys = (c, k * 2)
    def body(b, w, c, x, k):
        return [b.op("add", b.op("multiply", c, w), x), c, b.op("add", k, k)]

    xt, kt = TensorType((length,), "float64"), TensorType((length, 2), "int32")
    body_g = region("body", [F64, F64, F64, TensorType((2,), "int32")], body)
    return one_node("scan", [F64, F64, xt, kt], (body_g,),
                    {"num_consts": 1, "num_carry": 1, "length": length, "reverse": reverse})


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_matches_a_python_loop(reverse):
    g = _scan_graph(reverse)
    assert g.result_types == (F64, TensorType((4,), "float64"), TensorType((4, 2), "int32"))
    w, c0 = 0.5, 1.0
    x = np.array([1.0, -2.0, 3.0, 0.25])
    k = np.arange(8, dtype=np.int32).reshape(4, 2)
    c, ys = c0, [None] * 4
    for i in (reversed(range(4)) if reverse else range(4)):
        ys[i] = c
        c = c * w + x[i]
    got = run(g, w, c0, x, k)
    assert got[0] == c
    np.testing.assert_array_equal(got[1], ys)
    np.testing.assert_array_equal(got[2], k * 2)


def test_scan_of_length_zero_returns_the_init_and_empty_ys():
    g = _scan_graph(length=0)
    got = run(g, 0.5, 3.0, np.zeros(0), np.zeros((0, 2), np.int32))
    assert got[0] == 3.0 and got[1].shape == (0,) and got[2].shape == (0, 2)


def test_scan_type_errors():
    body = region("body", [F64, F64], lambda b, c, x: [b.op("add", c, x), x])
    attrs = {"num_consts": 0, "num_carry": 1, "length": 3}
    with pytest.raises(IRTypeError, match=r"scanned operand 0 has type f64\[4\].*length=3"):
        one_node("scan", [F64, TensorType((4,), "float64")], (body,), attrs)
    with pytest.raises(IRTypeError, match="scanned operand 0 has type f64"):
        one_node("scan", [F64, F64], (body,), attrs)
    with pytest.raises(IRTypeError, match="exceed the 2 operands"):
        one_node("scan", [F64, V3], (body,), dict(attrs, num_consts=2))
    with pytest.raises(IRTypeError, match="non-negative"):
        one_node("scan", [F64, V3], (body,), dict(attrs, length=-1))
    with pytest.raises(IRTypeError, match="body .consts, carry, x slices. parameters"):
        one_node("scan", [F32, TensorType((3,), "float32")], (body,), attrs)
    changes = region("body", [F64, F64], lambda b, c, x: [b.op("convert", c, dtype="float32"), x])
    with pytest.raises(IRTypeError, match=r"the carry's types \(f64\[\]\) first"):
        one_node("scan", [F64, V3], (changes,), attrs)
    with pytest.raises(IRTypeError, match="num_carry"):
        one_node("scan", [F64, V3], (body,), {"length": 3})


# --- text form and verifier -------------------------------------------------------------------

@pytest.mark.parametrize("make", [_cond_graph, _while_graph, _scan_graph, lambda: _scan_graph(True)],
                         ids=["cond", "while", "scan", "scan_reverse"])
def test_text_round_trip_and_verify(make):
    g = make()
    text = assert_roundtrip(g)
    verify(g)
    assert "regions {" in text


def test_reverse_attribute_prints_only_when_set():
    assert "reverse=true" in str(_scan_graph(True))
    assert "reverse" not in str(_scan_graph(False))


def test_nested_control_flow_round_trips_and_runs():
    # scan whose body holds a cond: carry' = carry + (x if x > 0 else -x)
    def body(b, c, x):
        pred = b.op("compare", x, b.constant(np.float64(0)), direction="GT")
        t = region("t", [F64], lambda bb, v: v)
        f = region("f", [F64], lambda bb, v: bb.op("negate", v))
        a = b.emit("cond", [pred, x], {}, (t, f)).results[0]
        return [b.op("add", c, a)]

    g = one_node("scan", [F64, TensorType((4,), "float64")], (region("body", [F64, F64], body),),
                 {"num_carry": 1, "length": 4})
    assert_roundtrip(g)
    x = np.array([1.0, -2.0, 3.0, -4.0])
    assert run(g, 0.0, x)[0] == np.abs(x).sum()
