"""NumPy's bundled OpenBLAS, found once: GEMM for native code, with no llvmlite import.

Shared by the LLVM backend's runtime and by loading artifacts (whose load path
must stay free of llvmlite). Not a backend itself.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os

import numpy as np

# slot -> symbol; NumPy's wheel ships OpenBLAS built ILP64 with the scipy_ prefix and 64_ suffix
SYMBOLS = {"sgemm": "scipy_cblas_sgemm64_", "dgemm": "scipy_cblas_dgemm64_",
           # OpenBLAS >= 0.3.27: per-thread thread count (optional)
           "blas_threads_local": "openblas_set_num_threads_local"}
# LAPACK routines the llvm backend's linear-algebra kernels call (backends/llvm/lapack.py), per dtype
# (s: float32, d: float64); Fortran ABI with 64-bit integers (ILP64), every argument by reference
LAPACK_ROUTINES = ("potrf", "trsm", "getrf", "geqrf", "orgqr", "syevd", "gesdd", "geev")
# those also called on complex matrices (c: complex64, z: complex128): geev, backends/llvm/lapack_eig.py
COMPLEX_LAPACK_ROUTINES = ("geev",)
LAPACK_SLOTS = tuple(p + r for r in LAPACK_ROUTINES for p in "sd") + tuple(
    p + r for r in COMPLEX_LAPACK_ROUTINES for p in "cz")
SYMBOLS.update({slot: f"scipy_{slot}_64_" for slot in LAPACK_SLOTS})


def lapack_symbol_names(slot: str) -> tuple:
    """The ILP64 names a LAPACK slot is looked up under outside Python (exported C libraries):
    NumPy's and SciPy's bundled OpenBLAS (`scipy_dpotrf_64_`), then OpenBLAS built with
    INTERFACE64 and the `64_` suffix (`dpotrf_64_`, e.g. Debian's libopenblas64)."""
    return (f"scipy_{slot}_64_", f"{slot}_64_")


@functools.lru_cache(maxsize=None)
def numpy_openblas():
    """(library, {slot: address}) of NumPy's bundled OpenBLAS, or (None, {}) when it has none."""
    libdir = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "*openblas*.so*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        found = {}
        for slot, sym in SYMBOLS.items():
            try:
                found[slot] = ctypes.cast(getattr(lib, sym), ctypes.c_void_p).value
            except AttributeError:
                pass
        if "sgemm" in found and "dgemm" in found:
            return lib, found
    return None, {}
