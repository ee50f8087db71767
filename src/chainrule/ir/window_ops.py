"""Window reductions: `reduce_window` and the two ops of max/min pooling's derivatives.

    %y = reduce_window %x {kind=max, window_dimensions=[1,1,2,2], window_strides=[1,1,2,2],
                           padding=[], base_dilation=[], window_dilation=[]} : f32[8,3,14,14]

StableHLO's `reduce_window` with the body given by `kind` (sum, max, min;
the init value is the kind's identity: 0, -inf, +inf or the integer
extremes). Empty `window_strides`, `base_dilation`, `window_dilation` mean
ones, an empty `padding` means none. Padding and base-dilation holes hold
the init value.

`select_and_gather_add(t, x)` (JAX's op of that name) is the forward
derivative of a max (min) window: for each window of `x` it picks the first
position holding the window's max (min), in row-major window order, and
returns `t` there. `select_and_scatter_add(s, x)` (XLA's select_and_scatter
with an add) is its transpose: each window's `s` is added at that position
of a zero tensor shaped like `x`. Each is the other's transpose.
"""

from __future__ import annotations

import numpy as np

from .conv_ops import check_padded, check_pairs, check_positive, window_out_size
from .errors import IRTypeError
from .ops import AttrSpec, OpDef, register
from .types import TensorType

WINDOW_KINDS = ("sum", "max", "min")
SELECT_KINDS = ("max", "min")


def window_identity(kind: str, dtype):
    """The init value of a `kind` window (sum, max, min) over `dtype`: 0, -inf/+inf, or the integer
    bounds (what reduce_window starts each window from)."""
    if kind == "sum":
        return 0
    if dtype.is_float:
        return float("-inf") if kind == "max" else float("inf")
    info = np.iinfo(dtype.np)
    return int(info.min) if kind == "max" else int(info.max)


def window_params(op, attrs, ndim, types=()):
    """(window_dimensions, strides, padding, base_dilation, window_dilation) with empty ones filled in."""
    wd = attrs["window_dimensions"]
    if len(wd) != ndim or any(w < 1 for w in wd):
        raise IRTypeError(op, types, f"window_dimensions={list(wd)}", f"{ndim} integers >= 1 (one per dimension)")
    return (wd, check_positive(op, types, "window_strides", attrs["window_strides"], ndim),
            check_pairs(op, types, "padding", attrs["padding"], ndim),
            check_positive(op, types, "base_dilation", attrs["base_dilation"], ndim),
            check_positive(op, types, "window_dilation", attrs["window_dilation"], ndim))


def window_out_shape(op, attrs, t: TensorType, types=()):
    wd, st, pad, bd, wdil = window_params(op, attrs, t.ndim, types)
    check_padded(op, types, t.shape, pad, bd)
    return tuple(window_out_size(n, w, s, lo, hi, b, d) for n, w, s, (lo, hi), b, d
                 in zip(t.shape, wd, st, pad, bd, wdil))


_WINDOW_ATTRS = {"window_dimensions": AttrSpec("ints"), "window_strides": AttrSpec("ints", ()),
                 "padding": AttrSpec("any", ()), "base_dilation": AttrSpec("ints", ()),
                 "window_dilation": AttrSpec("ints", ())}


def _reduce_window(types, attrs, regions):
    (t,) = types
    if t.dtype.kind not in "if":
        raise IRTypeError("reduce_window", types, f"dtype {t.dtype.name} is not supported", "integer or float operand")
    return (TensorType(window_out_shape("reduce_window", attrs, t, types), t.dtype),)


register(OpDef("reduce_window", _reduce_window, category="reduce", linear=(0,),  # when kind is sum
               attrs={"kind": AttrSpec("enum", choices=WINDOW_KINDS), **_WINDOW_ATTRS},
               doc="Reduces (sum, max, min) every window of the padded, base-dilated operand; the windows are "
                   "`window_dimensions` long, dilated by `window_dilation` and `window_strides` apart. Padding "
                   "holds the kind's identity (0, -inf, +inf)."))


def _select_and_gather_add(types, attrs, regions):
    t, x = types
    if t != x or not x.dtype.is_float:
        raise IRTypeError("select_and_gather_add", types, "tangent and operand types differ or are not float",
                          "a float tangent of the operand's type")
    return (TensorType(window_out_shape("select_and_gather_add", attrs, x, types), x.dtype),)


def _select_and_scatter_add(types, attrs, regions):
    s, x = types
    want = TensorType(window_out_shape("select_and_scatter_add", attrs, x, types), x.dtype)
    if s != want or not x.dtype.is_float:
        raise IRTypeError("select_and_scatter_add", types, f"source type {s}", f"{want} (one value per window)")
    return (x,)


register(OpDef("select_and_gather_add", _select_and_gather_add, num_operands=2, category="reduce", linear=(0,),
               attrs={"kind": AttrSpec("enum", choices=SELECT_KINDS), **_WINDOW_ATTRS},
               doc="Per window of the operand (second), the tangent (first) at the window's first max (min) "
                   "position in row-major window order: the derivative of reduce_window max (min)."))
register(OpDef("select_and_scatter_add", _select_and_scatter_add, num_operands=2, category="reduce", linear=(0,),
               attrs={"kind": AttrSpec("enum", choices=SELECT_KINDS), **_WINDOW_ATTRS},
               doc="Adds each window's source value (first operand) at the window's first max (min) position of "
                   "the operand (second), in a zero tensor of the operand's type (XLA's select_and_scatter): the "
                   "transpose of select_and_gather_add."))
