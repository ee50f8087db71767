"""Derivative rules of the custom-derivative ops (custom_jvp_call, custom_vjp_call, custom_vjp_lin).

* custom_jvp_call: the tangent is the user's jvp region, inlined. Since
  it is written in ordinary ops, reverse mode linearizes and transposes it
  like any other code, and higher orders differentiate the rule itself.
  The primal stays the custom_jvp_call node (backends run region 0).
* custom_vjp_call: an expansion (see `trace.EXPANSIONS`), made only for
  reverse mode: the fwd region is inlined (its outputs are the primal
  results, its residuals stay primal values) and one `custom_vjp_lin` node
  per float output carries the tangents; its transpose is the bwd region.
  Forward mode is refused, as in JAX.
"""

from __future__ import annotations

from .errors import NonDifferentiableError
from .jvp_rules import JVP_RULES
from .trace import expansion
from .transpose_rules import TRANSPOSE_RULES


class ForwardModeCustomVJPError(NonDifferentiableError, TypeError):
    """jvp (forward mode) reached a custom_vjp function, which only has a reverse-mode rule."""


def inline_region(e, region, args):
    """Emit `region`'s nodes applied to `args`; returns its results."""
    env = {id(p): a for p, a in zip(region.params, args, strict=True)}
    for node in region.nodes:
        new = e.emit(node.op, [env[id(v)] for v in node.operands], node.attrs, node.regions)
        for r, n in zip(node.results, new.results):
            env[id(r)] = n
    return [env[id(r)] for r in region.results]


def _custom_jvp_call(e, node, xs, ts, ys):
    _, jvp = node.regions
    tans = [e.materialize(t, x.type) for t, x in zip(ts, xs)]
    outs = inline_region(e, jvp, list(xs) + tans)
    n = len(ys)
    # a rule output that does not depend on any tangent is zero (the rule is linear in the tangents)
    return [t if y.dtype.is_inexact and e.is_linear(t) else None for t, y in zip(outs[n:], ys)]


@expansion("custom_vjp_call")
def _custom_vjp_call(e, node, xs, ts, trace):
    if not e.linearizing:
        raise ForwardModeCustomVJPError(
            "can't apply forward-mode autodiff (jvp, jacfwd) to a custom_vjp function: it only has a "
            "reverse-mode rule; define it with custom_jvp instead, or use reverse mode (grad, vjp, jacrev)")
    _, fwd, bwd = node.regions
    fouts = inline_region(e, fwd, list(xs))
    n = len(node.results)
    ys, residuals = fouts[:n], fouts[n:]
    tans = [e.materialize(t, x.type) for t, x in zip(ts, xs)]
    outs = []
    for k, y in enumerate(ys):
        if not y.dtype.is_inexact:
            outs.append(None)
            continue
        lin = e.emit("custom_vjp_lin", list(residuals) + tans,
                     {"num_residuals": len(residuals), "output_index": k}, (bwd,))
        outs.append(lin.results[0])
    return ys, outs


def _custom_vjp_lin_transpose(e, node, ct, linear):
    # bwd is called once per output that receives a cotangent, the other outputs' cotangents zero
    (bwd,) = node.regions
    nres, k = node.attrs["num_residuals"], node.attrs["output_index"]
    residuals = list(node.operands[:nres])
    out_types = bwd.param_types[nres:]
    cts = [ct if i == k else e.zeros(t) for i, t in enumerate(out_types)]
    arg_cts = inline_region(e, bwd, residuals + cts)
    return [None] * nres + [c if lin else None for c, lin in zip(arg_cts, linear[nres:])]


def _custom_vjp_lin_jvp(e, node, xs, ts, ys):
    # linear in its tangent operands (and the residuals are primal): the JVP is the op applied to tangents
    nres = node.attrs["num_residuals"]
    if any(t is not None for t in ts[:nres]):
        raise NonDifferentiableError(
            "differentiating the gradient of a custom_vjp function with respect to its residuals is not "
            "supported yet (higher-order reverse mode through custom_vjp)")
    tans = [e.materialize(t, x.type) for t, x in zip(ts[nres:], xs[nres:])]
    return [e.emit("custom_vjp_lin", list(xs[:nres]) + tans, node.attrs, node.regions).results[0]]


JVP_RULES["custom_jvp_call"] = _custom_jvp_call
JVP_RULES["custom_vjp_lin"] = _custom_vjp_lin_jvp
TRANSPOSE_RULES["custom_vjp_lin"] = _custom_vjp_lin_transpose
