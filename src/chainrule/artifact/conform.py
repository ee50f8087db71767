"""Proof that each payload implements the manifest's signature, before anything runs.

The loader checks a caller's arguments against the manifest's signature and
allocates results from it, then hands the buffers to a payload. A payload
built for other shapes (a graph.crir declaring f64[512] where the manifest
says f64[2]) would then read or write past those buffers. So:

- graph: graph.crir is parsed (any failure is an ArtifactError) and its
  parameter and result types must equal the signature's inputs and outputs;
- stablehlo: the deserialized `jax.export.Exported`'s in_avals and out_avals
  must equal them too (checked when the payload is loaded: jax is optional);
- native: a library cannot be introspected for shapes, so what can be
  compared is: the C header member (its counts, shapes, dtypes and workspace
  size) and the library's own `<symbol>_workspace_size()` against the
  manifest's arena size. Beyond that the native code is trusted as its
  author's (see docs/artifact.md); the graph's check still proves the
  manifest's signature is the one the function was compiled for.
"""

from __future__ import annotations

import re

from .errors import ArtifactError
from .header import _CODES

class Inconsistent(ArtifactError):
    """Two parts of the artifact disagree (never a reason to fall back to another payload)."""


_DTYPE_CODES = {code: name for name, code in _CODES.items()}


def _sig_types(manifest, key):
    return [(tuple(t["shape"]), t["dtype"]) for t in manifest["signature"][key]]


def _show(types) -> str:
    return "(" + ", ".join(f"{d}[{','.join(map(str, s))}]" for s, d in types) + ")"


def _compare(what, got, manifest):
    for key, have in zip(("inputs", "outputs"), got):
        want = _sig_types(manifest, key)
        if have != want:
            raise Inconsistent(f"{what} has {key} {_show(have)[:300]} but the manifest's signature says "
                                f"{_show(want)[:300]}; the artifact is inconsistent")


def graph_text(manifest, members) -> str:
    name = manifest["payloads"]["graph"]["member"]
    try:
        return members[name].decode("utf-8")
    except UnicodeDecodeError as e:
        raise ArtifactError(f"member {name} is not UTF-8 text ({e.reason} at byte {e.start})") from None


def _parse_header(text):
    """(param types, result types) the text form declares, read from its first line only."""
    from ..ir.parser import Parser
    end = text.find("{")
    p = Parser(text[:end + 1] if end >= 0 else text)
    _name, params, results = p.header()
    return [t for _tok, t in params], results


def check_declared(manifest, members):
    """The graph's declared signature against the manifest's, without parsing its body (fast: the
    native path's load stays in milliseconds). A full parse (parse_graph) also proves the body returns
    what the header declares; it runs whenever the graph itself is compiled or shown."""
    params, results = _parsed(manifest, members, _parse_header)
    got = [[(t.shape, t.dtype.name) for t in params], [(t.shape, t.dtype.name) for t in results]]
    _compare(f"the graph ({manifest['payloads']['graph']['member']})", got, manifest)


def parse_graph(manifest, members):
    """The stored graph, parsed and checked against the signature; any failure is an ArtifactError."""
    from ..ir import parse
    graph = _parsed(manifest, members, parse)
    check_graph(graph, manifest)
    return graph


def _parsed(manifest, members, parse):
    from ..ir import ParseError
    name = manifest["payloads"]["graph"]["member"]
    text = graph_text(manifest, members)
    try:
        return parse(text)
    except ParseError as e:
        raise ArtifactError(f"member {name} is not a valid graph: line {e.line}, column {e.column}: "
                            f"{e.message}") from None
    except RecursionError:
        raise ArtifactError(f"member {name} is nested too deeply to parse") from None
    except Exception as e:  # noqa: BLE001  (any parser failure on hostile text is the artifact's fault)
        raise ArtifactError(f"member {name} is not a valid graph: {type(e).__name__}: "
                            f"{str(e).splitlines()[0][:200] if str(e) else ''}") from None


def check_graph(graph, manifest):
    types = [[(p.type.shape, p.type.dtype.name) for p in graph.params],
             [(r.type.shape, r.type.dtype.name) for r in graph.results]]
    _compare(f"the graph ({manifest['payloads']['graph']['member']})", types, manifest)


def check_exported(exported, manifest):
    """Compare a jax.export.Exported's avals with the signature."""
    import numpy as np

    def types(avals):
        return [(tuple(int(d) for d in a.shape), np.dtype(a.dtype).name) for a in avals]
    try:
        got = [types(exported.in_avals), types(exported.out_avals)]
    except Exception as e:  # noqa: BLE001  (symbolic shapes, odd dtypes: not what chainrule writes)
        raise ArtifactError(f"the StableHLO payload has a signature chainrule cannot read: {e}") from None
    _compare("the StableHLO payload", got, manifest)


def _header_tensors(text, sym, kind, n):
    rows = re.findall(r'^    \{"[^"]*", (CHAINRULE_[A-Z0-9]+), (\d+), ' + re.escape(sym) + rf"_{kind}_shape_(\d+)",
                      text, re.M)
    shapes = dict(re.findall(r"^static const int64_t " + re.escape(sym) + rf"_{kind}_shape_(\d+)\[\] = \{{([^}}]*)\}};",
                             text, re.M))
    out = []
    for code, ndim, i in rows:
        dims = tuple(int(d) for d in shapes.get(i, "").split(",") if d.strip())[:int(ndim)]
        out.append((dims, _DTYPE_CODES.get(code, code)))
    return out if len(out) == n else None


def check_header(manifest, members):
    """When the native payload has a C header, its counts, shapes, dtypes and workspace must match."""
    info = manifest["payloads"].get("native")
    if not info or not info.get("header"):
        return
    name, sym = info["header"], info["symbol"]
    try:
        text = members[name].decode("utf-8")
    except UnicodeDecodeError:
        raise ArtifactError(f"member {name} (the C header) is not UTF-8 text") from None
    up = sym.upper()
    defines = dict(re.findall(rf"^#define {re.escape(up)}_(NUM_INPUTS|NUM_OUTPUTS|WORKSPACE_SIZE) (\d+)$",
                              text, re.M))
    sig = manifest["signature"]
    want = {"NUM_INPUTS": len(sig["inputs"]), "NUM_OUTPUTS": len(sig["outputs"])}
    if "workspace_size" in info:
        want["WORKSPACE_SIZE"] = info["workspace_size"]
    for key, value in want.items():
        if key in defines and int(defines[key]) != value:
            raise Inconsistent(f"the C header {name} says {up}_{key} {defines[key]}, the manifest {value}")
    got = [_header_tensors(text, sym, "input", want["NUM_INPUTS"]),
           _header_tensors(text, sym, "output", want["NUM_OUTPUTS"])]
    if None not in got:
        _compare(f"the C header {name}", got, manifest)


def check_workspace(lib, info):
    """The library's own `<symbol>_workspace_size()` must equal the arena the manifest makes us allocate."""
    import ctypes
    fn = getattr(lib, f"{info['symbol']}_workspace_size", None)
    if fn is None:
        return
    fn.restype, fn.argtypes = ctypes.c_size_t, []
    arena = info["arena_size"]
    want = arena + 64 if arena else 0
    got = fn()
    if got != want:
        raise Inconsistent(f"the native library needs a workspace of {got} bytes but the manifest's arena_size "
                            f"{arena} gives {want}; the artifact is inconsistent")
