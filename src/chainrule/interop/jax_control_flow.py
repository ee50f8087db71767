"""JAX's cond / while / scan primitives -> chainrule's case / while / scan ops.

chainrule regions are closed (they see only their parameters), while JAX
passes loop constants separately: `while` therefore carries JAX's cond and
body constants through the loop unchanged, and each branch or body jaxpr
becomes a region graph of its own.
"""

from __future__ import annotations

import jax

from ..ir import GraphBuilder, TensorType, int32
from .jax_primitives import Context, UnsupportedPrimitiveError, prim


def region(name, param_types, build, parent: Context | None = None):
    """A region graph with parameters of `param_types`; `build(ctx, params)` returns its results.
    The region's context inherits `parent`'s flags (whether it is inside a custom rule)."""
    b = GraphBuilder(name)
    params = [b.param(t, f"p{i}") for i, t in enumerate(param_types)]
    ctx = Context(b)
    ctx.inside_rule = parent.inside_rule if parent is not None else False
    return b.build(list(build(ctx, params)))


def _inline(closed):
    from .jax_import import inline_jaxpr

    def build(ctx, args):
        return inline_jaxpr(ctx, closed.jaxpr, closed.consts, list(args))
    return build


@prim("cond")
def _cond(ctx, eqn, ins):
    # lax.cond and lax.switch bind `cond` with an in-range int32 index (branch 0 is cond's false branch)
    index, operands = ctx.convert(ins[0], int32), ins[1:]
    types = [v.type for v in operands]
    branches = [region(f"branch{k}", types, _inline(br), ctx) for k, br in enumerate(eqn.params["branches"])]
    return list(ctx.b.emit("case", [index, *operands], {}, branches).results)


@prim("while")
def _while(ctx, eqn, ins):
    p = eqn.params
    cn, bn = p["cond_nconsts"], p["body_nconsts"]
    types = [v.type for v in ins]
    cond_build, body_build = _inline(p["cond_jaxpr"]), _inline(p["body_jaxpr"])

    def cond(c, ps):
        return cond_build(c, ps[:cn] + ps[cn + bn:])

    def body(c, ps):
        return list(ps[:cn + bn]) + list(body_build(c, ps[cn:]))  # constants pass through

    node = ctx.b.emit("while", ins, {}, (region("cond", types, cond, ctx), region("body", types, body, ctx)))
    return list(node.results[cn + bn:])


@prim("scan")
def _scan(ctx, eqn, ins):
    p = eqn.params
    if "num_consts" not in p:  # JAX 0.11 describes scan operands by flat trees (`ft_in`)
        raise UnsupportedPrimitiveError(f"from_jax: the scan of JAX {jax.__version__} (operands given as "
                                        "flat trees) is not supported yet; JAX <= 0.10 works")
    nc, nk, length = p["num_consts"], p["num_carry"], p["length"]
    types = [v.type for v in ins[:nc + nk]] + [TensorType(v.shape[1:], v.dtype) for v in ins[nc + nk:]]
    body = region("body", types, _inline(p["jaxpr"]), ctx)
    attrs = {"num_consts": nc, "num_carry": nk, "length": length, "reverse": bool(p["reverse"])}
    return list(ctx.b.emit("scan", ins, attrs, (body,)).results)
