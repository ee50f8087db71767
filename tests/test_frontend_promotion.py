"""Type promotion of chainrule.numpy against NumPy 2 for every pair of dtypes and weak Python scalars.

Only result types are compared (from traced graphs), so the whole table is cheap.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
          np.float16, np.float32, np.float64]  # bfloat16 (JAX's lattice): tests/test_dtypes_promotion.py
WEAK = [True, 2, 2.5]
OPERANDS = [np.dtype(d) for d in DTYPES] + WEAK

BINARY = {
    "add": lambda xp, a, b: xp.add(a, b),
    "multiply": lambda xp, a, b: xp.multiply(a, b),
    "maximum": lambda xp, a, b: xp.maximum(a, b),
    "divide": lambda xp, a, b: xp.divide(a, b),
    "power": lambda xp, a, b: xp.power(a, b),
    "where": lambda xp, a, b: xp.where(True, a, b),
    "equal": lambda xp, a, b: xp.equal(a, b),
    "arctan2": lambda xp, a, b: xp.arctan2(a, b),
    "hypot": lambda xp, a, b: xp.hypot(a, b),
    "logaddexp": lambda xp, a, b: xp.logaddexp(a, b),
    "floor_divide": lambda xp, a, b: xp.floor_divide(a, b),
    "remainder": lambda xp, a, b: xp.remainder(a, b),
    "left_shift": lambda xp, a, b: xp.left_shift(a, b),
    "bitwise_and": lambda xp, a, b: xp.bitwise_and(a, b),
}


def _canonical(d):
    """Every NumPy dtype of DTYPES is a chainrule dtype: nothing is widened any more."""
    return np.dtype(d)


def _numpy_dtype(fn, a, b):
    args = [np.ones(3, x) if isinstance(x, np.dtype) else x for x in (a, b)]
    with np.errstate(all="ignore"):
        try:
            return _canonical(np.asarray(fn(np, *args)).dtype)
        except TypeError:
            return None


def _chainrule_dtype(fn, a, b):
    specs = [cr.Spec((3,), x) for x in (a, b) if isinstance(x, np.dtype)]

    def f(*ts):
        it = iter(ts)
        return fn(cnp, *[next(it) if isinstance(x, np.dtype) else x for x in (a, b)])
    g = cr.trace(f, *specs)
    return g.result_types[0].dtype.np


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_promotion_table(name):
    fn = BINARY[name]
    mismatches = []
    for a, b in itertools.product(OPERANDS, OPERANDS):
        if not isinstance(a, np.dtype) and not isinstance(b, np.dtype):
            continue
        want = _numpy_dtype(fn, a, b)
        if want is None:  # NumPy refuses (e.g. subtract of bools): chainrule must refuse too
            with pytest.raises((TypeError, ValueError)):
                _chainrule_dtype(fn, a, b)
            continue
        got = _chainrule_dtype(fn, a, b)
        if got != want:
            mismatches.append(f"{a!r}, {b!r}: got {got}, NumPy {want}")
    assert not mismatches, f"{name}: " + "; ".join(mismatches)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sum", "prod", "mean", "cumsum", "var", "max", "argmax", "all", "sort", "median",
                                  "count_nonzero", "exp", "sqrt", "abs", "negative", "sign", "floor", "round"])
def test_unary_and_reduction_dtypes(name, dtype):
    fn = getattr(np, name)
    x = np.ones(4, dtype)
    try:
        with np.errstate(all="ignore"):
            want = _canonical(np.asarray(fn(x)).dtype)
    except TypeError:
        with pytest.raises((TypeError, ValueError)):
            cr.trace(getattr(cnp, name), cr.Spec((4,), dtype))
        return
    got = cr.trace(getattr(cnp, name), cr.Spec((4,), dtype)).result_types[0].dtype.np
    assert got == want, f"{name}({np.dtype(dtype)}): got {got}, NumPy {want}"
