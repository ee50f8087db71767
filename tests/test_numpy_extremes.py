"""chainrule.numpy at the edges of each dtype, on every backend: accuracy of erfc, composites that must
not overflow or underflow early (hypot, cosh, arccosh, ...), and their derivatives against JAX x64.

Oracles: Python's math module (libm, within an ulp or so in float64; exact after rounding to float32)
and jax with x64. XLA's CPU code flushes subnormal results to zero, so results below the smallest
normal number are allowed to be 0 on the jax backend.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.backends as backends
import chainrule.numpy as cnp

BACKENDS = [b for b in ("reference", "llvm", "jax") if b in backends.available_backends()]
F32, F64 = np.float32, np.float64


def _run(fn, backend, *args):
    """fn jitted on `backend` (64-bit inside jax's scoped x64 context)."""
    out = cr.jit(fn, backend=backend)(*args)
    return tuple(np.asarray(o) for o in out) if isinstance(out, tuple) else np.asarray(out)


def ulps(got, want, dtype):
    """|got - want| in units of the last place of want rounded to dtype (0 where both are equal or NaN)."""
    want = np.asarray(want, np.float64)
    got = np.asarray(got, np.float64)
    spacing = np.spacing(np.abs(want).astype(dtype)).astype(np.float64)
    with np.errstate(invalid="ignore"):
        err = np.abs(got - want) / spacing
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    return np.where(same, 0.0, err)


def assert_ulps(got, want, dtype, max_ulps, backend, x):
    want = np.asarray(want, np.float64)
    got = np.asarray(got, np.float64)
    if backend == "jax":  # XLA's CPU backend flushes subnormal results to zero
        got = np.where((got == 0) & (np.abs(want) < np.finfo(dtype).tiny), want, got)
    err = ulps(got, want, dtype)
    i = int(np.nanargmax(err))
    assert err[i] <= max_ulps, f"{err[i]:.1f} ulp at x={x[i]!r}: got {got[i]!r}, want {want[i]!r}"


# --- erfc: a complementary formula, not 1 - erf -------------------------------------------------------

def _erfc_grid(dtype):
    hi = 27.3 if dtype == F64 else 10.1
    x = np.concatenate([np.linspace(-6.0, hi, 3001), np.geomspace(1e-30, 0.5, 50), [0.5, 1.0, 2.0, 3.5],
                        np.nextafter(np.array([0.5, 1.0, 2.0, 3.5]), 0)]).astype(dtype)
    return x


@pytest.mark.parametrize("backend", BACKENDS)
def test_erfc_within_a_few_ulp(backend):
    # measured with tools/ulp_special.py (4e5 float32 and 1.3e4 float64 points against mpmath): at most
    # 3.0 ulp in float64 and 4.9 in float32; math.erfc adds its own error of about an ulp in float64
    x64 = np.concatenate([_erfc_grid(F64), [6.0, 10.0, 26.5, 27.4, 30.0, 1e300, np.inf, -np.inf, -30.0, 0.0, -0.0,
                                            np.nan]])
    x32 = np.concatenate([_erfc_grid(F32), np.array([4.0, 9.0, np.inf, -np.inf, np.nan], F32)])
    g64, g32 = _run(lambda a, b: (cnp.special.erfc(a), cnp.special.erfc(b)), backend, x64, x32)
    assert g64.dtype == F64 and g32.dtype == F32
    for x, got, dt, tol in ((x64, g64, F64, 5.0), (x32, g32, F32, 6.0)):
        want = np.array([math.erfc(float(v)) for v in x])
        assert_ulps(got, want, dt, tol, backend, x)
    assert g64[np.flatnonzero(x64 == 6.0)[0]] == pytest.approx(2.1519736712498913e-17, rel=1e-15)  # 1 - erf(6) = 0
    assert g32[np.flatnonzero(x32 == 4.0)[0]] == pytest.approx(1.5417257900280018e-08, rel=3e-7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_erfc_derivative(backend):
    # erfc' = -2/sqrt(pi) exp(-x^2), JAX's rule; the composite's derivative is automatic
    x = np.array([-5.0, -1.0, -0.49, 0.0, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 3.5, 6.0, 20.0, 26.0, 27.6, 50.0,
                  np.inf, -np.inf])
    want = np.array([-2 / math.sqrt(math.pi) * math.exp(-v * v) for v in x])
    np.testing.assert_allclose(_run(cr.vmap(cr.grad(cnp.special.erfc)), backend, x), want, rtol=1e-14, atol=0)


def test_erfc_second_derivative():
    x = np.array([-1.0, 0.3, 0.75, 1.5, 3.0, 6.0, 26.0])
    want = np.array([4 / math.sqrt(math.pi) * v * math.exp(-v * v) for v in x])
    np.testing.assert_allclose(_run(cr.vmap(cr.grad(cr.grad(cnp.special.erfc))), "reference", x), want, rtol=1e-12)
