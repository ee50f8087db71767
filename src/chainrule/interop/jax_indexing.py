"""JAX's general gather/scatter -> chainrule's take-along-axis gather/scatter.

chainrule's gather indexes one `axis` with an integer array, after
`batch_dims` leading dimensions shared by operand and indices. That covers
what `x[idx]`, `jnp.take`, `jnp.take_along_axis` and their gradients
produce: one indexed operand dimension, full slices elsewhere, optional
batching dimensions (moved to the front with transposes here). JAX's own
output layout is restored with a transpose, and the out-of-bounds modes are
rebuilt ("fill" selects the fill value, "drop" sends the update to an extra
slot that is cut off);
anything else raises UnsupportedPrimitiveError.
"""

from __future__ import annotations

import numpy as np

from ..ir import TensorType


def _unsupported(msg):
    from .jax_primitives import UnsupportedPrimitiveError
    return UnsupportedPrimitiveError(f"from_jax: {msg}; only take-along-one-axis gathers/scatters "
                                     "(x[idx], jnp.take, take_along_axis and their gradients) are supported yet")


def _mode_name(mode) -> str:
    return getattr(mode, "name", str(mode)).upper()


class _Plan:
    """How one JAX gather/scatter maps onto a chainrule gather/scatter."""

    def __init__(self, x_shape, idx_shape, axis_map, collapsed, obatch, ibatch, window_layout_dims, out_rank, what):
        if idx_shape[-1:] != (1,) or len(axis_map) != 1 or tuple(collapsed) != tuple(axis_map):
            raise _unsupported(f"{what} with start_index_map={tuple(axis_map)}, collapsed/inserted dims "
                               f"{tuple(collapsed)}, indices {list(idx_shape)}")
        self.axis = axis = axis_map[0]
        self.obatch, self.ibatch = tuple(obatch), tuple(ibatch)
        nj = len(idx_shape) - 1
        rank = len(x_shape)
        self.perm_x = list(self.obatch) + [d for d in range(rank) if d not in self.obatch]
        self.perm_i = list(self.ibatch) + [t for t in range(nj) if t not in self.ibatch]
        self.axis_t = self.perm_x.index(axis)
        bd = len(self.obatch)
        # labels of our result's dimensions: batch (as index dims), operand dims before the axis,
        # the remaining index dims, operand dims after the axis
        window = [d for d in range(rank) if d != axis and d not in self.obatch]
        ours = [("j", t) for t in self.ibatch]
        ours += [("x", d) for d in self.perm_x[bd:self.axis_t]]
        ours += [("j", t) for t in self.perm_i[bd:]]
        ours += [("x", d) for d in self.perm_x[self.axis_t + 1:]]
        # JAX's layout: window dims at `window_layout_dims`, index dims elsewhere, each in order
        theirs, wi, ji = [], iter(window), iter(range(nj))
        for p in range(out_rank):
            theirs.append(("x", next(wi)) if p in window_layout_dims else ("j", next(ji)))
        self.to_theirs = [ours.index(lbl) for lbl in theirs]  # transpose(ours, to_theirs) = theirs
        self.to_ours = [theirs.index(lbl) for lbl in ours]
        self.j_positions = tuple(p for p, lbl in enumerate(theirs) if lbl[0] == "j")

    def operand(self, ctx, x):
        return _transpose(ctx, x, self.perm_x)

    def indices(self, ctx, idx):
        j = ctx.op("reshape", idx, shape=idx.shape[:-1])
        return j, _transpose(ctx, j, self.perm_i)

    def out_of_bounds(self, ctx, j, n):
        """bool[index dims]: the start index falls outside [0, n - 1]."""
        zero, last = ctx.full(0, j.type), ctx.full(n - 1, j.type)
        return ctx.op("or", ctx.op("compare", j, zero, direction="LT"), ctx.op("compare", j, last, direction="GT"))


def _transpose(ctx, v, perm):
    return v if list(perm) == list(range(len(perm))) else ctx.op("transpose", v, permutation=perm)


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
    for d, size in enumerate(p["slice_sizes"]):
        full = 1 if d in dn.collapsed_slice_dims or d in dn.operand_batching_dims else x.shape[d]
        if size != full:
            raise _unsupported(f"gather with slice_sizes {tuple(p['slice_sizes'])} on an operand {x.type}")
    out_rank = len(eqn.outvars[0].aval.shape)
    plan = _Plan(x.shape, idx.shape, dn.start_index_map, dn.collapsed_slice_dims, dn.operand_batching_dims,
                 dn.start_indices_batching_dims, tuple(dn.offset_dims), out_rank, "gather")
    j, j_t = plan.indices(ctx, idx)
    res = ctx.op("gather", plan.operand(ctx, x), j_t, axis=plan.axis_t, batch_dims=len(plan.obatch))
    res = _transpose(ctx, res, plan.to_theirs)
    mode = _mode_name(p["mode"])
    if "FILL" in mode:
        bad = plan.out_of_bounds(ctx, j, x.shape[plan.axis])
        bad = ctx.op("broadcast_in_dim", bad, shape=res.shape, broadcast_dimensions=plan.j_positions)
        fill = ctx.full(_fill_value(p.get("fill_value"), res.dtype), res.type)
        res = ctx.op("select", bad, fill, res)
    elif not ("CLIP" in mode or "PROMISE" in mode):
        raise _unsupported(f"gather mode {mode}")
    return [res]


def scatter_rule(kind):
    def rule(ctx, eqn, ins):
        x, idx, upd = ins
        dn, p = eqn.params["dimension_numbers"], eqn.params
        plan = _Plan(x.shape, idx.shape, dn.scatter_dims_to_operand_dims, dn.inserted_window_dims,
                     dn.operand_batching_dims, dn.scatter_indices_batching_dims, tuple(dn.update_window_dims),
                     upd.ndim, f"scatter ({eqn.primitive.name})")
        window = [d for d in range(x.ndim) if d != plan.axis and d not in plan.obatch]
        for pos, d in zip(dn.update_window_dims, window):
            if upd.shape[pos] != x.shape[d]:
                raise _unsupported(f"scatter with a partial window: updates {upd.type} into {x.type}")
        j, j_t = plan.indices(ctx, idx)
        x_t = plan.operand(ctx, x)
        upd_t = _transpose(ctx, upd, plan.to_ours)
        mode = _mode_name(p["mode"])
        bd, ax = len(plan.obatch), plan.axis_t
        if "FILL" in mode:
            # out-of-bounds updates are dropped: send them to one extra slot past the end of the
            # axis, which the clamping scatter can reach, and cut that slot off afterwards
            n = x_t.shape[ax]
            lo, hi = [0] * x_t.ndim, [0] * x_t.ndim
            hi[ax] = 1
            x_t = ctx.op("pad", x_t, ctx.full(0, TensorType((), x.dtype)), edge_padding_low=lo, edge_padding_high=hi)
            j_t = ctx.op("select", plan.out_of_bounds(ctx, j_t, n), ctx.full(n, j_t.type), j_t)
            res = ctx.op("scatter", x_t, j_t, upd_t, axis=ax, batch_dims=bd, kind=kind)
            limit = list(res.shape)
            limit[ax] = n
            res = ctx.op("slice", res, start_indices=[0] * res.ndim, limit_indices=limit)
        elif "CLIP" in mode or "PROMISE" in mode:
            res = ctx.op("scatter", x_t, j_t, upd_t, axis=ax, batch_dims=bd, kind=kind)
        else:
            raise _unsupported(f"scatter mode {mode}")
        inverse = [plan.perm_x.index(d) for d in range(x.ndim)]
        return [_transpose(ctx, res, inverse)]
    return rule


__all__ = ["gather_rule", "scatter_rule"]
