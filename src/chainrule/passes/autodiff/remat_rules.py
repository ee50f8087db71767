"""Derivative rules of `remat` (checkpointing): the cond trick with one region.

`remat` is an expansion (`trace.EXPANSIONS`), so it chooses its own primal:

* reverse mode (the linearizing trace of `vjp_graph`):
  1. a *primal* remat node over the operands; its region is the body, plus,
     when the policy saves dot_general results, those results as extra
     outputs (the residuals the policy allows);
  2. a *tangent* remat node over (operands..., saved values..., operand
     tangents...) whose region is the tangent part of the body's JVP. It
     recomputes the primal inside (reading saved dot results from its
     parameters instead of recomputing them), so it is linear in its tangent
     operands and its only primal inputs are the operands and saved values.
  The transpose of a remat linear in some operands (TRANSPOSE_RULES) is a
  remat over (non-linear operands..., output cotangents...) whose region is
  `vjp_graph` of the linear region: the recomputation then runs inside the
  backward pass, and the reverse graph stores the region's inputs (and the
  saved values) instead of its intermediates. Closed regions keep CSE from
  merging that recomputation with the forward values.
* forward mode (`jvp_graph`) emits the same two nodes: the tangent node
  must stay transposable, because the scan rule builds its tangent body with
  `jvp_graph` and then transposes it. (The primal is thus computed twice in
  pure forward mode; inside a scan's tangent body the primal node is dead.)
* a tangent node carries `num_tangents`: it is linear in its last operands,
  so its JVP with respect to those alone is the node applied to their
  tangents (not the JVP of a JVP, which would carry tangents of tangents
  through every loop inside).
* policy everything_saveable: the body is differentiated in place (inlined),
  as if it were not checkpointed.

Only dot_general nodes at the top level of the region are saveable; those
inside nested regions (a scan body within the checkpointed function) are
recomputed with their region.
"""

from __future__ import annotations

from ...ir import Graph, GraphBuilder
from .control_flow_rules import as_list, transposed_branch, make_region, nonzero_tangents
from .emit import Emitter
from .jvp_rules import JVP_RULES
from .trace import expansion, jvp_trace
from .transform import dce
from .transpose_rules import TRANSPOSE_RULES


# --- what a policy saves ---------------------------------------------------------------------

def _saves_dot(node) -> bool:
    return node.op.name == "dot_general" and node.results[0].dtype.is_inexact


def _saves_dot_no_batch(node) -> bool:
    return _saves_dot(node) and not node.attrs["lhs_batch"]


# policy name -> predicate on the region's top-level nodes: is this node's result saved for the backward pass
SAVED_BY_POLICY = {
    "nothing_saveable": None,
    "dots_saveable": _saves_dot,
    "dots_with_no_batch_dims_saveable": _saves_dot_no_batch,
}


def saved_nodes(body: Graph, policy: str) -> list:
    """The top-level nodes of `body` whose results the policy saves (in graph order)."""
    pred = SAVED_BY_POLICY[policy]
    return [] if pred is None else [n for n in body.nodes if pred(n)]


# --- the JVP of the body, reading saved results instead of recomputing them --------------------

def _tangent_region(body: Graph, saved: list, wrt: list, keep: list) -> Graph:
    """(params..., saved results..., tangents of params `wrt`...) -> tangents of results `keep`."""
    b = GraphBuilder(f"{body.name}_tan")
    e = Emitter(b)
    ps = [b.param(t) for t in body.param_types]
    ds = {id(n): [b.param(r.type) for r in n.results] for n in saved}
    ts = [None] * len(ps)
    for i in wrt:
        ts[i] = e.mark_linear(b.param(body.param_types[i]))
    _, touts = jvp_trace(body, e, ps, ts, saved=ds)
    return dce(b, [e.materialize(touts[k], body.results[k].type) for k in keep])


def _needed(saved: list, tangent: Graph, first: int) -> list:
    """The saved nodes whose results `tangent` (params: operands, then saved results from `first`) reads."""
    used = {id(v) for n in tangent.nodes for v in n.operands} | {id(r) for r in tangent.results}
    out, pos = [], first
    for node in saved:
        k = len(node.results)
        if any(id(p) in used for p in tangent.params[pos:pos + k]):
            out.append(node)
        pos += k
    return out


def _with_saved_results(body: Graph, saved: list) -> Graph:
    """The body, also returning the results of the saved nodes (the primal node's extra outputs)."""
    if not saved:
        return body
    ids = {id(n) for n in saved}
    n = len(body.results)

    def fn(b, ps):
        env = {id(p): a for p, a in zip(body.params, ps)}
        extra = []
        for node in body.nodes:
            new = b.emit(node.op, [env[id(v)] for v in node.operands], node.attrs, node.regions)
            for r, v in zip(node.results, new.results):
                env[id(r)] = v
            if id(node) in ids:
                extra.extend(new.results)
        return [env[id(r)] for r in body.results] + extra

    region = make_region(f"{body.name}_save", body.param_types, fn)
    assert len(region.results) == n + sum(len(s.results) for s in saved)
    return region


# --- rules ---------------------------------------------------------------------------------

@expansion("remat")
def _remat_jvp(e, node, xs, ts, trace):
    (body,) = node.regions
    policy, m = node.attrs["policy"], node.attrs["num_tangents"]
    if policy == "everything_saveable":
        return trace(body, e, xs, ts)
    k = len(xs) - m
    if m and all(t is None for t in ts[:k]):
        # a tangent node differentiated in its tangent operands only: it is linear in them
        ys = list(e.emit("remat", xs, node.attrs, node.regions).results)
        tans = [e.materialize(t, x.type) for t, x in zip(ts[k:], xs[k:])]
        tn = e.emit("remat", [*xs[:k], *tans], node.attrs, node.regions)
        return ys, [r if r.dtype.is_inexact else None for r in tn.results]
    return _checkpoint_jvp(e, body, node.attrs.replace(num_tangents=0), xs, ts)


def _checkpoint_jvp(e, body, attrs, xs, ts):
    """Primal node + tangent node of the checkpointed function `body` (see the module docstring)."""
    n = len(body.results)
    wrt = [i for i, (x, t) in enumerate(zip(xs, ts)) if t is not None and x.dtype.is_inexact]
    nz = nonzero_tangents(body, set(wrt)) if wrt else [False] * n
    keep = [k for k, r in enumerate(body.results) if r.dtype.is_inexact and nz[k]]
    if not keep:
        return list(e.emit("remat", xs, attrs, (body,)).results), [None] * n
    saved = saved_nodes(body, attrs["policy"])
    tangent = _tangent_region(body, saved, wrt, keep)
    needed = _needed(saved, tangent, len(xs))
    if len(needed) != len(saved):  # save only what the tangent region reads (as JAX's partial eval does)
        saved = needed
        tangent = _tangent_region(body, saved, wrt, keep)
    pn = e.emit("remat", xs, attrs, (_with_saved_results(body, saved),))
    ys, residuals = list(pn.results[:n]), list(pn.results[n:])
    tans = [ts[i] for i in wrt]
    tn = e.emit("remat", [*xs, *residuals, *tans], attrs.replace(num_tangents=len(tans)), (tangent,))
    touts = [None] * n
    for k, r in zip(keep, tn.results):
        touts[k] = r
    return ys, touts


def _remat_transpose(e, node, ct, linear):
    (region,) = node.regions
    cts = [e.materialize(c, r.type) for c, r in zip(as_list(ct, node), node.results, strict=True)]
    nonlin = [i for i, f in enumerate(linear) if not f]
    lin = [i for i, f in enumerate(linear) if f]
    back = transposed_branch(region, nonlin, lin)
    tn = e.emit("remat", [*(node.operands[i] for i in nonlin), *cts], node.attrs.replace(num_tangents=0), (back,))
    out = [None] * len(node.operands)
    for i, r in zip(lin, tn.results):
        out[i] = r
    return out


TRANSPOSE_RULES["remat"] = _remat_transpose
assert "remat" not in JVP_RULES  # an expansion: it emits its own primal node
