"""The manifest's schema, checked before any of the manifest is used.

Checksums only prove that the members are the ones the manifest lists; a
hand-edited manifest (checksums recomputed) can still hold anything JSON
can. `validate` checks every field the loader, `chainrule show` and the
native runner read: required keys, types, string formats (the C symbol is a
C identifier, member names are plain relative paths, dtypes are known),
shapes (lists of non-negative ints with a bounded element count), pytree
depth and leaf counts against the signature, and size bounds (member count,
arena size, list lengths), so a malformed artifact gives one ArtifactError
naming the field instead of a KeyError, TypeError or RecursionError later.
Unknown extra keys are allowed (newer writers may add some).
"""

from __future__ import annotations

import math
import re

from .errors import ArtifactError

MAX_MEMBERS = 256            # real artifacts have about 5
MAX_TENSORS = 100_000        # inputs or outputs of one function
MAX_RANK = 32
MAX_ELEMENTS = 2 ** 40       # per tensor
MAX_TREE_DEPTH = 100
MAX_ARENA = 2 ** 36          # bytes of scratch memory the native library may ask for
MAX_LIST = 1024              # cpu_flags, runtime_slots, needs, platforms
MAX_STR = 4096
PAYLOADS = ("native", "stablehlo", "graph")
DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "bfloat16", "float32", "float64", "complex64", "complex128")
NATIVE_KINDS = ("shared-library", "object")

_C_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}\Z")
_SHORT_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
_VALUE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,127}\Z")  # an IR value name (ir/parser.py)
_FLAG = re.compile(r"[A-Za-z0-9_.\-]{1,64}\Z")
_MEMBER_PART = re.compile(r"[A-Za-z0-9_.+\-]{1,128}\Z")
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")


def _fail(where, what):
    raise ArtifactError(f"manifest: {where} {what}")


def _dict(obj, where):
    if not isinstance(obj, dict):
        _fail(where, f"must be an object, not {type(obj).__name__}")
    return obj


def _int(obj, where, lo=0, hi=2 ** 63 - 1):
    if type(obj) is not int or not lo <= obj <= hi:
        _fail(where, f"must be an integer from {lo} to {hi}, not {obj!r:.40}")
    return obj


def _str(obj, where, pattern=None, what="a string"):
    if not isinstance(obj, str) or len(obj) > MAX_STR or (pattern is not None and not pattern.match(obj)):
        _fail(where, f"must be {what}, not {obj!r:.60}")
    return obj


def _text(obj, where):
    """A free-form string printed on one line: no control characters."""
    _str(obj, where)
    if any(ord(c) < 32 or ord(c) == 127 for c in obj):
        _fail(where, "must not hold control characters")
    return obj


def _opt(d, key, check, where, *args):
    if key in d and d[key] is not None:
        check(d[key], f"{where}.{key}" if where else key, *args)


def _list(obj, where, item, *args, limit=MAX_LIST):
    if not isinstance(obj, list) or len(obj) > limit:
        _fail(where, f"must be a list of at most {limit} entries, not {obj!r:.60}")
    for i, x in enumerate(obj):
        item(x, f"{where}[{i}]", *args)
    return obj


def _need(d, key, where):
    if key not in d:
        _fail(where, f"has no {key!r}")
    return d[key]


def member_name_ok(name) -> bool:
    """A plain relative path: no absolute, `.`, `..`, empty or odd-character parts."""
    return isinstance(name, str) and len(name) <= 512 and all(_MEMBER_PART.match(p) and p not in (".", "..")
                                                              for p in name.split("/"))


def _tensor(t, where, named):
    _dict(t, where)
    if named:
        _str(_need(t, "name", where), f"{where}.name", _VALUE_NAME, "an IR value name")
    else:
        _opt(t, "name", _str, where, _VALUE_NAME, "an IR value name")
    shape = _need(t, "shape", where)
    _list(shape, f"{where}.shape", _int, 0, MAX_ELEMENTS, limit=MAX_RANK)
    if math.prod(shape) > MAX_ELEMENTS:
        _fail(f"{where}.shape", f"has more than {MAX_ELEMENTS} elements")
    if _need(t, "dtype", where) not in DTYPES:
        _fail(f"{where}.dtype", f"must be one of {', '.join(DTYPES)}, not {t['dtype']!r:.40}")


def tree_leaves(obj, where) -> int:
    """Leaf count of a pytree in JSON form, walked without recursion (depth bounded)."""
    stack, leaves = [(obj, 1)], 0
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            _fail(where, f"is nested deeper than {MAX_TREE_DEPTH} levels")
        if not isinstance(node, dict) or not isinstance(node.get("kind"), str):
            _fail(where, f"holds a node that is not a pytree node: {node!r:.60}")
        if node["kind"] == "leaf":
            leaves += 1
        elif node["kind"] != "none":
            kids = node.get("children")
            if not isinstance(kids, list) or len(kids) > MAX_TENSORS:
                _fail(where, f"holds a {node['kind']!r:.40} node without a list of children")
            stack.extend((k, depth + 1) for k in kids)
    return leaves


def _signature(sig):
    _dict(sig, "signature")
    counts = {}
    for key in ("inputs", "outputs"):
        _list(_need(sig, key, "signature"), f"signature.{key}", _tensor, key == "inputs", limit=MAX_TENSORS)
        counts[key] = len(sig[key])
    for tree, key in (("in_tree", "inputs"), ("out_tree", "outputs")):
        n = tree_leaves(_need(sig, tree, "signature"), f"signature.{tree}")
        if n != counts[key]:
            _fail(f"signature.{tree}", f"has {n} leaves but the signature has {counts[key]} {key}")
    from .treejson import tree_from_json
    tree_from_json(sig["in_tree"]), tree_from_json(sig["out_tree"])  # kinds, dict keys, namedtuples


def _member_ref(info, where, members):
    name = _str(_need(info, "member", where), f"{where}.member")
    if name not in members or name == "manifest.json":
        _fail(f"{where}.member", f"{name!r:.80} is not a member of the artifact")


def _native(info, members):
    where = "payloads.native"
    _member_ref(info, where, members)
    if _need(info, "kind", where) not in NATIVE_KINDS:
        _fail(f"{where}.kind", f"must be one of {', '.join(NATIVE_KINDS)}, not {info['kind']!r:.40}")
    _str(_need(info, "symbol", where), f"{where}.symbol", _C_IDENT, "a C identifier")
    for key in ("os", "machine", "triple", "cpu"):
        _text(_need(info, key, where), f"{where}.{key}")
    _list(_need(info, "cpu_flags", where), f"{where}.cpu_flags", _str, _FLAG, "a CPU flag name")
    slots = _list(_need(info, "runtime_slots", where), f"{where}.runtime_slots", _str, _SHORT_IDENT,
                  "a short identifier", limit=64)
    if len(set(slots)) != len(slots):
        _fail(f"{where}.runtime_slots", "names a slot twice")
    _int(_need(info, "arena_size", where), f"{where}.arena_size", 0, MAX_ARENA)
    _opt(info, "workspace_size", _int, where, 0, MAX_ARENA + 64)
    _opt(info, "opt_level", _int, where, 0, 3)
    _opt(info, "threads", _int, where, 1, 4096)
    for key in ("features", "gemm", "linker", "llvm", "llvmlite", "note"):
        _opt(info, key, _text, where)
    _opt(info, "needs", _list, where, _text)
    if info.get("header") is not None:
        _member_ref({"member": info["header"]}, f"{where}.header", members)


def _payloads(payloads, members):
    _dict(payloads, "payloads")
    for name, info in payloads.items():
        if name not in PAYLOADS:
            _fail("payloads", f"names an unknown payload {name!r:.40}")
        _dict(info, f"payloads.{name}")
    if "graph" not in payloads:
        _fail("payloads", "has no graph payload")
    _member_ref(payloads["graph"], "payloads.graph", members)
    if "stablehlo" in payloads:
        info = payloads["stablehlo"]
        _member_ref(info, "payloads.stablehlo", members)
        _opt(info, "jax_version", _text, "payloads.stablehlo")
        _opt(info, "platforms", _list, "payloads.stablehlo", _text)
    if "native" in payloads:
        _native(payloads["native"], members)


def validate_members(listed) -> dict:
    """The manifest's `members` table: {name: {"sha256", "size"}} with safe names, sizes and count."""
    _dict(listed, "members")
    if len(listed) > MAX_MEMBERS:
        _fail("members", f"lists {len(listed)} members; an artifact has at most {MAX_MEMBERS}")
    for name, want in listed.items():
        where = f"members[{name!r:.80}]"
        if not member_name_ok(name) or name == "manifest.json":
            _fail(where, "is not a safe member name")
        _dict(want, where)
        _str(_need(want, "sha256", where), f"{where}.sha256", _SHA256, "a sha256 in hex")
        _int(_need(want, "size", where), f"{where}.size")
    return listed


def validate(manifest) -> dict:
    """Check every field of `manifest` that chainrule uses; returns it or raises ArtifactError."""
    _dict(manifest, "the manifest")
    members = validate_members(_need(manifest, "members", "the manifest"))
    for key in ("name", "backend", "chainrule_version", "created"):
        _opt(manifest, key, _text, "")
    if manifest.get("name") is not None and len(manifest["name"]) > 256:
        _fail("name", "is longer than 256 characters")
    _signature(_need(manifest, "signature", "the manifest"))
    _payloads(_need(manifest, "payloads", "the manifest"), members)
    if manifest.get("skipped") is not None:
        _dict(manifest["skipped"], "skipped")
        for k, v in manifest["skipped"].items():
            _text(v, f"skipped.{k:.40}")
    return manifest
