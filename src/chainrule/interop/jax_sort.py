"""from_jax of `lax.sort` (jnp.sort, argsort, median, ...): chainrule's `sort` op has its semantics and
attributes (dimension, is_stable, num_keys), so the primitive maps one to one."""

from __future__ import annotations

from .jax_primitives import PRIMITIVES


def _sort(ctx, eqn, ins):
    p = eqn.params
    out = ctx.op("sort", *ins, dimension=p["dimension"], is_stable=bool(p["is_stable"]), num_keys=p["num_keys"])
    return list(out) if isinstance(out, (list, tuple)) else [out]


PRIMITIVES["sort"] = _sort
