"""The compile cache: linked shared libraries in memory and on disk.

Key: sha256 of the graph's text form, the opt level, the host (triple, CPU
name and features), the chainrule, llvmlite and LLVM versions, and a hash of
this backend's own source (so a changed code generator never reuses stale
code). On disk each entry is `<key>.so` plus `<key>.json` holding the
library's sha256 and an HMAC made with a per-user key (cachedir.py: who is
trusted and what is checked); both are written with fileio.atomic_write, so
concurrent writers never expose a partial file. A library is read into
memory, checked, and loaded from those very bytes (loadlib.py); an entry
that fails the check (or to load) is ignored and rebuilt. A directory that
is not trusted, or a cache that cannot be written (a full disk, no
permission), only costs the cache: one warning, and the code is linked and
loaded privately. The directory is $CHAINRULE_CACHE_DIR, by default
~/.cache/chainrule, under `llvm/`.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import warnings

from ...fileio import atomic_write
from . import cachedir
from .loadlib import load_bytes
from .target import host

FORMAT = 2  # 2: entries carry an HMAC
_memory: dict[str, tuple] = {}  # key -> (library, path)
_memory_lock = threading.Lock()
_warned: set[str] = set()  # cache roots already warned about (one warning per root and process)


@functools.lru_cache(maxsize=None)
def _source_hash() -> str:
    h = hashlib.sha256()
    here = os.path.dirname(os.path.abspath(__file__))
    for name in sorted(os.listdir(here)):
        if name.endswith(".py"):
            with open(os.path.join(here, name), "rb") as f:
                h.update(name.encode() + b"\0" + f.read())
    return h.hexdigest()


def _chainrule_version() -> str:
    # the package attribute, not importlib.metadata (whose import alone costs ~90 ms)
    import chainrule
    return getattr(chainrule, "__version__", "0")


def cache_key(graph_text: str, opt_level: int, extra: str = "") -> str:
    h = host()
    parts = [f"format={FORMAT}", f"opt={opt_level}", h["triple"], h["cpu"], h["features"],
             f"llvmlite={h['llvmlite']}", f"llvm={h['llvm']}", f"chainrule={_chainrule_version()}",
             f"src={_source_hash()}", extra, graph_text]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _root() -> str:
    return os.environ.get("CHAINRULE_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "chainrule")


def cache_dir() -> str:
    return os.path.join(_root(), "llvm")


def memory_put(key, lib):
    with _memory_lock:
        _memory[key] = lib


def clear_memory():
    """Forget loaded libraries (tests use it to force the disk path)."""
    with _memory_lock:
        _memory.clear()


def _warn_once(root: str, what: str):
    if root not in _warned:
        _warned.add(root)
        warnings.warn(f"chainrule: the llvm compile cache {what}; compiling without it", RuntimeWarning, stacklevel=4)


def _open(root: str, create: bool):
    """(fd of the checked cache directory, HMAC key), or None: absent, or refused (warned once)."""
    try:
        fd = cachedir.open_dir(root, create)
        if fd is None:
            return None
        try:
            key = cachedir.secret(fd, root, create)
        except BaseException:
            os.close(fd)
            raise
    except cachedir.Refused as e:
        _warn_once(root, f"is not used: {e}")
        return None
    except OSError as e:
        if create:
            _warn_once(root, f"in {root} cannot be set up ({e})")
        return None
    if key is None:
        os.close(fd)
        return None
    return fd, key


def disk_get(key):
    """(library bytes, path) of a valid entry, or None (missing, refused or corrupted entries)."""
    root = _root()
    opened = _open(root, create=False)
    if opened is None:
        return None
    fd, secret = opened
    try:
        meta = cachedir.read_file(fd, key + ".json", limit=1 << 16)
        if meta is None:
            return None
        try:
            info = json.loads(meta)
            recorded, fmt = info.get("hmac"), info.get("format")
        except (ValueError, AttributeError):
            return None
        if fmt != FORMAT:
            return None
        data = cachedir.read_file(fd, key + ".so")
        if data is None or not cachedir.authentic(secret, key, data, recorded):
            return None
        return data, os.path.join(root, "llvm", key + ".so")
    finally:
        os.close(fd)


@functools.lru_cache(maxsize=None)
def linker():
    """The link command prefix: `ld -shared` (about 9 ms) when present, else the C driver (~40 ms)."""
    ld = shutil.which("ld")
    if ld:
        return [ld, "-shared"]
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return [shutil.which(cc), "-shared", "-nostartfiles"]
    return None


# What the generated code may call from the C library itself (glibc >= 2.34 holds pthreads):
# memory routines LLVM emits, and the thread pool's calls (pool.py)
_LIBC = frozenset({"memcpy", "memmove", "memset", "malloc", "free", "getpid", "pthread_create", "pthread_detach",
                   "pthread_mutex_lock", "pthread_mutex_unlock", "pthread_cond_wait", "pthread_cond_signal",
                   "sched_getcpu", "sched_getaffinity", "sched_setaffinity", "sched_yield",
                   "getenv", "dlopen", "dlsym",  # LAPACK found at run time (lapack_export.py)
                   "getloadavg", "clock_gettime"})  # LAPACK's thread count (lapack.py)


def undefined_symbols(obj: bytes):
    """Names an ELF64 little-endian object file leaves undefined, or None for any other format."""
    if obj[:6] != b"\x7fELF\x02\x01":
        return None
    try:
        shoff, = struct.unpack_from("<Q", obj, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", obj, 0x3A)
        sections = [struct.unpack_from("<IIQQQQIIQQ", obj, shoff + k * shentsize) for k in range(shnum)]
        names = set()
        for _name, kind, _flags, _addr, off, size, link, _info, _align, entsize in sections:
            if kind != 2:  # SHT_SYMTAB
                continue
            stroff = sections[link][4]
            for at in range(off + entsize, off + size, entsize):  # entry 0 is the null symbol
                st_name, st_info, _other, st_shndx = struct.unpack_from("<IBBH", obj, at)
                if st_shndx == 0 and st_name:
                    names.add(obj[stroff + st_name:obj.index(b"\0", stroff + st_name)].decode())
        return names
    except (struct.error, IndexError, ValueError, UnicodeDecodeError):
        return None


def link_libraries(obj: bytes) -> list:
    """["-lm"] unless the object calls nothing beyond _LIBC: reading libm costs `ld` ~3 ms of its ~6."""
    names = undefined_symbols(obj)
    return [] if names is not None and names <= _LIBC else ["-lm"]


def _full(text: str) -> bool:
    return any(os.strerror(n) in text for n in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG))


def link_bytes(obj: bytes) -> bytes:
    """The shared library linked from object file `obj`, linked in a private temporary directory."""
    cmd = linker()
    if cmd is None:
        raise RuntimeError("the llvm backend needs a linker (ld) or a C compiler driver (cc, gcc or clang) "
                           "to link shared libraries; none was found on PATH (set CC)")
    hint = f" (the temporary directory {tempfile.gettempdir()} is full? set TMPDIR to one with room)"
    try:
        tmp = tempfile.mkdtemp(prefix="chainrule-link-")
        try:
            o, so = os.path.join(tmp, "m.o"), os.path.join(tmp, "m.so")
            with open(o, "xb") as f:
                f.write(obj)
            proc = subprocess.run(cmd + ["-o", so, o] + link_libraries(obj), capture_output=True, text=True)
            if proc.returncode != 0:
                err = proc.stderr.strip()
                raise RuntimeError(f"linking the compiled module failed ({' '.join(cmd)}): {err}"
                                   + (hint if _full(err) else ""))
            with open(so, "rb") as f:
                return f.read()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise RuntimeError(f"linking the compiled module failed: {e}{hint}") from e
        raise


def disk_put(key, library: bytes):
    """Store a linked library; its path, or None when the cache cannot take it (warned once)."""
    root = _root()
    opened = _open(root, create=True)
    if opened is None:
        return None
    fd, secret = opened
    try:
        meta = {"format": FORMAT, "sha256": hashlib.sha256(library).hexdigest(),
                "hmac": cachedir.mac(secret, key, library)}
        atomic_write(key + ".so", library, mode=0o644, dir_fd=fd)
        atomic_write(key + ".json", json.dumps(meta).encode(), mode=0o644, dir_fd=fd)
    except OSError as e:  # a full disk, a quota, no permission: only the cache is lost
        _warn_once(root, f"in {root} cannot be written ({e})")
        return None
    finally:
        os.close(fd)
    return os.path.join(root, "llvm", key + ".so")


def load_or_build(key: str, build, use_cache: bool = True):
    """(library, path or None, source) for `key`: from memory, from disk, or `build()`'s object code.

    A disk entry that fails its check or to load is rebuilt; an untrusted or unwritable cache
    directory only costs the disk cache (the library is then loaded from memory only)."""
    if use_cache:
        got = _memory.get(key)
        if got is not None:
            return got[0], got[1], "memory"
        found = disk_get(key)
        if found is not None:
            try:
                lib = load_bytes(found[0], f"chainrule-{key[:16]}")
            except OSError:
                lib = None
            if lib is not None:
                memory_put(key, (lib, found[1]))
                return lib, found[1], "disk"
    library = link_bytes(build())
    lib = load_bytes(library, f"chainrule-{key[:16]}")
    path = None
    if use_cache:
        path = disk_put(key, library)
        memory_put(key, (lib, path))
    return lib, path, "compiled"
