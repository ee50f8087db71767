"""Complex numbers: type rules, the reference against NumPy, the jax backend against the reference,
the text form, and chainrule.numpy's complex functions."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.backends import compile as compile_graph
from chainrule.ir import GraphBuilder, IRTypeError, REGISTRY, TensorType, dtype, parse
from chainrule.testing import assert_roundtrip

C64, C128, F32, F64 = (dtype(n) for n in ("complex64", "complex128", "float32", "float64"))
T = TensorType
BACKENDS = ["reference", "jax", "llvm"]


def _z(shape, dt=np.complex128, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return ((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * scale).astype(dt)


# --- type rules --------------------------------------------------------------------------------------

def _types(op, types, **attrs):
    o = REGISTRY[op]
    return o.result_types(types, o.normalize_attrs(attrs))


def test_complex_ops_result_types():
    assert _types("real", [T((3,), C64)]) == (T((3,), F32),)
    assert _types("imag", [T((3,), C128)]) == (T((3,), F64),)
    assert _types("real", [T((3,), F32)]) == (T((3,), F32),)
    assert _types("complex", [T((2,), F64), T((2,), F64)]) == (T((2,), C128),)
    assert _types("conj", [T((2,), C64)]) == (T((2,), C64),)
    assert _types("abs", [T((2,), C64)]) == (T((2,), F32),)
    assert _types("multiply", [T((2,), C64)] * 2) == (T((2,), C64),)
    assert _types("compare", [T((2,), C64)] * 2, direction="EQ")[0].dtype.name == "bool"
    assert _types("reduce", [T((2, 3), C128)], kind="sum", dimensions=(1,)) == (T((2,), C128),)
    assert _types("dot_general", [T((2, 3), C64), T((3,), C64)], lhs_contracting=(1,), rhs_contracting=(0,)) \
        == (T((2,), C64),)


@pytest.mark.parametrize("op, types, attrs, match", [
    ("compare", [T((2,), C64)] * 2, {"direction": "LT"}, "EQ or NE"),
    ("complex", [T((2,), dtype("int32"))] * 2, {}, "float32 or float64 parts"),
    ("complex", [T((2,), F32), T((2,), F64)], {}, "types differ"),
    ("real", [T((2,), dtype("int32"))], {}, "float or complex operand"),
    ("reduce", [T((2,), C64)], {"kind": "max", "dimensions": (0,)}, "complex64 is not supported"),
    ("maximum", [T((2,), C64)] * 2, {}, "complex64 is not supported"),
    ("erf", [T((2,), C64)], {}, "complex64 is not supported"),
    ("remainder", [T((2,), C128)] * 2, {}, "complex128 is not supported"),
])
def test_complex_type_errors_name_what_was_expected(op, types, attrs, match):
    with pytest.raises(IRTypeError, match=match):
        _types(op, types, **attrs)


# --- the reference against NumPy, the jax backend against the reference -----------------------------

UNARY = {"negate": np.negative, "abs": np.abs, "sign": np.sign, "exponential": np.exp, "exponential_minus_one": np.expm1,
         "log": np.log, "log_plus_one": np.log1p, "sqrt": np.sqrt, "rsqrt": lambda x: 1 / np.sqrt(x),
         "sine": np.sin, "cosine": np.cos, "tan": np.tan, "tanh": np.tanh, "logistic": lambda x: 1 / (1 + np.exp(-x)),
         "real": np.real, "imag": np.imag, "conj": np.conj}
BINARY = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide, "power": np.power}


def _one_op_graph(op, types, **attrs):
    b = GraphBuilder(op)
    ps = [b.param(t, f"x{i}") for i, t in enumerate(types)]
    return b.build([b.op(op, *ps, **attrs)])


@pytest.mark.parametrize("dt", ["complex64", "complex128"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_elementwise_complex_against_numpy(dt, backend):
    x, y = _z((40,), dt, 1), _z((40,), dt, 2)
    tol = 2e-5 if dt == "complex64" else 1e-12
    b = GraphBuilder("all_ops")  # every op in one graph: one compile per backend
    px, py = b.param(T((40,), dtype(dt)), "x"), b.param(T((40,), dtype(dt)), "y")
    ops = list(UNARY) + list(BINARY)
    g = b.build([b.op(op, px) if op in UNARY else b.op(op, px, py) for op in ops])
    outs = compile_graph(g, backend=backend)(x, y)
    for op, got in zip(ops, outs):
        want = UNARY[op](x) if op in UNARY else BINARY[op](x, y)
        assert np.asarray(got).dtype == np.asarray(want).dtype, op
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=op)


def test_complex_of_parts_and_compare():
    re, im = np.array([1.0, -0.0, 2.5]), np.array([0.5, 3.0, -1.0])
    for be in BACKENDS:
        f = cr.jit(lambda a, b: cnp.real(a + 1j * b) == a, backend=be)
        assert f(re, im).tolist() == [True, True, True]
        g = compile_graph(_one_op_graph("complex", [T((3,), F64)] * 2), backend=be)
        np.testing.assert_array_equal(g(re, im)[0], re + 1j * im)


def test_convert_complex_to_real_keeps_the_real_part():
    z = np.array([1.5 + 2j, -3.25 - 1j])
    for be in BACKENDS:
        out = cr.jit(lambda a: a.astype(np.float64), backend=be)(z)
        np.testing.assert_array_equal(out, [1.5, -3.25])


def test_complex_reductions_and_matmul():
    a, b = _z((4, 5), np.complex64, 3), _z((5, 3), np.complex64, 4)
    for be in BACKENDS:
        f = cr.jit(lambda x, y: (cnp.sum(x, axis=0), cnp.prod(x[:, :2], axis=1), x @ y), backend=be)
        s, p, m = f(a, b)
        np.testing.assert_allclose(s, a.sum(0), rtol=1e-5)
        np.testing.assert_allclose(p, a[:, :2].prod(1), rtol=1e-5)
        np.testing.assert_allclose(m, a @ b, rtol=1e-4, atol=1e-5)
        assert m.dtype == np.complex64


def test_llvm_refuses_an_op_it_cannot_run_on_complex_by_name(monkeypatch):
    """Every op that takes complex today runs on llvm; one missing from its list (a new op) is refused."""
    from chainrule.backends.llvm import complex as llvm_complex
    monkeypatch.setattr(llvm_complex, "COMPLEX_OPS", llvm_complex.COMPLEX_OPS - {"reverse"})
    b = GraphBuilder("rev")
    g = b.build([b.op("reverse", b.param(T((3,), C64), "z"), dimensions=(0,))])
    with pytest.raises(NotImplementedError, match="'reverse' on a c64.*not supported on complex64/complex128 values"):
        compile_graph(g, backend="llvm", cache=False)


def test_llvm_complex_division_and_abs_at_the_edges():
    """Smith's division without overflow or underflow where the naive formula has it, NumPy's zero-divisor
    branch, and abs as an overflow-free hypot."""
    x = np.array([1e300 + 1e300j, 1 + 1j, 1e-300 + 1e-300j, 2 + 3j, 0 + 0j, 3 + 0j])
    y = np.array([1e300 + 1e300j, 1e-300 + 1e-300j, 1e-300 + 2e-300j, 0 + 0j, 0 + 0j, 0 + 4j])
    f = cr.jit(lambda a, b: (a / b, cnp.abs(a), cnp.abs(b)), backend="llvm")
    q, ax, ay = f(x, y)
    with np.errstate(all="ignore"):
        want = x / y
    np.testing.assert_allclose(q[[0, 1, 2, 5]], want[[0, 1, 2, 5]], rtol=1e-15)
    assert np.isinf(q[3].real) and np.isinf(q[3].imag) and np.isnan(q[4].real)
    np.testing.assert_allclose(ax, np.abs(x), rtol=1e-15)
    np.testing.assert_allclose(ay, np.abs(y), rtol=1e-15)


# --- text form -----------------------------------------------------------------------------------------

def test_complex_graph_text_round_trip():
    z = np.array([1 + 2j, -0.0 - 1j, np.nan + 1j, np.inf], np.complex64)
    g = cr.trace(lambda x: cnp.abs(x * z + 0.5j) + cnp.real(cnp.conj(x)) + cnp.angle(x), z)
    text = assert_roundtrip(g)
    assert "c64[4]" in text and "conj" in text and "real" in text
    back = parse(text)
    ref = cr.jit(lambda x: cnp.abs(x * z + 0.5j) + cnp.real(cnp.conj(x)) + cnp.angle(x), backend="reference")
    x = _z((4,), np.complex64)
    from chainrule.backends.reference import evaluate
    np.testing.assert_array_equal(evaluate(back, [x])[0], ref(x))


# --- chainrule.numpy -----------------------------------------------------------------------------------

def test_numpy_complex_functions():
    z = _z((6,), np.complex128, 5)
    for be in BACKENDS:
        f = cr.jit(lambda a: (cnp.real(a), cnp.imag(a), cnp.conj(a), cnp.conjugate(a), cnp.angle(a),
                              cnp.angle(a, deg=True), cnp.abs(a), cnp.iscomplex(a), cnp.isreal(a)), backend=be)
        want = (z.real, z.imag, z.conj(), z.conj(), np.angle(z), np.angle(z, deg=True), np.abs(z),
                np.iscomplex(z), np.isreal(z))
        for got, w in zip(f(z), want):
            np.testing.assert_allclose(got, w, rtol=1e-13)
    assert cnp.iscomplexobj(z) and not cnp.iscomplexobj(z.real) and cnp.isrealobj(z.real)
    assert cnp.complex64 is np.complex64 and cnp.complex128 is np.complex128
    np.testing.assert_allclose(cnp.angle(np.array([1.0, -1.0])), [0, np.pi])


def test_real_if_close():
    a = np.array([1 + 1e-17j, 2 - 1e-16j])
    out = cnp.real_if_close(a)
    assert out.dtype == np.float64 and out.tolist() == [1.0, 2.0]
    b = np.array([1 + 1e-3j])
    assert cnp.real_if_close(b).dtype == np.complex128
    assert cnp.real_if_close(np.array([1.0])).dtype == np.float64
    with pytest.raises(TypeError, match="needs a concrete array"):
        cr.jit(cnp.real_if_close)(a)


def test_python_complex_scalars_are_weak():
    x = np.ones(3, np.float32)
    out = cr.jit(lambda a: a * 1j + (2 + 0j), backend="reference")(x)
    assert out.dtype == np.complex64
    np.testing.assert_array_equal(out, x * np.complex64(1j) + 2)
    z = np.ones(2, np.complex64)
    assert cr.jit(lambda a: a * 2.5, backend="reference")(z).dtype == np.complex64
    assert cr.jit(lambda a: a + np.float64(1), backend="reference")(z).dtype == np.complex128


def test_numpy_reductions_and_products_on_complex():
    z = _z((2, 3), np.complex64, 6)
    f = cr.jit(lambda a: (cnp.mean(a, axis=0), cnp.var(a), cnp.vdot(a, a), cnp.isclose(a, a + 1e-9),
                          cnp.sum(a, axis=1), a @ a.T), backend="llvm")
    want = (z.mean(0), z.var(), np.vdot(z, z), np.isclose(z, z + 1e-9), z.sum(1), z @ z.T)
    for got, w in zip(f(z), want):
        assert np.asarray(got).dtype == np.asarray(w).dtype
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)
