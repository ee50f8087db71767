"""Batching rules of gather, scatter, dynamic_slice and dynamic_update_slice.

gather and scatter carry a `batch_dims` attribute (leading dimensions that
operand and indices share), so a batch dimension of both becomes one more
shared dimension. A dynamic slice whose start indices differ per batch
element is no longer a slice: it becomes a gather per such dimension (with
the start clamped first, as dynamic_slice clamps it), and a dynamic update
becomes a select between the operand and the update shifted into place,
computed with the same clamped starts.
"""

from __future__ import annotations

from ...ir import int32
from .table import batching_rule


@batching_rule("gather")
def _gather(ctx, node, args):
    (x, bx), (idx, bi) = args
    axis, k = node.attrs["axis"], node.attrs["batch_dims"]
    if bx is not None and bi is not None:
        x, idx = ctx.moveaxis(x, bx, 0), ctx.moveaxis(idx, bi, 0)
        return [(ctx.op("gather", x, idx, axis=axis + 1, batch_dims=k + 1), 0)]
    if bx is not None:
        # the batch dimension rides along as an operand dimension right after the shared ones
        x = ctx.moveaxis(x, bx, k)
        return [(ctx.op("gather", x, idx, axis=axis + 1, batch_dims=k), k)]
    # only the indices are batched: the batch dimension is one more index dimension
    if bi < k:
        idx = ctx.moveaxis(idx, bi, k)
        bi = k
    return [(ctx.op("gather", x, idx, axis=axis, batch_dims=k), axis + bi - k)]


@batching_rule("scatter")
def _scatter(ctx, node, args):
    (x, bx), (idx, bi), (u, bu) = args
    axis, k, kind = node.attrs["axis"], node.attrs["batch_dims"], node.attrs["kind"]
    if bi is None:
        # shared indices: each index writes a slice that spans the batch dimension
        x, u = ctx.materialize(x, bx, k), ctx.materialize(u, bu, k)
        return [(ctx.op("scatter", x, idx, u, axis=axis + 1, batch_dims=k, kind=kind), k)]
    x, u, idx = ctx.materialize(x, bx, 0), ctx.materialize(u, bu, 0), ctx.moveaxis(idx, bi, 0)
    return [(ctx.op("scatter", x, idx, u, axis=axis + 1, batch_dims=k + 1, kind=kind), 0)]


def _clamped_start(ctx, s, bd, n, k):
    """Per-element start indices as a (B,) vector, clamped to [0, n - k] as dynamic_slice does."""
    s = ctx.materialize(s, bd, 0)
    shape = (ctx.size,)
    return ctx.op("clamp", ctx.full(0, shape, s.dtype), s, ctx.full(n - k, shape, s.dtype))


@batching_rule("dynamic_slice")
def _dynamic_slice(ctx, node, args):
    (x, bx), starts = args[0], args[1:]
    sizes = node.attrs["slice_sizes"]
    shape = node.operands[0].shape

    def zero():  # a start for the batch dimension and untouched dimensions (made only where used)
        return ctx.scalar(0, starts[0][0].dtype if starts else int32)

    if all(bd is None for _, bd in starts):
        st = [s for s, _ in starts]
        st.insert(bx, zero())
        sz = list(sizes)
        sz.insert(bx, ctx.size)
        return [(ctx.op("dynamic_slice", x, *st, slice_sizes=sz), bx)]
    # 1. dimensions with shared starts: one dynamic_slice, on the smaller unbatched operand if it is one
    shared = [j for j, (_, bd) in enumerate(starts) if bd is None and sizes[j] != shape[j]]
    if shared:
        st = [starts[j][0] if j in shared else zero() for j in range(len(shape))]
        sz = [sizes[j] if j in shared else shape[j] for j in range(len(shape))]
        if bx is not None:
            st.insert(bx, zero())
            sz.insert(bx, ctx.size)
        x = ctx.op("dynamic_slice", x, *st, slice_sizes=sz)
    # 2. dimensions with per-element starts: gather the window [start, start + size) of each element
    for j, (s, bd) in enumerate(starts):
        n, k = shape[j], sizes[j]
        if bd is None or k == n:
            continue  # a full-size window clamps its start to 0, whatever the start
        s = _clamped_start(ctx, s, bd, n, k)
        window = (ctx.size, k)
        idx = ctx.op("add", ctx.op("broadcast_in_dim", s, shape=window, broadcast_dimensions=(0,)),
                     ctx.iota(window, 1, s.dtype))
        if bx is None:
            x = ctx.op("gather", x, idx, axis=j, batch_dims=0)  # the batch dimension lands at j
            x = ctx.moveaxis(x, j, 0)
        else:
            x = ctx.moveaxis(x, bx, 0)
            x = ctx.op("gather", x, idx, axis=j + 1, batch_dims=1)
        bx = 0
    return [(x, bx)]  # bx is still None when every per-element start was of a full-size window


@batching_rule("dynamic_update_slice")
def _dynamic_update_slice(ctx, node, args):
    (x, bx), (u, bu), starts = args[0], args[1], args[2:]
    if all(bd is None for _, bd in starts):
        b = bx if bx is not None else bu
        x, u = ctx.materialize(x, bx, b), ctx.materialize(u, bu, b)
        st = [s for s, _ in starts]
        st.insert(b, ctx.scalar(0, starts[0][0].dtype if starts else int32))
        return [(ctx.op("dynamic_update_slice", x, u, *st), b)]
    # per-element starts: result = select(inside the window, update shifted to the start, operand)
    x, u = ctx.materialize(x, bx, 0), ctx.materialize(u, bu, 0)
    shape, usize = node.operands[0].shape, node.operands[1].shape
    if 0 in usize:
        return [(x, 0)]  # an empty update changes nothing
    full_shape = (ctx.size,) + tuple(shape)
    mask = None
    for j, (s, bd) in enumerate(starts):
        n, k = shape[j], usize[j]
        if k == n:
            continue  # the start clamps to 0 and the update spans the dimension
        s = _clamped_start(ctx, s, bd, n, k)
        line = (ctx.size, n)
        rel = ctx.op("subtract", ctx.iota(line, 1, s.dtype),
                     ctx.op("broadcast_in_dim", s, shape=line, broadcast_dimensions=(0,)))
        lo, hi = ctx.full(0, line, s.dtype), ctx.full(k, line, s.dtype)
        inside = ctx.op("and", ctx.op("compare", rel, lo, direction="GE"), ctx.op("compare", rel, hi, direction="LT"))
        idx = ctx.op("clamp", lo, rel, ctx.full(k - 1, line, s.dtype))
        u = ctx.op("gather", u, idx, axis=j + 1, batch_dims=1)  # dimension j of the update grows from k to n
        m = inside if inside.shape == full_shape else \
            ctx.op("broadcast_in_dim", inside, shape=full_shape, broadcast_dimensions=(0, j + 1))
        mask = m if mask is None else ctx.op("and", mask, m)
    if mask is None:
        return [(u, 0)]
    return [(ctx.op("select", mask, u, x), 0)]
