"""Lowerings of convolution and the window ops to jax.lax (XLA's convolution, reduce_window and
select_and_scatter; select_and_gather_add as a reduce_window over (value, index) pairs)."""

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


@lowering("select_and_gather_add")
def _select_and_gather_add(args, attrs, out, regions):
    """t at each window's first maximum (minimum) of x, padding and base dilation's holes included.
    Not JAX's packed `_select_and_gather_add`: there the init value ties with a window whose only
    elements are -inf (+inf) and gives tangent 0 (found by the fuzzer)."""
    t, x = args
    wd, st, pad, bd, wdil = window_params("select_and_gather_add", attrs, x.ndim)
    kind = attrs["kind"]
    fill = _init(kind, x.dtype)
    config = [(lo, hi, b - 1) for (lo, hi), b in zip(pad, bd)]
    xp = lax.pad(x, fill, config)
    tp = lax.pad(t, np.zeros((), t.dtype), config)
    if xp.size == 0 or any(n < 1 for n in out[0].shape):
        return (np.zeros(out[0].shape, out[0].dtype.np),)
    index = lax.iota(np.int32 if xp.size < 2 ** 31 else np.int64, xp.size).reshape(xp.shape)
    last = np.asarray(np.iinfo(index.dtype).max, index.dtype)
    _, pick = lax.reduce_window((xp, index), (fill, last), _first_extreme(kind), wd, st, "VALID",
                                window_dilation=wdil)
    return (tp.reshape(-1)[pick],)


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
