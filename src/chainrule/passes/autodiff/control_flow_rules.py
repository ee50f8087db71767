"""Derivative rules of the control-flow ops (cond, case, while, scan), as JAX does them.

The regions are closed graphs, so every rule differentiates a region with
the pass itself (`jvp_graph`, `vjp_graph`) and wraps the result in a new
region of the same op. No new ops are needed: which operands are tangents is
exactly what the transpose driver's `linear` flags say.

* cond / case (JVP_RULES): the driver emits the original node for the primal
  results; the rule adds a *tangent* node of the same op over
  (selector, primal operands..., operand tangents...) whose branch k is
  `jvp_graph(branch_k)` restricted to the tangents of the float results.
  The branch recomputes its primal part inside, so the tangent node is linear
  in its tangent operands. Transpose (any cond/case linear in some
  operands): a cond/case over (selector, non-linear operands..., output
  cotangents...) whose branch k is `vjp_graph(branch_k)` with respect to
  the linear parameters (given zeros: the branch is linear in them).
* while (JVP_RULES): one while over (carry..., non-zero carry tangents...) whose
  body is `jvp_graph(body)`; the original while gives the primal results, so
  they are not marked linear. Reverse mode needs the trip count ahead, so
  its transpose raises `ReverseModeWhileError` (JAX does the same).
* scan (EXPANSIONS, so the primal scan can also save residuals):
  1. the primal scan, extended to also output the stacked carry-in values;
  2. a tangent scan: consts (primal consts, const tangents), carry (tangents
     of the float carries that can be non-zero: `carry_fixpoint`), xs
     (stacked carries, primal xs, x tangents); its body is the tangent part of `jvp_graph(body)`, reading the primal
     carry from the residual slice, so it is linear in the tangents.
  Forward mode (jvp_graph, nothing transposed) instead emits one joint scan
  carrying primal and tangent, so it stores no per-iteration residuals.
  Transpose (any scan linear in its carry and in some consts/xs): a scan in
  the other direction over consts (non-linear consts), carry (carry
  cotangent, accumulated cotangents of the linear consts), xs (non-linear
  xs, ys cotangents), whose body is `vjp_graph` of the linear body; it
  outputs the cotangents of the carry init, the linear consts and the
  stacked linear xs.
"""

from __future__ import annotations

import numpy as np

from ...ir import Graph, GraphBuilder, TensorType
from ...ir.control_flow import scan_split
from .emit import Emitter
from .errors import NonDifferentiableError
from .jvp_rules import JVP_RULES
from .trace import expansion, jvp_trace
from .transform import dce, jvp_graph, vjp_graph
from .transpose_rules import TRANSPOSE_RULES


class ReverseModeWhileError(NonDifferentiableError, ValueError):
    """Reverse-mode differentiation reached a while loop (its trip count is unknown ahead)."""


WHILE_REVERSE_MESSAGE = (
    "Reverse-mode differentiation does not work for while_loop or fori_loop with dynamic (traced) start/stop "
    "values: the number of iterations is not known ahead, so the loop's intermediate values cannot be stored. "
    "Try using cr.scan, or cr.fori_loop with static Python int start/stop (which becomes a scan); "
    "forward mode (cr.jvp, cr.jacfwd) does work through while_loop.")


# --- region building helpers -----------------------------------------------------------

def inline_graph(b: GraphBuilder, graph: Graph, args) -> list:
    """Emit `graph`'s nodes into `b` applied to `args`; returns its results."""
    env = {id(p): a for p, a in zip(graph.params, args, strict=True)}
    for node in graph.nodes:
        new = b.emit(node.op, [env[id(v)] for v in node.operands], node.attrs, node.regions)
        for r, n in zip(node.results, new.results):
            env[id(r)] = n
    return [env[id(r)] for r in graph.results]


def zeros_value(b: GraphBuilder, t: TensorType):
    """A zero tensor of type `t`: a scalar constant broadcast (never a big literal)."""
    z = b.constant(np.zeros((), t.dtype.np))
    return z if t.shape == () else b.op("broadcast_in_dim", z, shape=t.shape, broadcast_dimensions=())


def make_region(name: str, param_types, fn) -> Graph:
    """A region with `param_types`, whose results are `fn(builder, params)`, without dead nodes."""
    b = GraphBuilder(name)
    params = [b.param(t) for t in param_types]
    return dce(b, list(fn(b, params)))


def nonzero_tangents(graph: Graph, with_tangent) -> list[bool]:
    """Which results of `graph` get a non-zero tangent when the params `with_tangent` have one.

    Exact as far as the JVP rules keep zeros symbolic: the JVP trace is run
    into a scratch builder and its symbolic-zero (None) tangents are read off.
    """
    b = GraphBuilder("probe")
    e = Emitter(b)
    ps = [b.param(t) for t in graph.param_types]
    ts = [e.mark_linear(b.param(t)) if i in with_tangent else None for i, t in enumerate(graph.param_types)]
    _, touts = jvp_trace(graph, e, ps, ts)
    return [t is not None for t in touts]


def carry_fixpoint(body: Graph, first_carry: int, carry_types, start, others=()) -> list[int]:
    """The float carries whose tangent can be non-zero (JAX's fixpoint): those starting with one, and
    those the body makes depend on one, iterated until nothing changes. `others` are the body's other
    params with tangents; carry i is param `first_carry + i` and result i."""
    active = set(start)
    while True:
        nz = nonzero_tangents(body, set(others) | {first_carry + i for i in active})
        grown = active | {i for i, t in enumerate(carry_types) if t.dtype.is_inexact and nz[i]}
        if grown == active:
            return sorted(active)
        active = grown


def as_list(ct, node):
    return list(ct) if isinstance(ct, (list, tuple)) else [ct] * (len(node.results) == 1)


# --- cond / case -------------------------------------------------------------------------

def _tangent_branch(branch: Graph, wrt, keep) -> Graph:
    """(params..., tangents of params `wrt`...) -> tangents of results `keep`, linear in the tangents."""
    jg = jvp_graph(branch, wrt=wrt)
    n = len(branch.results)
    return make_region(f"{branch.name}_tan", jg.param_types,
                       lambda b, ps: [inline_graph(b, jg, ps)[n + k] for k in keep])


def _cond_jvp(e, node, xs, ts, ys):
    ops, tans = xs[1:], ts[1:]
    wrt = [i for i, (x, t) in enumerate(zip(ops, tans)) if t is not None and x.dtype.is_inexact]
    if not wrt:
        return [None] * len(ys)
    nz = [nonzero_tangents(br, set(wrt)) for br in node.regions]
    keep = [k for k, y in enumerate(ys) if y.dtype.is_inexact and any(z[k] for z in nz)]
    if not keep:
        return [None] * len(ys)
    branches = tuple(_tangent_branch(br, wrt, keep) for br in node.regions)
    tn = e.emit(node.op, [xs[0], *ops, *(tans[i] for i in wrt)], node.attrs, branches)
    out = [None] * len(ys)
    for k, r in zip(keep, tn.results):
        out[k] = r
    return out


def transposed_branch(branch: Graph, nonlin, lin) -> Graph:
    """(non-linear params..., result cotangents...) -> cotangents of the linear params `lin`."""
    vg = vjp_graph(branch, wrt=lin)
    n = len(branch.results)
    types = [branch.params[i].type for i in nonlin] + list(branch.result_types)

    def body(b, ps):
        args = [None] * len(branch.params)
        for i, p in zip(nonlin, ps):
            args[i] = p
        for i in lin:
            args[i] = zeros_value(b, branch.params[i].type)  # the branch is linear in these: any value does
        return inline_graph(b, vg, args + list(ps[len(nonlin):]))[n:]

    return make_region(f"{branch.name}_T", types, body)


def _cond_transpose(e, node, ct, linear):
    if linear[0]:
        raise NonDifferentiableError(f"internal error: the selector of {node.op.name} is a tangent")
    cts = [e.materialize(c, r.type) for c, r in zip(as_list(ct, node), node.results, strict=True)]
    ops, lin_flags = node.operands[1:], linear[1:]
    nonlin = [i for i, f in enumerate(lin_flags) if not f]
    lin = [i for i, f in enumerate(lin_flags) if f]
    branches = tuple(transposed_branch(br, nonlin, lin) for br in node.regions)
    tn = e.emit(node.op, [node.operands[0], *(ops[i] for i in nonlin), *cts], node.attrs, branches)
    out = [None] * len(node.operands)
    for i, r in zip(lin, tn.results):
        out[1 + i] = r
    return out


# --- while -----------------------------------------------------------------------------------

def _while_jvp(e, node, xs, ts, ys):
    cond, body = node.regions
    n = len(xs)
    fl = carry_fixpoint(body, 0, [x.type for x in xs],
                        [i for i, (x, t) in enumerate(zip(xs, ts)) if t is not None and x.dtype.is_inexact])
    if not fl:
        return [None] * n
    tans = [e.materialize(ts[i], xs[i].type) for i in fl]
    types = [x.type for x in xs] + [t.type for t in tans]
    cond2 = make_region(f"{cond.name}_jvp", types, lambda b, ps: inline_graph(b, cond, ps[:n]))
    jb = jvp_graph(body, wrt=fl)
    body2 = make_region(f"{body.name}_jvp", types,
                        lambda b, ps: (lambda r: r[:n] + [r[n + i] for i in fl])(inline_graph(b, jb, ps)))
    jn = e.emit("while", [*xs, *tans], {}, (cond2, body2))
    out = [None] * n
    for i, r in zip(fl, jn.results[n:]):
        out[i] = r
    return out


def _while_transpose(e, node, ct, linear):
    where = f" (the loop at {node.loc})" if node.loc else ""
    raise ReverseModeWhileError(WHILE_REVERSE_MESSAGE + where)


# --- scan ------------------------------------------------------------------------------------

@expansion("scan")
def _scan_jvp(e, node, xs, ts, trace):
    (body,) = node.regions
    a = node.attrs
    nc, nk = a["num_consts"], a["num_carry"]
    consts, carry, seq = scan_split(xs, a)
    tc, tk, tx = scan_split(ts, a)
    ny = len(node.results) - nk
    wc = [i for i in range(nc) if tc[i] is not None and consts[i].dtype.is_inexact]
    wx = [i for i in range(len(seq)) if tx[i] is not None and seq[i].dtype.is_inexact]
    others = set(wc) | {nc + nk + i for i in wx}
    wk = carry_fixpoint(body, nc, [v.type for v in carry],
                        [i for i in range(nk) if tk[i] is not None and carry[i].dtype.is_inexact], others)
    nz = nonzero_tangents(body, others | {nc + i for i in wk})
    ky = [j for j in range(ny) if node.results[nk + j].dtype.is_inexact and nz[nk + j]]
    if not (wk or ky):
        return list(e.emit("scan", xs, a, node.regions).results), [None] * len(node.results)
    jg = jvp_graph(body, wrt=wc + [nc + i for i in wk] + [nc + nk + i for i in wx])
    t_ops = ([tc[i] for i in wc], [e.materialize(tk[i], carry[i].type) for i in wk], [tx[i] for i in wx])
    split = _joint_scan if not e.linearizing else _residual_and_tangent_scans
    ys, t_carry, t_ys = split(e, node, jg, xs, t_ops, wk, ky)
    touts = [None] * len(ys)
    for i, r in zip(wk, t_carry):
        touts[i] = r
    for j, r in zip(ky, t_ys):
        touts[nk + j] = r
    return ys, touts


def _jvp_body_args(ps, nc, nk, nx, n_tc, n_tk, order):
    """Reorder a region's params into `jg`'s (consts, carry, xs, const tangents, carry tangents, x tangents).

    `order` names the region's parameter groups in sequence, with their sizes from the other arguments.
    """
    sizes = {"c": nc, "k": nk, "x": nx, "tc": n_tc, "tk": n_tk, "tx": None}
    groups, pos = {}, 0
    for g in order:
        n = sizes[g] if sizes[g] is not None else len(ps) - pos
        groups[g] = list(ps[pos:pos + n])
        pos += n
    return groups["c"] + groups["k"] + groups["x"] + groups["tc"] + groups["tk"] + groups["tx"]


def _joint_scan(e, node, jg, xs, t_ops, wk, ky):
    """Forward mode: one scan carrying primal and tangent (no per-iteration residuals are stored)."""
    (body,) = node.regions
    a = node.attrs
    nc, nk = a["num_consts"], a["num_carry"]
    consts, carry, seq = scan_split(xs, a)
    tcs, tks, txs = t_ops
    nres = len(body.results)
    ny = nres - nk
    types = [v.type for v in consts] + [v.type for v in tcs] + [v.type for v in carry] + \
        [v.type for v in tks] + [body.param_types[nc + nk + i] for i in range(len(seq))] + \
        [TensorType(v.shape[1:], v.dtype) for v in txs]

    def jbody(b, ps):
        args = _jvp_body_args(ps, nc, nk, len(seq), len(tcs), len(tks), ("c", "tc", "k", "tk", "x", "tx"))
        r = inline_graph(b, jg, args)
        return r[:nk] + [r[nres + i] for i in wk] + r[nk:nres] + [r[nres + nk + j] for j in ky]

    jb = make_region(f"{body.name}_jvp", types, jbody)
    jn = e.emit("scan", [*consts, *tcs, *carry, *tks, *seq, *txs],
                {"num_consts": nc + len(tcs), "num_carry": nk + len(tks), "length": a["length"],
                 "reverse": a["reverse"]}, (jb,))
    r = jn.results
    k2 = nk + len(tks)
    return list(r[:nk]) + list(r[k2:k2 + ny]), list(r[nk:k2]), list(r[k2 + ny:])


def _residual_and_tangent_scans(e, node, jg, xs, t_ops, wk, ky):
    """Reverse mode: the primal scan saving carries, and a tangent scan linear in the tangents."""
    (body,) = node.regions
    a = node.attrs
    nc, nk = a["num_consts"], a["num_carry"]
    consts, carry, seq = scan_split(xs, a)
    tcs, tks, txs = t_ops
    nres = len(body.results)

    bp = body.param_types

    def tbody_with(kept):
        """The tangent body reading the stacked carries `kept` (the others are never read)."""
        def tbody(b, ps):
            n0 = nc + len(tcs) + len(tks)
            full = list(ps[:n0])
            it = iter(ps[n0:n0 + len(kept)])
            full += [next(it) if i in kept else zeros_value(b, bp[nc + i]) for i in range(nk)]
            full += list(ps[n0 + len(kept):])
            args = _jvp_body_args(full, nc, nk, len(seq), len(tcs), len(tks), ("c", "tc", "tk", "k", "x", "tx"))
            r = inline_graph(b, jg, args)
            return [r[nres + i] for i in wk] + [r[nres + nk + j] for j in ky]
        return tbody

    def tangent_types(kept):
        return [v.type for v in consts] + [v.type for v in tcs] + [v.type for v in tks] + \
            [bp[nc + i] for i in kept] + [bp[nc + nk + i] for i in range(len(seq))] + \
            [TensorType(v.shape[1:], v.dtype) for v in txs]

    # which carries does the tangent body read? (a linear body, e.g. x -> a*x, reads none)
    every = list(range(nk))
    probe = make_region(f"{body.name}_tan", tangent_types(every), tbody_with(every))
    first = nc + len(tcs) + len(tks)
    read = {id(v) for n in probe.nodes for v in n.operands} | {id(r) for r in probe.results}
    kept = [i for i in every if id(probe.params[first + i]) in read]

    # 1. the primal scan, also stacking the carry-ins the tangent scan reads (its residuals)
    ext = make_region(f"{body.name}_res", body.param_types,
                      lambda b, ps: inline_graph(b, body, ps) + [ps[nc + i] for i in kept])
    pn = e.emit("scan", xs, a, (ext,))
    ys = list(pn.results[:nres])
    stacked = list(pn.results[nres:])

    # 2. the tangent scan: consts (consts, const tangents), carry (carry tangents),
    #    xs (stacked carries, xs, x tangents); only the tangents of jg's results are kept
    tb = probe if len(kept) == nk else make_region(f"{body.name}_tan", tangent_types(kept), tbody_with(kept))
    tn = e.emit("scan", [*consts, *tcs, *tks, *stacked, *seq, *txs],
                {"num_consts": nc + len(tcs), "num_carry": len(tks), "length": a["length"],
                 "reverse": a["reverse"]}, (tb,))
    return ys, list(tn.results[:len(tks)]), list(tn.results[len(tks):])


def _scan_transpose(e, node, ct, linear):
    (body,) = node.regions
    a = node.attrs
    nc, nk, length = a["num_consts"], a["num_carry"], a["length"]
    consts, carry, seq = scan_split(node.operands, a)
    lc, _, lx = scan_split(linear, a)
    nx = len(seq)
    if not all(v.dtype.is_inexact for v in carry):
        raise NonDifferentiableError("internal error: a scan in the linear part carries non-float values")
    cts = [e.materialize(c, r.type) for c, r in zip(as_list(ct, node), node.results, strict=True)]
    ct_carry, ct_ys = cts[:nk], cts[nk:]
    nlc = [i for i in range(nc) if not lc[i]]
    lcs = [i for i in range(nc) if lc[i]]
    nlx = [i for i in range(nx) if not lx[i]]
    lxs = [i for i in range(nx) if lx[i]]
    wrt = lcs + [nc + i for i in range(nk)] + [nc + nk + i for i in lxs]
    vg = vjp_graph(body, wrt=wrt)
    nres = len(body.results)
    bp = body.param_types
    acc_types = [bp[i] for i in lcs]
    t_types = [bp[i] for i in nlc] + [bp[nc + i] for i in range(nk)] + acc_types + \
        [bp[nc + nk + i] for i in nlx] + [r.type for r in body.results[nk:]]

    def tbody(b, ps):
        p_nlc = ps[:len(nlc)]
        p_ck = ps[len(nlc):len(nlc) + nk]
        p_acc = ps[len(nlc) + nk:len(nlc) + nk + len(lcs)]
        rest = ps[len(nlc) + nk + len(lcs):]
        p_nlx, p_cy = rest[:len(nlx)], rest[len(nlx):]
        args = [None] * len(bp)
        for i, p in zip(nlc, p_nlc):
            args[i] = p
        for i, p in zip(nlx, p_nlx):
            args[nc + nk + i] = p
        for i in wrt:  # the body is linear in these: any value does
            args[i] = zeros_value(b, bp[i])
        g = inline_graph(b, vg, args + list(p_ck) + list(p_cy))[nres:]
        g_c, g_k, g_x = g[:len(lcs)], g[len(lcs):len(lcs) + nk], g[len(lcs) + nk:]
        acc = [b.op("add", s, c) for s, c in zip(p_acc, g_c)]
        return list(g_k) + acc + list(g_x)

    tb = make_region(f"{body.name}_T", t_types, tbody)
    t_ops = [consts[i] for i in nlc] + ct_carry + [e.zeros(t) for t in acc_types] + \
        [seq[i] for i in nlx] + ct_ys
    tn = e.emit("scan", t_ops, {"num_consts": len(nlc), "num_carry": nk + len(lcs), "length": length,
                                "reverse": not a["reverse"]}, (tb,))
    r = tn.results
    out = [None] * len(node.operands)
    for i, v in zip(lcs, r[nk:nk + len(lcs)]):
        out[i] = v
    for i in range(nk):
        out[nc + i] = r[i]
    for i, v in zip(lxs, r[nk + len(lcs):]):
        out[nc + nk + i] = v
    return out


JVP_RULES["cond"] = _cond_jvp
JVP_RULES["case"] = _cond_jvp
JVP_RULES["while"] = _while_jvp
TRANSPOSE_RULES["cond"] = _cond_transpose
TRANSPOSE_RULES["case"] = _cond_transpose
TRANSPOSE_RULES["while"] = _while_transpose
TRANSPOSE_RULES["scan"] = _scan_transpose
