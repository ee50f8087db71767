"""Calling an artifact's native library from Python: ctypes only, no llvmlite.

The library is opened from memory where Linux allows it (memfd), else from
a private temporary file (fixed name: no manifest string reaches a path)
that is removed right after dlopen (the mapping outlives the file). GEMM comes from
NumPy's bundled OpenBLAS through the runtime table, as in the JIT; without
it the library's own blocked GEMM runs (single-threaded, near OpenBLAS's
speed on one core; see backends/llvm/blocked_gemm.py).
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import tempfile
import threading

import numpy as np

from ..backends.common import data_pointer
from .errors import ArtifactError

_CALL = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def _openblas():
    """(library, {slot: address}) of NumPy's bundled OpenBLAS, or (None, {}) (no llvmlite imported)."""
    from ..backends.blas import numpy_openblas
    return numpy_openblas()


def runtime_table(slots, pool=True):
    """A runtime table for the slot names the artifact lists, or None (the built-in GEMM).

    pool: give the library the process's helper-thread pool (backends/threadpool.py); only for
    code that stays loaded for the life of the process, since the helper thread may run it."""
    from ..backends.threadpool import POOL_SLOT_NAME, pool_state
    lib, found = _openblas()
    if not found:
        return None
    found = dict(found, **{POOL_SLOT_NAME: pool_state() if pool else 0})
    table = (ctypes.c_void_p * max(1, len(slots)))()
    for i, s in enumerate(slots):
        table[i] = found.get(s) or 0
    return table


def check_symbol(symbol) -> str:
    """`symbol` if it is a C identifier of at most 128 characters, else ArtifactError."""
    if not isinstance(symbol, str) or not _SYMBOL.fullmatch(symbol):
        raise ArtifactError(f"manifest: the native symbol {str(symbol)[:80]!r} is not a C identifier")
    return symbol


def open_library(data: bytes, symbol: str | None = None):
    """ctypes.CDLL of the library bytes.

    The memfd stays open for the life of the process: dlopen knows libraries by path, and a
    closed descriptor's number (hence its /proc path) could be reused by the next load."""
    if symbol is not None:
        check_symbol(symbol)
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fd = os.memfd_create("chainrule-native")
        try:
            os.write(fd, data)
            return ctypes.CDLL(f"/proc/self/fd/{fd}")
        except OSError:
            os.close(fd)
            raise
    d = tempfile.mkdtemp(prefix="chainrule-load-")
    try:
        path = os.path.join(d, "lib.so")
        with open(path, "wb") as f:
            f.write(data)
        return ctypes.CDLL(path)
    finally:
        shutil.rmtree(d, ignore_errors=True)


class NativeRunner:
    """run(list of checked arrays) -> list of result arrays, through `<symbol>_call`."""

    def __init__(self, info: dict, data: bytes, outputs):
        symbol = check_symbol(info.get("symbol"))
        self.keepalive = None
        if info.get("kind") == "shared-library":
            try:
                lib = open_library(data, symbol)
            except OSError as e:
                raise ArtifactError(f"the native library cannot be loaded here: {e}") from None
            self.keepalive = lib
            try:
                addr = ctypes.cast(getattr(lib, f"{symbol}_call"), ctypes.c_void_p).value
            except AttributeError:
                raise ArtifactError(f"the native library has no symbol {symbol}_call") from None
        elif info.get("kind") == "object":
            from ..backends.llvm.export import load_object  # llvmlite: only for object payloads
            self.keepalive, addr = load_object(data, symbol)
        else:
            raise ArtifactError(f"unknown native payload kind {info.get('kind')!r}")
        self._fn = _CALL(addr)
        # ctypes never unloads a library; MCJIT code dies with its engine, so it gets no pool
        table = runtime_table(info.get("runtime_slots", ()), pool=info.get("kind") == "shared-library")
        self._table = table
        self._rt = ctypes.addressof(table) if table is not None else None
        self.gemm = "openblas" if table is not None else "built-in"
        self._arena = info.get("arena_size", 0)
        if type(self._arena) is not int or not 0 <= self._arena < 1 << 40:
            raise ArtifactError(f"manifest: bad native arena_size {str(self._arena)[:40]!r}")
        self._outs = [(tuple(o["shape"]), np.dtype(o["dtype"])) for o in outputs]
        self._tls = threading.local()

    def _state(self, nargs):
        st = getattr(self._tls, "st", None)
        if st is None:
            argv = (ctypes.c_void_p * max(1, nargs))()
            resv = (ctypes.c_void_p * max(1, len(self._outs)))()
            arena = np.empty(self._arena + 64, np.uint8)
            base = arena.ctypes.data
            st = self._tls.st = (argv, resv, arena, base + (-base % 64))
        return st

    def run(self, args):
        argv, resv, _arena, aligned = self._state(len(args))
        data = data_pointer
        for i, a in enumerate(args):
            argv[i] = data(a)
        outs = [np.empty(s, d) for s, d in self._outs]
        for j, o in enumerate(outs):
            resv[j] = data(o)
        self._fn(ctypes.addressof(argv), ctypes.addressof(resv), aligned, self._rt)
        return outs
