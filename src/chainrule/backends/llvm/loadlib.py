"""Load a shared library from bytes in memory, so exactly the bytes that were checked run.

Why: hashing a file and then dlopen-ing it by path lets the file be swapped in between. The
bytes go to an anonymous memfd (sealed against changes where the kernel allows), dlopen-ed
through /proc/self/fd/N; the fd is closed after (the mapping keeps the memory). dlopen knows a
library by the path string it was given and would hand back an old library for a reused
/proc/self/fd/N, so every load spells that path differently (`/./` and `//` steps that count
the loads): no fd is held per library. Without memfd (or where a memfd may not be mapped
executable) the bytes go to a fresh private temporary directory, removed once loaded.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import shutil
import tempfile

from ...fileio import write_all

_loads = itertools.count(1)  # next() is atomic under the GIL


def _unique_fd_path(fd: int) -> str:
    """/proc/self/fd/<fd>, spelled uniquely for this load: one "/." (bit 1) or "//" (bit 0) per bit of a counter."""
    n = next(_loads)
    return "/proc/self/fd" + "".join("/." if n >> i & 1 else "//" for i in range(n.bit_length())) + f"/{fd}"


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
        return ctypes.CDLL(_unique_fd_path(fd))
    except OSError:
        return None
    finally:
        os.close(fd)


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
