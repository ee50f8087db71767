"""Calling an artifact's native library from Python: ctypes only, no llvmlite.

The library is opened from memory where Linux allows it (memfd), else from
a private temporary file (fixed name, no manifest string in the path) that
is removed right after dlopen (the mapping outlives the file). Libraries
are shared per content hash: a library may have started helper threads of
the pool that run its code (backends/threadpool.py), so it is never
unloaded, and loading the same artifact again reuses it (no new mapping;
no descriptor is kept). Every payload is checked (elf.py) before dlopen
or LLVM sees it. GEMM comes from NumPy's bundled OpenBLAS through the
runtime table, as in the JIT; without it the library's own blocked GEMM
runs (single-threaded, near OpenBLAS's speed on one core; see
backends/llvm/blocked_gemm.py).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import tempfile
import threading

import numpy as np

from ..backends.common import data_pointer
from ..ir import dtype as as_dtype
from . import elf
from .errors import ArtifactError

LAPACK_MISSING = 2  # what `<symbol>_call` returns when a LAPACK routine it calls was not found
_CALL = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
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
    from ..backends.interrupt import armed_state  # listed only by libraries with loops (they poll it)
    lib, found = _openblas()
    if not found:
        return None
    found = dict(found, **{POOL_SLOT_NAME: pool_state() if pool else 0, "interrupt": armed_state(slots)})
    table = (ctypes.c_void_p * max(1, len(slots)))()
    for i, s in enumerate(slots):
        table[i] = found.get(s) or 0
    return table


def check_symbol(symbol) -> str:
    """`symbol` if it is a C identifier of at most 128 characters, else ArtifactError."""
    if not isinstance(symbol, str) or not _SYMBOL.fullmatch(symbol):
        raise ArtifactError(f"manifest: the native symbol {str(symbol)[:80]!r} is not a C identifier")
    return symbol


_lock = threading.Lock()
_libraries: dict = {}   # sha256 of the library bytes -> ctypes.CDLL, for the life of the process
_used_paths: set = set()  # every path dlopen was given: glibc returns the loaded library for a known name


def _dlopen_fresh(path: str):
    _used_paths.add(path)
    return ctypes.CDLL(path)


def _open_memfd(data: bytes):
    """dlopen through /proc/self/fd/N, then close N. The number may come back for a later load,
    so a number whose path was dlopen'ed before is skipped (held open while we dup past it)."""
    fd = os.memfd_create("chainrule-native", getattr(os, "MFD_CLOEXEC", 0))
    held = []
    try:
        view = memoryview(data)
        while view:  # os.write may write less than asked
            view = view[os.write(fd, view):]
        while f"/proc/self/fd/{fd}" in _used_paths:
            held.append(fd)
            fd = os.dup(fd)
        return _dlopen_fresh(f"/proc/self/fd/{fd}")
    finally:
        for f in held + [fd]:
            os.close(f)


def _open_file(data: bytes):
    """dlopen a private copy under a fresh temporary directory, removed right after."""
    while True:
        d = tempfile.mkdtemp(prefix="chainrule-load-")
        path = os.path.join(d, "lib.so")
        if path not in _used_paths:
            break
        os.rmdir(d)
    try:
        with open(path, "wb") as f:
            f.write(data)
        return _dlopen_fresh(path)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def open_library(data: bytes, symbol: str | None = None):
    """ctypes.CDLL of the library bytes, shared with every earlier load of the same bytes.

    The bytes are checked first (elf.check_shared_library: a foreign or damaged file is an
    ArtifactError, not a crash); OSError when dlopen refuses them."""
    if symbol is not None:
        check_symbol(symbol)
    key = hashlib.sha256(data).hexdigest()
    with _lock:
        lib = _libraries.get(key)
        if lib is None:
            if elf.host_uses_elf():
                elf.check_shared_library(data, elf.host_machine())
            if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
                lib = _open_memfd(data)
            else:
                lib = _open_file(data)
            _libraries[key] = lib
        return lib


def check_object(data: bytes, symbol: str) -> None:
    """ArtifactError unless RuntimeDyld can link `data` without crashing: a well-formed object for
    this machine (elf.check_object) whose undefined symbols this process defines."""
    undefined = elf.check_object(data, symbol, elf.host_machine())
    process = ctypes.CDLL(None)
    missing = []
    for name in sorted(undefined):
        try:
            process[name]
        except AttributeError:
            missing.append(name)
    if missing:
        raise ArtifactError(f"the native object code calls {', '.join(missing[:5])}, which this process does not "
                            "define")


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
            check_object(data, symbol)
            from ..backends.llvm.export import load_object  # llvmlite: only for object payloads
            self.keepalive, addr = load_object(data, symbol)
        else:
            raise ArtifactError(f"unknown native payload kind {info.get('kind')!r}")
        self._fn = _CALL(addr)
        # ctypes never unloads a library; MCJIT code dies with its engine, so it gets no pool
        table = runtime_table(info.get("runtime_slots", ()), pool=info.get("kind") == "shared-library")
        self._table = table
        self._rt = ctypes.addressof(table) if table is not None else None
        self._polls = table is not None and "interrupt" in info.get("runtime_slots", ())  # returns 1: interrupted
        self.gemm = "openblas" if table is not None else "built-in"
        self._arena = info.get("arena_size", 0)
        if type(self._arena) is not int or not 0 <= self._arena < 1 << 40:
            raise ArtifactError(f"manifest: bad native arena_size {str(self._arena)[:40]!r}")
        self._outs = [(tuple(o["shape"]), as_dtype(o["dtype"]).np) for o in outputs]
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
        rc = self._fn(ctypes.addressof(argv), ctypes.addressof(resv), aligned, self._rt)
        if rc == LAPACK_MISSING:
            raise ArtifactError("the native library calls LAPACK routines that neither NumPy's OpenBLAS nor the "
                                "library named by CHAINRULE_LAPACK provides (see docs/artifact.md)")
        if rc and self._polls:
            from ..backends.interrupt import interrupted
            interrupted()
        return outs
