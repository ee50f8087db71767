"""Elementwise chainrule.numpy functions against NumPy: eager, jit and define-then-run."""

from __future__ import annotations

import numpy as np
import pytest

from test_numpy_harness import check, rand

FLOATS = (np.float32, np.float64)
NUMERIC = (np.int32, np.int64, np.float32, np.float64)
SHAPES = ((), (5,), (2, 3))

# name -> (domain low, high); functions that take any real number use (-3, 3)
UNARY_FLOAT = {
    "sqrt": (0.0, 9.0), "exp": (-5.0, 5.0), "expm1": (-2.0, 2.0), "log": (0.01, 9.0),
    "log1p": (-0.9, 9.0), "log2": (0.01, 9.0), "log10": (0.01, 9.0), "sin": (-6.0, 6.0),
    "cos": (-6.0, 6.0), "tan": (-1.4, 1.4), "arcsin": (-0.99, 0.99), "arccos": (-0.99, 0.99),
    "arctan": (-9.0, 9.0), "sinh": (-4.0, 4.0), "cosh": (-4.0, 4.0), "tanh": (-4.0, 4.0),
    "arcsinh": (-9.0, 9.0), "arccosh": (1.01, 9.0), "arctanh": (-0.95, 0.95),
    "exp2": (-5.0, 5.0), "deg2rad": (-360.0, 360.0), "rad2deg": (-6.0, 6.0), "cbrt": (-9.0, 9.0),
    "sinc": (-3.0, 3.0), "reciprocal": (0.5, 4.0), "radians": (-360.0, 360.0), "degrees": (-6.0, 6.0),
}

# Composites that accumulate rounding through several ops get a looser bound
LOOSE = {"arcsin", "arccos", "arcsinh", "arccosh", "arctanh", "sinh", "cosh", "cbrt", "sinc", "exp2",
         "log2", "log10", "tan"}


@pytest.mark.parametrize("name", sorted(UNARY_FLOAT))
@pytest.mark.parametrize("dtype", FLOATS)
def test_unary_float(name, dtype, rng):
    lo, hi = UNARY_FLOAT[name]
    x = rand(rng, (3, 4), dtype, lo, hi)
    tol = dict(rtol=2e-6 if dtype == np.float32 else 1e-13, atol=1e-6 if dtype == np.float32 else 1e-13)
    if name in LOOSE:
        tol = dict(rtol=1e-5 if dtype == np.float32 else 1e-12, atol=2e-6 if dtype == np.float32 else 1e-12)
    check(lambda xp, x: getattr(xp, name)(x), x, **tol)


@pytest.mark.parametrize("name", ["sqrt", "exp", "log1p", "sin", "arctan", "tanh", "log2", "cbrt", "rint"])
@pytest.mark.parametrize("dtype", (np.int32, np.int64))
def test_unary_float_of_ints_gives_float64(name, dtype, rng):
    x = rand(rng, (4,), dtype, 0, 5)
    check(lambda xp, x: getattr(xp, name)(x), x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["sqrt", "exp", "sin", "tanh"])
def test_unary_float_of_bools_gives_float16(name):
    # NumPy gives float16 (a chainrule dtype too)
    x = np.array([True, False, True])
    want = getattr(np, name)(x)
    assert want.dtype == np.float16
    check(lambda xp, x: getattr(xp, name)(x), x, want=want, rtol=1e-6)


UNARY_NUMERIC = ["abs", "absolute", "negative", "positive", "square", "sign", "floor", "ceil", "trunc", "fix"]


@pytest.mark.parametrize("name", UNARY_NUMERIC)
@pytest.mark.parametrize("dtype", NUMERIC)
@pytest.mark.parametrize("shape", SHAPES)
def test_unary_numeric(name, dtype, shape, rng):
    x = rand(rng, shape, dtype, -5, 5)
    if np.dtype(dtype).kind == "f" and x.size:
        x.reshape(-1)[0] = 2.5  # rounding half to even
    check(lambda xp, x: getattr(xp, name)(x), x)


@pytest.mark.parametrize("dtype", FLOATS)
def test_rint(dtype):
    check(lambda xp, x: xp.rint(x), np.array([0.5, 1.5, 2.5, -0.5, -2.5, 3.7, -0.0], dtype))


@pytest.mark.parametrize("decimals", [0, 1, 2, -1])
@pytest.mark.parametrize("dtype", FLOATS)
def test_round(decimals, dtype, rng):
    x = rand(rng, (10,), dtype, -50, 50)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    check(lambda xp, x: xp.round(x, decimals), x, rtol=tol, atol=tol)


BINARY_ARITH = ["add", "subtract", "multiply", "maximum", "minimum", "fmax", "fmin"]
BROADCAST_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (5,)), ((4, 1), ())]


@pytest.mark.parametrize("name", BINARY_ARITH)
@pytest.mark.parametrize("dtype", NUMERIC)
@pytest.mark.parametrize("shapes", BROADCAST_PAIRS)
def test_binary_arith(name, dtype, shapes, rng):
    x, y = rand(rng, shapes[0], dtype, -9, 9), rand(rng, shapes[1], dtype, -9, 9)
    check(lambda xp, x, y: getattr(xp, name)(x, y), x, y)


@pytest.mark.parametrize("name", ["divide", "true_divide", "floor_divide", "remainder", "mod", "fmod"])
@pytest.mark.parametrize("dtype", NUMERIC)
def test_division_family(name, dtype, rng):
    x = rand(rng, (4, 6), dtype, -20, 20)
    y = rand(rng, (6,), dtype, -5, 5)
    y[y == 0] = 3
    check(lambda xp, x, y: getattr(xp, name)(x, y), x, y, rtol=1e-6 if dtype == np.float32 else 1e-14)


@pytest.mark.parametrize("name", ["floor_divide", "remainder"])
def test_integer_division_by_zero_gives_zero(name):
    x = np.array([7, -7, 0, 5], np.int64)
    y = np.array([0, 0, 0, 2], np.int64)
    check(lambda xp, x, y: getattr(xp, name)(x, y), x, y)


def test_float_floor_divide_and_mod_edge_values():
    x = np.array([7.0, -7.0, 7.0, -7.0, 0.5, -0.0, 1.0, np.inf, 3.0], np.float64)
    y = np.array([2.0, 2.0, -2.0, -2.0, 0.1, 2.0, 0.0, 2.0, np.inf])
    check(lambda xp, x, y: (xp.floor_divide(x, y), xp.remainder(x, y), xp.fmod(x, y)), x, y)


@pytest.mark.parametrize("dtype", NUMERIC)
def test_power(dtype, rng):
    if np.dtype(dtype).kind == "i":
        x, y = rand(rng, (6,), dtype, -4, 4), rand(rng, (6,), dtype, 0, 5)
        check(lambda xp, x, y: xp.power(x, y), x, y)
    else:
        x, y = rand(rng, (6,), dtype, 0.1, 4), rand(rng, (6,), dtype, -3, 3)
        check(lambda xp, x, y: xp.power(x, y), x, y, rtol=1e-6 if dtype == np.float32 else 1e-14)


@pytest.mark.parametrize("name", ["arctan2", "hypot", "logaddexp", "logaddexp2", "copysign", "heaviside"])
@pytest.mark.parametrize("dtype", FLOATS)
def test_binary_float(name, dtype, rng):
    x, y = rand(rng, (3, 5), dtype, -4, 4), rand(rng, (5,), dtype, -4, 4)
    x[0, 0], y[1] = 0.0, 0.0
    tol = 1e-5 if dtype == np.float32 else 1e-12
    check(lambda xp, x, y: getattr(xp, name)(x, y), x, y, rtol=tol, atol=tol)


def test_logaddexp_extremes():
    x = np.array([-np.inf, np.inf, 0.0, 1000.0, -1000.0, np.inf])
    y = np.array([-np.inf, 1.0, 0.0, 1000.0, -1001.0, -np.inf])
    check(lambda xp, x, y: xp.logaddexp(x, y), x, y, rtol=1e-15)


COMPARE = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]


@pytest.mark.parametrize("name", COMPARE)
@pytest.mark.parametrize("dtype", (np.bool_, np.int32, np.float32, np.float64))
def test_comparisons(name, dtype, rng):
    x, y = rand(rng, (4, 3), dtype, -2, 2), rand(rng, (3,), dtype, -2, 2)
    if np.dtype(dtype).kind == "f":
        x[0, 0] = np.nan
    check(lambda xp, x, y: getattr(xp, name)(x, y), x, y)


@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
@pytest.mark.parametrize("dtype", (np.bool_, np.int32, np.float64))
def test_logical_binary(name, dtype, rng):
    x, y = rand(rng, (4, 3), dtype, -1, 1), rand(rng, (4, 3), dtype, -1, 1)
    check(lambda xp, x, y: getattr(xp, name)(x, y), x, y)


@pytest.mark.parametrize("dtype", (np.bool_, np.int32, np.float64))
def test_logical_not(dtype, rng):
    check(lambda xp, x: xp.logical_not(x), rand(rng, (7,), dtype, -1, 1))


@pytest.mark.parametrize("name", ["bitwise_and", "bitwise_or", "bitwise_xor"])
@pytest.mark.parametrize("dtype", (np.bool_, np.int32, np.int64))
def test_bitwise(name, dtype, rng):
    x, y = rand(rng, (6,), dtype, -50, 50), rand(rng, (6,), dtype, -50, 50)
    check(lambda xp, x, y: getattr(xp, name)(x, y), x, y)
    check(lambda xp, x: xp.invert(x), x)


SPECIAL = np.array([0.0, -0.0, 1.5, -2.0, np.nan, np.inf, -np.inf, 1e300])


@pytest.mark.parametrize("name", ["isfinite", "isnan", "isinf", "isposinf", "isneginf", "signbit"])
@pytest.mark.parametrize("dtype", FLOATS)
def test_predicates(name, dtype):
    with np.errstate(over="ignore"):
        x = SPECIAL.astype(dtype)
    check(lambda xp, x: getattr(xp, name)(x), x)


@pytest.mark.parametrize("name", ["isfinite", "isnan", "isinf"])
def test_predicates_of_ints(name):
    check(lambda xp, x: getattr(xp, name)(x), np.array([1, -2, 0], np.int32))


@pytest.mark.parametrize("dtype", FLOATS)
def test_nan_to_num(dtype):
    x = SPECIAL.astype(dtype) if dtype == np.float64 else np.array([0.0, np.nan, np.inf, -np.inf, 2.0], dtype)
    check(lambda xp, x: xp.nan_to_num(x), x)
    check(lambda xp, x: xp.nan_to_num(x, nan=-1.0, posinf=9.0, neginf=-9.0), x)


@pytest.mark.parametrize("dtype", NUMERIC)
def test_where(dtype, rng):
    c = rand(rng, (3, 4), np.bool_)
    x, y = rand(rng, (3, 4), dtype), rand(rng, (4,), dtype)
    check(lambda xp, c, x, y: xp.where(c, x, y), c, x, y)
    check(lambda xp, c, x: xp.where(c, x, 0), c, x)
    check(lambda xp, x: xp.where(x > 0, x, -1.5), x)


@pytest.mark.parametrize("dtype", NUMERIC)
def test_clip(dtype, rng):
    x = rand(rng, (3, 4), dtype, -9, 9)
    lo, hi = rand(rng, (4,), dtype, -5, -1), rand(rng, (3, 1), dtype, 1, 5)
    check(lambda xp, x: xp.clip(x, -2, 3), x)
    check(lambda xp, x: xp.clip(x, None, 3), x)
    check(lambda xp, x, lo, hi: xp.clip(x, lo, hi), x, lo, hi)
    check(lambda xp, x: x.clip(-1, 1), x)


def test_select(rng):
    x = rand(rng, (6,))
    check(lambda xp, x: xp.select([x < -1, x > 1], [x * 2, x - 10], default=7.0), x)
    check(lambda xp, x: xp.select([x < 0], [x]), x)


@pytest.mark.parametrize("dtype", (np.int32, np.int64))
def test_round_integers_to_tens(dtype):
    x = np.array([15, 25, -15, -25, 149, 151, 0, 7], dtype)
    check(lambda xp, x: (xp.round(x, -1), xp.round(x, -2), xp.round(x, 2), xp.around(x, -1)), x)
