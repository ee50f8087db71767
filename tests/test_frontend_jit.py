"""Tracing and jit: the trace cache, static arguments, pytrees, lower(), error locations, weak typing."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.ir import IRTypeError
from chainrule.testing import assert_roundtrip, assert_same
from test_numpy_harness import check, rand


# --- the trace cache -------------------------------------------------------------------------------

def test_same_signature_does_not_retrace(rng):
    f = cr.jit(lambda x, y: cnp.tanh(x) * y)
    x, y = rand(rng, (3,), np.float32), rand(rng, (3,), np.float32)
    r1 = f(x, y)
    r2 = f(x + 1, y)  # new values, same shapes and dtypes
    assert f.trace_count == 1
    assert_same(r1, np.tanh(x) * y, rtol=1e-6)
    assert_same(r2, np.tanh(x + 1) * y, rtol=1e-6)


def test_new_shape_or_dtype_retraces(rng):
    f = cr.jit(lambda x: x * 2)
    f(np.ones(3, np.float32))
    f(np.ones(4, np.float32))
    assert f.trace_count == 2
    f(np.ones(4, np.float64))
    assert f.trace_count == 3
    f(np.ones(3, np.float32))
    f(np.ones(4, np.float64))
    assert f.trace_count == 3


def test_static_argnums(rng):
    calls = []

    def f(x, n, axis):
        calls.append(n)
        return cnp.sum(x ** n, axis=axis)

    g = cr.jit(f, static_argnums=(1, 2))
    x = rand(rng, (2, 3))
    assert_same(g(x, 2, 0), np.sum(x ** 2, axis=0), rtol=1e-14)
    assert_same(g(x, 2, 0), np.sum(x ** 2, axis=0), rtol=1e-14)
    assert g.trace_count == 1
    assert_same(g(x, 3, 0), np.sum(x ** 3, axis=0), rtol=1e-14)
    assert_same(g(x, 3, 1), np.sum(x ** 3, axis=1), rtol=1e-14)
    assert g.trace_count == 3 and calls == [2, 3, 3]
    with pytest.raises(TypeError, match="hashable"):
        g(x, [1], 0)


def test_python_scalar_arguments_are_traced_by_type():
    # a Python float argument is traced as a scalar placeholder, so new values reuse the trace
    f = cr.jit(lambda x, s: x * s)
    assert_same(f(np.ones(2), 2.0), np.full(2, 2.0))
    assert_same(f(np.ones(2), 3.0), np.full(2, 3.0))
    assert f.trace_count == 1
    f(np.ones(2), 3)
    assert f.trace_count == 2


def test_jit_inside_jit_inlines(rng):
    inner = cr.jit(lambda x: cnp.exp(x))
    outer = cr.jit(lambda x: inner(x) + 1)
    x = rand(rng, (3,))
    assert_same(outer(x), np.exp(x) + 1, rtol=1e-15)
    assert inner.trace_count == 0


# --- pytrees ---------------------------------------------------------------------------------------

def test_pytrees_in_and_out(rng):
    def f(params, batch):
        w, b = params["w"], params["b"]
        h = batch[0] @ w + b
        return {"out": h, "aux": [cnp.sum(h), (batch[1] * 2,)]}, None

    params = {"w": rand(rng, (3, 2)), "b": rand(rng, (2,))}
    batch = (rand(rng, (4, 3)), rand(rng, (5,), np.int32))
    got, none = cr.jit(f)(params, batch)
    h = batch[0] @ params["w"] + params["b"]
    assert none is None and set(got) == {"out", "aux"}
    assert_same(got["out"], h, rtol=1e-14)
    assert isinstance(got["aux"], list) and isinstance(got["aux"][1], tuple)
    assert_same(got["aux"][0], np.sum(h), rtol=1e-14)
    assert_same(got["aux"][1][0], batch[1] * 2)


def test_pytree_structure_is_part_of_the_signature(rng):
    f = cr.jit(lambda t: sum(t) if isinstance(t, tuple) else t["a"] + t["b"])
    a, b = rand(rng, (2,)), rand(rng, (2,))
    assert_same(f((a, b)), a + b)
    assert_same(f({"a": a, "b": b}), a + b)
    assert f.trace_count == 2


def test_compiled_checks_arguments(rng):
    lowered = cr.jit(lambda x: x + 1).lower(np.ones(3, np.float32))
    c = lowered.compile()
    with pytest.raises(ValueError, match="shape"):
        c(np.ones(4, np.float32))
    with pytest.raises(TypeError, match="dtype"):
        c(np.ones(3, np.int32))
    with pytest.raises(TypeError):
        c(np.ones(3, np.float32), np.ones(3, np.float32))


# --- lower ---------------------------------------------------------------------------------------

def test_lower_graph_text_compile(rng):
    def loss(x, w):
        return cnp.sum(cnp.tanh(x @ w))

    x, w = rand(rng, (4, 3), np.float32), rand(rng, (3, 2), np.float32)
    lowered = cr.jit(loss).lower(x, w)
    assert isinstance(lowered.graph, cr.Graph)
    text = lowered.as_text()
    assert text.startswith("func @loss(") and "dot_general" in text and "tanh" in text
    assert text == assert_roundtrip(lowered.graph)
    assert [str(t) for t in lowered.graph.param_types] == ["f32[4,3]", "f32[3,2]"]
    compiled = lowered.compile()
    assert_same(compiled(x, w), np.sum(np.tanh(x @ w)), rtol=1e-5)


def test_lower_with_specs():
    lowered = cr.jit(lambda x, y: x * y).lower(cr.Spec((2, 3), "float64"), cr.Spec((3,), "float64"))
    assert [str(t) for t in lowered.graph.result_types] == ["f64[2,3]"]
    assert_roundtrip(lowered.graph)


def test_trace_returns_graph(rng):
    g = cr.trace(lambda x: cnp.mean(x, axis=0), rand(rng, (3, 4)))
    assert [str(t) for t in g.result_types] == ["f64[4]"]
    assert_roundtrip(g)


# --- errors point at the user's line ---------------------------------------------------------------

def _line_of(fn, needle):
    src, start = inspect.getsourcelines(fn)
    for k, line in enumerate(src):
        if needle in line:
            return start + k
    raise AssertionError(needle)


def test_shape_error_names_user_line():
    def bad(x, y):
        return x @ y  # MARK-MATMUL

    with pytest.raises(ValueError) as e:
        cr.jit(bad)(np.ones((2, 3)), np.ones((4, 5)))
    msg = str(e.value)
    assert "matmul" in msg and f"at {__file__}:{_line_of(bad, 'MARK-MATMUL')}: return x @ y" in msg


def test_index_error_names_user_line():
    def bad(x):
        return x[0, 7]  # MARK-INDEX

    with pytest.raises(IndexError) as e:
        cr.jit(bad)(np.ones((2, 3)))
    assert f"at {__file__}:{_line_of(bad, 'MARK-INDEX')}" in str(e.value)


def test_ir_type_error_names_user_line():
    from chainrule.frontend.core import bind

    def bad(x, y):
        return bind("add", x, y)  # MARK-IR

    with pytest.raises(IRTypeError) as e:
        cr.jit(bad)(np.ones(3, np.float32), np.ones(4, np.float32))
    line = _line_of(bad, "MARK-IR")
    assert f"at {__file__}:{line}" in str(e.value)


def test_broadcast_error_names_user_line():
    def bad(x, y):
        return cnp.add(x, y)  # MARK-BCAST

    with pytest.raises(ValueError) as e:
        cr.jit(bad)(np.ones(3), np.ones(4))
    assert "cannot be broadcast" in str(e.value)
    assert f"at {__file__}:{_line_of(bad, 'MARK-BCAST')}" in str(e.value)
    with pytest.raises(ValueError) as e:
        cnp.reshape(np.ones(6), (4, 2))  # MARK-EAGER
    line = _line_of(test_broadcast_error_names_user_line, "MARK-EAGER")
    assert f"at {__file__}:{line}" in str(e.value) and str(e.value).count(" at ") == 1


def test_define_then_run_error_names_user_line():
    x = cr.placeholder((2,), "float32")
    y = cr.placeholder((3,), "float32")
    from chainrule.frontend.core import bind
    with pytest.raises(IRTypeError) as e:
        bind("multiply", x, y)  # MARK-DTR
    line = _line_of(test_define_then_run_error_names_user_line, "MARK-DTR")
    assert f"at {__file__}:{line}" in str(e.value)


def test_tensor_bool_conversion_error():
    with pytest.raises(TypeError, match="cnp.where"):
        cr.jit(lambda x: x if x > 0 else -x)(np.ones(()))


def test_leaked_tensor_error():
    leaked = []
    cr.jit(lambda x: leaked.append(x * 2) or x)(np.ones(2))
    with pytest.raises(RuntimeError, match="escaped"):
        cnp.sum(leaked[0])


def test_placeholder_missing_from_inputs():
    x = cr.placeholder((2,), "float64", name="x")
    y = cr.placeholder((2,), "float64", name="y")
    with pytest.raises(ValueError, match="'y'"):
        cr.function([x], x + y)


# --- weak typing -----------------------------------------------------------------------------------

WEAK_CASES = [
    (np.float32, lambda x: x + 2.0, np.float32),
    (np.float32, lambda x: 2 * x, np.float32),
    (np.float32, lambda x: x ** 2, np.float32),
    (np.int32, lambda x: x + 2, np.int32),
    (np.int32, lambda x: x * 3, np.int32),
    (np.int32, lambda x: x / 2, np.float64),
    (np.int32, lambda x: x + 2.5, np.float64),
    (np.int64, lambda x: x // 2, np.int64),
    (np.int32, lambda x: x % 3, np.int32),
    (np.bool_, lambda x: x + 1, np.int64),
    (np.bool_, lambda x: x * 1.5, np.float64),
    (np.float32, lambda x: cnp.maximum(x, 0), np.float32),
    (np.float32, lambda x: cnp.where(x > 0, x, 0.0), np.float32),
    (np.int32, lambda x: cnp.where(x > 0, x, 1), np.int32),
    (np.float32, lambda x: x - np.float64(1.0), np.float64),  # NumPy scalars are strong
    (np.float32, lambda x: x + np.ones(3, np.float64), np.float64),
    (np.int32, lambda x: x + np.int64(1), np.int64),
]


def test_python_scalar_arguments_of_jit_are_weakly_typed():
    # like JAX: a Python scalar argument takes the array's dtype, as a literal in the function would
    f = cr.jit(lambda x, s: x * s + 1)
    assert f(np.ones(2, np.float32), 2.0).dtype == np.float32
    assert f(np.ones(2, np.int32), 2).dtype == np.int32
    assert f(np.ones(2, np.int32), 2.5).dtype == np.float64  # NumPy 2: int array * float -> float64
    assert f(np.ones(2, np.float32), np.float64(2.0)).dtype == np.float64  # NumPy scalars are strong
    assert_same(f(np.ones(2, np.float32), 2.0), np.full(2, 3.0, np.float32))


@pytest.mark.parametrize("dtype,fn,want", WEAK_CASES)
def test_weak_typing(dtype, fn, want, rng):
    x = rand(rng, (3,), dtype, 1, 4)
    assert fn(x).dtype == want, "NumPy itself disagrees: fix the case"
    # operators on arrays are NumPy's own, so only the symbolic modes test chainrule here
    check(lambda xp, x: fn(x), x, modes=("jit", "function"))


def test_int_array_true_divide_int_gives_float64():
    x = np.arange(4, dtype=np.int32)
    check(lambda xp, x: xp.divide(x, 2), x)
    check(lambda xp, x: xp.true_divide(x, x + 1), x)


# --- operators and methods -------------------------------------------------------------------------

OPERATORS = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b,
    "//": lambda a, b: a // b, "%": lambda a, b: a % b, "**": lambda a, b: a ** b,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


@pytest.mark.parametrize("op", sorted(OPERATORS))
@pytest.mark.parametrize("dtype", (np.int32, np.float64))
def test_binary_operators(op, dtype, rng):
    fn = OPERATORS[op]
    a, b = rand(rng, (3, 4), dtype, 1, 5), rand(rng, (4,), dtype, 1, 4)
    for args in [(a, b), (a, 2), (3, b), (a, np.asarray(b))]:
        want = fn(*args)
        tensors = [i for i, v in enumerate(args) if isinstance(v, np.ndarray)]
        f = cr.jit(lambda *ts: fn(*[ts[tensors.index(i)] if i in tensors else v for i, v in enumerate(args)]))
        assert_same(f(*[args[i] for i in tensors]), want, rtol=1e-14, what=f"{args[0]!r} {op} {args[1]!r}"[:60])
    # ndarray (left) op Tensor (right): NumPy must defer to the tensor
    p = cr.placeholder(b.shape, b.dtype)
    assert_same(cr.function([p], fn(a, p))(b), fn(a, b), rtol=1e-14)


def test_unary_bitwise_matmul_operators(rng):
    a = rand(rng, (3, 3), np.int32, -5, 5)
    b = rand(rng, (3, 3), np.bool_)
    f = cr.jit(lambda a, b: (-a, abs(a), +a, ~a, ~b, a & 3, a | a, a ^ 5, b & ~b, a @ a, 2 & a, 1 | a))
    want = (-a, abs(a), +a, ~a, ~b, a & 3, a | a, a ^ 5, b & ~b, a @ a, 2 & a, 1 | a)
    for k, (g, w) in enumerate(zip(f(a, b), want)):
        assert_same(g, w, what=f"operator {k}")


def test_tensor_methods(rng):
    x = rand(rng, (2, 3, 4), np.float64)
    check(lambda xp, x: (x.sum(axis=0), x.mean(), x.max(axis=(0, 2)), x.min(keepdims=True), x.reshape(6, 4),
                         x.reshape((4, 6)), x.T, x.transpose(), x.transpose((2, 1, 0)), x.astype(np.float32),
                         x.squeeze(), x[:, :1].squeeze(1), x.swapaxes(0, 1), x.clip(0, 1), x.round(1), x.prod(),
                         x.argmax(), x.argmin(axis=1), x.cumsum(axis=1), x.cumprod(), x.std(), x.var(ddof=1),
                         x.any(), x.all(axis=0), x.ravel(), x.flatten(), x.dot(np.ones(4)), x.trace(),
                         x.diagonal(), x.conj(), x.real, x.copy(), x.repeat(2), x.take([0, 2], axis=1),
                         x.itemsize, x.nbytes,
                         x.mean(axis=1, keepdims=True), x.max(initial=2.0)),
          x, rtol=1e-12, atol=1e-12, modes=("jit", "function"))
    # a float32 accumulation agrees with NumPy's pairwise one to float32 rounding only
    check(lambda xp, x: x.sum(dtype=np.float32), x, rtol=1e-6, atol=1e-6, modes=("jit", "function"))


def test_tensor_iteration_and_len(rng):
    x = rand(rng, (3, 2))
    f = cr.jit(lambda x: [row * i for i, row in enumerate(x)] + [len(x)])
    got = f(x)
    for i in range(3):
        assert_same(got[i], x[i] * i)
    assert int(got[3]) == 3


# --- array / asarray from nested lists ------------------------------------------------------------

def test_array_from_nested_lists_of_tensors(rng):
    a, b = rand(rng, (2,), np.float32), rand(rng, (), np.float32)
    f = cr.jit(lambda a, b: (cnp.array([a, a * 2]), cnp.array([[b, 1.0], [2.0, b]]), cnp.asarray([b, b, 3]),
                             cnp.array([a, [1, 2]], dtype=np.float64), cnp.stack([b, b])))
    want = (np.array([a, a * 2]), np.array([[b, 1.0], [2.0, b]], np.float32), np.array([b, b, 3], np.float32),
            np.array([a, [1, 2]], np.float64), np.stack([b, b]))
    for k, (g, w) in enumerate(zip(f(a, b), want)):
        assert_same(g, w, what=f"array case {k}")


def test_array_eager_matches_numpy():
    for obj in [[1, 2, 3], [[1.0, 2.0], [3.0, 4.0]], [True, False], 3.5, np.arange(3, dtype=np.int32)]:
        assert_same(cnp.array(obj), np.array(obj))
    assert_same(cnp.asarray([1, 2], dtype=np.float32), np.asarray([1, 2], dtype=np.float32))
    with pytest.raises(ValueError, match="different shapes"):
        cr.jit(lambda a: cnp.array([a, [1.0]]))(np.ones(2))


# --- NumPy's own functions on tensors dispatch to chainrule.numpy ------------------------------------

def test_numpy_functions_on_tensors(rng):
    x = rand(rng, (2, 3), np.float64)

    def f(t):
        return (np.sin(t), np.ones(3) + t, np.sum(t, axis=0), np.linalg.norm(t), np.add.reduce(t),
                np.concatenate([t, t]), t < np.ones(3), np.where(t > 0, t, 0.0), np.mean(t),
                np.maximum.accumulate(t, axis=1), np.multiply.outer(t[0], t[1]), np.exp(t) @ np.ones((3, 2)),
                np.clip(t, -0.5, 0.5), np.einsum("ij->j", t), np.sort(t, axis=1))

    got = cr.jit(f)(x)
    for k, (g, w) in enumerate(zip(got, f(x))):
        assert_same(g, w, rtol=1e-14, atol=1e-14, what=f"numpy function {k}")
    assert cr.jit(lambda t: np.shape(t) == (2, 3) and np.ndim(t) == 2)(x)


def test_numpy_function_without_twin_is_refused(rng):
    with pytest.raises(NotImplementedError, match="numpy.fft.fft"):
        cr.jit(lambda t: np.fft.fft(t))(np.ones(4))
    with pytest.raises(TypeError, match="out="):
        cr.jit(lambda t: np.sin(t, out=np.empty(4)))(np.ones(4))


def test_in_place_methods_are_refused():
    p = cr.placeholder((3,), "float64")
    with pytest.raises(TypeError, match="immutable"):
        p.sort()
    with pytest.raises(TypeError, match="no concrete value"):
        p.item()
    f = cr.jit(lambda t: (t.argsort(), cnp.sort(t).searchsorted(0.5), t.compress([True, False, True])))
    x = np.array([0.3, 0.1, 0.9])
    for g, w in zip(f(x), (x.argsort(), np.sort(x).searchsorted(0.5), x.compress([True, False, True]))):
        assert_same(g, w)


# --- jit options: static_argnames, donation, unknown options ------------------------------------


def _scale_loop(x, n=1):
    for _ in range(n):
        x = x * 2.0
    return x


def test_static_argnames_by_keyword_and_by_position():
    jax = pytest.importorskip("jax")
    ours, theirs = cr.jit(_scale_loop, static_argnames="n"), jax.jit(_scale_loop, static_argnames="n")
    x = np.ones(2, np.float32)
    np.testing.assert_allclose(ours(x, n=3), theirs(x, n=3))
    np.testing.assert_allclose(ours(x, 2), theirs(x, 2))  # the name makes position 1 static too
    assert ours.trace_count == 2
    ours(x, n=3)
    assert ours.trace_count == 2
    with pytest.raises(ValueError, match="'m'"):
        cr.jit(_scale_loop, static_argnames="m")
    with pytest.raises(TypeError, match="not hashable"):
        ours(x, n=[1])


def test_static_argnums_makes_the_name_static():
    j = cr.jit(_scale_loop, static_argnums=1)
    np.testing.assert_allclose(j(np.ones(2), n=2), [4.0, 4.0])


def test_unknown_jit_options_are_refused_at_jit_time():
    with pytest.raises(TypeError, match=r"jit got unknown option\(s\) bogus.*llvm backend takes cache, threads"):
        cr.jit(_scale_loop, backend="llvm", bogus=1)
    with pytest.raises(TypeError, match=r"unknown option\(s\) threads"):
        cr.jit(_scale_loop, backend="reference", threads=2)


@pytest.mark.parametrize("backend", ["llvm", "reference"])
def test_donation_is_accepted_and_results_are_right(backend):
    step = cr.jit(lambda p, g: {k: v - 0.5 * g for k, v in p.items()}, donate_argnums=0, backend=backend)
    p = {"w": np.ones(3), "b": np.zeros(3)}
    out = step(p, np.ones(3))
    np.testing.assert_allclose(out["w"], 0.5)
    np.testing.assert_allclose(out["b"], -0.5)
    named = cr.jit(lambda p, g: p - g, donate_argnames="p", backend=backend)
    np.testing.assert_allclose(named(np.ones(2), g=np.ones(2)), 0.0)


def test_donation_reaches_the_jax_backend():
    jax = pytest.importorskip("jax")
    step = cr.jit(lambda p, g: {k: v - 0.5 * g for k, v in p.items()}, donate_argnums=0, backend="jax",
                  return_jax_arrays=True)
    lowered = step.lower({"w": np.ones(3), "b": np.ones(3)}, np.ones(3))
    assert lowered._options["donate_argnums"] == (0, 1)  # both leaves of p, not g
    p = {"w": jax.numpy.ones(3), "b": jax.numpy.ones(3)}
    out = step(p, np.ones(3, np.float32))  # float32 results: p's buffers fit them
    np.testing.assert_allclose(np.asarray(out["w"]), 0.5)
    assert p["w"].is_deleted() and p["b"].is_deleted()


def _step(p, g):
    return {k: v - 0.5 * g for k, v in p.items()}


def test_llvm_donation_writes_results_into_the_donated_arrays():
    p = {"w": np.arange(3.0), "b": np.ones(3)}
    want = _step(p, np.ones(3))
    step = cr.jit(_step, donate_argnums=0, backend="llvm")
    w = p["w"]
    out = step(p, np.ones(3))
    assert out["w"] is w  # the donated array holds the result
    np.testing.assert_array_equal(out["w"], want["w"])
    np.testing.assert_array_equal(out["b"], want["b"])
    assert next(iter(step._cache.values())).executable.donated == [0, 1]
    plain = cr.jit(_step, backend="llvm")  # the same graph without donation: its own library
    q = {"w": np.arange(3.0), "b": np.ones(3)}
    assert plain(q, np.ones(3))["w"] is not q["w"]
    np.testing.assert_array_equal(q["w"], np.arange(3.0))


@pytest.mark.parametrize("fun, donated", [
    (lambda a, b: a.T + b, []),                       # a read at another index than written
    (lambda a, b: (a + b, cnp.sum(a)), []),           # a read by a later kernel
    (lambda a, b: (a, a + b), []),                    # a returned as it is
    (lambda a, b: a * 2.0 + b, [0]),
])
def test_llvm_donation_only_where_safe(fun, donated):
    a, b = np.arange(4.0).reshape(2, 2), np.ones((2, 2))
    want = fun(a.copy(), b)
    f = cr.jit(fun, donate_argnums=0, backend="llvm")
    got = f(a.copy(), b)
    for g_, w_ in zip(got if isinstance(got, tuple) else [got], want if isinstance(want, tuple) else [want]):
        np.testing.assert_array_equal(g_, w_)
    assert next(iter(f._cache.values())).executable.donated == donated


def test_llvm_donated_array_shared_with_another_argument_or_read_only_is_copied():
    f = cr.jit(lambda a, b: a * 2.0 + b, donate_argnums=0, backend="llvm")
    x = np.arange(3.0)
    np.testing.assert_array_equal(f(x, x), [0.0, 3.0, 6.0])
    np.testing.assert_array_equal(x, [0.0, 1.0, 2.0])  # b was the same array: a copy was written
    ro = np.arange(3.0)
    ro.flags.writeable = False
    np.testing.assert_array_equal(f(ro, np.zeros(3)), [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(ro, [0.0, 1.0, 2.0])
