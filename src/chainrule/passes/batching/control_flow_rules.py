"""Batching rules of cond, case, while and scan.

Regions are closed graphs, so a region is batched as a graph of its own
(`batch_graph`) once the pass knows which of its parameters vary over the
batch. Which loop-carried values vary is a fixpoint: a carry that starts
shared becomes batched when the body mixes a batched value into it.

A predicate or branch index that varies over the batch cannot steer one
branch or one loop for all elements: `cond`/`case` then run every branch and
pick per element with `select`, and `while` runs until no element's
predicate holds, each element keeping its carry once its own predicate
fails (as JAX's batching of these primitives does).
"""

from __future__ import annotations

from ...ir import GraphBuilder
from ...ir.control_flow import scan_split
from .context import BatchContext
from .region_util import batch_region, batched_outputs, front, inline_region
from .table import batching_rule


def _mask_like(ctx, pred, v):
    """The (B,) predicate broadcast to the shape of v (batched at 0)."""
    return pred if v.ndim == 1 else ctx.op("broadcast_in_dim", pred, shape=v.shape, broadcast_dimensions=(0,))


def _select_results(ctx, preds, branch_results):
    """Per output: the value of the first branch whose predicate holds, else the last branch's."""
    outs = []
    for k in range(len(branch_results[0])):
        acc = ctx.materialize(*branch_results[-1][k], 0)
        for pred, res in zip(reversed(preds), reversed(branch_results[:-1])):
            v = ctx.materialize(*res[k], 0)
            acc = ctx.op("select", _mask_like(ctx, pred, v), v, acc)
        outs.append((acc, 0))
    return outs


def _branches(ctx, node, selector, args):
    ops, flags = front(ctx, args)
    out_b = [any(col) for col in zip(*(batched_outputs(r, flags) for r in node.regions))]
    regions = [batch_region(ctx, r, flags, out_b) for r in node.regions]
    new = ctx.emit(node.op, [selector] + ops, node.attrs, regions)
    return [(r, 0 if f else None) for r, f in zip(new.results, out_b)]


@batching_rule("cond")
def _cond(ctx, node, args):
    (pred, bp), rest = args[0], args[1:]
    if bp is None:
        return _branches(ctx, node, pred, rest)
    true_res = inline_region(ctx, node.regions[0], rest)
    false_res = inline_region(ctx, node.regions[1], rest)
    return _select_results(ctx, [ctx.materialize(pred, bp, 0)], [true_res, false_res])


@batching_rule("case")
def _case(ctx, node, args):
    (index, bi), rest = args[0], args[1:]
    if bi is None:
        return _branches(ctx, node, index, rest)
    index = ctx.materialize(index, bi, 0)
    results = [inline_region(ctx, r, rest) for r in node.regions]
    # branch k for index == k; every other index (out of range included) runs the last branch
    preds = [ctx.op("compare", index, ctx.full(k, index.shape, index.dtype), direction="EQ")
             for k in range(len(node.regions) - 1)]
    return _select_results(ctx, preds, results)


def _carry_fixpoint(body, flags):
    """While-loop carry flags, grown until the body maps batched carries to batched carries only."""
    flags = list(flags)
    while True:
        out = batched_outputs(body, flags)
        grow = [k for k, o in enumerate(out) if o and not flags[k]]
        if not grow:
            return flags
        for k in grow:
            flags[k] = True


@batching_rule("while")
def _while(ctx, node, args):
    cond, body = node.regions
    flags = _carry_fixpoint(body, [bd is not None for _, bd in args])
    if not batched_outputs(cond, flags)[0]:
        carry = [ctx.materialize(v, bd, 0) if f else v for (v, bd), f in zip(args, flags)]
        new_cond = batch_region(ctx, cond, flags, [False])
        new_body = batch_region(ctx, body, flags, flags)
        new = ctx.emit("while", carry, node.attrs, (new_cond, new_body))
        return [(r, 0 if f else None) for r, f in zip(new.results, flags)]
    # the predicate varies: every carry is batched; loop while any element's predicate holds
    carry = [ctx.materialize(v, bd, 0) for v, bd in args]
    types = [v.type for v in carry]

    def region(src, build):
        b = GraphBuilder(src.name)
        rctx = BatchContext(b, ctx.size)
        params = [b.param(t, p.name) for t, p in zip(types, src.params)]
        pv = inline_region(rctx, cond, [(p, 0) for p in params])[0]
        pred = rctx.materialize(*pv, 0)
        return b.build(build(rctx, params, pred))

    new_cond = region(cond, lambda c, ps, pred: [c.op("reduce", pred, kind="or", dimensions=(0,))])

    def step(c, ps, pred):
        outs = inline_region(c, body, [(p, 0) for p in ps])
        res = []
        for p, o in zip(ps, outs):
            v = c.materialize(*o, 0)
            # finished elements keep their carry (a carry the body passes through needs no select)
            res.append(p if v is p else c.op("select", _mask_like(c, pred, v), v, p))
        return res

    new_body = region(body, step)
    new = ctx.emit("while", carry, node.attrs, (new_cond, new_body))
    return [(r, 0) for r in new.results]


@batching_rule("scan")
def _scan(ctx, node, args):
    (body,) = node.regions
    a = node.attrs
    consts, carry, xs = scan_split(args, a)
    nc, nk = len(consts), len(carry)
    flags = [bd is not None for _, bd in args]
    flags, out = _scan_fixpoint(body, flags, nc, nk)
    ops = []
    for k, ((v, bd), f) in enumerate(zip(args, flags)):
        if not f:
            ops.append(v)
        elif k < nc + nk:
            ops.append(ctx.materialize(v, bd, 0))
        else:
            ops.append(ctx.materialize(v, bd, 1))  # the scanned axis stays in front; slices are batched at 0
    new_body = batch_region(ctx, body, flags, out)
    new = ctx.emit("scan", ops, a, (new_body,))
    res = []
    for k, (r, f) in enumerate(zip(new.results, out)):
        res.append((r, None if not f else (0 if k < nk else 1)))
    return res


def _scan_fixpoint(body, flags, nc, nk):
    """Scan flags with the carry part grown to a fixpoint; with the body's batched outputs."""
    flags = list(flags)
    while True:
        out = batched_outputs(body, flags)
        grow = [k for k in range(nk) if out[k] and not flags[nc + k]]
        if not grow:
            # a batched carry parameter must also come out batched, to keep the carry's type
            out = [o or (k < nk and flags[nc + k]) for k, o in enumerate(out)]
            return flags, out
        for k in grow:
            flags[nc + k] = True
