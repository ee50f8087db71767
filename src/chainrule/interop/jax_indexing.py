"""JAX's general gather/scatter -> chainrule's take-along-axis gather/scatter.

Any XLA gather is a take along one axis once its indexed dimensions are
flattened into one: the operand is transposed to (batching dims, indexed
dims, full dims) and the indexed dims reshaped into one axis of size N; each
start index is clamped so its window fits (XLA's rule), its window is
spelled out with an iota, and the element positions are combined into a
flat index into that axis. chainrule's gather (batch_dims = the batching
dims) then reads every window at once, and a reshape and transpose give
JAX's output layout. An "indexed" dim is one that a start index addresses
or that has a partial window (its start is then 0).

Out-of-bounds modes: "fill" selects the fill value for windows that do not
fit; "drop" (scatter) sends their updates to one extra slot past the end of
the flat axis, cut off afterwards; "clip" and "promise_in_bounds" clamp.
"""

from __future__ import annotations

import math

import numpy as np

from ..ir import TensorType


def _unsupported(msg):
    from .jax_primitives import UnsupportedPrimitiveError
    return UnsupportedPrimitiveError(f"from_jax: {msg}")


def _mode_name(mode) -> str:
    return getattr(mode, "name", str(mode)).upper()


def _transpose(ctx, v, perm):
    return v if list(perm) == list(range(len(perm))) else ctx.op("transpose", v, permutation=list(perm))


class _Plan:
    """The flattening of one gather/scatter: which dims are indexed, their windows, the layouts."""

    def __init__(self, x_shape, idx_shape, start_map, collapsed, obatch, ibatch, window_sizes, layout_dims, out_rank):
        if not idx_shape or idx_shape[-1] != len(start_map):
            raise _unsupported(f"indices of shape {list(idx_shape)} for start_index_map {tuple(start_map)}")
        r = len(x_shape)
        self.x_shape, self.start_map = tuple(x_shape), tuple(start_map)
        self.obatch, self.ibatch = tuple(obatch), tuple(ibatch)
        self.w = dict(enumerate(window_sizes))  # window size per operand dim
        self.collapsed = set(collapsed)
        nb = len(idx_shape) - 1
        self.bi_shape = tuple(idx_shape[:-1])
        self.D = [d for d in range(r) if d not in self.obatch and (d in self.start_map or self.w[d] < x_shape[d])]
        self.R = [d for d in range(r) if d not in self.obatch and d not in self.D]
        self.perm_x = list(self.obatch) + self.D + self.R
        self.N = math.prod(x_shape[d] for d in self.D)
        self.other_bi = [t for t in range(nb) if t not in self.ibatch]
        self.perm_i = list(self.ibatch) + self.other_bi + list(range(nb, nb + len(self.D)))
        # our result: batch (index dims), other index dims, windows of the indexed dims, full dims
        ours = [("j", t) for t in self.ibatch] + [("j", t) for t in self.other_bi]
        ours += [("w", d) for d in self.D] + [("x", d) for d in self.R]
        self.ours_full = ours
        self.ours = [lbl for lbl in ours if not (lbl[0] == "w" and lbl[1] in self.collapsed)]
        offsets = [d for d in range(r) if d not in self.collapsed and d not in self.obatch]
        if len(offsets) != len(layout_dims):
            raise _unsupported(f"offset/window dims {tuple(layout_dims)} for operand dims {offsets}")
        theirs, oi, ji = [], iter(offsets), iter(range(nb))
        for p in range(out_rank):
            if p in layout_dims:
                d = next(oi)
                theirs.append(("w", d) if d in self.D else ("x", d))
            else:
                theirs.append(("j", next(ji)))
        self.theirs = theirs
        self.to_theirs = [self.ours.index(lbl) for lbl in theirs]
        self.to_ours = [theirs.index(lbl) for lbl in self.ours]
        self.j_positions = tuple(p for p, lbl in enumerate(theirs) if lbl[0] == "j")

    # -- pieces --
    def flat_operand(self, ctx, x):
        """The operand as (batching dims..., N, full dims...)."""
        xt = _transpose(ctx, x, self.perm_x)
        shape = tuple(self.x_shape[d] for d in self.obatch) + (self.N,) + tuple(self.x_shape[d] for d in self.R)
        return ctx.op("reshape", xt, shape=shape)

    def unflatten_operand(self, ctx, v):
        shape = tuple(self.x_shape[d] for d in self.perm_x)
        inverse = [self.perm_x.index(d) for d in range(len(self.x_shape))]
        return _transpose(ctx, ctx.op("reshape", v, shape=shape), inverse)

    def starts(self, ctx, idx):
        """{indexed dim: int64 start (index batch shape)} before clamping; 0 where no index addresses it."""
        i64 = ctx.convert(idx, "int64")
        out = {}
        for k, d in enumerate(self.start_map):
            lo = [0] * i64.ndim
            hi = list(i64.shape)
            lo[-1], hi[-1] = k, k + 1
            out[d] = ctx.op("reshape", ctx.op("slice", i64, start_indices=lo, limit_indices=hi), shape=self.bi_shape)
        return out

    def out_of_bounds(self, ctx, starts):
        """bool[index batch shape]: some window does not fit in the operand."""
        bad = None
        for d, s in starts.items():
            if d not in self.D:
                continue
            lo, hi = ctx.full(0, s.type), ctx.full(self.x_shape[d] - self.w[d], s.type)
            b = ctx.op("or", ctx.op("compare", s, lo, direction="LT"), ctx.op("compare", s, hi, direction="GT"))
            bad = b if bad is None else ctx.op("or", bad, b)
        return bad if bad is not None else ctx.full(False, TensorType(self.bi_shape, "bool"))

    def flat_index(self, ctx, starts):
        """int64[index batch dims (batching first)..., windows of D...]: flat positions in the N axis."""
        nb, q = len(self.bi_shape), len(self.D)
        shape = self.bi_shape + tuple(self.w[d] for d in self.D)
        t = TensorType(shape, "int64")
        flat, stride = None, 1
        for k in reversed(range(q)):
            d = self.D[k]
            n, w = self.x_shape[d], self.w[d]
            s = starts.get(d)
            if s is None:
                pos = ctx.full(0, t)
            else:
                s = ctx.op("clamp", ctx.full(0, s.type), s, ctx.full(n - w, s.type))
                pos = ctx.op("broadcast_in_dim", s, shape=shape, broadcast_dimensions=tuple(range(nb)))
            if w > 1:
                pos = ctx.op("add", pos, ctx.op("iota", shape=shape, dtype="int64", dimension=nb + k))
            term = pos if stride == 1 else ctx.op("multiply", pos, ctx.full(stride, t))
            flat = term if flat is None else ctx.op("add", flat, term)
            stride *= n
        if flat is None:  # nothing indexed: every window is the whole operand
            flat = ctx.full(0, t)
        return _transpose(ctx, flat, self.perm_i)

    def drop_collapsed(self, ctx, v):
        shape = [n for n, lbl in zip(v.shape, self.ours_full) if not (lbl[0] == "w" and lbl[1] in self.collapsed)]
        return ctx.op("reshape", v, shape=shape)

    def add_collapsed(self, ctx, v):
        sizes = dict(zip(self.ours, v.shape))
        shape = [1 if (lbl[0] == "w" and lbl[1] in self.collapsed) else sizes[lbl] for lbl in self.ours_full]
        return ctx.op("reshape", v, shape=shape)


def _fill_value(fill, dt):
    if fill is not None:
        return fill
    if dt.is_float:
        return np.nan
    if dt.is_int:
        return np.iinfo(dt.np).min
    return True


def gather_rule(ctx, eqn, ins):
    x, idx = ins
    dn, p = eqn.params["dimension_numbers"], eqn.params
    out_t = eqn.outvars[0].aval
    plan = _Plan(x.shape, idx.shape, dn.start_index_map, dn.collapsed_slice_dims, dn.operand_batching_dims,
                 dn.start_indices_batching_dims, p["slice_sizes"], tuple(dn.offset_dims), len(out_t.shape))
    mode = _mode_name(p["mode"])
    if not any(m in mode for m in ("FILL", "CLIP", "PROMISE")):
        raise _unsupported(f"gather mode {mode}")
    starts = plan.starts(ctx, idx)
    if math.prod(out_t.shape) == 0 or plan.N == 0:
        return [ctx.full(0, TensorType(out_t.shape, x.dtype))]
    res = ctx.op("gather", plan.flat_operand(ctx, x), plan.flat_index(ctx, starts), axis=len(plan.obatch),
                 batch_dims=len(plan.obatch))
    res = _transpose(ctx, plan.drop_collapsed(ctx, res), plan.to_theirs)
    if "FILL" in mode:
        bad = ctx.op("broadcast_in_dim", plan.out_of_bounds(ctx, starts), shape=res.shape,
                     broadcast_dimensions=plan.j_positions)
        res = ctx.op("select", bad, ctx.full(_fill_value(p.get("fill_value"), res.dtype), res.type), res)
    return [res]


def scatter_rule(kind):
    def rule(ctx, eqn, ins):
        x, idx, upd = ins
        dn, p = eqn.params["dimension_numbers"], eqn.params
        offsets = [d for d in range(x.ndim) if d not in dn.inserted_window_dims and d not in dn.operand_batching_dims]
        if len(offsets) != len(dn.update_window_dims):
            raise _unsupported(f"scatter with update_window_dims {tuple(dn.update_window_dims)} into {x.type}")
        window = [1] * x.ndim
        for pos, d in zip(dn.update_window_dims, offsets):
            window[d] = upd.shape[pos]
        plan = _Plan(x.shape, idx.shape, dn.scatter_dims_to_operand_dims, dn.inserted_window_dims,
                     dn.operand_batching_dims, dn.scatter_indices_batching_dims, window,
                     tuple(dn.update_window_dims), upd.ndim)
        mode = _mode_name(p["mode"])
        if not any(m in mode for m in ("FILL", "CLIP", "PROMISE")):
            raise _unsupported(f"scatter mode {mode}")
        if upd.type.size == 0 or plan.N == 0:
            return [x]
        starts = plan.starts(ctx, idx)
        xf = plan.flat_operand(ctx, x)
        flat = plan.flat_index(ctx, starts)
        upd_ours = plan.add_collapsed(ctx, _transpose(ctx, upd, plan.to_ours))
        ax, bd = len(plan.obatch), len(plan.obatch)
        if "FILL" in mode:
            # windows that do not fit are dropped (XLA): send them to one extra slot past the end of
            # the flat axis, which the clamping scatter can reach, and cut that slot off afterwards
            lo, hi = [0] * xf.ndim, [0] * xf.ndim
            hi[ax] = 1
            xf = ctx.op("pad", xf, ctx.full(0, TensorType((), x.dtype)), edge_padding_low=lo, edge_padding_high=hi)
            bad = _transpose(ctx, plan.out_of_bounds(ctx, starts), plan.perm_i[:len(plan.bi_shape)])
            bad = ctx.op("broadcast_in_dim", bad, shape=flat.shape, broadcast_dimensions=tuple(range(bad.ndim)))
            flat = ctx.op("select", bad, ctx.full(plan.N, flat.type), flat)
        res = ctx.op("scatter", xf, flat, upd_ours, axis=ax, batch_dims=bd, kind=kind)
        if "FILL" in mode:
            limit = list(res.shape)
            limit[ax] = plan.N
            res = ctx.op("slice", res, start_indices=[0] * res.ndim, limit_indices=limit)
        return [plan.unflatten_operand(ctx, res)]
    return rule


__all__ = ["gather_rule", "scatter_rule"]
