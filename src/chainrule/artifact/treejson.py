"""Pytree structures as JSON, so an artifact never needs pickle.

A TreeDef becomes nested objects: {"kind": "tuple", "children": [...]};
dicts keep their keys (str, int, float, bool or None, tagged with their
type); a namedtuple keeps its class name and field names and comes back as
a namedtuple class of that name made on load (the original class is never
imported: importing it would run its module's code).
"""

from __future__ import annotations

import collections
import functools

from ..frontend.pytree import LEAF, TreeDef
from .errors import ArtifactError

_KEY_TYPES = {"str": str, "int": int, "float": float, "bool": bool}


def _key_to_json(k):
    if k is None:
        return ["none", None]
    for tag, t in _KEY_TYPES.items():
        if type(k) is t:
            return [tag, k]
    raise TypeError(f"cannot export a pytree with a dict key of type {type(k).__name__} ({k!r}); "
                    f"artifacts store keys of type str, int, float, bool or None")


def tree_to_json(t: TreeDef):
    if t.kind == "leaf":
        return {"kind": "leaf"}
    if t.kind == "none":
        return {"kind": "none"}
    out = {"kind": t.kind, "children": [tree_to_json(c) for c in t.children]}
    if t.kind == "dict":
        out["keys"] = [_key_to_json(k) for k in t.aux]
    elif t.kind == "namedtuple":
        out["name"] = t.aux.__name__
        out["fields"] = list(t.aux._fields)
    return out


@functools.lru_cache(maxsize=None)
def _namedtuple(name: str, fields: tuple):
    return collections.namedtuple(name, fields)


def _key_from_json(k):
    if not (isinstance(k, list) and len(k) == 2 and (k[0] == "none" or k[0] in _KEY_TYPES)):
        raise ArtifactError(f"manifest: bad pytree dict key {k!r}")
    if k[0] == "none":
        return None
    if type(k[1]) is not _KEY_TYPES[k[0]] and not (k[0] == "float" and type(k[1]) is int):
        raise ArtifactError(f"manifest: pytree dict key {k!r} does not match its type tag")
    return _KEY_TYPES[k[0]](k[1])


def tree_from_json(obj) -> TreeDef:
    if not isinstance(obj, dict) or "kind" not in obj:
        raise ArtifactError(f"manifest: bad pytree structure {obj!r:.80}")
    kind = obj["kind"]
    if kind == "leaf":
        return LEAF
    if kind == "none":
        return TreeDef("none", None, ())
    children = obj.get("children")
    if kind not in ("tuple", "list", "dict", "namedtuple") or not isinstance(children, list):
        raise ArtifactError(f"manifest: bad pytree node kind {kind!r}")
    kids = tuple(tree_from_json(c) for c in children)
    if kind == "dict":
        keys = obj.get("keys")
        if not isinstance(keys, list) or len(keys) != len(kids):
            raise ArtifactError("manifest: a pytree dict's keys do not match its children")
        return TreeDef("dict", tuple(_key_from_json(k) for k in keys), kids)
    if kind == "namedtuple":
        name, fields = obj.get("name"), obj.get("fields")
        if not (isinstance(name, str) and name.isidentifier() and isinstance(fields, list)
                and len(fields) == len(kids) and all(isinstance(f, str) and f.isidentifier() for f in fields)):
            raise ArtifactError("manifest: bad namedtuple in a pytree structure")
        try:
            cls = _namedtuple(name, tuple(fields))
        except (ValueError, TypeError) as e:  # keywords, duplicates, leading underscores
            raise ArtifactError(f"manifest: bad namedtuple {name!r:.40} in a pytree structure: {e}") from None
        return TreeDef("namedtuple", cls, kids)
    return TreeDef(kind, None, kids)
