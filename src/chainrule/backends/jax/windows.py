"""Lowerings of convolution and the window ops to jax.lax (XLA's convolution, reduce_window,
select_and_scatter and JAX's select_and_gather_add)."""

from __future__ import annotations

import numpy as np
from jax import lax
from jax._src.lax import windowed_reductions as _wr

from ...ir.conv_ops import conv_params
from ...ir import dtype as as_dtype
from ...ir.window_ops import window_identity, window_params
from .table import lowering


@lowering("convolution")
def _convolution(args, attrs, out, regions):
    lhs, rhs = args
    nsp = lhs.ndim - 2
    strides, padding, ldil, rdil = conv_params(attrs, nsp)
    dn = lax.ConvDimensionNumbers(attrs["lhs_spec"], attrs["rhs_spec"], attrs["out_spec"])
    # HIGHEST: full float32 products on GPUs/TPUs too, as the oracle computes
    return (lax.conv_general_dilated(lhs, rhs, strides, list(padding), ldil, rdil, dn,
                                     feature_group_count=attrs["feature_group_count"],
                                     batch_group_count=attrs["batch_group_count"],
                                     precision=lax.Precision.HIGHEST),)


def _init(kind, dt):
    """The window's init value as a 0-d array of NumPy dtype `dt` (bfloat16 included)."""
    return np.asarray(window_identity(kind, as_dtype(dt)), dt)


_COMPUTATION = {"sum": lax.add, "max": lax.max, "min": lax.min}


@lowering("reduce_window")
def _reduce_window(args, attrs, out, regions):
    (x,) = args
    wd, st, pad, bd, wdil = window_params("reduce_window", attrs, x.ndim)
    kind = attrs["kind"]
    return (lax.reduce_window(x, _init(kind, out[0].dtype.np), _COMPUTATION[kind], wd, st, list(pad), bd, wdil),)


def _select_prim(kind):
    return lax.ge_p if kind == "max" else lax.le_p


@lowering("select_and_gather_add")
def _select_and_gather_add(args, attrs, out, regions):
    t, x = args
    wd, st, pad, bd, wdil = window_params("select_and_gather_add", attrs, x.ndim)
    return (_wr._select_and_gather_add(t, x, _select_prim(attrs["kind"]), wd, st, pad, bd, wdil),)


@lowering("select_and_scatter_add")
def _select_and_scatter_add(args, attrs, out, regions):
    s, x = args
    wd, st, pad, bd, wdil = window_params("select_and_scatter_add", attrs, x.ndim)
    if any(d != 1 for d in wdil):
        raise NotImplementedError("select_and_scatter_add with window_dilation is not supported by the jax "
                                  "backend (XLA's select_and_scatter has no window dilation; JAX cannot "
                                  "differentiate such a max pool either): use the llvm or reference backend")
    if any(d != 1 for d in bd):   # as JAX: scatter into the dilated operand (holes never selected), then drop the holes
        hole = _init(attrs["kind"], x.dtype)
        x = lax.pad(x, hole, [(0, 0, d - 1) for d in bd])
    # XLA's select_and_scatter takes no negative padding: crop those edges first, give them zeros after
    crop = [(max(-lo, 0), max(-hi, 0)) for lo, hi in pad]
    if any(a or b for a, b in crop):
        x = lax.slice(x, [a for a, _ in crop], [n - b for n, (_, b) in zip(x.shape, crop)])
    r = _wr._select_and_scatter_add(s, x, _select_prim(attrs["kind"]), wd, st,
                                    [(max(lo, 0), max(hi, 0)) for lo, hi in pad])
    if any(a or b for a, b in crop):
        r = lax.pad(r, np.zeros((), r.dtype), [(a, b, 0) for a, b in crop])
    if any(d != 1 for d in bd):
        r = lax.slice(r, (0,) * r.ndim, r.shape, bd)
    return (r,)
