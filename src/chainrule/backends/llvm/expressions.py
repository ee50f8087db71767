"""Index-mapping ops computed inside a loop: each maps the consumer's index to its operand's.

`EXPR[op](em, node, operands, index) -> value`. Out-of-range positions never
load: pad and concatenate clamp the index and select, dynamic_slice and gather
clamp their start/indices as the reference backend does.
"""

from __future__ import annotations

import llvmlite.ir as ir

from .emitter import EXPR, Index
from .lltypes import I1, const, i64, narrow_round, reg_type
from .scalar import apply_scalar



def expr(name):
    return EXPR.register(name)


@expr("constant")
def _constant(em, node, ops, idx):
    lit = node.attrs["value"]
    dt = node.results[0].dtype
    return const(dt, lit.array.reshape(-1)[0].item() if lit.array.size else 0)


@expr("iota")
def _iota(em, node, ops, idx):
    dt = node.results[0].dtype
    d = idx.dims()[node.attrs["dimension"]]
    if dt.is_float:
        f = em.b.sitofp(d, reg_type(dt))
        return narrow_round(em.b, dt, f) if dt.is_narrow_float else f
    return d if dt.bits == 64 else em.b.trunc(d, reg_type(dt))


@expr("reshape")
def _reshape(em, node, ops, idx):
    return em.ev(ops[0], Index(em, ops[0].shape, flat=idx.flat()))


@expr("convert")
def _convert(em, node, ops, idx):
    return apply_scalar(em.b, node, [em.ev(ops[0], idx)])


@expr("broadcast_in_dim")
def _broadcast(em, node, ops, idx):
    (x,) = ops
    if x.type.size == node.results[0].type.size:
        return em.ev(x, Index(em, x.shape, flat=idx.flat()))
    dims = idx.dims()
    src = [i64(0) if n == 1 else dims[d] for n, d in zip(x.shape, node.attrs["broadcast_dimensions"])]
    return em.ev(x, Index(em, x.shape, dims=src))


@expr("transpose")
def _transpose(em, node, ops, idx):
    (x,) = ops
    perm = node.attrs["permutation"]
    dims = idx.dims()
    src = [None] * x.ndim
    for j, p in enumerate(perm):
        src[p] = dims[j]
    return em.ev(x, Index(em, x.shape, dims=src))


@expr("slice")
def _slice(em, node, ops, idx):
    (x,) = ops
    b = em.b
    starts = node.attrs["start_indices"]
    strides = node.attrs["strides"] or (1,) * x.ndim
    src = []
    for d, s, k in zip(idx.dims(), starts, strides):
        v = d if k == 1 else b.mul(d, i64(k))
        src.append(v if s == 0 else b.add(v, i64(s)))
    return em.ev(x, Index(em, x.shape, dims=src))


@expr("reverse")
def _reverse(em, node, ops, idx):
    (x,) = ops
    rev = set(node.attrs["dimensions"])
    src = [em.b.sub(i64(n - 1), d) if i in rev else d for i, (d, n) in enumerate(zip(idx.dims(), x.shape))]
    return em.ev(x, Index(em, x.shape, dims=src))


@expr("pad")
def _pad(em, node, ops, idx):
    x, pv = ops
    b = em.b
    lo = node.attrs["edge_padding_low"]
    interior = node.attrs["interior_padding"] or (0,) * x.ndim
    padval = em.scalar(pv)
    if x.type.size == 0:
        return padval
    valid = ir.Constant(I1, 1)
    src = []
    for d, n, l, it in zip(idx.dims(), x.shape, lo, interior):
        t = b.sub(d, i64(l))
        ok = b.icmp_signed(">=", t, i64(0))
        if it:
            ok = b.and_(ok, b.icmp_signed("==", b.srem(t, i64(it + 1)), i64(0)))
            t = b.sdiv(t, i64(it + 1))
        ok = b.and_(ok, b.icmp_signed("<", t, i64(n)))
        valid = b.and_(valid, ok)
        src.append(em.index_clamp(t, 0, n - 1))
    val = em.ev(x, Index(em, x.shape, dims=src))
    return b.select(valid, val, padval)


@expr("concatenate")
def _concatenate(em, node, ops, idx):
    b = em.b
    d = node.attrs["dimension"]
    dims = idx.dims()
    pos = dims[d]
    result = None
    off = 0
    for x in ops:
        n = x.shape[d]
        if n == 0:
            continue
        local = em.index_clamp(b.sub(pos, i64(off)), 0, n - 1)
        src = list(dims)
        src[d] = local
        val = em.ev(x, Index(em, x.shape, dims=src))
        if result is None:
            result = val
        else:
            result = b.select(b.icmp_signed(">=", pos, i64(off)), val, result)
        off += n
    return result


@expr("dynamic_slice")
def _dynamic_slice(em, node, ops, idx):
    x, starts = ops[0], ops[1:]
    sizes = node.attrs["slice_sizes"]
    b = em.b
    src = []
    for d, s, n, k in zip(idx.dims(), starts, x.shape, sizes):
        st = em.index_clamp(em.to_i64(em.scalar(s)), 0, n - k)
        src.append(b.add(st, d))
    return em.ev(x, Index(em, x.shape, dims=src))


@expr("gather")
def _gather(em, node, ops, idx):
    x, ind = ops
    axis, bd = node.attrs["axis"], node.attrs["batch_dims"]
    dims = idx.dims()
    nj = ind.ndim - bd
    iidx = dims[:bd] + dims[axis:axis + nj]
    k = em.index_clamp(em.to_i64(em.ev(ind, Index(em, ind.shape, dims=iidx))), 0, x.shape[axis] - 1)
    src = dims[:axis] + [k] + dims[axis + nj:]
    return em.ev(x, Index(em, x.shape, dims=src))


# --- kernels ------------------------------------------------------------------------------
