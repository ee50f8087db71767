"""Elementwise ops on the llvm backend against the reference backend (the oracle).

Several ops share one compiled graph to keep LLVM compile counts low. Inputs
mix the edge values (NaN, +-inf, -0.0, subnormals, integer limits) with
random values; exact ops must match bit for bit, transcendental ones within
the ulp bounds in ULP.
"""

import numpy as np
import pytest

from chainrule.ir import TensorType
from chainrule.testing import edge_values, sample_array
from op_tables import FLOAT_UNARY, LLVM_ULP

from test_llvm_util import assert_ulp, check_graph, one_op_each, run_both

FLOATS = ["float32", "float64"]
INTS = ["int32", "int64"]

# worst error allowed against NumPy, in ulp of the result (a table the registry test checks)
ULP = {op: bound for op, bound in LLVM_ULP.items() if bound}  # bound 0: exact here (rsqrt)
TRIG = ["sine", "cosine", "tan"]
EXACT_UNARY = [op for op in FLOAT_UNARY if op not in ULP and op != "stop_gradient"]
TRANSCENDENTAL = [op for op in FLOAT_UNARY if op in ULP and op not in TRIG]


pytestmark = pytest.mark.usefixtures("private_llvm_cache")  # compiles land in a fresh cache


def float_inputs(dt, n=4000, seed=0, lo=-40, hi=40):
    rng = np.random.default_rng(seed)
    e = edge_values(dt)
    wide = (rng.standard_normal(n) * np.exp(rng.uniform(lo, hi, n) / 4)).astype(dt)
    unit = rng.uniform(-4, 4, n).astype(dt)
    return np.concatenate([e, wide, unit, -unit]).astype(dt)


@pytest.mark.parametrize("dt", FLOATS)
def test_float_unary(dt):
    x = float_inputs(dt)
    t = rng_trig = np.random.default_rng(1)
    xt = np.concatenate([edge_values(dt)[:17], t.uniform(-1e5, 1e5, 3000), t.uniform(-10, 10, 3000),
                         np.arange(-50, 50) * np.pi]).astype(dt)
    del rng_trig
    T = TensorType(x.shape, dt)
    TT = TensorType(xt.shape, dt)
    ops = [(op, (0,), {}) for op in EXACT_UNARY + TRANSCENDENTAL] + [(op, (1,), {}) for op in TRIG]
    g = one_op_each(f"unary_{dt}", [T, TT], ops)
    tol = {i: ULP[op] for i, (op, _, _) in enumerate(ops) if op in ULP}
    if dt == "float32":
        check_graph(g, [x, xt], tol)
        return
    # float64 trig: Cody-Waite keeps ~100 bits of pi, so next to a zero of sin/cos (x near k*pi)
    # the error is ~2**-100 * |x| in absolute terms rather than a few ulp of a tiny result.
    got, want = run_both(g, [x, xt])
    for i, (gg, ww) in enumerate(zip(got, want)):
        op = ops[i][0]
        if op in TRIG:
            near_zero = np.abs(ww) < 1e-8
            huge = (np.abs(xt) >= 2.0 ** 30) & np.isfinite(xt)  # chunked reduction: ~1e-15 absolute
            slope = 1 + ww[huge] ** 2 if op == "tan" else 1
            assert np.all(np.abs(gg[huge] - ww[huge]) <= 1e-14 * slope), op
            near_zero &= ~huge
            ok = ~near_zero & ~huge
            assert_ulp(gg[ok], ww[ok], ULP[op], op)
            assert np.all(np.abs(gg[near_zero] - ww[near_zero]) <= 2.0 ** -96 * np.maximum(1, np.abs(xt[near_zero]))), op
        elif op in ULP:
            assert_ulp(gg, ww, ULP[op], op)
        else:
            np.testing.assert_array_equal(gg, ww, err_msg=op)


@pytest.mark.parametrize("dt", FLOATS)
def test_float_binary(dt):
    e = edge_values(dt)
    a, b = np.meshgrid(e, e, indexing="ij")
    rng = np.random.default_rng(2)
    ra = rng.uniform(-20, 20, 2000).astype(dt)
    rb = rng.uniform(-20, 20, 2000).astype(dt)
    x = np.concatenate([a.reshape(-1), ra, np.abs(ra)]).astype(dt)
    y = np.concatenate([b.reshape(-1), rb, rb / 7]).astype(dt)
    T = TensorType(x.shape, dt)
    names = ["add", "subtract", "multiply", "divide", "remainder", "power", "maximum", "minimum", "atan2"]
    ops = [(op, (0, 1), {}) for op in names]
    ops += [("compare", (0, 1), {"direction": d}) for d in ("EQ", "NE", "LT", "LE", "GT", "GE")]
    g = one_op_each(f"binary_{dt}", [T, T], ops)
    tol = {i: ULP[op] for i, (op, _, _) in enumerate(ops) if op in ULP and ULP[op]}
    check_graph(g, [x, y], tol)


@pytest.mark.parametrize("dt", FLOATS)
def test_select_clamp_and_signed_zeros(dt):
    x = np.array([-0.0, 0.0, -0.0, 0.0, np.nan, 1.0, np.nan, -np.inf], dtype=dt)
    y = np.array([0.0, -0.0, -0.0, 0.0, 1.0, np.nan, np.nan, np.inf], dtype=dt)
    p = np.array([True, False, True, False, True, False, True, False])
    T, P = TensorType(x.shape, dt), TensorType(x.shape, "bool")
    ops = [("maximum", (0, 1), {}), ("minimum", (0, 1), {}), ("select", (2, 0, 1), {}),
           ("clamp", (1, 0, 1), {}), ("clamp", (0, 1, 0), {}), ("sign", (0,), {}), ("negate", (0,), {})]
    g = one_op_each(f"zeros_{dt}", [T, T, P], ops)
    check_graph(g, [x, y, p])  # bit-exact: -0.0 must stay -0.0 where NumPy keeps it


@pytest.mark.parametrize("dt", INTS)
def test_integer_ops(dt):
    e = edge_values(dt)
    a, b = np.meshgrid(e, e, indexing="ij")
    rng = np.random.default_rng(3)
    x = np.concatenate([a.reshape(-1), rng.integers(-100, 100, 500)]).astype(dt)
    y = np.concatenate([b.reshape(-1), rng.integers(-6, 12, 500)]).astype(dt)
    T = TensorType(x.shape, dt)
    names = ["add", "subtract", "multiply", "divide", "remainder", "power", "maximum", "minimum",
             "and", "or", "xor"]
    ops = [(op, (0, 1), {}) for op in names] + [(op, (0,), {}) for op in ("negate", "abs", "sign", "not")]
    ops += [("compare", (0, 1), {"direction": d}) for d in ("EQ", "NE", "LT", "LE", "GT", "GE")]
    ops += [("clamp", (1, 0, 1), {}), ("select", (2, 0, 1), {})]
    g = one_op_each(f"int_{dt}", [T, T, TensorType(x.shape, "bool")], ops)
    check_graph(g, [x, y, x > y])


def test_bool_ops():
    a, b = np.meshgrid([False, True], [False, True], indexing="ij")
    x, y = a.reshape(-1), b.reshape(-1)
    T = TensorType(x.shape, "bool")
    names = ["and", "or", "xor", "maximum", "minimum"]
    ops = [(op, (0, 1), {}) for op in names] + [("not", (0,), {}), ("select", (0, 1, 0), {})]
    ops += [("compare", (0, 1), {"direction": d}) for d in ("EQ", "NE", "LT", "LE", "GT", "GE")]
    g = one_op_each("bools", [T, T], ops)
    check_graph(g, [x, y])


@pytest.mark.parametrize("src", ["bool", "int32", "int64", "float32", "float64"])
def test_convert_all_pairs(src):
    x = edge_values(src)
    if np.dtype(src).kind == "f":
        x = np.concatenate([x, np.array([2.0 ** 31 - 64, 2.0 ** 62, -2.0 ** 63, 3e9, -3e9, 0.99, -0.99], dtype=src)])
    T = TensorType(x.shape, src)
    dsts = ["bool", "int32", "int64", "float32", "float64"]
    g = one_op_each(f"convert_{src}", [T], [("convert", (0,), {"dtype": d}) for d in dsts])
    check_graph(g, [x])


@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (2, 3, 5)])
def test_shapes_including_empty_and_scalar(shape):
    rng = np.random.default_rng(4)
    x = sample_array(rng, shape, "float32")
    y = sample_array(rng, shape, "float32")
    T = TensorType(shape, "float32")
    ops = [("add", (0, 1), {}), ("tanh", (0,), {}), ("divide", (0, 1), {})]
    g = one_op_each("shapes", [T, T], ops)
    check_graph(g, [x, y], {1: 3})


def test_transcendental_accuracy_dense_float32():
    """exp/log/tanh in float32 over their whole useful range, on a dense grid (ulp bound)."""
    x = np.concatenate([np.linspace(-104, 89, 200001), np.geomspace(1e-38, 3e38, 20001),
                        -np.geomspace(1e-38, 20, 2001)]).astype(np.float32)
    T = TensorType(x.shape, "float32")
    g = one_op_each("dense32", [T], [("exponential", (0,), {}), ("log", (0,), {}), ("tanh", (0,), {}),
                                     ("exponential_minus_one", (0,), {}), ("log_plus_one", (0,), {})])
    got, want = run_both(g, [x])
    for name, gg, ww, bound in zip(["exp", "log", "tanh", "expm1", "log1p"], got, want, [2, 2, 3, 3, 3]):
        assert_ulp(gg, ww, bound, name)


def test_power_special_cases():
    vals = np.array([0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, np.inf, -np.inf, np.nan, 3.0, -3.0, 2.5, -7.0,
                     1e-30, 1e30, 0.9, 1.1, 2.0 ** 24 + 2, 2.0 ** 24 + 1])
    a, b = np.meshgrid(vals, vals, indexing="ij")
    for dt in FLOATS:
        x, y = a.reshape(-1).astype(dt), b.reshape(-1).astype(dt)
        g = one_op_each(f"pow_{dt}", [TensorType(x.shape, dt)] * 2, [("power", (0, 1), {})])
        check_graph(g, [x, y], {0: 1})  # NumPy's float32 power may differ from libm powf by 1 ulp


def test_transcendental_accuracy_dense_float64():
    """float64 exp/log/tanh/expm1/log1p/logistic/erf/atan2 on dense grids over their ranges (ulp bound)."""
    x = np.concatenate([np.linspace(-745, 709, 100001), np.geomspace(1e-300, 1e300, 20001),
                        -np.geomspace(1e-300, 30, 2001), np.linspace(-6, 6, 50001)])
    T = TensorType(x.shape, "float64")
    names = ["exponential", "log", "tanh", "exponential_minus_one", "log_plus_one", "logistic", "erf"]
    g = one_op_each("dense64", [T, T], [(n, (0,), {}) for n in names] + [("atan2", (0, 1), {})])
    y = np.roll(x, 12345)
    got, want = run_both(g, [x, y])
    for name, gg, ww in zip(names + ["atan2"], got, want):
        assert_ulp(gg, ww, ULP[name], name)
