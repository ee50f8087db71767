"""The oracle harness of the chainrule.numpy tests, and tests that it can fail.

`check(fn, *arrays)` runs `fn(xp, *arrays)` with `xp = numpy` (the oracle)
and with `xp = chainrule.numpy` in three ways: eagerly on the arrays, traced
under `cr.jit`, and define-then-run through `cr.placeholder` + `cr.function`.
All three must agree with NumPy in dtype, shape and value (bit-exact, or
within the given tolerance), and the traced graph must round-trip through its
text form. The other numpy test modules import it from here.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.testing import assert_roundtrip, assert_same

MODES = ("eager", "jit", "function")

# The backend the symbolic modes compile with: the reference interpreter, so a failure here is the
# frontend's (test_numpy_backends.py covers llvm and jax), or the one this variable names
# (CHAINRULE_NUMPY_TEST_BACKEND=llvm runs the whole chainrule.numpy suite on native code).
BACKEND = os.environ.get("CHAINRULE_NUMPY_TEST_BACKEND") or "reference"

# Composites of several rounded ops differ from NumPy's libm by a few ulp.
DEFAULT_TOL = {np.dtype(np.float32): (2e-6, 1e-6), np.dtype(np.float64): (1e-13, 1e-13)}


def _leaves(x):
    return cr.tree.flatten(x)[0]


def _tol(want, rtol, atol):
    if rtol is None and atol is None:
        return DEFAULT_TOL.get(np.asarray(want).dtype, (0.0, 0.0))
    return rtol or 0.0, atol or 0.0


def compare(got, want, rtol=None, atol=None, what="result"):
    """Pytrees of arrays: same structure, then `assert_same` on every leaf."""
    gl, gt = cr.tree.flatten(got)
    wl, wt = cr.tree.flatten(want)
    assert len(gl) == len(wl), f"{what}: {len(gl)} results, expected {len(wl)} ({gt} vs {wt})"
    for i, (g, w) in enumerate(zip(gl, wl)):
        assert not isinstance(g, cr.Tensor), f"{what}[{i}]: a symbolic tensor came back where an array was due"
        w = np.asarray(w)
        r, a = _tol(w, rtol, atol)
        assert_same(np.asarray(g), w, rtol=r, atol=a, what=f"{what}[{i}]")


def check(fn, *args, rtol=None, atol=None, modes=MODES, want=None, backend=None):
    """Run `fn(xp, *args)` on NumPy and on chainrule.numpy in every mode; compare.

    Returns the graph traced by `cr.jit(...).lower`, already round-tripped.
    """
    if want is None:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's "mean of empty slice" and the like
            want = fn(np, *args)
    graph = None
    if "eager" in modes:
        compare(fn(cnp, *args), want, rtol, atol, "eager")
    if "jit" in modes:
        jitted = cr.jit(lambda *a: fn(cnp, *a), backend=backend or BACKEND)
        compare(jitted(*args), want, rtol, atol, "jit")
        graph = jitted.lower(*args).graph
        assert_roundtrip(graph)
    if "function" in modes:
        phs = [cr.placeholder(np.shape(a), np.asarray(a).dtype, name=f"x{i}") for i, a in enumerate(args)]
        out = fn(cnp, *phs)
        f = cr.function(phs, out, backend=backend or BACKEND)
        compare(f(*args), want, rtol, atol, "function")
        assert_roundtrip(f.graph)
    return graph


def rand(rng, shape, dtype=np.float64, low=-3.0, high=3.0):
    """A random array; ints in [low, high], bools half true."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype.kind == "i":
        return rng.integers(int(low), int(high), size=shape, endpoint=True).astype(dtype)
    return rng.uniform(low, high, size=shape).astype(dtype)


# --- the harness catches wrong answers --------------------------------------------------------

def test_check_passes_on_agreement(rng):
    x = rand(rng, (3, 4), np.float32)
    g = check(lambda xp, x: xp.sum(x * 2.0, axis=1), x)
    assert g is not None and any(n.op.name == "reduce" for n in g.nodes)


def test_check_fails_on_wrong_value(rng):
    x = rand(rng, (5,))
    with pytest.raises(AssertionError, match="differ"):
        check(lambda xp, x: xp.sin(x) if xp is np else cnp.cos(x), x)


def test_check_fails_on_wrong_dtype(rng):
    x = rand(rng, (5,), np.int32)
    with pytest.raises(AssertionError, match="dtype"):
        check(lambda xp, x: x + 1 if xp is np else cnp.astype(x, np.int64) + 1, x)


def test_check_fails_on_wrong_shape(rng):
    x = rand(rng, (2, 3))
    with pytest.raises(AssertionError, match="shape"):
        check(lambda xp, x: xp.sum(x, axis=0) if xp is np else cnp.sum(x, axis=1), x)
