"""`chainrule.tree_util`: pytree utilities under JAX's names (jax.tree_util).

A pytree is nested tuples, lists, dicts (keys sorted), namedtuples and None,
plus classes registered here; everything else is a leaf. Registered classes
(a dataclass with `register_dataclass`, any class with
`register_pytree_node`) may be arguments and results of `jit`, `grad`,
`vmap` and the other transformations.
"""

from .frontend.pytree import (TreeDef, register_dataclass, register_pytree_node,  # noqa: F401
                              register_pytree_node_class, tree_all, tree_flatten, tree_leaves, tree_map,
                              tree_reduce, tree_structure, tree_unflatten)

__all__ = ["TreeDef", "register_dataclass", "register_pytree_node", "register_pytree_node_class", "tree_all",
           "tree_flatten", "tree_leaves", "tree_map", "tree_reduce", "tree_structure", "tree_unflatten"]
