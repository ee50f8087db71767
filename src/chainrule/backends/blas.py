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
