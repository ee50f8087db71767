"""The jax lowering of `sort`: `jax.lax.sort`, whose comparator is the one the op defines."""

from __future__ import annotations

from jax import lax

from .table import lowering


@lowering("sort")
def _sort(args, attrs, out, regions):
    return tuple(lax.sort(tuple(args), dimension=attrs["dimension"], is_stable=attrs["is_stable"],
                          num_keys=attrs["num_keys"]))
