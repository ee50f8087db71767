"""Load a shared library from bytes in memory, so exactly the bytes that were checked run.

Why: hashing a file and then dlopen-ing it by path lets the file be swapped in between. The
bytes go to an anonymous memfd (sealed against changes where the kernel allows) and are
dlopen-ed as /proc/self/fd/N; the fd stays open for the life of the process, since dlopen
knows a library by its path and a closed fd's number would be reused. Without memfd (or
where a memfd may not be mapped executable) they go to a fresh private temporary directory,
removed once loaded (the mapping stays).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import tempfile
import threading

from ...fileio import write_all

_held: list[int] = []  # memfds of loaded libraries, never closed (their /proc paths stay unique)
_held_lock = threading.Lock()


def _seal(fd: int) -> None:
    try:
        import fcntl
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                    fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
    except (ImportError, AttributeError, OSError):
        pass  # an old kernel or Python: the fd is private to this process anyway


def _from_memfd(data: bytes, name: str):
    if not hasattr(os, "memfd_create") or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        fd = os.memfd_create(name, os.MFD_CLOEXEC | getattr(os, "MFD_ALLOW_SEALING", 0))
    except OSError:
        return None
    try:
        write_all(fd, data)
        _seal(fd)
        lib = ctypes.CDLL(f"/proc/self/fd/{fd}")
    except OSError:
        os.close(fd)
        return None
    with _held_lock:
        _held.append(fd)
    return lib


def load_bytes(data: bytes, name: str = "chainrule") -> ctypes.CDLL:
    """ctypes.CDLL of the library `data`; `name` labels it (in /proc/self/maps)."""
    lib = _from_memfd(data, name)
    if lib is not None:
        return lib
    d = tempfile.mkdtemp(prefix="chainrule-load-")  # 0700, a fresh name: never one dlopen already knows
    try:
        path = os.path.join(d, name + ".so")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o700)
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        return ctypes.CDLL(path)
    finally:
        shutil.rmtree(d, ignore_errors=True)


__all__ = ["load_bytes"]
