"""How a backend's results are compared with the reference backend's.

Integer, bool and exactly rounded float results must agree bit for bit (every
NaN equals every NaN). Float results that passed through an inexact op
(`generator.inexact_values`) may differ by a stated tolerance, scaled to the
largest finite magnitude of the result so that cancellation in a later
subtraction is not reported as a bug; NaN and infinities must still sit in
the same places.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from ..testing import bits_equal


def is_float_array(a) -> bool:
    """A NumPy float array, bfloat16 (kind 'V' in NumPy) included."""
    return a.dtype.kind == "f" or a.dtype == np.dtype(ml_dtypes.bfloat16)

# Relative tolerance for results of transcendentals, float dot products and float sums.
# float16/bfloat16 are computed in float32 and rounded once per op: a float32 ulp of difference
# moves a narrow result by at most one of its ulps (2**-10, 2**-7), a few ops by a few.
INEXACT_RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-9, np.dtype(np.float16): 8e-3,
                np.dtype(ml_dtypes.bfloat16): 6e-2}


def describe_difference(got, want, inexact, zero_sign: bool = True) -> str | None:
    """None when `got` matches `want`; else a one-line description of the first differences.

    inexact: False (compare exactly), True (the tolerance of the result's dtype), or the float
    dtype the rounding differences arose in (its tolerance, when coarser than the result's)."""
    got = np.asarray(got)
    want = np.asarray(want)
    if got.dtype != want.dtype:
        return f"dtype {got.dtype}, expected {want.dtype}"
    if got.shape != want.shape:
        return f"shape {got.shape}, expected {want.shape}"
    if got.size == 0:
        return None
    if not is_float_array(want) or not inexact:
        bad = ~bits_equal(got, want, zero_sign)
    else:
        nan_g, nan_w = np.isnan(got), np.isnan(want)
        rtol = INEXACT_RTOL[want.dtype]
        if inexact is not True:
            rtol = max(rtol, INEXACT_RTOL.get(np.dtype(inexact), rtol))
        fin = np.isfinite(want) & np.isfinite(got)
        scale = float(np.max(np.abs(want[np.isfinite(want)]), initial=0.0))
        with np.errstate(all="ignore"):
            diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
            close = diff <= rtol * np.abs(want.astype(np.float64)) + rtol * scale
        bad = (nan_g != nan_w) | (~fin & ~nan_w & (got != want)) | (fin & ~close)
    if not np.any(bad):
        return None
    idx = [tuple(int(i) for i in ix) for ix in np.argwhere(bad)[:3]] if got.ndim else [()]
    parts = ", ".join(f"at {list(ix)}: got {got[ix]!r}, expected {want[ix]!r}" for ix in idx)
    how = "within tolerance" if inexact and is_float_array(want) else "exactly"
    return f"{int(np.sum(bad))} of {got.size} elements differ (compared {how}); {parts}"
