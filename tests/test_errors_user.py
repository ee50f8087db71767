"""Errors a newcomer can read: they name the construct the user called and the user's line, and
their tracebacks show the user's frames, not chainrule's (unless CHAINRULE_TRACEBACK=full)."""

import os
import sys
import traceback

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp

PACKAGE = os.path.dirname(os.path.abspath(cr.__file__))
HERE = os.path.abspath(__file__)
NOTE = "chainrule internal frames were hidden"


@pytest.fixture(autouse=True)
def default_tracebacks(monkeypatch):
    monkeypatch.delenv("CHAINRULE_TRACEBACK", raising=False)


def next_line():
    """`file:line` of the line after the caller's."""
    f = sys._getframe(1)
    return f"{HERE}:{f.f_lineno + 1}"


def raised(exc_type, fn):
    with pytest.raises(exc_type) as info:
        fn()
    return info.value


def internal_frames(exc):
    return [fs.filename for fs in traceback.extract_tb(exc.__traceback__) if fs.filename.startswith(PACKAGE)]


# --- the construct, the carry and the line, in the user's terms -----------------------------------

def test_fori_loop_body_is_not_called_a_scan_body():
    here = next_line()
    e = raised(TypeError, lambda: cr.fori_loop(0, 3, lambda i, c: c + 0.5, 0))
    msg = str(e)
    assert msg.startswith("fori_loop body_fun must return the carry with the type it was given: the input carry c "
                          "has type int64[] but body_fun returns float64[] for it, so the dtypes do not match. "
                          "Start c as a float (e.g. 0.0 instead of 0)"), msg
    assert "scan" not in msg and "leaf" not in msg
    assert f"at {here}: " in msg
    assert msg.count("\n  at ") == 1


def test_fori_loop_with_traced_bounds_is_not_called_a_while_loop():
    def f(n):
        here[0] = next_line()
        return cr.fori_loop(0, n, lambda i, c: c + 0.5, 0)
    here = [None]
    msg = str(raised(TypeError, lambda: cr.jit(f)(3)))
    assert msg.startswith("fori_loop body_fun must return the carry with the type it was given: the input carry c "
                          "has type int64[]"), msg
    assert "while_loop" not in msg
    assert f"at {here[0]}: " in msg


def test_a_body_defined_elsewhere_is_named_with_its_definition_line():
    definition = next_line()
    def step(i, acc):  # noqa: E306
        return {"w": acc["w"].astype(np.float32), "b": acc["b"]}
    here = next_line()
    msg = str(raised(TypeError, lambda: cr.fori_loop(0, 2, step, {"w": np.ones(3), "b": 1.0})))
    assert "the input carry acc['w'] has type float64[3] but body_fun returns float32[3]" in msg, msg
    assert ".astype(cnp.float64)" in msg
    assert f"at {here}: " in msg
    assert f"body_fun is defined at {definition}: def step(i, acc):" in msg


def test_several_carry_mismatches_are_listed():
    msg = str(raised(TypeError, lambda: cr.fori_loop(
        0, 3, lambda i, c: (c[0], c[1].astype(np.float32), c[2][None]), (1.0, 2.0, np.ones(3)))))
    assert "* the input carry c[1] has type float64[] but body_fun returns float32[]" in msg, msg
    assert "* the input carry c[2] has type float64[3] but body_fun returns float64[1,3] for it, so the shapes do " \
           "not match: make body_fun return shape (3,) for c[2]" in msg


def test_fori_loop_carry_structure():
    here = next_line()
    msg = str(raised(TypeError, lambda: cr.fori_loop(0, 3, lambda i, val: val[0], (1.0, 2.0))))
    assert msg.startswith("fori_loop body_fun must return the carry in the structure it was given: init_val is a "
                          "tuple of 2 arrays (*, *), but body_fun returns a single array"), msg
    assert f"at {here}: " in msg


def test_scan_carry_type_structure_and_pair():
    xs = np.ones((3, 2))
    here = next_line()
    msg = str(raised(TypeError, lambda: cr.scan(lambda carry, x: (carry.astype(np.float32), x), 1.0, xs)))
    assert msg.startswith("scan body function f must return the carry with the type it was given: the input carry "
                          "carry has type float64[] but f returns float32[]"), msg
    assert f"at {here}: " in msg
    here = next_line()
    msg = str(raised(TypeError, lambda: cr.scan(lambda c, x: ((c, c), x), 1.0, xs)))
    assert msg.startswith("scan body function f must return the carry in the structure it was given: init is a "
                          "single array, but f returns a tuple of 2 arrays (*, *) as the carry"), msg
    assert f"at {here}: " in msg
    here = next_line()
    msg = str(raised(TypeError, lambda: cr.scan(lambda c, x: c, 1.0, xs)))
    assert msg.startswith("scan body function f must return a pair (carry, y), but it returns a single array"), msg
    assert f"at {here}: " in msg


def test_scan_argument_errors_name_the_line():
    here = next_line()
    msg = str(raised(ValueError, lambda: cr.scan(lambda c, x: (c, x), 1.0, np.ones(3), length=4)))
    assert "`length` argument of 4" in msg and f"at {here}: " in msg


def test_while_loop_body_and_cond_fun():
    here = next_line()
    msg = str(raised(TypeError, lambda: cr.while_loop(lambda c: c < 3, lambda c: c + 0.5, 0)))
    assert msg.startswith("while_loop body_fun must return the carry with the type it was given: the input carry c "
                          "has type int64[] but body_fun returns float64[]"), msg
    assert f"at {here}: " in msg
    here = next_line()
    msg = str(raised(TypeError, lambda: cr.while_loop(lambda c: c, lambda c: c + 1, 0)))
    assert msg.startswith("while_loop cond_fun must return a boolean scalar (e.g. c < 10), but it returns int64[]")
    assert f"at {here}: " in msg
    msg = str(raised(TypeError, lambda: cr.while_loop(lambda c: c > 0, lambda c: c, np.ones(2))))
    assert "returns bool[2]; reduce it with cnp.all or cnp.any" in msg


def test_cond_and_switch_branches():
    x = np.ones(3)
    here = next_line()
    msg = str(raised(TypeError, lambda: cr.cond(True, lambda a: a, lambda a: a.astype(np.float32), x)))
    assert msg.startswith("cond: true_fun and false_fun must return identical types, but the output is float64[3] "
                          "from true_fun and float32[3] from false_fun, so the dtypes do not match"), msg
    assert f"at {here}: " in msg
    msg = str(raised(TypeError, lambda: cr.cond(True, lambda a: {"u": a, "v": a}, lambda a: {"u": a, "v": a[0]}, x)))
    assert "the output['v'] is float64[3] from true_fun and float64[] from false_fun, so the shapes do not" in msg
    msg = str(raised(TypeError, lambda: cr.cond(True, lambda a: (a, a), lambda a: a, x)))
    assert msg.startswith("cond: true_fun and false_fun must return the same type structure, but true_fun returns "
                          "a tuple of 2 arrays (*, *) and false_fun returns a single array"), msg
    here = next_line()
    msg = str(raised(TypeError, lambda: cr.cond(1.5, lambda a: a, lambda a: a, x)))
    assert "boolean or integer, got float64; compare it" in msg and f"at {here}: " in msg
    here = next_line()
    msg = str(raised(TypeError, lambda: cr.switch(1, [lambda a: a, lambda a: a[None]], x)))
    assert msg.startswith("switch: every branch must return identical types, but the output is float64[3] from "
                          "branches[0] and float64[1,3] from branches[1], so the shapes do not match"), msg
    assert f"at {here}: " in msg


def test_an_error_inside_a_body_names_the_line_inside_the_body():
    def body(c, x):
        here[0] = next_line()
        return cr.cond(x > 0, lambda v: v, lambda v: v.astype(np.float32), c), x
    here = [None]
    msg = str(raised(TypeError, lambda: cr.jit(lambda xs: cr.scan(body, 0.0, xs))(np.ones(3))))
    assert msg.startswith("cond: true_fun and false_fun must return identical types"), msg
    assert f"at {here[0]}: " in msg and msg.count("\n  at ") == 1
    def body2(c, x):  # noqa: E306
        here[0] = next_line()
        return c + x @ np.ones((4, 2)), x
    msg = str(raised(ValueError, lambda: cr.scan(body2, np.zeros(2), np.ones((2, 3)))))
    assert msg.startswith("matmul: contracting dimensions differ") and f"at {here[0]}: " in msg
    assert msg.count("\n  at ") == 1


def test_grad_names_what_the_function_returned():
    msg = str(raised(TypeError, lambda: cr.grad(lambda x: (x, x))(1.0)))
    assert "but <lambda> returns a tuple of 2 arrays (*, *)" in msg and "has_aux=True" in msg, msg
    msg = str(raised(TypeError, lambda: cr.grad(lambda x: x, has_aux=True)(1.0)))
    assert "but <lambda> returns a single array" in msg, msg


def test_custom_vjp_rules_are_named():
    @cr.custom_vjp
    def f(x):
        return cnp.sin(x)
    f.defvjp(lambda x: (cnp.sin(x).astype(np.float32), x), lambda r, g: (g,))
    msg = str(raised(TypeError, lambda: cr.grad(f)(1.0)))
    assert "custom_vjp function f: fwd must return (output, residuals) with output of the types f returns, but " \
           "the output is float32[] from fwd and float64[] from f" in msg, msg
    f.defvjp(lambda x: (cnp.sin(x), x), lambda r, g: (g.astype(np.float32),))
    msg = str(raised(TypeError, lambda: cr.grad(f)(1.0)))
    assert "custom_vjp function f: bwd must return one cotangent per argument of f, of the argument's type, but " \
           "the cotangent of argument 0 is float32[] and the argument is float64[]" in msg, msg


# --- tracebacks -------------------------------------------------------------------------------

def layer(x, w):
    return cnp.tanh(x @ w)


def test_traceback_of_a_jit_error_has_no_chainrule_frame():
    e = raised(ValueError, lambda: cr.jit(layer)(np.ones((4, 3)), np.ones((4, 2))))
    text = "".join(traceback.format_exception(e))
    assert PACKAGE not in text, text
    assert internal_frames(e) == []
    assert "in layer" in text and "return cnp.tanh(x @ w)" in text  # the user's frame stays
    assert str(e).startswith("matmul: contracting dimensions differ: (4, 3) @ (4, 2)")  # type and message kept
    assert e.__notes__ == ["(chainrule internal frames were hidden from this traceback; set CHAINRULE_TRACEBACK=full "
                           "to see them)"]


def test_full_tracebacks_on_request(monkeypatch):
    monkeypatch.setenv("CHAINRULE_TRACEBACK", "full")
    e = raised(ValueError, lambda: cr.jit(layer)(np.ones((4, 3)), np.ones((4, 2))))
    text = "".join(traceback.format_exception(e))
    assert len(internal_frames(e)) >= 5
    assert NOTE not in text and not getattr(e, "__notes__", None)


@pytest.mark.parametrize("call", [
    lambda: cr.fori_loop(0, 3, lambda i, c: c + 0.5, 0),
    lambda: cr.jit(lambda x: cr.scan(lambda c, v: (c.astype(np.float32), v), x, np.ones(3)))(1.0),
    lambda: cr.grad(lambda x: x * 2)(np.ones(3)),
    lambda: cr.jit(cr.grad(lambda x: cr.jit(layer)(x, np.ones((4, 2))).sum()))(np.ones((4, 3))),
    lambda: cr.vmap(lambda a, b: a + b)(np.ones((3, 2)), np.ones((4, 2))),
    lambda: cr.jit(lambda a: a * 2).lower(np.ones(3)).compile()(np.ones(4)),
    lambda: cr.jvp(lambda x: x @ np.ones((4, 2)), (np.ones(3),), (np.ones(3),)),
])
def test_entry_points_hide_their_frames_once(call):
    e = raised(Exception, call)
    assert internal_frames(e) == [], traceback.format_exception(e)
    assert [n for n in getattr(e, "__notes__", []) if NOTE in n] and len(e.__notes__) == 1


def test_the_users_own_exception_keeps_the_users_frames():
    def f(x):
        raise KeyError("mine")
    e = raised(KeyError, lambda: cr.jit(f)(1.0))
    names = [fs.name for fs in traceback.extract_tb(e.__traceback__)]
    assert names[-1] == "f" and internal_frames(e) == []
    assert e.args == ("mine",)


def test_warm_calls_still_work_after_an_error():
    f = cr.jit(lambda x: x * 2.0)
    assert f(np.float64(1.5)) == 3.0
    raised(TypeError, lambda: f("a"))
    assert f(np.float64(1.5)) == 3.0
