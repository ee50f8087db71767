"""Lowerings of convolution and the window ops to jax.lax (XLA's convolution, reduce_window and
select_and_scatter; select_and_gather_add as a reduce_window over (value, index) pairs)."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
from jax import lax

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


def _first_extreme(kind):
    """reduce_window computation on (value, flat index) pairs: the first maximum (minimum) in index
    order, a NaN beating every number, as np.argmax/np.argmin pick."""
    def better(a, b):
        (va, ia), (vb, ib) = a, b
        na, nb = va != va, vb != vb
        beyond = (vb > va) if kind == "max" else (vb < va)
        tie = (na & nb) | (va == vb)
        take = (nb & ~na) | (~na & ~nb & beyond) | (tie & (ib < ia))
        return lax.select(take, vb, va), lax.select(take, ib, ia)
    return better


def _picks(x, attrs, op):
    """(pick, padding config): per window, the flat index in x padded and base-dilated (with the
    window's init value) of its first maximum (minimum). Not JAX's packed select_and_gather_add or
    XLA's select_and_scatter: there the init value wins a tie with a window whose only elements are
    -inf (+inf), and a NaN is not always picked (both found by the fuzzer)."""
    wd, st, pad, bd, wdil = window_params(op, attrs, x.ndim)
    kind = attrs["kind"]
    fill = _init(kind, x.dtype)
    config = [(lo, hi, b - 1) for (lo, hi), b in zip(pad, bd)]
    xp = lax.pad(x, fill, config)
    index = lax.iota(np.int32 if xp.size < 2 ** 31 else np.int64, xp.size).reshape(xp.shape)
    last = np.asarray(np.iinfo(index.dtype).max, index.dtype)
    _, pick = lax.reduce_window((xp, index), (fill, last), _first_extreme(kind), wd, st, "VALID",
                                window_dilation=wdil)
    return pick, config, xp.shape


@lowering("select_and_gather_add")
def _select_and_gather_add(args, attrs, out, regions):
    """t at each window's first maximum (minimum) of x, padding and base dilation's holes included."""
    t, x = args
    if math.prod(out[0].shape) == 0:
        return (np.zeros(out[0].shape, out[0].dtype.np),)
    pick, config, _ = _picks(x, attrs, "select_and_gather_add")
    return (lax.pad(t, np.zeros((), t.dtype), config).reshape(-1)[pick],)


@lowering("select_and_scatter_add")
def _select_and_scatter_add(args, attrs, out, regions):
    """Each window's source value added at its first maximum (minimum) of x, into x padded and
    base-dilated; then the padding is cropped and the holes dropped."""
    s, x = args
    if math.prod(out[0].shape) == 0 or s.size == 0:
        return (np.zeros(out[0].shape, out[0].dtype.np),)
    pick, config, pshape = _picks(x, attrs, "select_and_scatter_add")
    flat = np.zeros((math.prod(pshape),), s.dtype)
    acc = jnp.asarray(flat).at[pick.reshape(-1)].add(s.reshape(-1)).reshape(pshape)
    un = lax.pad(acc, np.zeros((), s.dtype), [(-lo, -hi, 0) for lo, hi, _ in config])
    if any(h for _, _, h in config):
        un = lax.slice(un, (0,) * un.ndim, un.shape, [h + 1 for _, _, h in config])
    return (un,)
