"""Every op on the JAX backend against the reference backend (the oracle).

Each case is a one-node graph run on both backends with several shapes and
dtypes, edge values mixed in (NaN, +-inf, -0.0, the integer limits, empty
arrays). Integer, bool and exact float ops must agree bit for bit;
transcendental float ops within a few ulp.
"""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")

from chainrule.backends import compile  # noqa: E402
from chainrule.backends.jax import LOWERINGS, UNSUPPORTED  # noqa: E402
from chainrule.ir import GraphBuilder, TensorType, ops_with  # noqa: E402
from chainrule.ir.linalg_ops import LINALG_OPS  # noqa: E402
from chainrule.testing import assert_same, assert_table_complete, op_graph, sample_array  # noqa: E402
from op_tables import FLOAT_BINARY, FLOAT_UNARY  # noqa: E402

F = (np.float32, np.float64)
CPU_XLA = jax.devices()[0].platform == "cpu"  # where XLA is known to divide exactly and flush subnormals
I = (np.int32, np.int64)
SHAPES = ((), (7,), (3, 4), (0,), (2, 0, 3))
TRANSCENDENTAL = ops_with("inexact") | {"sqrt"}  # compared within a tolerance, not bit for bit
# XLA CPU flushes float subnormals to zero; the oracle (NumPy) does not. Float
# cases therefore draw edge values without subnormals (see test_subnormals_flush).
_rng = np.random.default_rng(1234)


def arr(shape, dt, low=-10, high=10, edge_fraction=0.3):
    a = sample_array(_rng, shape, dt, edge_fraction, low, high)
    if a.dtype.kind == "f":
        tiny = np.finfo(a.dtype).tiny
        a = np.where((a != 0) & (np.abs(a) < tiny), a.dtype.type(0.25), a).astype(a.dtype)
    return a


def idx(shape, n, dt=np.int64):
    """Indices mostly in range, some negative and some past the end (clamped)."""
    return _rng.integers(-2, n + 3, size=shape).astype(dt)


def accept_flushed(got, want):
    """XLA CPU flushes subnormal results to zero: where the oracle's result is
    subnormal and the device gave a zero, count it as the oracle's value."""
    got = np.asarray(got)
    want = np.asarray(want)
    if want.dtype.kind != "f" or got.shape != want.shape or got.dtype != want.dtype:
        return got
    flushed = (want != 0) & (np.abs(want) < np.finfo(want.dtype).tiny) & (got == 0)
    return np.where(flushed, want, got)


CASES = []
_batch = None  # the nodes collected by an open `batched` block


def _sig(arrays):
    return "-".join(f"{a.dtype}{list(a.shape)}" for a in arrays)


def case(op, *arrays, tol=None, **attrs):
    """A node of `op` on `arrays`: its own test, or one node of the open `batched` graph."""
    node = (op, [np.asarray(a) for a in arrays], attrs, tol)
    if _batch is not None:
        _batch.append(node)
    else:
        CASES.append(pytest.param([node], id=f"{op}-{_sig(node[1])}-{len(CASES)}"))


class batched:
    """Cases made inside become nodes of one graph: one XLA compile for many
    cases keeps the suite fast (compiling dominates)."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        global _batch
        _batch = []

    def __exit__(self, *exc):
        global _batch
        nodes, _batch = _batch, None
        if nodes:
            CASES.append(pytest.param(nodes, id=f"{self.name}-{len(CASES)}"))


# --- elementwise ---------------------------------------------------------------

UNARY_F = FLOAT_UNARY
for _op in UNARY_F:
    with batched(_op):
        for _dt in F:
            _lohi = (-3, 3) if _op in ("tan", "sine", "cosine") else (-10, 10)
            for _s in SHAPES:
                case(_op, arr(_s, _dt, *_lohi))
with batched("int-unary"):
    for _op in ("negate", "abs", "sign", "not", "stop_gradient"):
        for _dt in I:
            case(_op, arr((13,), _dt))
            case(_op, arr((0, 2), _dt))
    case("not", np.array([True, False, True]))
    case("stop_gradient", np.array([True, False]))

BINARY_F = FLOAT_BINARY
for _op in BINARY_F:
    with batched(_op):
        for _dt in F:
            for _s in SHAPES:
                case(_op, arr(_s, _dt), arr(_s, _dt))
with batched("int-bool-binary"):
    for _op in ("add", "subtract", "multiply", "divide", "remainder", "maximum", "minimum", "and", "or", "xor"):
        for _dt in I:
            case(_op, arr((5, 6), _dt), arr((5, 6), _dt))
    for _op in ("maximum", "minimum", "and", "or", "xor"):
        case(_op, np.array([True, True, False, False]), np.array([True, False, True, False]))
with batched("bit-ops"):  # shifts by amounts past the width, popcnt, bitcasts (tests/test_dtypes_*.py: every dtype)
    for _dt in (np.int32, np.uint32, np.int8, np.uint64):
        _bits = np.dtype(_dt).itemsize * 8
        _amt = np.array([0, 1, 3, _bits - 1, _bits, _bits + 1, 100, -1]).astype(_dt)  # -1: all ones
        for _op in ("shift_left", "shift_right_logical", "shift_right_arithmetic"):
            case(_op, arr((8,), _dt, 0, 100), _amt)
        case("popcnt", arr((8,), _dt))
    case("bitcast_convert", arr((6,), np.float32), dtype="uint32")
    case("bitcast_convert", arr((6,), np.int64), dtype="float64")
with batched("fft"):  # every fft_type (tests/test_fft_ops.py: the numpy.fft functions on every backend)
    _g = np.random.default_rng(5)  # finite data: an inf spreads over a whole transform as NaNs
    _zc = _g.standard_normal((3, 8)) + 1j * _g.standard_normal((3, 8))
    case("fft", _zc, fft_type="FFT", fft_length=(8,), tol=(1e-12, 1e-12))
    case("fft", _zc.astype(np.complex64), fft_type="IFFT", fft_length=(3, 8), tol=(2e-5, 2e-5))
    case("fft", _g.standard_normal((4, 6)).astype(np.float32), fft_type="RFFT", fft_length=(6,), tol=(2e-5, 2e-5))
    case("fft", _zc[:, :5], fft_type="IRFFT", fft_length=(3, 8), tol=(1e-12, 1e-12))
for _dt in I:
    with batched(f"int-division-power-{np.dtype(_dt)}"):  # the integer edge cases, every pairing of them
        _lo = np.iinfo(_dt).min
        _v = np.array([0, 1, -1, 7, -7, 2, _lo, np.iinfo(_dt).max], _dt)
        _x, _y = np.meshgrid(_v, _v)
        for _op in ("divide", "remainder"):
            case(_op, _x.ravel(), _y.ravel())
        _x, _y = np.meshgrid(np.arange(-4, 5, dtype=_dt), np.arange(-3, 12, dtype=_dt))
        case("power", _x.ravel(), _y.ravel())
        case("power", np.array([3, -3, 7, _lo, 2], _dt), np.array([40, 41, 63, 2, 31], _dt))  # wrapping
with batched("float-special-pairs"):
    for _dt in F:
        _v = np.array([0.0, -0.0, 1.0, -1.0, 2.0, -8.0, 0.5, np.inf, -np.inf, np.nan], _dt)
        _x, _y = np.meshgrid(_v, _v)
        for _op in ("power", "remainder", "atan2", "divide", "add", "multiply", "subtract"):
            case(_op, _x.ravel(), _y.ravel())

for _dt in F + I + (np.bool_,):
    with batched(f"compare-select-clamp-{np.dtype(_dt)}"):
        for _d in ("EQ", "NE", "LT", "LE", "GT", "GE"):
            case("compare", arr((4, 5), _dt), arr((4, 5), _dt), direction=_d)
        case("select", arr((3, 4), np.bool_), arr((3, 4), _dt), arr((3, 4), _dt))
        case("select", np.array(True), arr((), _dt), arr((), _dt))
        if _dt != np.bool_:
            _a, _b = arr((9,), _dt), arr((9,), _dt)
            case("clamp", np.minimum(_a, _b), arr((9,), _dt), np.maximum(_a, _b))
            case("clamp", arr((9,), _dt), arr((9,), _dt), arr((9,), _dt))  # lo > hi sometimes

for _src in F + I + (np.bool_,):
    with batched(f"convert-from-{np.dtype(_src)}"):
        for _dst in F + I + (np.bool_,):
            _a = arr((31,), _src, low=-100, high=100)
            if np.dtype(_src).kind == "f":  # the saturation edges of every integer type
                _a = np.concatenate([_a, np.array([2.0**31, -2.0**31, 2.0**31 - 128, 2.0**63, -2.0**63, 1e30,
                                                   -1e30, np.nan, 2.5, -2.5, -0.7], _src)])
            case("convert", _a, dtype=np.dtype(_dst).name)

# --- leaves and shapes -------------------------------------------------------------

with batched("leaves"):
    for _dt in ("float32", "float64", "int32", "int64"):
        case("iota", shape=(3, 4), dtype=_dt, dimension=1)
        case("iota", shape=(5,), dtype=_dt)
        case("iota", shape=(2, 0), dtype=_dt, dimension=0)
    for _v in (np.array([1.5, np.nan, -0.0, np.inf], np.float32), np.arange(20.0).reshape(4, 5),
               np.array(7, np.int32), np.array([True, False]), np.zeros((0, 2), np.int64)):
        case("constant", value=_v)
with batched("shapes"):
    case("broadcast_in_dim", arr((3,), np.float32), shape=(2, 3, 4), broadcast_dimensions=(1,))
    case("broadcast_in_dim", arr((1, 4), np.int64), shape=(5, 4), broadcast_dimensions=(0, 1))
    case("broadcast_in_dim", arr((), np.bool_), shape=(2, 2), broadcast_dimensions=())
    case("broadcast_in_dim", arr((3,), np.float64), shape=(0, 3), broadcast_dimensions=(1,))
    case("reshape", arr((3, 4), np.float32), shape=(2, 6))
    case("reshape", arr((6,), np.int32), shape=(1, 2, 3, 1))
    case("reshape", arr((0, 3), np.float64), shape=(3, 0))
    case("reshape", arr((1,), np.bool_), shape=())
    case("transpose", arr((2, 3, 4), np.float64), permutation=(2, 0, 1))
    case("transpose", arr((2, 0), np.int32), permutation=(1, 0))
    case("slice", arr((7, 5), np.float32), start_indices=(1, 0), limit_indices=(6, 5), strides=(2, 3))
    case("slice", arr((7,), np.int64), start_indices=(3,), limit_indices=(3,))
    case("slice", arr((4, 4), np.bool_), start_indices=(0, 1), limit_indices=(4, 3))
    case("concatenate", arr((2, 3), np.float32), arr((4, 3), np.float32), arr((0, 3), np.float32), dimension=0)
    case("concatenate", arr((2, 3), np.int32), arr((2, 1), np.int32), dimension=1)
    case("concatenate", arr((3,), np.bool_), dimension=0)
    case("reverse", arr((3, 4, 2), np.float32), dimensions=(0, 2))
    case("reverse", arr((5,), np.int32), dimensions=())
    case("reverse", arr((0, 3), np.bool_), dimensions=(1,))
with batched("dynamic-slices"):  # starts out of range are clamped, negative ones to 0
    for _starts in ((0, 0), (2, 1), (-3, 9), (100, -100)):
        for _sdt in (np.int32, np.int64):
            case("dynamic_slice", arr((6, 5), np.float32), *[np.array(s, _sdt) for s in _starts], slice_sizes=(3, 2))
            case("dynamic_update_slice", arr((6, 5), np.int64), arr((2, 4), np.int64),
                 *[np.array(s, _sdt) for s in _starts])
    # start indices of mixed dtypes, one beyond the int32 range
    case("dynamic_slice", arr((6, 5), np.float32), np.array(2, np.int32), np.array(2**31, np.int64), slice_sizes=(3, 2))
    case("dynamic_update_slice", arr((6, 5), np.int32), arr((2, 2), np.int32), np.array(-2**31 - 5, np.int64),
         np.array(3, np.int32))
    case("dynamic_slice", arr((4,), np.float64), np.array(1, np.int32), slice_sizes=(0,))
    case("dynamic_update_slice", arr((4,), np.float64), arr((0,), np.float64), np.array(9, np.int64))
with batched("pad"):  # negative edges crop, interior padding spreads
    for _lo, _hi, _in in (((1, 2), (0, 3), (0, 0)), ((-1, 0), (2, -2), (1, 2)), ((0, -3), (0, -1), (0, 1)),
                          ((2, 1), (1, 2), (3, 0))):
        for _dt in (np.float32, np.int64, np.bool_):
            case("pad", arr((3, 4), _dt), arr((), _dt), edge_padding_low=_lo, edge_padding_high=_hi,
                 interior_padding=_in)
    case("pad", arr((0, 2), np.float64), np.array(7.0), edge_padding_low=(1, 0), edge_padding_high=(1, 0))

# --- reductions and contraction ------------------------------------------------------

for _kind, _dts in (("sum", F + I), ("prod", F + I), ("max", F + I + (np.bool_,)), ("min", F + I + (np.bool_,)),
                    ("and", I + (np.bool_,)), ("or", I + (np.bool_,))):
    with batched(f"reduce-{_kind}"):  # empty max/min give -inf/+inf (integer limits)
        for _dt in _dts:
            _float_sum = np.dtype(_dt).kind == "f" and _kind in ("sum", "prod")
            for _s, _dims in (((4, 5), (1,)), ((2, 3, 4), (0, 2)), ((6,), (0,)), ((0, 3), (0,)), ((3, 0), (1,)),
                              ((2, 3), ())):
                _lohi = (-2, 2) if _kind == "prod" else (-10, 10)
                # a float product of edge values (max, 2**63) overflows or not depending on the order
                # the backend multiplies in: -inf on one, finite on another; edges come separately below
                _edges = 0.0 if _float_sum and _kind == "prod" else 0.1 if _kind == "sum" else 0.3
                case("reduce", arr(_s, _dt, *_lohi, edge_fraction=_edges),
                     kind=_kind, dimensions=_dims, tol=(1e-5, 1e-6) if _float_sum else None)
        if _kind == "prod":  # special values whose product does not depend on the order
            for _dt in F:
                case("reduce", np.array([[1.5, np.nan, -2.0], [np.inf, -0.0, 3.0], [-np.inf, -1.0, 0.5],
                                         [-0.0, 2.0, -1.0]], _dt), kind="prod", dimensions=(1,))
for _op in ("argmax", "argmin"):
    with batched(_op):  # ties pick the first; the first NaN counts as the extreme
        for _dt in F + I:
            case(_op, arr((4, 6), _dt, -2, 2), dimension=1)
            case(_op, arr((5, 3), _dt, -2, 2), dimension=0, index_dtype="int32")
        case(_op, np.array([[1.0, np.nan, 3.0, np.nan], [np.nan, 5.0, 5.0, 1.0], [2.0, 2.0, 1.0, 1.0]]), dimension=1)
        case(_op, np.array([[-np.inf, np.inf, -0.0, 0.0]], np.float32), dimension=1)

with batched("dot_general"):
    for _dt in F:
        _t = (1e-5, 1e-5) if _dt == np.float32 else (1e-13, 1e-13)
        case("dot_general", arr((4, 5), _dt, edge_fraction=0), arr((5, 3), _dt, edge_fraction=0),
             lhs_contracting=(1,), rhs_contracting=(0,), tol=_t)
        case("dot_general", arr((2, 3, 4), _dt, edge_fraction=0), arr((2, 4, 5), _dt, edge_fraction=0),
             lhs_batch=(0,), rhs_batch=(0,), lhs_contracting=(2,), rhs_contracting=(1,), tol=_t)
        case("dot_general", arr((3, 0), _dt), arr((0, 2), _dt), lhs_contracting=(1,), rhs_contracting=(0,))
        case("dot_general", arr((3,), _dt, edge_fraction=0), arr((4,), _dt, edge_fraction=0))  # outer product
        case("dot_general", arr((4, 3, 2), _dt, edge_fraction=0), arr((2, 4), _dt, edge_fraction=0),
             lhs_contracting=(0, 2), rhs_contracting=(1, 0), tol=_t)
    for _dt in I:
        case("dot_general", arr((4, 5), _dt), arr((5, 3), _dt), lhs_contracting=(1,), rhs_contracting=(0,))

# --- gather / scatter (indices out of range are clamped) ------------------------------------

for _dt in (np.float32, np.int64):
    with batched(f"gather-{np.dtype(_dt)}"):
        case("gather", arr((5, 3), _dt), idx((4,), 5), axis=0)
        case("gather", arr((5, 3), _dt), idx((2, 2), 3, np.int32), axis=1)
        case("gather", arr((2, 6, 3), _dt), idx((), 6), axis=1)
        case("gather", arr((4, 6), _dt), idx((4, 3), 6), axis=1, batch_dims=1)
        case("gather", arr((2, 3, 5, 2), _dt), idx((2, 3, 4), 5), axis=2, batch_dims=2)
        case("gather", arr((2, 3, 5), _dt), idx((2, 4), 5, np.int32), axis=2, batch_dims=1)
        case("gather", arr((3, 0), _dt), idx((2,), 3), axis=0)
        case("gather", arr((0, 4), _dt), idx((0,), 1), axis=0)
    for _kind in ("add", "set"):  # duplicate indices: add accumulates, set keeps the last update
        with batched(f"scatter-{_kind}-{np.dtype(_dt)}"):
            _t = (1e-6, 1e-6) if _dt == np.float32 and _kind == "add" else None
            case("scatter", arr((5, 3), _dt), idx((7,), 5), arr((7, 3), _dt, edge_fraction=0), axis=0, kind=_kind,
                 tol=_t)
            case("scatter", arr((5, 3), _dt), idx((2, 4), 3, np.int32), arr((5, 2, 4), _dt, edge_fraction=0),
                 axis=1, kind=_kind, tol=_t)
            case("scatter", arr((4, 6), _dt), idx((4, 5), 6), arr((4, 5), _dt, edge_fraction=0), axis=1,
                 batch_dims=1, kind=_kind, tol=_t)
            case("scatter", arr((2, 3, 5), _dt), idx((2, 3, 4), 5), arr((2, 3, 4), _dt, edge_fraction=0), axis=2,
                 batch_dims=2, kind=_kind, tol=_t)
            case("scatter", arr((3, 4), _dt), idx((), 4), arr((3,), _dt), axis=1, kind=_kind)
            case("scatter", arr((3, 4), _dt), idx((0,), 3), arr((0, 4), _dt), axis=0, kind=_kind)
with batched("scatter-misc"):
    case("scatter", np.zeros(3, np.int32), np.array([0, 0, 0, 2, 2, -5, 9], np.int64),
         np.array([1, 2, 3, 4, 5, 6, 7], np.int32), axis=0, kind="set")
    for _kind in ("add", "set"):  # bool "addition" is or
        case("scatter", arr((4, 3), np.bool_), idx((5,), 4), arr((5, 3), np.bool_), axis=0, kind=_kind)
        case("scatter", arr((2, 4), np.bool_), idx((2, 3), 4), arr((2, 3), np.bool_), axis=1, batch_dims=1,
             kind=_kind)
    case("gather", arr((4, 3), np.bool_), idx((5,), 4), axis=0)


def case_graph(nodes):
    """A graph with one node per case, each on its own parameters; returns every result."""
    b = GraphBuilder("cases")
    results = []
    for k, (op, arrays, attrs, tol) in enumerate(nodes):
        params = [b.param(TensorType(a.shape, a.dtype), f"x{k}_{i}") for i, a in enumerate(arrays)]
        results.append(list(b.emit(op, params, attrs).results))
    return b.build([r for rs in results for r in rs]), results


@pytest.mark.parametrize("nodes", CASES)
def test_op_matches_reference(nodes):
    g, per_node = case_graph(nodes)
    arrays = [a for _, group, _, _ in nodes for a in group]
    want = compile(g, backend="reference")(*arrays)
    got = compile(g, backend="jax")(*arrays)
    assert len(got) == len(want)
    k = 0
    for (op, group, attrs, tol), results in zip(nodes, per_node):
        if tol is None and op in TRANSCENDENTAL:
            tol = (2e-6, 1e-30) if any(a.dtype == np.float32 for a in group) else (1e-14, 1e-300)
        if tol is None and op == "divide" and not CPU_XLA and any(a.dtype == np.float32 for a in group):
            tol = (1.2e-7, 0.0)  # XLA on GPUs divides float32 within 1 ulp, not correctly rounded
        for i in range(len(results)):
            g_, w_ = accept_flushed(got[k], want[k]), want[k]
            what = f"{op} {_sig(group)} {dict(attrs)} result {i}"
            if tol is None:
                assert_same(g_, w_, what=what)
            else:
                assert_same(g_, w_, rtol=tol[0], atol=tol[1], what=what)
            k += 1


def test_every_op_has_a_lowering():
    assert_table_complete(LOWERINGS, "jax LOWERINGS", exempt=UNSUPPORTED)


def test_every_lowered_op_has_cases_here():
    covered = {n[0] for p in CASES for n in p.values[0]} | {"fusion", "custom_jvp_call", "custom_vjp_call",
                                                            "cond", "case", "while", "scan", "remat"}
    covered |= set(LINALG_OPS)  # tested in test_linalg_ops.py
    covered |= {"eig"}  # tested in test_linalg_eig.py (jax backend against numpy.linalg.eig)
    covered |= {"convolution", "reduce_window", "select_and_gather_add", "select_and_scatter_add"}  # test_conv.py,
    # test_reduce_window.py (jax backend against the reference and jax.lax)
    covered |= {"sort"}  # test_sort_op.py (every backend, bit for bit)
    covered |= {"sharding_constraint", "shard_map", "psum", "pmax", "pmin", "all_gather", "psum_scatter",
                "all_to_all", "ppermute", "axis_index"}  # test_shard_map_jax.py (8 devices, in a subprocess)
    assert sorted(set(LOWERINGS) - covered) == []


def test_fusion_lowers_its_region():
    rb = GraphBuilder("body")
    a = rb.param(TensorType((4, 3), "float32"), "a")
    c = rb.param(TensorType((3,), "float32"), "c")
    cb = rb.op("broadcast_in_dim", c, shape=(4, 3), broadcast_dimensions=(1,))
    t = rb.op("tanh", rb.op("multiply", a, cb))
    s = rb.op("reduce", t, kind="sum", dimensions=(1,))
    region = rb.build([t, s])
    b = GraphBuilder("outer")
    x = b.param(TensorType((4, 3), "float32"), "x")
    y = b.param(TensorType((3,), "float32"), "y")
    node = b.emit("fusion", (x, y), {"kind": "reduce"}, (region,))
    g = b.build([node.results[1], node.results[0]])
    xs, ys = arr((4, 3), np.float32, edge_fraction=0), arr((3,), np.float32, edge_fraction=0)
    want = compile(g, backend="reference")(xs, ys)
    got = compile(g, backend="jax")(xs, ys)
    for g_, w_ in zip(got, want):
        assert_same(g_, w_, rtol=2e-6, atol=1e-6)


def _region(name, types, build):
    rb = GraphBuilder(name)
    ps = [rb.param(TensorType(*t)) for t in types]
    return rb.build(list(build(rb, *ps)))


def test_custom_calls_run_their_function_region():
    t = ((5,), "float64")
    primal = _region("f", [t], lambda rb, x: [rb.op("sine", x)])
    jvp = _region("f_jvp", [t, t], lambda rb, x, dx: [rb.op("sine", x), rb.op("multiply", rb.op("cosine", x), dx)])
    fwd = _region("f_fwd", [t], lambda rb, x: [rb.op("sine", x), rb.op("cosine", x)])
    bwd = _region("f_bwd", [t, t], lambda rb, c, g: [rb.op("multiply", c, g)])
    b = GraphBuilder("custom")
    x = b.param(TensorType(*t), "x")
    y1 = b.emit("custom_jvp_call", (x,), {}, (primal, jvp)).results[0]
    y2 = b.emit("custom_vjp_call", (x,), {}, (primal, fwd, bwd)).results[0]
    g = b.build([y1, y2])
    xs = arr((5,), np.float64, edge_fraction=0)
    want = compile(g, backend="reference")(xs)
    for got, w in zip(compile(g, backend="jax")(xs), want):
        assert_same(got, w, rtol=1e-14, atol=1e-300)


def test_control_flow_matches_reference():
    """cond, case (an index out of range runs the last branch), while, scan (forward and reverse)."""
    t, s, i = ((4,), "float64"), ((), "float64"), ((), "int32")
    b = GraphBuilder("control")
    x = b.param(TensorType(*t), "x")
    k = b.param(TensorType(*i), "k")
    p = b.op("compare", b.op("reduce", x, kind="sum", dimensions=(0,)), b.constant(np.float64(0)), direction="GT")
    double = _region("double", [t], lambda rb, a: [rb.op("add", a, a)])
    sine = _region("sine", [t], lambda rb, a: [rb.op("sine", a)])
    neg = _region("neg", [t], lambda rb, a: [rb.op("negate", a)])
    outs = list(b.emit("cond", (p, x), {}, (double, neg)).results)
    outs += b.emit("case", (k, x), {}, (double, sine, neg)).results
    # while n < 5: n += 1, v = v * 1.5
    cond = _region("cond", [i, t], lambda rb, n, v: [rb.op("compare", n, rb.constant(np.int32(5)), direction="LT")])
    body = _region("body", [i, t], lambda rb, n, v: [rb.op("add", n, rb.constant(np.int32(1))),
                                                     rb.op("multiply", v, rb.op("broadcast_in_dim", rb.constant(
                                                         np.float64(1.5)), shape=(4,), broadcast_dimensions=()))])
    outs += b.emit("while", (k, x), {}, (cond, body)).results
    # scan over x with a const c: carry = carry * c + x_i, y_i = carry
    step = _region("step", [s, s, s], lambda rb, c, h, xi: [rb.op("add", rb.op("multiply", h, c), xi),
                                                             rb.op("multiply", h, c)])
    c0 = b.constant(np.float64(0.5))
    h0 = b.constant(np.float64(1.0))
    for rev in (False, True):
        outs += b.emit("scan", (c0, h0, x), {"num_consts": 1, "num_carry": 1, "length": 4, "reverse": rev},
                       (step,)).results
    g = b.build(outs)
    ref, jx = compile(g, backend="reference"), compile(g, backend="jax")
    xs = np.array([0.5, -1.0, 2.0, 0.25])
    for kk in (-1, 0, 1, 2, 3, 7):
        for sign in (1, -1):
            args = (xs * sign, np.int32(kk))
            for got, want in zip(jx(*args), ref(*args)):
                assert_same(got, want, rtol=1e-14, atol=1e-300)


def test_xla_folding_does_not_change_results():
    """Constants and iotas that XLA could fold: x / c stays an IEEE division (not x * (1/c)),
    sign(-0.0) stays -0.0, atan2(0, 0) of a fused iota is 0 (found by the fuzzer)."""
    b = GraphBuilder("folding")
    x = b.param(TensorType((4, 3), "float32"), "x")
    c = b.constant(np.array([8.968753, 5.8639307, -0.19015682, -1.9743705, 4.339105, -0.5, -2.4621584, -0.5884368,
                             2.2442575, 2.5, -0.186613, 9.274837], np.float32).reshape(4, 3))
    io = b.op("iota", shape=(2, 3), dtype="float32", dimension=1)
    g = b.build([b.op("divide", x, c), b.op("sign", b.constant(np.array([-0.0, 0.0, -2.0, np.nan], np.float64))),
                 b.op("atan2", io, io), b.op("atan2", b.op("negate", io), b.op("negate", io))])
    xs = np.array([[9.2851229, 8.4142189, 0.0], [-6.1788783, 6.0471759, 5.1487646], [-4.8944898, -0.0, -1.1057609],
                   [-8.1857491, -0.23138864, 1.0]], np.float32)
    got, want = compile(g, backend="jax")(xs), compile(g, backend="reference")(xs)
    # IEEE division is exact on XLA's CPU runtime; on GPUs float32 division is within 1 ulp
    assert_same(got[0], want[0], **({} if CPU_XLA else {"rtol": 1.2e-7}))
    assert_same(got[1], want[1])
    for k in (2, 3):  # atan2 is transcendental: within an ulp, and no NaN
        assert_same(got[k], want[k], rtol=2e-7, atol=0)


def test_constant_operands_of_indexing_ops():
    """Constants reach the lowerings as NumPy arrays, not JAX values (found by the fuzzer)."""
    b = GraphBuilder("consts")
    i = b.param(TensorType((3,), "int32"), "i")
    base = b.constant(np.arange(8, dtype=np.int32).reshape(4, 2))
    upd = b.constant(np.full((3, 2), 7, np.int32))
    outs = [b.op("scatter", base, i, upd, axis=0, kind=kind) for kind in ("add", "set")]
    outs.append(b.op("gather", base, i, axis=0))
    outs.append(b.op("dynamic_slice", base, b.constant(np.int64(1)), b.constant(np.int32(1)), slice_sizes=(2, 1)))
    g = b.build(outs)
    idx = np.array([3, -1, 3], np.int32)
    for got, want in zip(compile(g, backend="jax")(idx), compile(g, backend="reference")(idx)):
        assert_same(got, want)


@pytest.mark.parametrize("policy", ["nothing_saveable", "dots_saveable"])
def test_remat_runs_its_region(policy):
    t = ((3, 3), "float64")
    body = _region("body", [t, t], lambda rb, a, w: [rb.op("tanh", rb.op("dot_general", a, w, lhs_contracting=(1,),
                                                                           rhs_contracting=(0,)))])
    b = GraphBuilder("remat")
    x, w = b.param(TensorType(*t), "x"), b.param(TensorType(*t), "w")
    g = b.build(list(b.emit("remat", (x, w), {"policy": policy}, (body,)).results))
    xs, ws = arr((3, 3), np.float64, edge_fraction=0), arr((3, 3), np.float64, edge_fraction=0)
    for got, want in zip(compile(g, backend="jax")(xs, ws), compile(g, backend="reference")(xs, ws)):
        assert_same(got, want, rtol=1e-14, atol=1e-14)


def test_custom_vjp_lin_is_refused_by_name():
    from chainrule.backends.jax import UnsupportedOpError
    from chainrule.backends.jax.table import get_lowering

    with pytest.raises(UnsupportedOpError, match="custom_vjp_lin.*forward-mode"):
        get_lowering("custom_vjp_lin")


def test_subnormals_flush_on_xla_cpu():
    """A known difference, pinned so that it is noticed when XLA changes (then drop `accept_flushed`):
    XLA's CPU runtime flushes subnormal floats to zero, on input and output; NumPy keeps them."""
    if not CPU_XLA:
        pytest.skip("only XLA's CPU runtime is known to flush")
    tiny = np.array([np.finfo(np.float32).smallest_subnormal * 3], np.float32)
    g = op_graph("add", [TensorType((1,), "float32")] * 2)
    got = compile(g, backend="jax")(tiny, np.zeros(1, np.float32))[0]
    want = compile(g, backend="reference")(tiny, np.zeros(1, np.float32))[0]
    assert want[0] == tiny[0] and got[0] == 0.0
