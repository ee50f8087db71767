"""Reference evaluation of convolution and the window ops, with NumPy: pad and dilate by index
maps, cut every window out with sliding_window_view, and contract (einsum) or reduce over it.

Written for clarity: this is the oracle the llvm and jax backends are tested against.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ...ir.conv_ops import conv_params, dilate_shape, window_out_size
from ...ir.window_ops import window_params
from .rules import rule


def _lowest(dt):
    return -np.inf if dt.kind == "f" else np.iinfo(dt).min


def _highest(dt):
    return np.inf if dt.kind == "f" else np.iinfo(dt).max


def pad_dilate(x, pads, dil, fill):
    """x with dil-1 holes between neighbours and (lo, hi) edge padding per dim (negative crops)."""
    shape = [dilate_shape(n, d) + lo + hi for n, d, (lo, hi) in zip(x.shape, dil, pads)]
    if x.size == 0 or 0 in shape:
        return np.full([max(s, 0) for s in shape], fill, x.dtype)
    srcs, valid = [], []
    for n, d, (lo, _), size in zip(x.shape, dil, pads, shape):
        q = np.arange(size) - lo                      # the position in the dilated axis
        ok = (q >= 0) & (q % d == 0) & (q // d < n)
        srcs.append(np.clip(q // d, 0, n - 1))
        valid.append(ok)
    out = x[np.ix_(*srcs)]
    mask = np.ones(shape, bool)
    for k, ok in enumerate(valid):
        mask &= ok.reshape([-1 if i == k else 1 for i in range(len(shape))])
    return np.where(mask, out, np.asarray(fill, x.dtype))


def windows(xp, wd, st, wdil):
    """Every window of xp: shape out_shape + wd (window elements `wdil` apart, windows `st` apart)."""
    out = [window_out_size(n, w, s, 0, 0, 1, d) for n, w, s, d in zip(xp.shape, wd, st, wdil)]
    if 0 in out or 0 in wd:
        return np.zeros(tuple(out) + tuple(wd), xp.dtype)
    span = [dilate_shape(w, d) for w, d in zip(wd, wdil)]
    v = sliding_window_view(xp, span)
    nd = xp.ndim
    idx = tuple(slice(None, None, s) for s in st) + tuple(slice(None, None, d) for d in wdil)
    v = v[idx]
    return v[tuple(slice(0, o) for o in out) + (slice(None),) * nd]


@rule("convolution")
def _convolution(args, attrs, out, regions):
    lhs, rhs = args
    ls, rs, os_ = attrs["lhs_spec"], attrs["rhs_spec"], attrs["out_spec"]
    nsp = lhs.ndim - 2
    strides, padding, ldil, rdil = conv_params(attrs, nsp)
    g, bg = attrs["feature_group_count"], attrs["batch_group_count"]
    x = np.transpose(lhs, ls)                         # [N, C, S...]
    w = np.transpose(rhs, rs)                         # [O, I, K...]
    (t,) = out
    canon = tuple(t.shape[d] for d in os_)            # [N/bg, O, OS...]
    if math.prod(canon) == 0:
        return (np.zeros(t.shape, t.dtype.np),)
    xp = pad_dilate(x, ((0, 0), (0, 0)) + tuple(padding), (1, 1) + tuple(ldil), 0)
    win = windows(xp, (1, 1) + w.shape[2:], (1, 1) + tuple(strides), (1, 1) + tuple(rdil))
    win = win.reshape(win.shape[:2 + nsp] + win.shape[4 + nsp:])   # [N, C, OS..., K...]
    n, c = x.shape[:2]
    o = w.shape[0]
    sp = "".join(chr(ord("p") + k) for k in range(nsp))
    ks = "".join(chr(ord("d") + k) for k in range(nsp))
    with np.errstate(all="ignore"):
        if bg > 1:   # lhs batch split as (group, batch) with the group major, output features as (group, feature)
            xg = win.reshape((bg, n // bg) + win.shape[1:])
            wg = w.reshape((bg, o // bg) + w.shape[1:])
            r = np.einsum(f"gnc{sp}{ks},goc{ks}->ngo{sp}", xg, wg, optimize=True)
        else:        # features split as (group, feature) on both sides
            xg = win.reshape((n, g, c // g) + win.shape[2:])
            wg = w.reshape((g, o // g) + w.shape[1:])
            r = np.einsum(f"ngc{sp}{ks},goc{ks}->ngo{sp}", xg, wg, optimize=True)
    r = r.reshape(canon).astype(t.dtype.np, copy=False)
    return (np.ascontiguousarray(np.transpose(r, np.argsort(os_))),)


def _fill(kind, dt):
    return 0 if kind == "sum" else (_lowest(dt) if kind == "max" else _highest(dt))


def _padded_windows(x, attrs, op, fill):
    wd, st, pad, bd, wdil = window_params(op, attrs, x.ndim)
    xp = pad_dilate(x, pad, bd, fill)
    return windows(xp, wd, st, wdil), (wd, st, pad, bd, wdil), xp.shape


@rule("reduce_window")
def _reduce_window(args, attrs, out, regions):
    (x,) = args
    kind = attrs["kind"]
    win, (wd, *_), _ = _padded_windows(x, attrs, "reduce_window", _fill(kind, x.dtype))
    axes = tuple(range(x.ndim, 2 * x.ndim))
    with np.errstate(all="ignore"):
        if kind == "sum":
            r = np.sum(win, axis=axes, dtype=x.dtype)
        elif kind == "max":
            r = np.max(win, axis=axes, initial=_lowest(x.dtype))
        else:
            r = np.min(win, axis=axes, initial=_highest(x.dtype))
    return (np.asarray(r, x.dtype).reshape(out[0].shape),)


def _selected(x, attrs, op):
    """Per window, the flat index (row-major in the window) of its first max (min) element."""
    kind = attrs["kind"]
    win, params, pshape = _padded_windows(x, attrs, op, _fill(kind, x.dtype))
    flat = win.reshape(win.shape[:x.ndim] + (math.prod(params[0]),))
    pick = np.argmax(flat, axis=-1) if kind == "max" else np.argmin(flat, axis=-1)
    return pick, params, pshape


@rule("select_and_gather_add")
def _select_and_gather_add(args, attrs, out, regions):
    t, x = args
    pick, (wd, st, pad, bd, wdil), _ = _selected(x, attrs, "select_and_gather_add")
    tw = windows(pad_dilate(t, pad, bd, 0), wd, st, wdil)
    tw = tw.reshape(tw.shape[:x.ndim] + (math.prod(wd),))
    return (np.take_along_axis(tw, pick[..., None], axis=-1)[..., 0].reshape(out[0].shape),)


@rule("select_and_scatter_add")
def _select_and_scatter_add(args, attrs, out, regions):
    s, x = args
    pick, (wd, st, pad, bd, wdil), pshape = _selected(x, attrs, "select_and_scatter_add")
    acc = np.zeros(pshape, x.dtype)
    if pick.size:
        offs = np.unravel_index(pick, wd)             # window offset of each pick, per dim
        grid = np.indices(pick.shape)                 # window index, per dim
        coords = tuple(grid[k] * st[k] + offs[k] * wdil[k] for k in range(x.ndim))
        np.add.at(acc, coords, s)
    # back from the padded, dilated layout: element i sits at lo + i * base_dilation
    srcs, valid = [], []
    for n, (lo, _), d, p in zip(x.shape, pad, bd, pshape):
        q = lo + np.arange(n) * d
        valid.append((q >= 0) & (q < p))
        srcs.append(np.clip(q, 0, max(p - 1, 0)))
    if x.size == 0 or acc.size == 0:
        return (np.zeros(x.shape, x.dtype),)
    r = acc[np.ix_(*srcs)]
    mask = np.ones(x.shape, bool)
    for k, ok in enumerate(valid):
        mask &= ok.reshape([-1 if i == k else 1 for i in range(x.ndim)])
    return (np.where(mask, r, np.zeros((), x.dtype)),)
