"""Pytrees: nested tuples, lists and dicts (and None) of leaves.

`flatten(tree) -> (leaves, treedef)`; `unflatten(treedef, leaves)`. Dict keys
are sorted, as in JAX, so the order of leaves does not depend on insertion.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class TreeDef(NamedTuple):
    kind: str  # "leaf", "none", "tuple", "list", "dict", "namedtuple"
    aux: Any  # dict keys, or the namedtuple class
    children: tuple

    @property
    def num_leaves(self) -> int:
        if self.kind == "leaf":
            return 1
        return sum(c.num_leaves for c in self.children)

    def __repr__(self):
        if self.kind == "leaf":
            return "*"
        if self.kind == "none":
            return "None"
        inner = ", ".join(map(repr, self.children))
        if self.kind == "dict":
            inner = ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.aux, self.children))
            return "{" + inner + "}"
        if self.kind == "list":
            return "[" + inner + "]"
        return "(" + inner + ("," if len(self.children) == 1 else "") + ")"


LEAF = TreeDef("leaf", None, ())


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


_CONTAINERS = (tuple, list, dict, type(None))


def flatten(tree, is_leaf=None) -> tuple[list, TreeDef]:
    leaves: list = []

    def go(x):
        t = type(x)
        if is_leaf is None:  # exact types first: this runs on every call of a jitted function
            if t is tuple:
                return TreeDef("tuple", None, tuple([go(c) for c in x]))
            if t is list:
                return TreeDef("list", None, tuple([go(c) for c in x]))
            if t not in _CONTAINERS and not isinstance(x, _CONTAINERS):
                leaves.append(x)
                return LEAF
        elif is_leaf(x):
            leaves.append(x)
            return LEAF
        if x is None:
            return TreeDef("none", None, ())
        if _is_namedtuple(x):
            return TreeDef("namedtuple", type(x), tuple(go(c) for c in x))
        if isinstance(x, tuple):
            return TreeDef("tuple", None, tuple(go(c) for c in x))
        if isinstance(x, list):
            return TreeDef("list", None, tuple(go(c) for c in x))
        if isinstance(x, dict):
            keys = tuple(sorted(x, key=_key_order))
            return TreeDef("dict", keys, tuple(go(x[k]) for k in keys))
        leaves.append(x)
        return LEAF

    return leaves, go(tree)


def _key_order(k):
    return (type(k).__name__, k) if not isinstance(k, (int, float)) else ("", k)


def unflatten(treedef: TreeDef, leaves):
    it = iter(leaves)

    def go(t):
        if t.kind == "leaf":
            return next(it)
        if t.kind == "none":
            return None
        kids = [go(c) for c in t.children]
        if t.kind == "tuple":
            return tuple(kids)
        if t.kind == "namedtuple":
            return t.aux(*kids)
        if t.kind == "list":
            return kids
        return dict(zip(t.aux, kids))

    out = go(treedef)
    rest = list(it)
    if rest:
        raise ValueError(f"unflatten: {len(rest)} leaves left over for tree {treedef}")
    return out


def tree_map(fn, tree, *rest):
    leaves, td = flatten(tree)
    others = [flatten(r)[0] for r in rest]
    return unflatten(td, [fn(x, *ys) for x, *ys in zip(leaves, *others)])


def tree_leaves(tree) -> list:
    return flatten(tree)[0]


def tree_structure(tree) -> TreeDef:
    return flatten(tree)[1]
