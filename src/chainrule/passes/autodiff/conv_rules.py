"""Derivative rules of convolution and the window ops (JAX's rules, written in IR ops).

* convolution is bilinear: its JVP applies it to each tangent, and its transposes are convolutions
  again (JAX's _conv_general_dilated_transpose_lhs/rhs: the lhs cotangent convolves the result's
  cotangent with the spatially reversed kernel, strides and lhs dilation swapping roles; the rhs
  cotangent convolves the lhs with the result's cotangent, batch and feature dimensions swapped);
* reduce_window sum is linear: its transpose pads the cotangent (interior padding = stride - 1)
  and sums it over the same windows;
* reduce_window max/min: the tangent at each window's first extreme (`select_and_gather_add`);
  that op and `select_and_scatter_add` are linear in their first operand, piecewise constant in
  the second, and each other's transposes, so max pooling differentiates to any order.
"""

from __future__ import annotations

from ...ir.conv_ops import conv_params
from ...ir.window_ops import window_params
from ..conv_shapes import (reshape_axis_into, reshape_axis_out_of, spec_transpose, take, vjp_lhs_padding,
                           vjp_rhs_padding)
from .jvp_rules import bilinear, jvp
from .transpose_rules import _nonlinear_in, transpose

_WINDOW_KEYS = ("window_dimensions", "window_strides", "padding", "base_dilation", "window_dilation")


jvp("convolution")(bilinear)


def conv_transpose_lhs(e, g, lhs_type, rhs, attrs):
    """The cotangent of a convolution's lhs given the result's cotangent `g` (JAX's formula)."""
    ls, rs, os_ = attrs["lhs_spec"], attrs["rhs_spec"], attrs["out_spec"]
    nsp = len(ls) - 2
    strides, padding, ldil, rdil = conv_params(attrs, nsp)
    fg, bg = attrs["feature_group_count"], attrs["batch_group_count"]
    if fg > 1 or bg > 1:   # the group axis moves from the kernel's output features into its input features
        rhs = reshape_axis_out_of(e, rs[0], max(fg, bg), rhs)
        rhs = reshape_axis_into(e, rs[0], rs[1], rhs)
    pads = vjp_lhs_padding(take(lhs_type.shape, ls[2:]), take(rhs.shape, rs[2:]), strides,
                           take(g.shape, os_[2:]), padding, ldil, rdil)
    if nsp:
        rhs = e.op("reverse", rhs, dimensions=tuple(sorted(rs[2:])))
    out = e.op("convolution", g, rhs, window_strides=ldil, padding=pads, lhs_dilation=strides, rhs_dilation=rdil,
               lhs_spec=os_, rhs_spec=spec_transpose(rs), out_spec=ls, feature_group_count=max(fg, bg),
               batch_group_count=1)
    if bg > 1:
        out = reshape_axis_out_of(e, ls[1], bg, out)
        out = reshape_axis_into(e, ls[1], ls[0], out)
    return out


def conv_transpose_rhs(e, g, lhs, rhs_type, attrs):
    """The cotangent of a convolution's rhs given the result's cotangent `g` (JAX's formula)."""
    if g.type.size == 0:
        return None
    ls, rs, os_ = attrs["lhs_spec"], attrs["rhs_spec"], attrs["out_spec"]
    nsp = len(ls) - 2
    strides, padding, ldil, rdil = conv_params(attrs, nsp)
    fg, bg = attrs["feature_group_count"], attrs["batch_group_count"]
    pads = vjp_rhs_padding(take(lhs.shape, ls[2:]), take(rhs_type.shape, rs[2:]), strides,
                           take(g.shape, os_[2:]), padding, ldil, rdil)
    return e.op("convolution", lhs, g, window_strides=rdil, padding=pads, lhs_dilation=ldil, rhs_dilation=strides,
                lhs_spec=spec_transpose(ls), rhs_spec=spec_transpose(os_), out_spec=spec_transpose(rs),
                feature_group_count=bg, batch_group_count=fg)


@transpose("convolution")
def _convolution_transpose(e, node, ct, linear):
    a, b = node.operands
    if linear[0] and linear[1]:
        _nonlinear_in(node, linear, 1, "both sides are tangents")
    if linear[0]:
        return [conv_transpose_lhs(e, ct, a.type, b, node.attrs), None]
    return [None, conv_transpose_rhs(e, ct, a, b.type, node.attrs)]


def _window_attrs(node):
    return {k: node.attrs[k] for k in _WINDOW_KEYS}


@jvp("reduce_window")
def _reduce_window_jvp(e, node, xs, ts, ys):
    kind = node.attrs["kind"]
    if kind == "sum":
        return [e.emit(node.op, (ts[0],), node.attrs).results[0]]
    return [e.op("select_and_gather_add", ts[0], xs[0], kind=kind, **_window_attrs(node))]


@transpose("reduce_window")
def _reduce_window_transpose(e, node, ct, linear):
    if node.attrs["kind"] != "sum":
        _nonlinear_in(node, [True], 0, f"reduce_window kind={node.attrs['kind']} is not linear")
    x = node.operands[0]
    wd, st, pad, bd, wdil = window_params("reduce_window", node.attrs, x.ndim)
    pads = vjp_lhs_padding(x.shape, wd, st, ct.shape, pad, bd, wdil)
    zero = e.scalar(0, ct.dtype)
    padded = e.op("pad", ct, zero, edge_padding_low=[p[0] for p in pads], edge_padding_high=[p[1] for p in pads],
                  interior_padding=[s - 1 for s in st])
    return [e.op("reduce_window", padded, kind="sum", window_dimensions=wd, window_strides=bd, padding=(),
                 base_dilation=(), window_dilation=wdil)]


# select_and_gather_add / select_and_scatter_add: linear in the first operand, piecewise constant in the
# second (its tangent contributes nothing), each the other's transpose.
def _select_jvp(e, node, xs, ts, ys):
    if ts[0] is None:
        return [None]
    return [e.emit(node.op, (ts[0], xs[1]), node.attrs).results[0]]


def _select_transpose(other):
    def rule(e, node, ct, linear):
        _nonlinear_in(node, linear, 1, "the operand that picks the positions is a tangent")
        return [e.op(other, ct, node.operands[1], kind=node.attrs["kind"], **_window_attrs(node)), None]
    return rule


jvp("select_and_gather_add", "select_and_scatter_add")(_select_jvp)
transpose("select_and_gather_add")(_select_transpose("select_and_scatter_add"))
transpose("select_and_scatter_add")(_select_transpose("select_and_gather_add"))
