"""JAX's custom_jvp and custom_vjp functions and checkpoints, kept as what they are.

`custom_jvp_call` becomes chainrule's `custom_jvp_call` op: region 0 is the
function, region 1 the user's JVP rule, traced from JAX's rule to a jaxpr,
so chainrule differentiates it with that rule (jax.nn.relu's derivative at 0
is 0, as in JAX, not the 1/2 that max(x, 0) would give). Rules inside a
rule are inlined (their primal function only) so the tracing terminates.
`custom_vjp_call` becomes chainrule's `custom_vjp_call` op: the function,
JAX's fwd jaxpr and the bwd rule traced to a jaxpr. `remat2`
(jax.checkpoint) becomes chainrule's `remat` op with the same policy where
chainrule has it. Should JAX's private rule protocol change, the function is
inlined instead (its primal only, differentiated by chainrule).
"""

from __future__ import annotations

import jax

from ..ir import TensorType
from .jax_control_flow import region
from .jax_primitives import INLINE, chainrule_dtype, prim


def _inline_primal(ctx, eqn, ins, prim_name="custom_jvp_call"):
    from .jax_import import inline_jaxpr
    sub, consts = INLINE[prim_name](eqn)
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


def _is_symbolic_zero(x) -> bool:
    return x is None or type(x).__name__ in ("Zero", "SymbolicZero")


@prim("custom_vjp_call")
def _custom_vjp_call(ctx, eqn, ins):
    if ctx.inside_rule or not all(o.aval.dtype.kind == "f" for o in eqn.outvars):
        return _inline_primal(ctx, eqn, ins, "custom_vjp_call")
    try:
        regions = _custom_vjp_regions(ctx, eqn, ins)
    except Exception:  # the rules' private protocol changed: keep the function, lose its rule
        return _inline_primal(ctx, eqn, ins, "custom_vjp_call")
    return list(ctx.b.emit("custom_vjp_call", ins, {}, regions).results)


def _custom_vjp_regions(ctx, eqn, ins):
    """(primal, fwd, bwd) regions from JAX's fwd jaxpr and bwd function, traced here."""
    from .jax_import import inline_jaxpr

    p = eqn.params
    nc = p["num_consts"]
    types = [v.type for v in ins]
    out_types = [_type_of(v.aval) for v in eqn.outvars]
    nonzero = [t.dtype.is_float for t in types[nc:]]
    with jax.enable_x64(True):
        fwd_jaxpr, fwd_consts = p["fwd_jaxpr_thunk"].call_wrapped(*nonzero)
    _, res_tree, input_fwds = p["out_trees"]()
    n_res_out = res_tree.num_leaves - sum(f is not None for f in input_fwds)
    computed = iter(_type_of(v.aval) for v in fwd_jaxpr.outvars[:n_res_out])
    res_types = [next(computed) if f is None else types[f] for f in input_fwds]  # some residuals are inputs

    def primal(c, ps):
        sub, consts = INLINE["custom_vjp_call"](eqn)
        return inline_jaxpr(c, sub, consts, list(ps))

    def fwd(c, ps):
        c.inside_rule = True
        outs = inline_jaxpr(c, fwd_jaxpr, fwd_consts, list(ps[nc:]))
        res_out = iter(outs[:n_res_out])
        residuals = [next(res_out) if f is None else ps[f] for f in input_fwds]
        return list(outs[n_res_out:]) + residuals

    zeros = []  # which input cotangents the bwd rule leaves out (None, symbolic zeros)

    def traced_bwd(*args):
        cts = p["bwd"].call_wrapped(*args)
        zeros[:] = [_is_symbolic_zero(ct) for ct in cts]
        return [ct for ct in cts if not _is_symbolic_zero(ct)]

    specs = [jax.ShapeDtypeStruct(t.shape, t.dtype.np) for t in res_types + out_types]
    with jax.enable_x64(True):
        bwd_jaxpr = jax.make_jaxpr(traced_bwd)(*specs)

    def bwd(c, ps):
        c.inside_rule = True
        given = iter(inline_jaxpr(c, bwd_jaxpr.jaxpr, bwd_jaxpr.consts, list(ps)))
        consts_ct = [c.full(0, t) for t in types[:nc]]
        return consts_ct + [c.full(0, t) if z else next(given) for t, z in zip(types[nc:], zeros)]

    return (region("primal", types, primal, ctx), region("fwd", types, fwd, ctx),
            region("bwd", res_types + out_types, bwd, ctx))


def _type_of(aval) -> TensorType:
    return TensorType(aval.shape, chainrule_dtype(aval.dtype, "a custom_vjp value"))
