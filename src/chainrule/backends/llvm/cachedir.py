"""The disk cache's directory, opened so that only what this user wrote is ever run.

Why: the cache holds native code that `jit` runs, so whoever can write there can run code
in every process that uses it. The trust model (docs/backends.md) is the one ssh applies to
~/.ssh: the cache is trusted exactly as much as the user's own files.

- The cache root and its `llvm/` directory must be owned by this user and not writable by
  group or others; otherwise the cache is refused (the caller compiles privately). Both are
  checked on the open directory (fstat), and every name inside is opened relative to it with
  O_NOFOLLOW: no path is looked up twice, no symlink is followed below the root.
- Each library carries an HMAC-SHA256, bound to its cache key, made with a per-user random key
  (`llvm/hmac.key`, 0600). A library swapped in by someone who can replace files but cannot
  read the key (a recomputed plain sha256 does not help) is refused, and so is a valid entry
  moved to another key's name.
- Not defended: another process of the same user (or root) can read the key and plant code.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
import stat

KEY_NAME = "hmac.key"
KEY_BYTES = 32
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_READ_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)


class Refused(Exception):
    """The directory exists but is not trusted (the message says why and how to fix it)."""


def _euid() -> int:
    return os.geteuid()


def _check(fd: int, path: str, *, private: bool = False) -> os.stat_result:
    st = os.fstat(fd)
    if st.st_uid != _euid():
        raise Refused(f"{path} is owned by uid {st.st_uid}, not by this user (uid {_euid()})")
    bad = st.st_mode & (0o077 if private else 0o022)
    if bad:
        who = " and ".join(w for w, m in (("group", 0o070), ("others", 0o007)) if bad & m)
        fix = "go-rwx" if private else "go-w"
        raise Refused(f"{path} is {'accessible' if private else 'writable'} by {who} (chmod {fix} {path})")
    return st


def open_dir(root: str, create: bool) -> int | None:
    """An fd of the checked `<root>/llvm` (made with mode 0o700 when `create`), or None when it
    does not exist and `create` is false. Raises Refused, or OSError when it cannot be made."""
    if create:
        os.makedirs(root, mode=0o700, exist_ok=True)
    try:
        rfd = os.open(root, _DIR_FLAGS)  # the root as configured: a symlink the user made there is theirs
    except FileNotFoundError:
        return None
    try:
        if not stat.S_ISDIR(_check(rfd, root).st_mode):
            raise Refused(f"{root} is not a directory")
        sub = os.path.join(root, "llvm")
        try:
            fd = os.open("llvm", _DIR_FLAGS | _NOFOLLOW, dir_fd=rfd)
        except FileNotFoundError:
            if not create:
                return None
            try:
                os.mkdir("llvm", 0o700, dir_fd=rfd)
            except FileExistsError:
                pass
            fd = os.open("llvm", _DIR_FLAGS | _NOFOLLOW, dir_fd=rfd)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):
                raise Refused(f"{sub} is a symlink or not a directory") from None
            raise
        try:
            _check(fd, sub)
        except BaseException:
            os.close(fd)
            raise
        return fd
    finally:
        os.close(rfd)


def read_file(dfd: int, name: str, limit: int = 1 << 30) -> bytes | None:
    """The bytes of regular file `name` in `dfd`, owned by this user; None for anything else
    (missing, a symlink, a FIFO, someone else's, larger than `limit`)."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dfd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != _euid() or st.st_size > limit:
            return None
        chunks, n = [], 0
        while True:
            b = os.read(fd, max(st.st_size - n, 0) + 1)
            if not b:
                return b"".join(chunks)
            chunks.append(b)
            n += len(b)
            if n > limit:
                return None
    except OSError:
        return None
    finally:
        os.close(fd)


def _read_key(dfd: int, path: str) -> bytes | None:
    try:
        fd = os.open(KEY_NAME, _READ_FLAGS, dir_fd=dfd)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise Refused(f"{path} cannot be opened ({e.strerror}); remove it") from None
    try:
        if not stat.S_ISREG(_check(fd, path, private=True).st_mode):
            raise Refused(f"{path} is not a regular file; remove it")
        key = os.read(fd, KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(key) != KEY_BYTES:
        raise Refused(f"{path} is damaged; remove it (the cache is then rebuilt)")
    return key


def secret(dfd: int, root: str, create: bool) -> bytes | None:
    """The per-user HMAC key in `dfd` (made when missing and `create`). A new key is written in
    full to a private temporary and hard-linked into place, so no process ever reads a partial
    key and two processes making one at once agree on the winner's."""
    path = os.path.join(root, "llvm", KEY_NAME)
    key = _read_key(dfd, path)
    if key is not None or not create:
        return key
    tmp = f".{KEY_NAME}.tmp-{os.urandom(8).hex()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600, dir_fd=dfd)
    try:
        try:
            if os.write(fd, os.urandom(KEY_BYTES)) != KEY_BYTES:
                raise OSError(errno.EIO, "short write of the cache key")
        finally:
            os.close(fd)
        try:
            os.link(tmp, KEY_NAME, src_dir_fd=dfd, dst_dir_fd=dfd, follow_symlinks=False)
        except FileExistsError:
            pass  # another process made it first: use theirs
    finally:
        os.unlink(tmp, dir_fd=dfd)
    return _read_key(dfd, path)


def mac(secret_key: bytes, cache_key: str, library: bytes) -> str:
    """HMAC-SHA256 of the library, bound to the key (name) it is stored under."""
    return hmac.new(secret_key, cache_key.encode() + b"\0" + library, hashlib.sha256).hexdigest()


def authentic(secret_key: bytes, cache_key: str, library: bytes, recorded) -> bool:
    return isinstance(recorded, str) and hmac.compare_digest(mac(secret_key, cache_key, library), recorded)


__all__ = ["Refused", "authentic", "mac", "open_dir", "read_file", "secret"]
