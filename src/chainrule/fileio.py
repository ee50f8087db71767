"""Writing a file all at once: readers see the old file or the whole new one, never a part.

Shared by the compile cache and `export`, and free of chainrule imports so any layer may use it.
The temporary file gets a random name and is created exclusively without following symlinks
(a name planted in the directory, or a symlink there, can neither be written through nor
clobbered), and it is removed on every failure (a full disk, an interrupt) before the error
propagates.
"""

from __future__ import annotations

import os

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def write_all(fd: int, data) -> None:
    """os.write until all of `data` is written (a write may take only part of it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def atomic_write(path, data, *, mode: int = 0o666, dir_fd: int | None = None, fsync: bool = False) -> None:
    """Write `data` to `path` through a fresh temporary file in the same directory, then os.replace.

    `mode` is filtered by the umask, as open() does (0o666: what `open(path, "wb")` would give).
    With `dir_fd`, `path` is a name relative to that open directory. `fsync` flushes the data
    to the disk before the rename (for files a crash must not leave empty)."""
    path = os.fspath(path)
    d, name = os.path.split(path)
    if dir_fd is None:
        d = d or "."
    elif d:
        raise ValueError("with dir_fd, path must be a plain name")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
    for _ in range(100):
        tmp = os.path.join(d, f".{name[:32]}.tmp-{os.urandom(8).hex()}") if dir_fd is None else \
            f".{name[:32]}.tmp-{os.urandom(8).hex()}"
        try:
            fd = os.open(tmp, flags, mode, dir_fd=dir_fd)
            break
        except FileExistsError:  # taken (or planted): draw another name
            continue
    else:
        raise FileExistsError(f"no free temporary name for {path!r}")
    try:
        try:
            write_all(fd, data)
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, name if dir_fd is not None else path, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except OSError:
            pass
        raise


__all__ = ["atomic_write", "write_all"]
