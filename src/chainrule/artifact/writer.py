"""`export(compiled, path)`: write a compiled function as a .crx artifact.

Payloads, each optional except the graph:
- `native`: the graph compiled by the LLVM backend for this host into a
  shared library with a C ABI (backends/llvm/export.py), plus its C header;
  object code instead when no linker is installed (then not callable from C);
- `stablehlo`: the graph lowered by the JAX backend and serialized with
  `jax.export` (needs jax and flatbuffers);
- `graph`: the optimised graph in text form, recompiled on load when
  nothing else can run.
A payload that cannot be built is left out with a warning, and the manifest
says why (`skipped`).
"""

from __future__ import annotations

import datetime
import os
import warnings

from ..fileio import atomic_write
from .container import FORMAT_NAME, FORMAT_VERSION, pack
from .header import c_header
from .host import describe, level_flags, required_flags
from .treejson import tree_to_json

GRAPH_MEMBER = "graph.crir"
STABLEHLO_MEMBER = "stablehlo.bin"
GEMM_NOTE = ("built into the library as a simple loop kernel (correct, not fast); Python callers "
             "pass NumPy's OpenBLAS instead")
PAYLOADS = ("native", "stablehlo", "graph")


def _tensors(values, prefix):
    return [{"name": (getattr(v, "name", None) or f"{prefix}{i}"), "shape": list(v.type.shape),
             "dtype": v.type.dtype.name} for i, v in enumerate(values)]


def _version() -> str:
    import chainrule
    return getattr(chainrule, "__version__", "0")


def _native(graph, opt_level, symbol, members, manifest, cpu, threads):
    from ..backends.llvm.export import build_native  # llvmlite: export time only
    flags = None if cpu in (None, "host") else level_flags(cpu)  # a bad name fails before compiling
    p = build_native(graph, symbol=symbol, opt_level=opt_level, cpu=cpu, threads=threads)
    h = describe()
    suffix = ".so" if p.kind == "shared-library" else ".o"
    member = f"native/{h['machine']}-{h['os']}{suffix}"
    members[member] = p.data
    info = dict(p.info, member=member, kind=p.kind, symbol=p.symbol, arena_size=p.arena_size,
                workspace_size=p.arena_size + 64 if p.arena_size else 0,
                cpu_flags=required_flags(p.info["features"]) if flags is None else flags,
                needs=["libc", "libm"] + (["lapack (ILP64, found at run time)"] if p.info.get("lapack") else []),
                gemm=GEMM_NOTE, **h)
    if p.kind == "shared-library":
        header = f"include/{p.symbol}.h"
        members[header] = c_header(p.symbol, graph.name, manifest["signature"]["inputs"],
                                   manifest["signature"]["outputs"], _version(), info["workspace_size"],
                                   GEMM_NOTE, tuple(p.info.get("lapack", ()))).encode()
        info["header"] = header
    else:
        warnings.warn(f"chainrule export: {p.info['note']}", RuntimeWarning, stacklevel=4)
    return info


def _stablehlo(compiled, graph, members):
    from ..backends import jax as jb  # jax: export time only
    import jax
    exe = compiled.executable if getattr(compiled, "backend", None) == "jax" else jb.compile(graph)
    blob = exe.export()
    members[STABLEHLO_MEMBER] = blob
    return {"member": STABLEHLO_MEMBER, "jax_version": jax.__version__,
            "platforms": list(jb.deserialize(blob).platforms)}


def export(compiled, path, *, payloads=None, opt_level: int | None = None, symbol: str | None = None,
           cpu: str | None = None, threads: int | None = None, signing_key=None) -> str:
    """Write `compiled` (from `jit(...).lower(...).compile()` or `cr.function`) to `path`.

    payloads: which of "native", "stablehlo", "graph" to include (default all that can be
    built; "graph" is always included). opt_level: LLVM's level for the native library
    (default 2). symbol: the C name (default chainrule_<name>). cpu: "host" (default: this CPU,
    all its features) or an x86-64 level ("x86-64-v2", "x86-64-v3", "x86-64-v4") for a native
    library that runs on any CPU of that level. threads: the most threads (caller plus helpers) the
    native library's parallel regions use (default 2: the machine it will run on is unknown).
    signing_key: an Ed25519 private key (a path to the PEM file `chainrule keygen` writes, PEM
    bytes or a `cryptography` key object) that signs the manifest, so `load(path,
    trusted_keys=[...])` can check who made the artifact. Returns the path."""
    graph = compiled.graph
    if signing_key is not None:
        from .signing import private_key
        signing_key = private_key(signing_key)  # a bad key fails before anything is compiled
    want = set(PAYLOADS if payloads is None else payloads) | {"graph"}
    unknown = want - set(PAYLOADS)
    if unknown:
        raise ValueError(f"unknown payload(s) {', '.join(sorted(unknown))}; expected {', '.join(PAYLOADS)}")
    opt_level = 2 if opt_level is None else opt_level
    if opt_level not in (0, 1, 2, 3):
        raise ValueError(f"opt_level must be 0, 1, 2 or 3, got {opt_level!r}")
    threads = 2 if threads is None else threads
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an int >= 1, got {threads!r}")
    from ..backends.llvm.export import c_symbol
    symbol = symbol or c_symbol(graph.name)
    if not symbol.isidentifier():
        raise ValueError(f"symbol {symbol!r} is not a C identifier")
    sig = {"inputs": _tensors(graph.params, "arg"), "outputs": _tensors(graph.results, "out"),
           "in_tree": tree_to_json(compiled.in_tree), "out_tree": tree_to_json(compiled.out_tree)}
    for i, o in enumerate(sig["outputs"]):
        o["name"] = f"out{i}"
    manifest = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "chainrule_version": _version(),
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "name": graph.name, "backend": getattr(compiled, "backend", None), "signature": sig,
                "payloads": {}, "skipped": {}}
    members = {GRAPH_MEMBER: str(graph).encode()}
    manifest["payloads"]["graph"] = {"member": GRAPH_MEMBER}
    if cpu not in (None, "host"):
        level_flags(cpu)  # raises ValueError naming the choices
    builders = {"native": lambda: _native(graph, opt_level, symbol, members, manifest, cpu, threads),
                "stablehlo": lambda: _stablehlo(compiled, graph, members)}
    for name in ("native", "stablehlo"):
        if name not in want:
            continue
        try:
            manifest["payloads"][name] = builders[name]()
        except (ImportError, NotImplementedError, RuntimeError) as e:
            reason = f"{type(e).__name__}: {e}".splitlines()[0]
            manifest["skipped"][name] = reason
            if payloads is not None:  # asked for explicitly: fail loudly
                raise
            warnings.warn(f"chainrule export: the {name} payload was left out ({reason})", RuntimeWarning,
                          stacklevel=3)
    data = pack(manifest, members, signing_key)
    atomic_write(path, data, fsync=True)  # a fresh temporary (never through a planted name), removed on failure
    return os.fspath(path)
