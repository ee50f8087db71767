"""convolution and the window ops on the llvm backend, as graphs of the ops it already compiles well.

`EXPANSIONS[op](node, operands) -> (nodes, result)`: plan.flatten puts the nodes
in the schedule in place of `node` (their operands are the resolved operands),
so every later step (inlining, fusion of index expressions, buffers) sees
ordinary ops:

* convolution is im2col + GEMM: the lhs goes channels-last ([N, spatial..., C]:
  a transpose, padded and dilated by `pad`), one `gather` with a constant table
  of flat window positions makes the patch matrix [N * out, window * C] (the
  transpose, pad and gather are index expressions, so this is one loop), and a
  `dot_general` on the GEMM contracts it with the kernel as [window * C, O]
  (feature and batch groups are a batch dimension of the dot);
* reduce_window, select_and_gather_add and select_and_scatter_add with small
  windows are chains of elementwise max/min/add/select over strided slices of
  the padded operand: one vectorised loop over the result; with large windows
  they gather the windows and reduce (argmax for the selection) along them.
  The selection keeps the first extreme in row-major window order, as XLA.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ...ir import Literal, dtype as as_dtype, make_node
from ...ir.conv_ops import conv_params
from ...ir.window_ops import window_identity as _identity, window_params

CHAIN_MAX = 32   # windows up to this many elements are elementwise chains; larger ones gather


class _Builder:
    def __init__(self):
        self.nodes = []

    def op(self, name, *operands, **attrs):
        node = make_node(name, operands, attrs)
        self.nodes.append(node)
        return node.results[0]

    def const(self, arr, dtype=None):
        node = make_node("constant", (), {"value": Literal(np.asarray(arr), dtype)})
        self.nodes.append(node)
        return node.results[0]

    def full(self, value, shape, dtype):
        s = self.const(np.asarray(value, dtype.np))
        return s if tuple(shape) == () else self.op("broadcast_in_dim", s, shape=tuple(shape), broadcast_dimensions=())

    def transpose(self, x, perm):
        perm = tuple(perm)
        return x if perm == tuple(range(len(perm))) else self.op("transpose", x, permutation=perm)

    def reshape(self, x, shape):
        shape = tuple(shape)
        return x if tuple(x.shape) == shape else self.op("reshape", x, shape=shape)

    def pad(self, x, value, lo, hi, interior):
        if not any(lo) and not any(hi) and not any(interior):
            return x
        return self.op("pad", x, self.const(np.asarray(value, x.dtype.np)), edge_padding_low=tuple(lo),
                       edge_padding_high=tuple(hi), interior_padding=tuple(interior))


def _index_table(padded, out, window, strides, wdil):
    """int32 [prod(out), prod(window)]: the flat (row-major over `padded`) position of each window element."""
    flat_strides = [math.prod(padded[d + 1:]) for d in range(len(padded))]
    o = np.zeros(1, np.int64)
    k = np.zeros(1, np.int64)
    for d in range(len(padded)):
        o = (o[:, None] + np.arange(out[d]) * strides[d] * flat_strides[d]).reshape(-1)
        k = (k[:, None] + np.arange(window[d]) * wdil[d] * flat_strides[d]).reshape(-1)
    dt = np.int32 if math.prod(padded) < 2 ** 31 else np.int64
    return (o[:, None] + k[None, :]).astype(dt)


def _patches(b, flat, psp, osp, ksp, strides, rdil, axis):
    """The windows of `flat` (spatial positions flattened at `axis`) as [.., out, window, ..]."""
    if psp == osp and all(k == 1 for k in ksp) and all(s == 1 for s in strides):
        shape = list(flat.shape)
        shape[axis:axis + 1] = [shape[axis], 1]
        return b.reshape(flat, shape)                                          # a 1x1 window: no gather
    return b.op("gather", flat, b.const(_index_table(psp, osp, ksp, strides, rdil)), axis=axis)


def _col2im_pays(psp, osp, kk, c, o, strides):
    """Whether GEMM-then-sum-of-shifted-slices beats im2col: fewer output than input features (the
    data-gradient convolution of a widening layer), unit strides, a small window, little padding."""
    return (all(s == 1 for s in strides) and 1 < kk <= CHAIN_MAX and 2 * o <= c
            and 4 * math.prod(psp) <= 5 * math.prod(osp))


def _col2im(b, xp, wt, psp, osp, ksp, rdil):
    """conv = sum over window offsets k of shift_k(xp @ w_k): one GEMM [N*P, C] @ [C, KK*O], then the
    KK strided slices of its result added up in one elementwise loop."""
    n, c = xp.shape[0], xp.shape[-1]
    kk, o = math.prod(ksp), wt.shape[-1]
    flat = b.reshape(xp, (n, math.prod(psp), c))
    wc = b.reshape(b.transpose(b.reshape(wt, (kk, c, o)), (1, 0, 2)), (c, kk * o))
    y = b.reshape(b.op("dot_general", flat, wc, lhs_contracting=(2,), rhs_contracting=(0,)), (n,) + psp + (kk * o,))
    acc = None
    for i, k in enumerate(itertools.product(*[range(w) for w in ksp])):
        start = (0,) + tuple(kd * d for kd, d in zip(k, rdil)) + (i * o,)
        limit = (n,) + tuple(s0 + m for s0, m in zip(start[1:], osp)) + ((i + 1) * o,)
        part = b.op("slice", y, start_indices=start, limit_indices=limit, strides=(1,) * len(start))
        acc = part if acc is None else b.op("add", acc, part)
    return acc


# --- convolution -----------------------------------------------------------------------------------

def _convolution(node, ops):
    b = _Builder()
    x, w = ops
    a = node.attrs
    ls, rs, os_ = a["lhs_spec"], a["rhs_spec"], a["out_spec"]
    nd = x.ndim
    nsp = nd - 2
    strides, padding, ldil, rdil = conv_params(a, nsp)
    fg, bg = a["feature_group_count"], a["batch_group_count"]
    (t,) = node.results
    dt = x.dtype
    n, c = x.shape[ls[0]], x.shape[ls[1]]
    o = w.shape[rs[0]]
    ksp = tuple(w.shape[d] for d in rs[2:])
    osp = tuple(t.shape[d] for d in os_[2:])
    kk = math.prod(ksp)
    if t.type.size == 0 or kk * (c // fg) == 0:
        zeros = b.full(0, t.shape, dt)
        return b.nodes, zeros
    xt = b.transpose(x, (ls[0],) + tuple(ls[2:]) + (ls[1],))                  # [N, S..., C]
    xp = b.pad(xt, 0, (0,) + tuple(p[0] for p in padding) + (0,), (0,) + tuple(p[1] for p in padding) + (0,),
               (0,) + tuple(d - 1 for d in ldil) + (0,))
    psp = tuple(xp.shape[1:-1])
    wt = b.transpose(w, tuple(rs[2:]) + (rs[1], rs[0]))                        # [K..., I, O]
    # The patches come out of the gather in the layout the GEMM reads ([rows, window, features], the
    # features contiguous), so nothing is copied between the gather's loop and the GEMM.
    cg, og = c // fg, o // (fg * bg)
    if fg > 1:      # feature groups: a batch dimension of the dot
        flat = b.reshape(xp, (n, math.prod(psp), fg, cg))
        patches = _patches(b, flat, psp, osp, ksp, strides, rdil, axis=1)     # [N, OSS, KK, G, Cg]
        rhs = b.reshape(wt, (kk, cg, fg, og))
        r = b.op("dot_general", patches, rhs, lhs_batch=(3,), rhs_batch=(2,), lhs_contracting=(2, 4),
                 rhs_contracting=(0, 1))                                                     # [G, N, OSS, Og]
        canon = b.reshape(b.transpose(r, (1, 2, 0, 3)), (n,) + osp + (o,))
    elif bg > 1:    # batch groups: (group, batch) of the lhs pairs with (group, feature) of the kernel
        nb = n // bg
        flat = b.reshape(xp, (bg, nb, math.prod(psp), c))
        patches = _patches(b, flat, psp, osp, ksp, strides, rdil, axis=2)     # [B, Nb, OSS, KK, C]
        rhs = b.reshape(wt, (kk, c, bg, og))
        r = b.op("dot_general", patches, rhs, lhs_batch=(0,), rhs_batch=(2,), lhs_contracting=(3, 4),
                 rhs_contracting=(0, 1))                                                     # [B, Nb, OSS, Ob]
        canon = b.reshape(b.transpose(r, (1, 2, 0, 3)), (nb,) + osp + (o,))
    elif _col2im_pays(psp, osp, kk, c, o, strides):
        canon = _col2im(b, xp, wt, psp, osp, ksp, rdil)
    else:
        flat = b.reshape(xp, (n, math.prod(psp), c))
        patches = _patches(b, flat, psp, osp, ksp, strides, rdil, axis=1)     # [N, OSS, KK, C]
        rhs = b.reshape(wt, (kk, c, o))
        r = b.op("dot_general", patches, rhs, lhs_contracting=(2, 3), rhs_contracting=(0, 1))   # [N, OSS, O]
        canon = b.reshape(r, (n,) + osp + (o,))
    # canonical (batch, spatial..., feature) -> the out_spec layout
    where = {os_[0]: 0, os_[1]: nsp + 1, **{os_[2 + k]: 1 + k for k in range(nsp)}}
    return b.nodes, b.transpose(canon, [where[j] for j in range(nd)])


# --- windows ---------------------------------------------------------------------------------------


class _Windows:
    """The padded operand and the geometry of a window op's windows."""

    def __init__(self, b, node, x, fill):
        self.b = b
        self.wd, self.st, self.pad, self.bd, self.wdil = window_params(node.op.name, node.attrs, x.ndim)
        self.x = x
        self.xp = b.pad(x, fill, [p[0] for p in self.pad], [p[1] for p in self.pad], [d - 1 for d in self.bd])
        self.out = tuple(node.results[0].shape) if node.op.name != "select_and_scatter_add" else \
            tuple(node.operands[0].shape)
        self.kk = math.prod(self.wd)

    def offsets(self):
        return list(itertools.product(*[range(w) for w in self.wd]))

    def slice_at(self, v, k):
        """The window elements at offset k of every window: a strided slice of padded `v`."""
        start = [kd * d for kd, d in zip(k, self.wdil)]
        limit = [s0 + (o - 1) * s + 1 for s0, o, s in zip(start, self.out, self.st)]
        if tuple(start) == (0,) * len(start) and tuple(limit) == tuple(v.shape) and all(s == 1 for s in self.st):
            return v
        return self.b.op("slice", v, start_indices=tuple(start), limit_indices=tuple(limit), strides=tuple(self.st))

    def gathered(self, v):
        """[prod(out), prod(window)]: every window of padded `v`."""
        table = self.b.const(_index_table(tuple(self.xp.shape), self.out, self.wd, self.st, self.wdil))
        return self.b.op("gather", self.b.reshape(v, (math.prod(self.xp.shape),)), table, axis=0)


_COMBINE = {"sum": "add", "max": "maximum", "min": "minimum"}


def _reduce_window(node, ops):
    b = _Builder()
    (x,) = ops
    kind = node.attrs["kind"]
    (t,) = node.results
    if t.type.size == 0:
        return b.nodes, b.full(0, t.shape, t.dtype)
    win = _Windows(b, node, x, _identity(kind, x.dtype))
    if win.kk <= CHAIN_MAX:
        acc = None
        for k in win.offsets():
            s = win.slice_at(win.xp, k)
            acc = s if acc is None else b.op(_COMBINE[kind], acc, s)
        return b.nodes, acc
    r = b.op("reduce", win.gathered(win.xp), kind=kind, dimensions=(1,))
    return b.nodes, b.reshape(r, t.shape)


def _selection(b, win, kind):
    """Per window, the number (row-major) of its first extreme element: the extreme m first (one
    elementwise chain), then select(s_k == m, k, ...) from the last offset to the first, so every
    intermediate has one reader and the whole chain is one loop."""
    slices = [win.slice_at(win.xp, k) for k in win.offsets()]
    m = slices[0]
    for sl in slices[1:]:
        m = b.op(_COMBINE[kind], m, sl)
    idx = b.full(0, m.shape, _int32())
    for i in range(len(slices) - 1, -1, -1):   # (i = 0 too: a tie with the first element goes to it)
        hit = b.op("compare", slices[i], m, direction="EQ")
        if m.dtype.is_float:  # a NaN in the window makes m NaN, equal to nothing: the first NaN is picked
            hit = b.op("or", hit, b.op("compare", slices[i], slices[i], direction="NE"))
        idx = b.op("select", hit, b.full(i, m.shape, _int32()), idx)
    return idx


def _int32():
    return as_dtype("int32")


def _select_and_gather_add(node, ops):
    b = _Builder()
    tg, x = ops
    kind = node.attrs["kind"]
    (t,) = node.results
    if t.type.size == 0:
        return b.nodes, b.full(0, t.shape, t.dtype)
    win = _Windows(b, node, x, _identity(kind, x.dtype))
    tp = b.pad(tg, 0, [p[0] for p in win.pad], [p[1] for p in win.pad], [d - 1 for d in win.bd])
    if win.kk <= CHAIN_MAX:
        idx = _selection(b, win, kind)
        acc = None
        for i, k in enumerate(win.offsets()):
            ts = win.slice_at(tp, k)
            acc = ts if acc is None else b.op("select", b.op("compare", idx, b.full(i, idx.shape, idx.dtype),
                                                                direction="EQ"), ts, acc)
        return b.nodes, acc
    am = b.op("argmax" if kind == "max" else "argmin", win.gathered(win.xp), dimension=1, index_dtype="int32")
    r = b.op("gather", win.gathered(tp), am, axis=1, batch_dims=1)
    return b.nodes, b.reshape(r, t.shape)


def _select_and_scatter_add(node, ops):
    b = _Builder()
    s, x = ops
    kind = node.attrs["kind"]
    (t,) = node.results
    if t.type.size == 0 or s.type.size == 0:
        return b.nodes, b.full(0, t.shape, t.dtype)
    win = _Windows(b, node, x, _identity(kind, x.dtype))
    psh = tuple(win.xp.shape)
    zero = b.full(0, s.shape, s.dtype)
    if win.kk <= CHAIN_MAX and tuple(win.st) == tuple(win.wd) and all(d == 1 for d in win.wdil):
        # windows that tile the padded operand (pooling): each element belongs to one window, so the
        # result is one elementwise select over [.., window index, offset, ..], reshaped back
        idx = _selection(b, win, kind)
        nd = x.ndim
        tiled = tuple(v for o, w in zip(win.out, win.wd) for v in (o, w))
        outer = tuple(2 * d for d in range(nd))
        offset = None
        for d in range(nd):   # the row-major offset number within the window, from per-dimension iotas
            term = b.op("iota", shape=tiled, dimension=2 * d + 1, dtype="int32")
            if math.prod(win.wd[d + 1:]) != 1:
                term = b.op("multiply", term, b.full(math.prod(win.wd[d + 1:]), tiled, _int32()))
            offset = term if offset is None else b.op("add", offset, term)
        hit = b.op("compare", b.op("broadcast_in_dim", idx, shape=tiled, broadcast_dimensions=outer), offset,
                   direction="EQ")
        sel = b.op("select", hit, b.op("broadcast_in_dim", s, shape=tiled, broadcast_dimensions=outer),
                   b.full(0, tiled, s.dtype))
        covered = b.reshape(sel, tuple(o * w for o, w in zip(win.out, win.wd)))
        acc = b.pad(covered, 0, [0] * nd, [p - c for p, c in zip(psh, covered.shape)], [0] * nd)
    elif win.kk <= CHAIN_MAX:
        idx = _selection(b, win, kind)
        acc = None
        for i, k in enumerate(win.offsets()):
            m = b.op("select", b.op("compare", idx, b.full(i, idx.shape, idx.dtype), direction="EQ"), s, zero)
            lo = [kd * d for kd, d in zip(k, win.wdil)]
            hi = [p - (l0 + (o - 1) * st + 1) for p, l0, o, st in zip(psh, lo, win.out, win.st)]
            term = b.pad(m, 0, lo, hi, [st - 1 for st in win.st])
            acc = term if acc is None else b.op("add", acc, term)
    else:
        g = win.gathered(win.xp)
        am = b.op("argmax" if kind == "max" else "argmin", g, dimension=1, index_dtype="int32")
        shape2 = (math.prod(win.out), win.kk)
        onehot = b.op("compare", b.op("iota", shape=shape2, dimension=1, dtype="int32"),
                      b.op("broadcast_in_dim", am, shape=shape2, broadcast_dimensions=(0,)), direction="EQ")
        src = b.op("broadcast_in_dim", b.reshape(s, (shape2[0],)), shape=shape2, broadcast_dimensions=(0,))
        upd = b.op("select", onehot, src, b.full(0, shape2, s.dtype))
        table = b.const(_index_table(psh, win.out, win.wd, win.st, win.wdil))
        flat = b.op("scatter", b.full(0, (math.prod(psh),), s.dtype), table, upd, axis=0, kind="add")
        acc = b.reshape(flat, psh)
    # back from the padded, dilated layout: crop the edges, then drop the dilation holes
    un = b.pad(acc, 0, [-p[0] for p in win.pad], [-p[1] for p in win.pad], [0] * x.ndim)
    if any(d != 1 for d in win.bd):
        un = b.op("slice", un, start_indices=(0,) * x.ndim, limit_indices=tuple(un.shape), strides=tuple(win.bd))
    return b.nodes, un


EXPANSIONS = {"convolution": _convolution, "reduce_window": _reduce_window,
              "select_and_gather_add": _select_and_gather_add, "select_and_scatter_add": _select_and_scatter_add}
