"""Pytrees: nested tuples, lists and dicts (and None) of leaves, and registered classes.

`flatten(tree) -> (leaves, treedef)`; `unflatten(treedef, leaves)`. Dict keys
are sorted, as in JAX, so the order of leaves does not depend on insertion.
Classes registered with `register_pytree_node` (or `register_dataclass`) are
nodes too: their flatten function gives (children, aux_data), aux_data is
kept in the treedef (it must be hashable and comparable, as in JAX).
"""

from __future__ import annotations

from typing import Any, NamedTuple


class TreeDef(NamedTuple):
    kind: str  # "leaf", "none", "tuple", "list", "dict", "namedtuple", "custom"
    aux: Any  # dict keys, the namedtuple class, or (registered class, aux_data)
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
        if self.kind == "custom":
            return f"{self.aux[0].__name__}[{self.aux[1]!r}](" + inner + ")"
        return "(" + inner + ("," if len(self.children) == 1 else "") + ")"


LEAF = TreeDef("leaf", None, ())


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


_CONTAINERS = (tuple, list, dict, type(None))
_REGISTRY: dict = {}  # class -> (flatten(x) -> (children, aux_data), unflatten(aux_data, children) -> x)


def register_pytree_node(nodetype, flatten_func, unflatten_func):
    """Make instances of `nodetype` pytree nodes (as jax.tree_util.register_pytree_node):
    `flatten_func(x) -> (children, aux_data)`, `unflatten_func(aux_data, children) -> x`."""
    if not isinstance(nodetype, type):
        raise TypeError(f"register_pytree_node expects a class, got {nodetype!r}")
    if nodetype in _REGISTRY or nodetype in _CONTAINERS:
        raise ValueError(f"{nodetype.__name__} is already registered as a pytree node")
    _REGISTRY[nodetype] = (flatten_func, unflatten_func)
    return nodetype


def register_pytree_node_class(cls):
    """Class decorator: `cls` has `tree_flatten(self)` and a classmethod `tree_unflatten(aux, children)`."""
    register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
    return cls


def register_dataclass(nodetype=None, data_fields=None, meta_fields=None, drop_fields=()):
    """Register a dataclass as a pytree node (as jax.tree_util.register_dataclass): `data_fields`
    are children (arrays), `meta_fields` go into the treedef (static, hashable). Without them, the
    fields marked `dataclasses.field(metadata=dict(static=True))` are meta, the others data.
    Usable as a decorator."""
    import dataclasses
    if nodetype is None:
        return lambda cls: register_dataclass(cls, data_fields, meta_fields, drop_fields)
    if data_fields is None and meta_fields is None:
        if not dataclasses.is_dataclass(nodetype):
            raise TypeError(f"register_dataclass: {nodetype.__name__} is not a dataclass; pass data_fields and "
                            "meta_fields")
        fields = [f for f in dataclasses.fields(nodetype) if f.init and f.name not in drop_fields]
        meta_fields = [f.name for f in fields if f.metadata.get("static", False)]
        data_fields = [f.name for f in fields if not f.metadata.get("static", False)]
    elif data_fields is None or meta_fields is None:
        raise TypeError("register_dataclass: pass both data_fields and meta_fields, or neither")
    data_fields, meta_fields = tuple(data_fields), tuple(meta_fields)
    if dataclasses.is_dataclass(nodetype):
        init = {f.name for f in dataclasses.fields(nodetype) if f.init} - set(drop_fields)
        if init != set(data_fields) | set(meta_fields):
            raise ValueError(f"register_dataclass: data_fields and meta_fields of {nodetype.__name__} must name "
                             f"its init fields {sorted(init)}")

    def flat(x):
        return [getattr(x, n) for n in data_fields], tuple(getattr(x, n) for n in meta_fields)

    def unflat(meta, children):
        return nodetype(**dict(zip(data_fields, children)), **dict(zip(meta_fields, meta)))

    return register_pytree_node(nodetype, flat, unflat)


def flatten(tree, is_leaf=None) -> tuple[list, TreeDef]:
    leaves: list = []

    def go(x):
        t = type(x)
        if is_leaf is None:  # exact types first: this runs on every call of a jitted function
            if t is tuple:
                return TreeDef("tuple", None, tuple([go(c) for c in x]))
            if t is list:
                return TreeDef("list", None, tuple([go(c) for c in x]))
            if t not in _CONTAINERS and not isinstance(x, _CONTAINERS) and t not in _REGISTRY:
                leaves.append(x)
                return LEAF
        elif is_leaf(x):
            leaves.append(x)
            return LEAF
        node = _REGISTRY.get(t)
        if node is not None:
            children, aux = node[0](x)
            return TreeDef("custom", (t, aux), tuple(go(c) for c in children))
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
        if t.kind == "custom":
            return _REGISTRY[t.aux[0]][1](t.aux[1], kids)
        return dict(zip(t.aux, kids))

    out = go(treedef)
    rest = list(it)
    if rest:
        raise ValueError(f"unflatten: {len(rest)} leaves left over for tree {treedef}")
    return out


def tree_map(fn, tree, *rest, is_leaf=None):
    """`fn` applied to the leaves of `tree` (and the corresponding leaves of `rest`, trees of the
    same structure); the result has `tree`'s structure."""
    leaves, td = flatten(tree, is_leaf)
    others = []
    for r in rest:
        ls, rt = flatten(r, is_leaf)
        if rt != td:
            raise ValueError(f"tree_map: trees have different structures: {td} and {rt}")
        others.append(ls)
    return unflatten(td, [fn(x, *ys) for x, *ys in zip(leaves, *others)])


def tree_leaves(tree, is_leaf=None) -> list:
    return flatten(tree, is_leaf)[0]


def tree_structure(tree, is_leaf=None) -> TreeDef:
    return flatten(tree, is_leaf)[1]


def tree_flatten(tree, is_leaf=None) -> tuple[list, TreeDef]:
    """(leaves, treedef), as jax.tree_util.tree_flatten."""
    return flatten(tree, is_leaf)


def tree_unflatten(treedef: TreeDef, leaves):
    """The tree of structure `treedef` with `leaves`, as jax.tree_util.tree_unflatten."""
    return unflatten(treedef, leaves)


def tree_reduce(fn, tree, initializer=None, is_leaf=None):
    import functools
    leaves = flatten(tree, is_leaf)[0]
    return functools.reduce(fn, leaves) if initializer is None else functools.reduce(fn, leaves, initializer)


def tree_all(tree) -> bool:
    return all(flatten(tree)[0])
