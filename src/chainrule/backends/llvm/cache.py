"""The compile cache: linked shared libraries in memory and on disk.

Key: sha256 of the graph's text form, the opt level, the host (triple, CPU
name and features), the chainrule, llvmlite and LLVM versions, and a hash of
this backend's own source (so a changed code generator never reuses stale
code). On disk each entry is `<key>.so` plus `<key>.json` holding the
library's sha256: both are written to a temporary file and moved into place
with os.replace, so concurrent writers never expose a partial file, and an
entry whose bytes do not match its checksum (or that fails to load) is
ignored and rebuilt. The directory is $CHAINRULE_CACHE_DIR, by default
~/.cache/chainrule, under `llvm/`.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import json
import os
import shutil
import struct
import subprocess
import tempfile
import threading

from .target import host

FORMAT = 1
_memory: dict[str, tuple] = {}  # key -> (library, path)
_memory_lock = threading.Lock()


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


def cache_dir() -> str:
    root = os.environ.get("CHAINRULE_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "chainrule")
    return os.path.join(root, "llvm")


def memory_put(key, lib):
    with _memory_lock:
        _memory[key] = lib


def clear_memory():
    """Forget loaded libraries (tests use it to force the disk path)."""
    with _memory_lock:
        _memory.clear()


def _sha(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def disk_get(key):
    """Path of a valid cached library, or None (missing or corrupted entries are None)."""
    d = cache_dir()
    so, meta = os.path.join(d, key + ".so"), os.path.join(d, key + ".json")
    try:
        with open(meta) as f:
            info = json.load(f)
        if info.get("format") != FORMAT or info.get("sha256") != _sha(so):
            return None
    except (OSError, ValueError, AttributeError):
        return None
    return so


def _atomic_write(path, data: bytes):
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=os.path.basename(path)[-8:])
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@functools.lru_cache(maxsize=None)
def _linker():
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
                   "sched_getcpu", "sched_getaffinity", "sched_setaffinity", "sched_yield"})


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


def _libraries(obj: bytes) -> list:
    """["-lm"] unless the object calls nothing beyond _LIBC: reading libm costs `ld` ~3 ms of its ~6."""
    names = undefined_symbols(obj)
    return [] if names is not None and names <= _LIBC else ["-lm"]


def link_shared(obj: bytes, out_path: str):
    """Link an object file into a shared library at out_path (via a temporary, then os.replace)."""
    cmd = _linker()
    if cmd is None:
        raise RuntimeError("the llvm backend needs a linker (ld) or a C compiler driver (cc, gcc or clang) "
                           "to link shared libraries; none was found on PATH (set CC)")
    d = os.path.dirname(out_path)
    os.makedirs(d, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=d, prefix=".link-") as tmp:
        o = os.path.join(tmp, "m.o")
        so = os.path.join(tmp, "m.so")
        with open(o, "wb") as f:
            f.write(obj)
        proc = subprocess.run(cmd + ["-o", so, o] + _libraries(obj), capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"linking the compiled module failed ({' '.join(cmd)}): {proc.stderr.strip()}")
        os.replace(so, out_path)


def disk_put(key, obj: bytes) -> str:
    d = cache_dir()
    os.makedirs(d, exist_ok=True)
    so = os.path.join(d, key + ".so")
    link_shared(obj, so)
    _atomic_write(os.path.join(d, key + ".json"),
                  json.dumps({"format": FORMAT, "sha256": _sha(so)}).encode())
    return so


def load_private(obj: bytes) -> ctypes.CDLL:
    """Link and load `obj` outside the cache; the files are removed once loaded (the mapping stays)."""
    with tempfile.TemporaryDirectory(prefix="chainrule-link-") as d:
        path = os.path.join(d, "m.so")
        link_shared(obj, path)
        return ctypes.CDLL(path)


def load_or_build(key: str, build, use_cache: bool = True):
    """(library, path or None, source) for `key`: from memory, from disk, or `build()`'s object code.

    A disk entry that fails to load is rebuilt; an unwritable cache directory only costs the
    disk cache (the library is then linked in a private temporary directory)."""
    if use_cache:
        got = _memory.get(key)
        if got is not None:
            return got[0], got[1], "memory"
        path = disk_get(key)
        if path is not None:
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                lib = None
            if lib is not None:
                memory_put(key, (lib, path))
                return lib, path, "disk"
    obj = build()
    if use_cache:
        try:
            path = disk_put(key, obj)
            lib = ctypes.CDLL(path)
            memory_put(key, (lib, path))
            return lib, path, "compiled"
        except OSError:
            pass
    return load_private(obj), None, "compiled"
