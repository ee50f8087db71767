"""Batching rules of shape, reduction and contraction ops.

Each rule rewrites the op's dimension attributes for the batch dimension
where it already is (`shift` maps an unbatched dimension to its batched
position) and reports where the batch dimension lands in the result. Only
`reshape` and `concatenate` of differently batched operands move it.
"""

from __future__ import annotations

from .context import shift
from .table import batching_rule


@batching_rule("broadcast_in_dim")
def _broadcast_in_dim(ctx, node, args):
    ((x, b),) = args
    dims, shape = node.attrs["broadcast_dimensions"], node.attrs["shape"]
    # Put the batch dimension right after the output dimension of the operand dimension before it,
    # so broadcast_dimensions stay strictly increasing without a transpose.
    pos = dims[b - 1] + 1 if b > 0 else 0
    new_dims = tuple(d if i < b else d + 1 for i, d in enumerate(dims))
    new_dims = new_dims[:b] + (pos,) + new_dims[b:]
    new_shape = tuple(shape[:pos]) + (ctx.size,) + tuple(shape[pos:])
    return [(ctx.op("broadcast_in_dim", x, shape=new_shape, broadcast_dimensions=new_dims), pos)]


@batching_rule("reshape")
def _reshape(ctx, node, args):
    ((x, b),) = args
    x = ctx.moveaxis(x, b, 0)  # a reshape mixes dimensions: the batch one must lead to stay separate
    return [(ctx.op("reshape", x, shape=(ctx.size,) + tuple(node.attrs["shape"])), 0)]


@batching_rule("transpose")
def _transpose(ctx, node, args):
    ((x, b),) = args
    perm = (b,) + tuple(shift(p, b) for p in node.attrs["permutation"])
    if perm == tuple(range(len(perm))):
        return [(x, 0)]  # the identity once the batch dimension leads
    return [(ctx.op("transpose", x, permutation=perm), 0)]


@batching_rule("slice")
def _slice(ctx, node, args):
    ((x, b),) = args
    a = node.attrs
    start = list(a["start_indices"])
    limit = list(a["limit_indices"])
    start.insert(b, 0)
    limit.insert(b, ctx.size)
    strides = list(a["strides"])
    if strides:
        strides.insert(b, 1)
    return [(ctx.op("slice", x, start_indices=start, limit_indices=limit, strides=strides), b)]


@batching_rule("reverse")
def _reverse(ctx, node, args):
    ((x, b),) = args
    dims = tuple(shift(d, b) for d in node.attrs["dimensions"])
    return [(ctx.op("reverse", x, dimensions=dims), b)]


@batching_rule("concatenate")
def _concatenate(ctx, node, args):
    vals, b = ctx.align(args)
    return [(ctx.op("concatenate", *vals, dimension=shift(node.attrs["dimension"], b)), b)]


@batching_rule("pad")
def _pad(ctx, node, args):
    (x, bx), (v, bv) = args
    a = node.attrs
    lo, hi, interior = list(a["edge_padding_low"]), list(a["edge_padding_high"]), list(a["interior_padding"])
    b = bx if bx is not None else 0
    x = ctx.materialize(x, bx, b)
    lo.insert(b, 0)
    hi.insert(b, 0)
    if interior:
        interior.insert(b, 0)
    if bv is None:
        return [(ctx.op("pad", x, v, edge_padding_low=lo, edge_padding_high=hi, interior_padding=interior), b)]
    # A padding value per batch element: pad with any value, then choose the padding value where a
    # padded mask (the same for every element) is false.
    out_t = node.results[0].type
    anyval = ctx.scalar(0, out_t.dtype)
    padded = ctx.op("pad", x, anyval, edge_padding_low=lo, edge_padding_high=hi, interior_padding=interior)
    x_t = node.operands[0].type
    ones = ctx.full(True, x_t.shape, "bool")
    mask = ctx.op("pad", ones, ctx.scalar(False, "bool"), edge_padding_low=a["edge_padding_low"],
                  edge_padding_high=a["edge_padding_high"], interior_padding=a["interior_padding"])
    mask = ctx.materialize(mask, None, b)
    fill = ctx.op("broadcast_in_dim", v, shape=padded.shape, broadcast_dimensions=(b,))
    return [(ctx.op("select", mask, padded, fill), b)]


@batching_rule("reduce")
def _reduce(ctx, node, args):
    ((x, b),) = args
    dims = tuple(shift(d, b) for d in node.attrs["dimensions"])
    out_b = b - sum(1 for d in dims if d < b)
    return [(ctx.op("reduce", x, kind=node.attrs["kind"], dimensions=dims), out_b)]


@batching_rule("argmax", "argmin")
def _arg_extreme(ctx, node, args):
    ((x, b),) = args
    d = shift(node.attrs["dimension"], b)
    out = ctx.op(node.op.name, x, dimension=d, index_dtype=node.attrs["index_dtype"])
    return [(out, b if d > b else b - 1)]


@batching_rule("dot_general")
def _dot_general(ctx, node, args):
    (x, bx), (y, by) = args
    a = node.attrs
    lb = tuple(shift(d, bx) for d in a["lhs_batch"])
    rb = tuple(shift(d, by) for d in a["rhs_batch"])
    lc = tuple(shift(d, bx) for d in a["lhs_contracting"])
    rc = tuple(shift(d, by) for d in a["rhs_contracting"])
    if bx is not None and by is not None:
        # both batched: the batch dimensions pair up as a new leading dot_general batch dimension
        out = ctx.op("dot_general", x, y, lhs_batch=(bx,) + lb, rhs_batch=(by,) + rb,
                     lhs_contracting=lc, rhs_contracting=rc, preferred_element_type=a["preferred_element_type"])
        return [(out, 0)]
    out = ctx.op("dot_general", x, y, lhs_batch=lb, rhs_batch=rb, lhs_contracting=lc, rhs_contracting=rc,
                 preferred_element_type=a["preferred_element_type"])
    # one side batched: its batch dimension is a free dimension of that side
    # (result order: batch dimensions, lhs free dimensions, rhs free dimensions)
    if bx is not None:
        lfree = [i for i in range(x.ndim) if i not in lb and i not in lc]
        return [(out, len(lb) + lfree.index(bx))]
    lfree_n = x.ndim - len(lb) - len(lc)
    rfree = [i for i in range(y.ndim) if i not in rb and i not in rc]
    return [(out, len(lb) + lfree_n + rfree.index(by))]
