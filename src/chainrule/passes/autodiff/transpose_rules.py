"""Transpose rules of the linear ops: the cotangent of a linear node's output -> its linear operands'.

`TRANSPOSE_RULES[op](e, node, ct, linear) -> list of cotangents per operand`
(`None` for operands that are not linear or whose cotangent is zero).
`node` is a node of the linear part of a JVP trace; its non-linear operands
are primal values (residuals) available in the reverse graph; `linear[i]`
says whether operand i is a tangent. Rules follow JAX's transposes; the
tricky bookkeeping (dot_general, pad, scatter) is commented where it is done.
"""

from __future__ import annotations

import numpy as np

from ...ir import RuleTable
from .errors import NonDifferentiableError

# Every op with the `linear` trait has a rule; control flow, remat and custom_vjp_lin have one too.
TRANSPOSE_RULES = RuleTable("autodiff transpose", covers=lambda op: bool(op.linear))
transpose = TRANSPOSE_RULES.register


def _nonlinear_in(node, linear, which, why):
    if linear[which]:
        raise NonDifferentiableError(
            f"internal error: {node.op.name} is not linear in operand {which} ({why}); "
            "a JVP rule applied it to two tangents")


# --- arithmetic ------------------------------------------------------------------------

@transpose("negate")
def _negate(e, node, ct, linear):
    return [e.op("negate", ct)]


@transpose("add")
def _add(e, node, ct, linear):
    return [ct, ct]


@transpose("subtract")
def _subtract(e, node, ct, linear):
    return [ct, e.op("negate", ct) if linear[1] else None]


@transpose("multiply")
def _multiply(e, node, ct, linear):
    a, b = node.operands
    if linear[0] and linear[1]:
        _nonlinear_in(node, linear, 1, "both factors are tangents")
    return [e.op("multiply", ct, b), None] if linear[0] else [None, e.op("multiply", a, ct)]


@transpose("divide")
def _divide(e, node, ct, linear):
    _nonlinear_in(node, linear, 1, "the denominator is a tangent")
    return [e.op("divide", ct, node.operands[1]), None]


@transpose("convert")
def _convert(e, node, ct, linear):
    return [e.convert(ct, node.operands[0].dtype)]


@transpose("select")
def _select(e, node, ct, linear):
    _nonlinear_in(node, linear, 0, "the predicate is a tangent")
    p = node.operands[0]
    zero = e.zeros(ct.type)
    return [None,
            e.op("select", p, ct, zero) if linear[1] else None,
            e.op("select", p, zero, ct) if linear[2] else None]


# --- shapes ------------------------------------------------------------------------------

@transpose("broadcast_in_dim")
def _broadcast_in_dim(e, node, ct, linear):
    # undo the broadcast: sum over the new dimensions and over the size-1 dimensions that grew
    x = node.operands[0]
    dims = node.attrs["broadcast_dimensions"]
    out_shape = node.attrs["shape"]
    summed = [d for d in range(len(out_shape)) if d not in dims]
    summed += [d for i, d in enumerate(dims) if x.shape[i] == 1 and out_shape[d] != 1]
    r = e.reduce_sum(ct, summed)
    if r.shape != x.shape:
        r = e.op("reshape", r, shape=x.shape)
    return [r]


@transpose("reshape")
def _reshape(e, node, ct, linear):
    shape = node.operands[0].shape
    return [ct if ct.shape == shape else e.op("reshape", ct, shape=shape)]


@transpose("transpose")
def _transpose(e, node, ct, linear):
    inverse = tuple(int(i) for i in np.argsort(node.attrs["permutation"]))
    return [ct if inverse == tuple(range(len(inverse))) else e.op("transpose", ct, permutation=inverse)]


@transpose("reverse")
def _reverse(e, node, ct, linear):
    return [e.op("reverse", ct, dimensions=node.attrs["dimensions"])]


@transpose("slice")
def _slice(e, node, ct, linear):
    # the cotangent goes back where it was taken from: pad with zeros, strides become interior padding
    x = node.operands[0]
    start = node.attrs["start_indices"]
    strides = node.attrs["strides"] or (1,) * x.ndim
    lo, hi, interior = [], [], []
    for n, s, k, m in zip(x.shape, start, strides, ct.shape):
        used = m + max(m - 1, 0) * (k - 1)
        lo.append(s)
        hi.append(n - s - used)
        interior.append(k - 1)
    zero = e.scalar(0, ct.dtype)
    return [e.op("pad", ct, zero, edge_padding_low=lo, edge_padding_high=hi, interior_padding=interior)]


@transpose("pad")
def _pad(e, node, ct, linear):
    # JAX: unpad with negated edges (negative edges crop, former crops become zeros), then a
    # strided slice drops the interior padding; the padding value gets everything else
    x = node.operands[0]
    lo, hi = node.attrs["edge_padding_low"], node.attrs["edge_padding_high"]
    interior = node.attrs["interior_padding"] or (0,) * x.ndim
    zero = e.scalar(0, ct.dtype)
    unpadded = e.op("pad", ct, zero, edge_padding_low=[-a for a in lo], edge_padding_high=[-b for b in hi])
    ct_x = e.op("slice", unpadded, start_indices=(0,) * x.ndim, limit_indices=unpadded.shape,
                strides=[i + 1 for i in interior])
    ct_v = None
    if linear[1]:
        all_dims = tuple(range(ct.ndim))
        ct_v = e.op("subtract", e.reduce_sum(ct, all_dims), e.reduce_sum(ct_x, tuple(range(x.ndim))))
    return [ct_x if linear[0] else None, ct_v]


@transpose("concatenate")
def _concatenate(e, node, ct, linear):
    d = node.attrs["dimension"]
    out, offset = [], 0
    for v, lin in zip(node.operands, linear):
        n = v.shape[d]
        if lin:
            start = [0] * ct.ndim
            limit = list(ct.shape)
            start[d], limit[d] = offset, offset + n
            out.append(e.op("slice", ct, start_indices=start, limit_indices=limit))
        else:
            out.append(None)
        offset += n
    return out


# --- indexing --------------------------------------------------------------------------------

@transpose("dynamic_slice")
def _dynamic_slice(e, node, ct, linear):
    x, starts = node.operands[0], node.operands[1:]
    # both ops clamp the start indices the same way, so the cotangent lands where it was read
    return [e.op("dynamic_update_slice", e.zeros(x.type), ct, *starts)] + [None] * len(starts)


@transpose("dynamic_update_slice")
def _dynamic_update_slice(e, node, ct, linear):
    u, starts = node.operands[1], node.operands[2:]
    ct_x = e.op("dynamic_update_slice", ct, e.zeros(u.type), *starts) if linear[0] else None
    ct_u = e.op("dynamic_slice", ct, *starts, slice_sizes=u.shape) if linear[1] else None
    return [ct_x, ct_u] + [None] * len(starts)


@transpose("gather")
def _gather(e, node, ct, linear):
    x, idx = node.operands
    a = node.attrs
    return [e.op("scatter", e.zeros(x.type), idx, ct, axis=a["axis"], batch_dims=a["batch_dims"], kind="add"), None]


@transpose("scatter")
def _scatter(e, node, ct, linear):
    x, idx, u = node.operands
    axis, bd, kind = node.attrs["axis"], node.attrs["batch_dims"], node.attrs["kind"]
    gathered = e.op("gather", ct, idx, axis=axis, batch_dims=bd) if linear[2] else None
    if kind == "add":
        return [ct if linear[0] else None, None, gathered]
    # kind=set: overwritten positions of the operand get no cotangent, and of several updates
    # aimed at one position only the one that was written last (the winner) gets it
    ct_x = e.op("scatter", ct, idx, e.zeros(u.type), axis=axis, batch_dims=bd, kind="set") if linear[0] else None
    ct_u = None
    if linear[2] and u.type.size == 0:
        ct_u = e.zeros(u.type)
    elif linear[2]:
        mask = _scatter_winners(e, x, idx, u, axis, bd)
        ct_u = e.op("select", mask, gathered, e.zeros(u.type))
    return [ct_x, None, ct_u]


def _scatter_winners(e, x, idx, u, axis, bd):
    """Bool mask of the updates' shape: True where that update is the one a scatter-set keeps."""
    from ...ir import TensorType, int64
    ishape = idx.shape[bd:]
    k = int(np.prod(ishape, dtype=np.int64))  # >= 1: the caller handles empty updates
    ids = e.op("iota", shape=(k,), dtype=int64, dimension=0)
    if ids.shape != ishape:
        ids = e.op("reshape", ids, shape=ishape)
    ids_u = e.bcast(ids, u.shape, tuple(range(axis, axis + len(ishape))))
    winner = e.op("scatter", e.full(-1, TensorType(x.shape, int64)), idx, ids_u, axis=axis, batch_dims=bd,
                  kind="set")
    return e.op("compare", e.op("gather", winner, idx, axis=axis, batch_dims=bd), ids_u, direction="EQ")


# --- contraction and reduction ----------------------------------------------------------------

def _ranges_like(*lists):
    out, start = [], 0
    for lst in lists:
        out.append(tuple(range(start, start + len(lst))))
        start += len(lst)
    return out


def _dot_transpose_lhs(e, ct, x_type, y, x_contract, y_contract, x_batch, y_batch, swap_ans=False):
    """JAX's _dot_general_transpose_lhs: contract the cotangent with y over y's kept dimensions."""
    x_kept = [i for i in range(len(x_type.shape)) if i not in x_contract and i not in x_batch]
    y_kept = [i for i in range(y.ndim) if i not in y_contract and i not in y_batch]
    if swap_ans:
        ans_batch, ans_y, _ = _ranges_like(x_batch, y_kept, x_kept)
    else:
        ans_batch, _, ans_y = _ranges_like(x_batch, x_kept, y_kept)
    x_contract_sorted_by_y = [x_contract[i] for i in np.argsort(y_contract, kind="stable")]
    # dot_general(ct, y) gives x's batch, kept, then contracting dims (in y_contract's sorted order);
    # dot_general(y, ct) gives batch, contracting, kept. Use the one already in x's order if any
    # (e.g. the weight gradient x^T @ ct of a matmul), else the first and a transpose.
    order = list(x_batch) + x_kept + x_contract_sorted_by_y
    swapped = list(x_batch) + x_contract_sorted_by_y + x_kept
    if swapped == sorted(swapped) and order != sorted(order):
        return e.op("dot_general", y, ct, lhs_batch=tuple(y_batch), rhs_batch=ans_batch,
                    lhs_contracting=tuple(y_kept), rhs_contracting=ans_y)
    prod = e.op("dot_general", ct, y, lhs_batch=ans_batch, rhs_batch=tuple(y_batch),
                lhs_contracting=ans_y, rhs_contracting=tuple(y_kept))
    out_axes = tuple(int(i) for i in np.argsort(order, kind="stable"))
    if out_axes != tuple(range(len(out_axes))):
        prod = e.op("transpose", prod, permutation=out_axes)
    return prod


@transpose("dot_general")
def _dot_general(e, node, ct, linear):
    a, b = node.operands
    at = node.attrs
    lb, rb, lc, rc = at["lhs_batch"], at["rhs_batch"], at["lhs_contracting"], at["rhs_contracting"]
    if linear[0] and linear[1]:
        _nonlinear_in(node, linear, 1, "both sides are tangents")
    # preferred_element_type (JAX's rule): the cotangent keeps the accumulation dtype, the other operand
    # joins it, and the result is cast back to the operand's dtype
    if linear[0]:
        y = b if b.dtype == ct.dtype else e.convert(b, ct.dtype)
        return [_cast_to(e, _dot_transpose_lhs(e, ct, a.type, y, lc, rc, lb, rb), a.dtype), None]
    y = a if a.dtype == ct.dtype else e.convert(a, ct.dtype)
    return [None, _cast_to(e, _dot_transpose_lhs(e, ct, b.type, y, rc, lc, rb, lb, swap_ans=True), b.dtype)]


def _cast_to(e, v, dt):
    return v if v.dtype == dt else e.convert(v, dt)


@transpose("reduce")
def _reduce(e, node, ct, linear):
    if node.attrs["kind"] != "sum":
        raise NonDifferentiableError(f"internal error: reduce kind={node.attrs['kind']} is not linear")
    x = node.operands[0]
    dims = node.attrs["dimensions"]
    keep = tuple(i for i in range(x.ndim) if i not in dims)
    return [e.bcast(ct, x.shape, keep)]
