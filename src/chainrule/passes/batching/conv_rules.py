"""Batching rules of convolution and the window ops.

convolution folds the batch dimension into its own dimensions, as JAX's
rule does: a batched lhs into the lhs batch (or, with batch groups, inside
each group), a batched kernel into the output features (inside each feature
group), both batched into feature groups (or batch groups); the result's
folded dimension is split again. The window ops get a window of size 1 over
a leading batch dimension.
"""

from __future__ import annotations

from ...ir.window_ops import window_params
from ..conv_shapes import reshape_axis_into, reshape_axis_out_of
from .table import batching_rule


@batching_rule("convolution")
def _convolution(ctx, node, args):
    (x, bx), (w, bw) = args
    a = dict(node.attrs)
    ls, rs, os_ = a["lhs_spec"], a["rhs_spec"], a["out_spec"]
    fg, bg, n = a["feature_group_count"], a["batch_group_count"], ctx.size
    x = x if bx is None else ctx.moveaxis(x, bx, 0)
    w = w if bw is None else ctx.moveaxis(w, bw, 0)

    def conv(lhs, rhs, **groups):
        return ctx.op("convolution", lhs, rhs, **{**a, **groups})

    if bx is not None and bw is not None:
        if bg > 1:
            out = conv(reshape_axis_into(ctx, 0, ls[0], x), reshape_axis_into(ctx, 0, rs[0], w),
                       batch_group_count=bg * n)
        else:
            out = conv(reshape_axis_into(ctx, 0, ls[1], x), reshape_axis_into(ctx, 0, rs[0], w),
                       feature_group_count=fg * n)
        return [(reshape_axis_out_of(ctx, os_[1], n, out), os_[1])]
    if bx is not None:
        if bg == 1:
            out = conv(reshape_axis_into(ctx, 0, ls[0], x), w)
        else:   # the batch goes inside each batch group: (group, batch, n) -> (group, batch * n)
            x = reshape_axis_out_of(ctx, ls[0] + 1, bg, x)
            x = reshape_axis_into(ctx, 0, ls[0] + 1, x)
            x = reshape_axis_into(ctx, ls[0], ls[0], x)
            out = conv(x, w)
        return [(reshape_axis_out_of(ctx, os_[0], n, out), os_[0])]
    if fg == 1 and bg == 1:
        out = conv(x, reshape_axis_into(ctx, 0, rs[0], w))
        return [(reshape_axis_out_of(ctx, os_[1], n, out), os_[1])]
    # groups stay outermost in the output features: (group, n * features) and back
    gc = max(fg, bg)
    w = reshape_axis_out_of(ctx, rs[0] + 1, gc, w)
    w = reshape_axis_into(ctx, 0, rs[0] + 1, w)
    w = reshape_axis_into(ctx, rs[0], rs[0], w)
    out = conv(x, w)
    out = reshape_axis_out_of(ctx, os_[1], gc, out)
    out = reshape_axis_out_of(ctx, os_[1] + 1, n, out)
    return [(reshape_axis_into(ctx, os_[1], os_[1] + 1, out), os_[1])]


def _lead_window(node, ndim):
    """The node's window attributes with a size-1 window over a new leading dimension."""
    wd, st, pad, bd, wdil = window_params(node.op.name, node.attrs, ndim)
    return {"kind": node.attrs["kind"], "window_dimensions": (1,) + tuple(wd), "window_strides": (1,) + tuple(st),
            "padding": ((0, 0),) + tuple(pad), "base_dilation": (1,) + tuple(bd),
            "window_dilation": (1,) + tuple(wdil)}


@batching_rule("reduce_window")
def _reduce_window(ctx, node, args):
    ((x, b),) = args
    x = ctx.moveaxis(x, b, 0)
    return [(ctx.op("reduce_window", x, **_lead_window(node, x.ndim - 1)), 0)]


def _select(ctx, node, args):
    (s, bs), (x, bx) = args
    s, x = ctx.materialize(s, bs, 0), ctx.materialize(x, bx, 0)
    return [(ctx.op(node.op.name, s, x, **_lead_window(node, x.ndim - 1)), 0)]


batching_rule("select_and_gather_add", "select_and_scatter_add")(_select)
