"""Hostile and odd arguments to compiled functions: a right answer or a clear TypeError/ValueError.

Every entry point (`cr.jit(f)` and its `.lower().compile()`, `cr.jit(graph)`,
`cr.function`, `backends.compile`) on every backend (llvm, the default;
reference; jax) gets wrong argument counts, shapes and dtypes, Python
objects where arrays belong, out-of-range scalars, and arrays laid out
oddly (transposed, reversed strides, strided, read-only, misaligned from an
offset bytes buffer, zero-size, 0-d) or full of NaN and inf. Results are
compared with NumPy on a clean copy of the same data; errors must be
TypeError or ValueError and name the argument. A crash would take pytest
down with it.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.backends import available_backends, compile as compile_graph
from chainrule.backends.common import check_arguments
from chainrule.ir import GraphBuilder, TensorType

BACKENDS = [b for b in ("llvm", "reference", "jax") if b in available_backends()]
ENTRIES = ("jit_lower", "jit_graph", "function", "backend")


def f(x, y):
    return cnp.tanh(x) * y + 1.0


def f_numpy(x, y):
    return np.tanh(x) * y + 1.0


X = np.linspace(-1.5, 1.5, 12).reshape(3, 4)
Y = np.arange(12.0).reshape(3, 4) - 5.5


def _entry(kind, backend):
    """A compiled f(x: f64[3,4], y: f64[3,4]) through one entry point; returns a callable -> array."""
    if kind == "jit_lower":
        c = cr.jit(f, backend=backend).lower(X, Y).compile()
        return lambda *a: c(*a)
    if kind == "jit_graph":
        c = cr.jit(cr.trace(f, X, Y), backend=backend)
        return lambda *a: c(*a)[0]
    if kind == "function":
        a, b = cr.placeholder((3, 4), "float64", "x"), cr.placeholder((3, 4), "float64", "y")
        c = cr.function([a, b], f(a, b), backend=backend)
        return lambda *args: c(*args)
    c = compile_graph(cr.trace(f, X, Y), backend)
    return lambda *a: c(*a)[0]


@pytest.fixture(scope="module")
def entries():
    return {(k, b): _entry(k, b) for b in BACKENDS for k in ENTRIES}


def misaligned(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of `a` whose data starts one byte into a bytes buffer (not aligned)."""
    buf = bytearray(a.nbytes + 1)
    m = np.frombuffer(buf, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    m[...] = a
    assert not m.flags.aligned and m.flags.c_contiguous
    return m


def readonly(a):
    r = a.copy()
    r.flags.writeable = False
    return r


def readonly_misaligned(a):
    m = np.frombuffer(bytes(1) + np.ascontiguousarray(a).tobytes(), dtype=a.dtype, offset=1).reshape(a.shape)
    assert not m.flags.aligned and not m.flags.writeable
    return m


# Odd layouts of X that hold the same values: the result must equal NumPy's on X.
LAYOUTS = {
    "fortran": lambda a: np.asfortranarray(a),
    "transposed_view": lambda a: np.ascontiguousarray(a.T).T,
    "reversed_strides": lambda a: np.ascontiguousarray(a[::-1, ::-1])[::-1, ::-1],
    "strided_view": lambda a: np.repeat(a, 3, axis=1)[:, ::3],
    "readonly": readonly,
    "misaligned": misaligned,
    "readonly_misaligned": readonly_misaligned,
    "matrix_subclass": lambda a: np.asmatrix(a),
}


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ENTRIES)
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_odd_layouts_give_the_right_answer(entries, kind, backend, layout):
    x, y = LAYOUTS[layout](X), LAYOUTS[layout](Y)
    before = np.array(x, copy=True)
    got = np.asarray(entries[kind, backend](x, y))
    np.testing.assert_allclose(got, f_numpy(X, Y), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(np.asarray(x), before)  # arguments are never written


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ENTRIES)
def test_zero_stride_broadcast_view(entries, kind, backend):
    x = np.broadcast_to(X[1:2], X.shape)  # read-only, stride 0 along axis 0
    np.testing.assert_allclose(np.asarray(entries[kind, backend](x, Y)), f_numpy(np.array(x), Y), rtol=1e-12)


# Wrong arguments: (args, exception, words the message must contain)
BAD = {
    "none": ((None, Y), TypeError, []),
    "string": (("abc", Y), TypeError, []),
    "list_of_strings": ((["a", "b"], Y), TypeError, []),
    "dict": (({"a": X}, Y), TypeError, []),
    "bytes": ((b"\x00" * 96, Y), TypeError, []),
    "object_array": ((np.array([None] * 12, dtype=object).reshape(3, 4), Y), TypeError, []),
    "too_few": ((X,), TypeError, ["2", "1"]),
    "too_many": ((X, Y, Y), TypeError, ["2", "3"]),
    "none_args": ((), TypeError, ["2", "0"]),
    "wrong_shape": ((X[:2], Y), ValueError, ["(3, 4)", "(2, 4)"]),
    "transposed_shape": ((X.T, Y), ValueError, ["(3, 4)", "(4, 3)"]),
    "wrong_rank": ((X.reshape(12), Y), ValueError, ["(3, 4)", "(12,)"]),
    "scalar_for_matrix": ((1.0, Y), ValueError, ["(3, 4)"]),
    "zero_size": ((np.zeros((0, 4)), Y), ValueError, ["(3, 4)", "(0, 4)"]),
    "float32": ((X.astype(np.float32), Y), TypeError, ["float64", "float32"]),
    "int64": ((X.astype(np.int64), Y), TypeError, ["float64", "int64"]),
    "bool": ((X > 0, Y), TypeError, ["float64", "bool"]),
    "float16": ((X.astype(np.float16), Y), TypeError, ["float64"]),
    "complex": ((X.astype(np.complex128), Y), TypeError, []),
    "big_endian": ((X.astype(">f8"), Y), TypeError, ["float64"]),
    "second_wrong": ((X, Y.astype(np.float32)), TypeError, ["float64", "float32"]),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ENTRIES)
@pytest.mark.parametrize("case", sorted(BAD))
def test_wrong_arguments_raise_clear_errors(entries, kind, backend, case):
    args, exc, words = BAD[case]
    with pytest.raises(exc) as info:
        entries[kind, backend](*args)
    msg = str(info.value)
    for w in words:
        assert w in msg, f"{case}: {msg!r} lacks {w!r}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_jit_of_a_function_rejects_non_arrays_and_retraces_new_shapes(backend):
    """cr.jit(f) traces per signature: other shapes/dtypes compile afresh (right answers); junk raises."""
    jf = cr.jit(f, backend=backend)
    for x, y in ((X, Y), (X[:2], Y[:2]), (X.astype(np.float32), Y.astype(np.float32)), (X.tolist(), Y)):
        got = np.asarray(jf(x, y))
        want = f_numpy(np.asarray(x), np.asarray(y))
        assert got.dtype == want.dtype or np.asarray(x).dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    for bad in (None, "abc", ["a", "b"], b"xyz", np.array(["a"] * 12).reshape(3, 4),
                np.array([None] * 12, dtype=object).reshape(3, 4)):
        with pytest.raises(TypeError):
            jf(bad, Y)
    with pytest.raises(TypeError):
        jf(X)
    with pytest.raises(TypeError):
        jf(X, Y, Y)


# --- scalar parameters: range checks (a NumPy integer would otherwise wrap silently) ----------

def _scalar_graph():
    b = GraphBuilder("scalars")
    n = b.param(TensorType((), "int32"), "n")
    v = b.param(TensorType((), "float32"), "v")
    return b.build([b.op("add", n, n), b.op("add", v, v)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_scalar_arguments(backend):
    exe = compile_graph(_scalar_graph(), backend)
    n, v = exe(3, 1.5)
    assert n.dtype == np.int32 and n == 6 and v.dtype == np.float32 and v == 3.0
    assert [a.item() for a in exe(True, np.float32(2))] == [2, 4.0]
    assert np.isnan(exe(1, float("nan"))[1]) and np.isinf(exe(1, float("-inf"))[1])
    for bad, exc, word in ((2**31, ValueError, "out of range"), (-(2**31) - 1, ValueError, "out of range"),
                           (np.int64(2**40), ValueError, "out of range"), (np.uint64(2**63), TypeError, "int32"),
                           (3.5, TypeError, "int32"), ("3", TypeError, "n"), (None, TypeError, "n"),
                           (1 + 2j, TypeError, "n")):
        with pytest.raises(exc, match=word):
            exe(bad, 1.0)
    assert exe(np.int64(-(2**31)), 0.0)[0] == 0  # -2**31 fits; doubled it wraps as int32 arithmetic does


@pytest.mark.parametrize("backend", BACKENDS)
def test_unsigned_arrays_are_not_converted_to_signed(backend):
    """uint64 is a dtype of its own: to an int64 function it is a TypeError naming both (no silent
    conversion, no wrap)."""
    c = cr.jit(lambda x: x + 1, backend=backend).lower(np.zeros(3, np.int64)).compile()
    for bad in (np.array([1, 2, 3], np.uint64), np.array([1, 2, 2**63], np.uint64)):
        with pytest.raises(TypeError, match="expected dtype int64, got uint64"):
            c(bad)


def test_check_arguments_returns_aligned_c_arrays_of_the_same_shape():
    """The contract native code relies on: no misaligned pointer ever crosses into it, 0-d stays 0-d."""
    b = GraphBuilder("g")
    s = b.param(TensorType((), "float64"), "s")
    m = b.param(TensorType((3, 4), "float64"), "m")
    g = b.build([b.op("add", s, s), m])
    s0 = misaligned(np.array(2.5))
    for mm in (misaligned(X), readonly_misaligned(X), np.asfortranarray(X), X[:, ::-1]):
        out = check_arguments(g, [s0, mm])
        assert [a.shape for a in out] == [(), (3, 4)]
        assert all(a.flags.c_contiguous and a.flags.aligned for a in out)
        np.testing.assert_array_equal(out[1], np.asarray(mm))


@pytest.mark.parametrize("backend", BACKENDS)
def test_misaligned_0d_argument_keeps_its_shape(backend):
    c = cr.jit(lambda s: s * 3.0, backend=backend).lower(np.float64(1.0)).compile()
    got = c(misaligned(np.array(2.0)))
    assert np.shape(got) == () and got == 6.0


# --- NaN, inf, -0.0 and empty arrays against the reference interpreter ------------------------

EDGE = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 1e-310, 1e308, -1e308, 3.0, np.nan])


def edge_fn(x, y):
    return (x + y, x * y, x / y, cnp.maximum(x, y), cnp.minimum(x, y), x > y, x == y, cnp.isfinite(x),
            cnp.exp(x), cnp.log(x), cnp.sqrt(x), cnp.tanh(x), cnp.abs(x), cnp.sign(x), cnp.floor(x),
            cnp.where(x > 0, x, y), cnp.sum(x), cnp.max(x), cnp.min(y), cnp.argmax(x), cnp.argmin(y),
            cnp.clip(x, -1.0, 1.0))


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "reference"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_nan_inf_and_signed_zero_match_the_reference(backend, dtype):
    edge = EDGE if backend != "jax" else np.where(EDGE == 1e-310, 1e-300, EDGE)  # XLA's CPU flushes subnormals
    with np.errstate(over="ignore"):
        x = edge.astype(dtype)
        y = np.roll(edge, 5).astype(dtype)
    with np.errstate(all="ignore"):
        g = cr.trace(edge_fn, x, y)
        want = compile_graph(g, "reference")(x, y)
        got = compile_graph(g, backend)(x, y)
    for i, (a, w) in enumerate(zip(got, want)):
        assert a.dtype == w.dtype and a.shape == w.shape, i
        np.testing.assert_array_equal(np.isnan(a), np.isnan(w), err_msg=f"result {i}: NaN positions")
        if w.dtype.kind == "f":
            np.testing.assert_array_equal(np.isinf(a) * np.sign(a), np.isinf(w) * np.sign(w),
                                          err_msg=f"result {i}: inf positions")
            fin = np.isfinite(w)
            np.testing.assert_allclose(a[fin], w[fin], rtol=1e-5 if dtype == "float32" else 1e-12,
                                       atol=1e-300, err_msg=f"result {i}")
        else:
            np.testing.assert_array_equal(a, w, err_msg=f"result {i}")


def empty_fn(x, i):
    return (cnp.sum(x, axis=0), cnp.sum(x, axis=1), cnp.prod(x, axis=1), x * 2.0, cnp.mean(x, axis=0),
            x.T, cnp.concatenate([x, x], axis=0), cnp.take(x, i, axis=1), x @ x.T, cnp.cumsum(x, axis=0))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(0, 3), (2, 0), (0, 0)])
def test_zero_size_arrays(backend, shape):
    x = np.ones(shape)
    i = np.zeros((2,) if shape[1] else (0,), np.int32)
    with np.errstate(all="ignore"):
        got = cr.jit(empty_fn, backend=backend)(x, i)
        want = (x.sum(0), x.sum(1), x.prod(1), x * 2, np.full((shape[1],), np.nan),
                x.T, np.concatenate([x, x]), np.take(x, i, axis=1), x @ x.T, np.cumsum(x, axis=0))
    for k, (a, w) in enumerate(zip(got, want)):
        assert np.shape(a) == w.shape, (k, np.shape(a), w.shape)
        np.testing.assert_array_equal(np.asarray(a), w, err_msg=f"result {k}")


def test_max_over_an_empty_axis_is_an_error_as_in_numpy():
    with pytest.raises(ValueError, match="zero-size"):
        cr.jit(lambda x: cnp.max(x, axis=1))(np.ones((2, 0)))


# --- a loaded artifact (cr.load) is a compiled function too ----------------------------------

@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    if "llvm" not in BACKENDS:
        pytest.skip("llvm backend unavailable")
    path = tmp_path_factory.mktemp("artifact") / "f.crx"
    cr.jit(f).lower(X, Y).compile().export(str(path))
    return cr.load(str(path))


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix
def test_loaded_artifact_takes_odd_layouts_and_rejects_bad_arguments(loaded):
    for name, layout in LAYOUTS.items():
        np.testing.assert_allclose(np.asarray(loaded(layout(X), layout(Y))), f_numpy(X, Y), rtol=1e-12,
                                   err_msg=name)
    for case, (args, exc, words) in BAD.items():
        with pytest.raises(exc) as info:
            loaded(*args)
        if case not in ("too_few", "too_many", "none_args"):  # those name the expected structure instead
            for w in words:
                assert w in str(info.value), (case, str(info.value))


@pytest.mark.parametrize("backend", BACKENDS)
def test_nested_arguments_with_wrong_structure_or_leaves(backend):
    def g(p, x):
        return cnp.sum(p["w"] * x) + p["b"]

    p = {"w": np.ones(3), "b": np.float64(1.0)}
    x = np.arange(3.0)
    c = cr.jit(g, backend=backend).lower(p, x).compile()
    assert float(c(p, x)) == 4.0
    for bad in (({"w": np.ones(3)}, x), ({"w": np.ones(3), "b": 1.0, "c": 2.0}, x), ({"w": np.ones(3), "b": None}, x),
                ([np.ones(3), 1.0], x)):
        with pytest.raises(TypeError, match="structured"):
            c(*bad)
    with pytest.raises(TypeError, match="takes 2 argument"):
        c((p, x))
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        c({"w": np.ones(4), "b": 1.0}, x)
    with pytest.raises(TypeError, match="float64"):
        c({"w": np.ones(3, np.float32), "b": 1.0}, x)


# --- values that trap or are undefined in C: integer x/0, INT_MIN/-1, float->int of NaN/inf ----

@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "reference"])
@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_integer_division_by_zero_and_overflow_never_trap(backend, dtype):
    """x86's idiv raises SIGFPE on both; compiled code must guard them and agree with the oracle."""
    info = np.iinfo(dtype)
    b = GraphBuilder("idiv")
    x = b.param(TensorType((6,), dtype), "x")
    y = b.param(TensorType((6,), dtype), "y")
    g = b.build([b.op("divide", x, y), b.op("remainder", x, y)])
    xv = np.array([7, info.min, -7, 0, info.min, info.max], dtype)
    yv = np.array([0, -1, 0, 0, 0, -1], dtype)
    want = compile_graph(g, "reference")(xv, yv)
    got = compile_graph(g, backend)(xv, yv)
    for a, w in zip(got, want):
        np.testing.assert_array_equal(a, w)
    np.testing.assert_array_equal(want[0][:2], [-1, info.min])  # XLA: x / 0 = -1, INT_MIN / -1 = INT_MIN


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "reference"])
@pytest.mark.parametrize("src", ["float32", "float64"])
@pytest.mark.parametrize("dst", ["int32", "int64", "bool"])
def test_float_to_int_of_nan_inf_and_huge_values_saturates_like_the_oracle(backend, src, dst):
    b = GraphBuilder("cvt")
    x = b.param(TensorType((8,), src), "x")
    g = b.build([b.op("convert", x, dtype=dst)])
    with np.errstate(over="ignore"):
        xv = np.array([np.nan, np.inf, -np.inf, 1e300, -1e300, 2.5, -2.5, 2.0**31], dtype=np.float64).astype(src)
    (want,) = compile_graph(g, "reference")(xv)
    (got,) = compile_graph(g, backend)(xv)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ENTRIES)
def test_the_same_array_twice_and_overlapping_views(entries, kind, backend):
    np.testing.assert_allclose(np.asarray(entries[kind, backend](X, X)), f_numpy(X, X), rtol=1e-12)
    big = np.linspace(-2, 2, 16 * 4).reshape(16, 4)
    a, b = big[0:3], big[1:4]  # overlapping rows of one buffer
    np.testing.assert_allclose(np.asarray(entries[kind, backend](a, b)), f_numpy(a, b), rtol=1e-12)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix
@pytest.mark.parametrize("backend", BACKENDS)
def test_odd_layouts_through_the_jit_fast_path(backend):
    """cr.jit(f) called directly (its per-signature fast path), not through a Compiled object."""
    jf = cr.jit(f, backend=backend)
    np.testing.assert_allclose(jf(X, Y), f_numpy(X, Y), rtol=1e-12)
    for name, layout in LAYOUTS.items():
        for _ in range(2):  # the second call takes the cached fast path
            np.testing.assert_allclose(np.asarray(jf(layout(X), layout(Y))), f_numpy(X, Y), rtol=1e-12,
                                       err_msg=name)
    np.testing.assert_allclose(np.asarray(jf(np.broadcast_to(X[1:2], X.shape), Y)),
                               f_numpy(np.broadcast_to(X[1:2], X.shape), Y), rtol=1e-12)
    s = cr.jit(lambda v: v * 3.0, backend=backend)
    assert s(np.float64(1.0)) == 3.0
    got = s(misaligned(np.array(2.0)))
    assert np.shape(got) == () and got == 6.0


# --- anything at all: hypothesis draws arbitrary objects and arrays -------------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.complex_numbers(), st.text(max_size=5),
                     st.binary(max_size=8))
_objects = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                                                          st.dictionaries(st.text(max_size=3), inner, max_size=3)),
                        max_leaves=8)
_arrays = hnp.arrays(dtype=st.sampled_from(["f8", "f4", "i8", "i4", "u1", "?", ">f8", "f2", "c8"]),
                     shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
_anything = st.one_of(_objects, _arrays, st.just(X), st.just(X.T), st.just(X[::-1]))


@pytest.mark.parametrize("kind", ["jit_lower", "backend"])
@pytest.mark.parametrize("backend", [b for b in ("llvm", "reference") if b in BACKENDS])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=_anything, b=st.one_of(st.just(Y), _anything))
def test_arbitrary_arguments_give_the_answer_or_a_clear_error(entries, kind, backend, a, b):
    try:
        got = entries[kind, backend](a, b)
    except (TypeError, ValueError):
        return
    # accepted: then both really were f64[3,4] arrays, and the answer is NumPy's
    assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
    assert a.dtype == np.float64 and b.dtype == np.float64 and a.shape == b.shape == (3, 4)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(np.asarray(got), f_numpy(a, b), rtol=1e-12, atol=1e-12)


# --- dtypes chainrule lacks: converted as cr.jit converts them, the same in every entry point --------

def test_float16_and_small_ints_keep_their_dtype_through_compiled_and_loaded_functions(tmp_path):
    """The README's promise: float16 (or bfloat16, or int8) to a function compiled for float32 raises
    TypeError, through cr.load too; cr.jit traces a float16 version instead."""
    import ml_dtypes
    f32 = cr.jit(lambda x: x * 2).lower(np.ones(3, np.float32)).compile()
    i32 = cr.jit(lambda x: x * 2).lower(np.ones(3, np.int32)).compile()
    f32.export(tmp_path / "f32.crx")
    loaded = cr.load(tmp_path / "f32.crx")
    h = np.array([1.5, -2.25, 65504.0], np.float16)
    out = cr.jit(lambda x: x * 2)(h)
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out, h * np.float16(2))
    for fn, bad in ((f32, h), (loaded, h), (f32, h.astype(ml_dtypes.bfloat16)), (f32, np.ones(3, np.int8)),
                    (loaded, np.ones(3, np.int8)), (i32, np.array([1, -2, 3], np.int8))):
        with pytest.raises(TypeError, match="expected dtype"):
            fn(bad)