"""JAX's custom_jvp functions and checkpoints, kept as what they are.

`custom_jvp_call` becomes chainrule's `custom_jvp_call` op: region 0 is the
function, region 1 the user's JVP rule, traced from JAX's rule to a jaxpr,
so chainrule differentiates it with that rule (jax.nn.relu's derivative at 0
is 0, as in JAX, not the 1/2 that max(x, 0) would give). Rules inside a
rule are inlined (their primal function only) so the tracing terminates.
`remat2` (jax.checkpoint) becomes chainrule's `remat` op with the same
policy where chainrule has it. custom_vjp functions are inlined (their
primal function; see jax_primitives.INLINE).
"""

from __future__ import annotations

import jax

from .jax_control_flow import region
from .jax_primitives import INLINE, prim


def _inline_primal(ctx, eqn, ins):
    from .jax_import import inline_jaxpr
    sub, consts = INLINE["custom_jvp_call"](eqn)
    return inline_jaxpr(ctx, sub, consts, ins)


@prim("custom_jvp_call")
def _custom_jvp_call(ctx, eqn, ins):
    from .jax_import import inline_jaxpr

    if ctx.inside_rule:
        return _inline_primal(ctx, eqn, ins)
    p = eqn.params
    nc, n = p["num_consts"], len(ins)
    types = [v.type for v in ins]
    differentiable = [t.dtype.is_float for t in types[nc:]]
    try:  # JAX traces the rule for the given pattern of zero tangents (ints and bools have none)
        with jax.enable_x64(True):
            rule, rule_consts, out_zeros = p["jvp_jaxpr_fun"].call_wrapped(*[not d for d in differentiable])
    except Exception:  # the rule's private protocol changed: keep the function, lose its rule
        return _inline_primal(ctx, eqn, ins)

    def primal(c, ps):
        sub, consts = INLINE["custom_jvp_call"](eqn)
        return inline_jaxpr(c, sub, consts, list(ps))

    def jvp(c, ps):
        c.inside_rule = True
        primals = list(ps[nc:n])
        tangents = [t for t, d in zip(ps[n + nc:], differentiable) if d]
        outs = inline_jaxpr(c, rule, rule_consts, primals + tangents)
        out_primals, nonzero = outs[:len(out_zeros)], iter(outs[len(out_zeros):])
        out_tangents = [c.full(0, o.type) if z else next(nonzero) for o, z in zip(out_primals, out_zeros)]
        return out_primals + out_tangents

    regions = (region("primal", types, primal, ctx), region("jvp", types * 2, jvp, ctx))
    return list(ctx.b.emit("custom_jvp_call", ins, {}, regions).results)


def _policy_name(policy):
    if policy is None:
        return "nothing_saveable"
    for name in ("nothing_saveable", "dots_saveable", "dots_with_no_batch_dims_saveable", "everything_saveable"):
        if policy is getattr(jax.checkpoint_policies, name, object()):
            return name
    return None


@prim("remat2", "checkpoint")
def _remat(ctx, eqn, ins):
    from ..ir import get_op
    from .jax_import import inline_jaxpr

    sub, consts = INLINE["remat2"](eqn)
    name = _policy_name(eqn.params.get("policy"))
    if name is None or name not in get_op("remat").attrs["policy"].choices:
        return inline_jaxpr(ctx, sub, consts, ins)  # a policy chainrule lacks: a plain call
    body = region("checkpointed", [v.type for v in ins], lambda c, ps: inline_jaxpr(c, sub, consts, list(ps)), ctx)
    return list(ctx.b.emit("remat", ins, {"policy": name}, (body,)).results)
