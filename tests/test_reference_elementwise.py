"""Elementwise ops of the reference backend against oracles written here.

The oracles compute each element with Python's `math` and integer arithmetic
(or NumPy directly), never through `chainrule.backends.reference.rules`, and
spell out XLA's integer semantics: wrapping add/multiply, x / 0 = -1,
MIN / -1 = MIN, x % 0 = x, remainder with the dividend's sign, integer power
with negative exponents, saturating float-to-int conversion with NaN -> 0.
"""

import math

import numpy as np
import pytest

from chainrule.testing import assert_same, edge_values, run_op, sample_array
from chainrule.testing import wrap_int as wrap

SHAPES = [(), (5,), (2, 3), (2, 1, 3), (0,), (3, 0, 2), (1, 1)]
FLOATS = ["float32", "float64"]
INTS = ["int32", "int64"]
TOL = {"float32": dict(rtol=4e-6, atol=1e-37), "float64": dict(rtol=1e-13, atol=1e-300)}


def inputs(dt, shape, seed, n=1):
    """n arrays of `shape`; with a shape of 24+ elements every edge value appears."""
    rng = np.random.default_rng(seed)
    return [sample_array(rng, shape, dt) for _ in range(n)]


def edge_grid(dt):
    """Every pair of edge values, as two flat arrays."""
    e = edge_values(dt)
    a, b = np.meshgrid(e, e, indexing="ij")
    return a.reshape(-1), b.reshape(-1)


def per_element(fn, out_dtype, *arrays):
    out = np.empty(arrays[0].shape, dtype=out_dtype)
    for ix in np.ndindex(arrays[0].shape):
        out[ix] = fn(*[a[ix].item() for a in arrays])
    return out




# --- float unary ------------------------------------------------------------------

def _guard(fn, on_value_error=math.nan, on_overflow=math.inf):
    def f(x):
        try:
            return fn(x)
        except ValueError:
            return on_value_error(x) if callable(on_value_error) else on_value_error
        except OverflowError:
            return on_overflow
    return f


def _log(x):
    if x == 0:
        return -math.inf
    return _guard(math.log)(x)


def _log1p(x):
    if x == -1:
        return -math.inf
    return _guard(math.log1p)(x)


def _logistic(x):
    if math.isnan(x):
        return x
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _rsqrt(x):
    if x == 0:
        return math.copysign(math.inf, x)
    if x < 0 or math.isnan(x):
        return math.nan
    return 1.0 / math.sqrt(x) if x != math.inf else 0.0


FLOAT_UNARY = {
    "exponential": _guard(math.exp),
    "exponential_minus_one": _guard(math.expm1),
    "log": _log,
    "log_plus_one": _log1p,
    "sqrt": _guard(math.sqrt),
    "rsqrt": _rsqrt,
    "sine": _guard(math.sin),
    "cosine": _guard(math.cos),
    "tan": _guard(math.tan),
    "tanh": math.tanh,
    "logistic": _logistic,
    "erf": math.erf,
}
# Correctly rounded in IEEE arithmetic, so compared bit-exactly.
EXACT_FLOAT_UNARY = {
    "negate": lambda x: -x,
    "abs": abs,
    "sign": lambda x: x if (x == 0 or math.isnan(x)) else math.copysign(1.0, x),
    "floor": lambda x: x if not math.isfinite(x) or x == 0 else math.copysign(float(math.floor(x)), x) if math.floor(x) == 0 else float(math.floor(x)),
    "ceil": lambda x: x if not math.isfinite(x) or x == 0 else math.copysign(float(math.ceil(x)), x) if math.ceil(x) == 0 else float(math.ceil(x)),
    "round_nearest_even": lambda x: x if not math.isfinite(x) or x == 0 else math.copysign(float(round(x)), x),
    "sqrt": _guard(math.sqrt),
}


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("op", sorted(FLOAT_UNARY))
def test_float_unary(op, dt):
    fn = FLOAT_UNARY[op]
    for k, shape in enumerate(SHAPES + [(len(edge_values(dt)),)]):
        (x,) = inputs(dt, shape, k)
        if shape == (len(edge_values(dt)),):
            x = edge_values(dt)
        if op in ("exponential", "exponential_minus_one", "sine", "cosine", "tan"):
            x = np.where(np.abs(x) > 1e6, np.float64(0.5).astype(dt), x).astype(dt)  # keep libm argument reduction out
        with np.errstate(all="ignore"):
            want = per_element(fn, np.float64, x).astype(dt)
        (got,) = run_op(op, x)
        assert_same(got, want, **TOL[dt], what=f"{op}({dt}{list(shape)})")


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("op", sorted(EXACT_FLOAT_UNARY))
def test_float_unary_exact(op, dt):
    fn = EXACT_FLOAT_UNARY[op]
    for k, shape in enumerate(SHAPES):
        (x,) = inputs(dt, shape, k)
        for arr in (x, edge_values(dt)):
            with np.errstate(all="ignore"):
                want = per_element(fn, np.float64, arr).astype(dt)
            (got,) = run_op(op, arr)
            assert_same(got, want, what=f"{op}({dt}{list(arr.shape)})")


@pytest.mark.parametrize("dt", FLOATS)
def test_float_unary_edge_table(dt):
    f = lambda *v: np.array(v, dtype=dt)  # noqa: E731
    cases = {
        "round_nearest_even": (f(0.5, 1.5, 2.5, -0.5, -2.5, -0.0, 3.5, 0.49999997), f(0.0, 2.0, 2.0, -0.0, -2.0, -0.0, 4.0, 0.0)),
        "sign": (f(-0.0, 0.0, -3.0, np.inf, np.nan, 1e-40), f(-0.0, 0.0, -1.0, 1.0, np.nan, 1.0)),
        "floor": (f(-0.5, 0.5, -0.0, -1.0, np.inf), f(-1.0, 0.0, -0.0, -1.0, np.inf)),
        "ceil": (f(-0.5, 0.5, -0.0, 1.0, -np.inf), f(-0.0, 1.0, -0.0, 1.0, -np.inf)),
        "sqrt": (f(-0.0, 4.0, -1.0, np.inf), f(-0.0, 2.0, np.nan, np.inf)),
        "rsqrt": (f(0.0, -0.0, 4.0, np.inf), f(np.inf, -np.inf, 0.5, 0.0)),
        "log": (f(0.0, -0.0, -1.0, 1.0, np.inf), f(-np.inf, -np.inf, np.nan, 0.0, np.inf)),
        "logistic": (f(-np.inf, np.inf, 0.0, np.nan), f(0.0, 1.0, 0.5, np.nan)),
        "exponential": (f(-np.inf, 0.0, np.inf), f(0.0, 1.0, np.inf)),
        "abs": (f(-0.0, -np.inf, np.nan), f(0.0, np.inf, np.nan)),
        "negate": (f(0.0, -0.0), f(-0.0, 0.0)),
        "tanh": (f(-np.inf, -0.0, 1e30), f(-1.0, -0.0, 1.0)),
        "erf": (f(-np.inf, -0.0, np.inf), f(-1.0, -0.0, 1.0)),
    }
    for op, (x, want) in cases.items():
        (got,) = run_op(op, x)
        assert_same(got, want, what=op)


@pytest.mark.parametrize("dt", FLOATS)
def test_is_finite(dt):
    x = edge_values(dt)
    (got,) = run_op("is_finite", x)
    assert_same(got, np.array([math.isfinite(v) for v in x.tolist()], dtype=bool))
    (got,) = run_op("is_finite", np.zeros((2, 0), dt))
    assert got.shape == (2, 0) and got.dtype == np.bool_


# --- integer and bool unary -------------------------------------------------------------

INT_UNARY = {
    "negate": lambda v: -v,
    "abs": abs,
    "sign": lambda v: (v > 0) - (v < 0),
    "not": lambda v: ~v,
}


@pytest.mark.parametrize("dt", INTS)
@pytest.mark.parametrize("op", sorted(INT_UNARY))
def test_int_unary_wraps(op, dt):
    fn = INT_UNARY[op]
    for k, shape in enumerate(SHAPES):
        (x,) = inputs(dt, shape, k)
        for arr in (x, edge_values(dt)):
            want = per_element(lambda v: wrap(fn(v), dt), dt, arr)
            (got,) = run_op(op, arr)
            assert_same(got, want, what=f"{op}({dt}{list(arr.shape)})")
    lo = np.iinfo(dt).min
    assert run_op("negate", np.array(lo, dt))[0] == lo  # -MIN wraps to MIN
    assert run_op("abs", np.array(lo, dt))[0] == lo


def test_bool_not():
    x = np.array([[True, False], [False, False]])
    (got,) = run_op("not", x)
    assert_same(got, np.array([[False, True], [True, True]]))


# --- binary -------------------------------------------------------------------------------

def _int_div(x, y):
    if y == 0:
        return -1
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y >= 0) else -q


def _int_rem(x, y):
    if y == 0:
        return x
    return x - y * _int_div(x, y)


def _int_pow(x, y, dt):
    if y < 0:
        if x == 1:
            return 1
        if x == -1:
            return 1 if y % 2 == 0 else -1
        return 0
    bits = np.dtype(dt).itemsize * 8
    return pow(x, y, 1 << bits)


INT_BINARY = {
    "add": lambda x, y, dt: x + y,
    "subtract": lambda x, y, dt: x - y,
    "multiply": lambda x, y, dt: x * y,
    "divide": lambda x, y, dt: _int_div(x, y),
    "remainder": lambda x, y, dt: _int_rem(x, y),
    "power": _int_pow,
    "maximum": lambda x, y, dt: max(x, y),
    "minimum": lambda x, y, dt: min(x, y),
    "and": lambda x, y, dt: x & y,
    "or": lambda x, y, dt: x | y,
    "xor": lambda x, y, dt: x ^ y,
}


@pytest.mark.parametrize("dt", INTS)
@pytest.mark.parametrize("op", sorted(INT_BINARY))
def test_int_binary(op, dt):
    fn = INT_BINARY[op]
    cases = [tuple(inputs(dt, s, k, 2)) for k, s in enumerate(SHAPES)] + [edge_grid(dt)]
    for x, y in cases:
        want = per_element(lambda a, b: wrap(fn(a, b, dt), dt), dt, x, y)
        (got,) = run_op(op, x, y)
        assert_same(got, want, what=f"{op}({dt}{list(x.shape)})")


@pytest.mark.parametrize("dt", INTS)
def test_int_division_edge_table(dt):
    lo = int(np.iinfo(dt).min)
    a = lambda *v: np.array(v, dtype=dt)  # noqa: E731
    x, y = a(7, -7, 7, -7, 5, lo, lo, 0), a(2, 2, -2, -2, 0, -1, 1, 0)
    assert_same(run_op("divide", x, y)[0], a(3, -3, -3, 3, -1, lo, lo, -1))
    assert_same(run_op("remainder", x, y)[0], a(1, -1, 1, -1, 5, 0, 0, 0))
    assert_same(run_op("power", a(2, -2, 3, 1, -1, -1, 0, 2), a(10, 3, -1, -5, -3, -4, 0, 62 if dt == "int64" else 31))[0],
                a(1024, -8, 0, 1, -1, 1, 1, 1 << 62 if dt == "int64" else lo))


def _nan_max(x, y):
    return math.nan if math.isnan(x) or math.isnan(y) else max(x, y)


def _nan_min(x, y):
    return math.nan if math.isnan(x) or math.isnan(y) else min(x, y)


def _fdiv(x, y):
    if y == 0:
        if x == 0 or math.isnan(x):
            return math.nan
        return math.copysign(math.inf, x) * math.copysign(1.0, y)
    return x / y


def _odd_integer(y):
    return math.isfinite(y) and float(y).is_integer() and y % 2 == 1


def _fpow(x, y):
    """C99 pow, which XLA follows: pow(-inf, 0.5) = inf, pow(-0.0, -1) = -inf."""
    try:
        return math.pow(x, y)
    except ValueError:  # zero to a negative power, or a negative base to a non-integer power
        if x == 0:
            return -math.inf if _odd_integer(y) and math.copysign(1.0, x) < 0 else math.inf
        return math.nan
    except OverflowError:
        return -math.inf if x < 0 and _odd_integer(y) else math.inf


FLOAT_BINARY_EXACT = {
    "add": lambda x, y: x + y,
    "subtract": lambda x, y: x - y,
    "multiply": lambda x, y: x * y,
    "divide": _fdiv,
    "remainder": _guard(lambda x, y: math.fmod(x, y)),
    "maximum": _nan_max,
    "minimum": _nan_min,
}


def _guard2(fn):
    def f(x, y):
        try:
            return fn(x, y)
        except ValueError:
            return math.nan
    return f


FLOAT_BINARY_EXACT["remainder"] = _guard2(math.fmod)
FLOAT_BINARY_TOL = {"power": _fpow, "atan2": math.atan2}


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("op", sorted(FLOAT_BINARY_EXACT) + sorted(FLOAT_BINARY_TOL))
def test_float_binary(op, dt):
    fn = FLOAT_BINARY_EXACT.get(op) or FLOAT_BINARY_TOL[op]
    tol = {} if op in FLOAT_BINARY_EXACT else TOL[dt]
    cases = [tuple(inputs(dt, s, k, 2)) for k, s in enumerate(SHAPES)] + [edge_grid(dt)]
    for x, y in cases:
        with np.errstate(all="ignore"):
            want = per_element(fn, np.float64, x, y).astype(dt)
        (got,) = run_op(op, x, y)
        if op in ("maximum", "minimum"):  # which zero max(-0.0, 0.0) returns is not specified
            got, want = got + np.zeros((), dt), want + np.zeros((), dt)
        assert_same(got, want, **tol, what=f"{op}({dt}{list(x.shape)})")


@pytest.mark.parametrize("dt", FLOATS)
def test_float_binary_edge_table(dt):
    a = lambda *v: np.array(v, dtype=dt)  # noqa: E731
    x, y = a(-5.0, 5.0, -0.0, 5.5, np.inf, 1.0), a(3.0, -3.0, 2.0, np.inf, 2.0, 0.0)
    assert_same(run_op("remainder", x, y)[0], a(-2.0, 2.0, -0.0, 5.5, np.nan, np.nan))
    assert_same(run_op("divide", a(1.0, -1.0, 0.0, 1.0), a(0.0, 0.0, 0.0, -0.0))[0], a(np.inf, -np.inf, np.nan, -np.inf))
    assert_same(run_op("power", a(0.0, -0.0, np.nan, 1.0, -8.0, -2.0, 2.0), a(-1.0, -1.0, 0.0, np.nan, 1 / 3, 3.0, 0.5))[0],
                a(np.inf, -np.inf, 1.0, 1.0, np.nan, -8.0, math.sqrt(2.0)))
    assert_same(run_op("maximum", a(np.nan, 1.0), a(1.0, np.nan))[0], a(np.nan, np.nan))
    assert_same(run_op("minimum", a(np.nan, -np.inf), a(1.0, 3.0))[0], a(np.nan, -np.inf))
    assert_same(run_op("atan2", a(0.0, -0.0, 1.0, np.inf), a(-1.0, -1.0, 0.0, np.inf))[0],
                a(math.pi, -math.pi, math.pi / 2, math.pi / 4), **TOL[dt])


BOOL_BINARY = {"and": lambda x, y: x and y, "or": lambda x, y: x or y, "xor": lambda x, y: x != y,
               "maximum": lambda x, y: x or y, "minimum": lambda x, y: x and y}


@pytest.mark.parametrize("op", sorted(BOOL_BINARY))
def test_bool_binary(op):
    x, y = np.array([False, False, True, True]), np.array([False, True, False, True])
    want = np.array([BOOL_BINARY[op](a, b) for a, b in zip(x.tolist(), y.tolist())])
    assert_same(run_op(op, x, y)[0], want)
    assert_same(run_op(op, x.reshape(2, 2), y.reshape(2, 2))[0], want.reshape(2, 2))


# --- compare, select, clamp ---------------------------------------------------------------

DIRECTIONS = {"EQ": lambda a, b: a == b, "NE": lambda a, b: a != b, "LT": lambda a, b: a < b,
              "LE": lambda a, b: a <= b, "GT": lambda a, b: a > b, "GE": lambda a, b: a >= b}


@pytest.mark.parametrize("dt", ["bool"] + INTS + FLOATS)
@pytest.mark.parametrize("direction", sorted(DIRECTIONS))
def test_compare(direction, dt):
    fn = DIRECTIONS[direction]
    cases = [tuple(inputs(dt, s, k, 2)) for k, s in enumerate(SHAPES)] + [edge_grid(dt)]
    for x, y in cases:
        want = per_element(fn, np.bool_, x, y)
        assert_same(run_op("compare", x, y, direction=direction)[0], want, what=f"compare {direction} {dt}")


def test_compare_nan_and_signed_zero():
    x = np.array([np.nan, np.nan, -0.0])
    y = np.array([np.nan, 1.0, 0.0])
    assert_same(run_op("compare", x, y, direction="EQ")[0], np.array([False, False, True]))
    assert_same(run_op("compare", x, y, direction="NE")[0], np.array([True, True, False]))
    assert_same(run_op("compare", x, y, direction="LT")[0], np.array([False, False, False]))


@pytest.mark.parametrize("dt", ["bool"] + INTS + FLOATS)
def test_select(dt):
    for k, shape in enumerate(SHAPES):
        x, y = inputs(dt, shape, k, 2)
        p = np.random.default_rng(k).random(shape) < 0.5
        want = per_element(lambda c, a, b: a if c else b, dt, p, x, y)
        assert_same(run_op("select", p, x, y)[0], want, what=f"select {dt}{list(shape)}")


@pytest.mark.parametrize("dt", INTS + FLOATS)
def test_clamp(dt):
    is_f = dt in FLOATS
    for k, shape in enumerate(SHAPES):
        lo, x, hi = inputs(dt, shape, k, 3)
        if is_f:
            fn = lambda a, v, b: _nan_min(_nan_max(v, a), b)  # noqa: E731
        else:
            fn = lambda a, v, b: min(max(v, a), b)  # noqa: E731
        want = per_element(fn, dt, lo, x, hi)
        got = run_op("clamp", lo, x, hi)[0]
        if is_f:
            got, want = got + np.zeros((), dt), want + np.zeros((), dt)
        assert_same(got, want, what=f"clamp {dt}{list(shape)}")


# --- convert ----------------------------------------------------------------------------------

def _convert_one(v, src, dst):
    dst = np.dtype(dst)
    if dst == np.bool_:
        return v != 0  # NaN != 0 holds, so NaN converts to true
    if dst.kind == "i":
        if isinstance(v, float):
            if math.isnan(v):
                return 0
            info = np.iinfo(dst)
            if v >= info.max:
                return int(info.max)
            if v <= info.min:
                return int(info.min)
            return int(math.trunc(v))
        return wrap(int(v), dst)
    if isinstance(v, float):
        with np.errstate(over="ignore"):
            return dst.type(v)
    return np.array(int(v), dtype=np.int64).astype(dst)[()]


@pytest.mark.parametrize("dst", ["bool"] + INTS + FLOATS)
@pytest.mark.parametrize("src", ["bool"] + INTS + FLOATS)
def test_convert(src, dst):
    for k, shape in enumerate(SHAPES):
        (x,) = inputs(src, shape, k)
        for arr in (x, edge_values(src)):
            want = per_element(lambda v: _convert_one(v, src, dst), dst, arr)
            got = run_op("convert", arr, dtype=dst)[0]
            assert_same(got, want, what=f"convert {src}{list(arr.shape)} -> {dst}")


def test_convert_saturates_and_zeroes_nan():
    x = np.array([np.nan, np.inf, -np.inf, 3e9, -3e9, -1.9, 1.9, -0.0, 2147483647.0], np.float64)
    assert_same(run_op("convert", x, dtype="int32")[0],
                np.array([0, 2**31 - 1, -2**31, 2**31 - 1, -2**31, -1, 1, 0, 2**31 - 1], np.int32))
    x32 = np.array([2.0**31, 2.0**63, -2.0**63, np.nan], np.float32)
    assert_same(run_op("convert", x32, dtype="int64")[0], np.array([2**31, 2**63 - 1, -2**63, 0], np.int64))
    assert_same(run_op("convert", np.array([2**31 + 5, -2**31 - 1], np.int64), dtype="int32")[0],
                np.array([-2**31 + 5, 2**31 - 1], np.int32))
    assert_same(run_op("convert", np.array([np.nan, -0.0, 0.5]), dtype="bool")[0], np.array([True, False, True]))
