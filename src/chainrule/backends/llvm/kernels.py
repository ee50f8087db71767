"""Kernels of one op each, beside the fused loop: reduce, argmax/argmin, scatter,
dynamic_update_slice (and emit_loop_kernel for elementwise/fused loop nests)."""

from __future__ import annotations

import math

import llvmlite.ir as ir

from .emitter import Emitter, Index, row_major_strides
from .lltypes import F32, F64, I32, I64, const, i64, reg_type

BLOCK = 1024  # elements per partial sum in float reductions


def _identity(kind, dt):
    if kind == "sum" or (kind == "or"):
        return const(dt, 0) if not dt.is_bool else const(dt, False)
    if kind == "prod":
        return const(dt, 1)
    if kind == "and":
        return const(dt, True) if dt.is_bool else const(dt, -1)
    if kind == "max":
        if dt.is_float:
            return const(dt, -math.inf)
        return const(dt, False) if dt.is_bool else const(dt, 0 if dt.is_unsigned else -(1 << (dt.bits - 1)))
    if kind == "min":
        if dt.is_float:
            return const(dt, math.inf)
        return const(dt, True) if dt.is_bool else const(dt, -1 if dt.is_unsigned else (1 << (dt.bits - 1)) - 1)
    raise ValueError(kind)


def _combine(em, kind, dt, acc, x, reassoc=False):
    b = em.b
    if kind in ("sum", "prod"):
        if dt.is_complex:
            from .complex import vector_multiply
            return b.fadd(acc, x) if kind == "sum" else vector_multiply(b, dt, acc, x)
        if dt.is_float:
            r = b.fadd(acc, x) if kind == "sum" else b.fmul(acc, x)
            if reassoc:
                r.flags.append("reassoc")
            return r
        return b.add(acc, x) if kind == "sum" else b.mul(acc, x)
    if kind in ("and", "or"):
        return b.and_(acc, x) if kind == "and" else b.or_(acc, x)
    if dt.is_bool:
        return b.or_(acc, x) if kind == "max" else b.and_(acc, x)
    if dt.is_float:
        name = "maximum" if kind == "max" else "minimum"
        sfx = "f64" if dt.bits == 64 else "f32"
        fn = em.mb.module.globals.get(f"llvm.{name}.{sfx}")
        if fn is None:
            t = reg_type(dt)
            fn = ir.Function(em.mb.module, ir.FunctionType(t, [t, t]), f"llvm.{name}.{sfx}")
        return b.call(fn, [acc, x])
    op = ">" if kind == "max" else "<"
    icmp = b.icmp_unsigned if dt.is_unsigned else b.icmp_signed
    return b.select(icmp(op, acc, x), acc, x)


def emit_loop_kernel(em: Emitter, roots):
    shape = roots[0].shape
    if math.prod(shape) == 0:
        return
    with em.nest(shape, em.needs_dims(roots), ranged=em.lo is not None) as idx:
        vals = [em.compute(r, idx) for r in roots]
        for r, val in zip(roots, vals):
            em.store_at(r, idx.flat(), val)


def emit_reduce(em: Emitter, kernel):
    node = kernel.node
    (x,) = kernel.operands
    (out,) = kernel.roots
    kind, rdims = node.attrs["kind"], tuple(node.attrs["dimensions"])
    dt = x.dtype
    b = em.b
    if out.type.size == 0:
        return
    m = math.prod(x.shape[d] for d in rdims)
    trailing = rdims == tuple(range(x.ndim - len(rdims), x.ndim))
    if trailing:
        with em.nest(out.shape, need_dims=False) as oidx:
            base = b.mul(oidx.flat(), i64(m)) if out.type.size > 1 else None
            acc = _reduce_range(em, x, kind, dt, base, m)
            em.store_at(out, oidx.flat(), acc)
        return
    # general: out[kept] op= x[...] in x's own order (inner loop over a kept dim vectorizes)
    with em.nest(out.shape, need_dims=False) as oidx:
        em.store_at(out, oidx.flat(), _identity(kind, dt))
    kept = [d for d in range(x.ndim) if d not in rdims]
    ostr = row_major_strides(out.shape)
    with em.nest(x.shape, need_dims=True) as idx:
        dims = idx.dims()
        flat = None
        for d, s in zip(kept, ostr):
            if x.shape[d] == 1:
                continue
            term = b.mul(dims[d], i64(s)) if s != 1 else dims[d]
            flat = term if flat is None else b.add(flat, term)
        flat = flat if flat is not None else i64(0)
        oi = Index(em, out.shape, flat=flat)
        cur = em.load(out, oi)
        em.store_at(out, flat, _combine(em, kind, dt, cur, em.ev(x, idx), reassoc=True))


def _reduce_range(em, x, kind, dt, base, m):
    """Reduce x's flat elements [base, base + m) (base None means 0); returns the value."""
    b = em.b

    def at(j):
        flat = j if base is None else b.add(base, j)
        return em.ev(x, Index(em, x.shape, flat=flat))

    if kind == "sum" and dt.is_float and m > BLOCK:
        # blocked partial sums: each block vectorizes with reassociation, blocks add in float64
        outer = em.alloca(F64, ir.Constant(F64, 0.0))
        nb, rem = divmod(m, BLOCK)
        for count, start in ((nb, 0), (1 if rem else 0, nb * BLOCK)):
            size = BLOCK if start == 0 else rem
            if count == 0:
                continue
            with em.loop(count) as blk:
                acc = em.alloca(reg_type(dt))
                b.store(_identity(kind, dt), acc)
                first = b.add(b.mul(blk, i64(BLOCK)), i64(start))
                with em.loop(size) as j:
                    v = at(b.add(first, j))
                    b.store(_combine(em, kind, dt, b.load(acc), v, reassoc=True), acc)
                part = b.load(acc)
                part = b.fpext(part, F64) if dt.bits == 32 else part
                b.store(b.fadd(b.load(outer), part), outer)
        total = b.load(outer)
        return b.fptrunc(total, F32) if dt.bits == 32 else total
    acc = em.alloca(reg_type(dt))
    b.store(_identity(kind, dt), acc)
    with em.loop(m) as j:
        b.store(_combine(em, kind, dt, b.load(acc), at(j), reassoc=True), acc)
    return b.load(acc)


def emit_arg(em: Emitter, kernel):
    node = kernel.node
    (x,) = kernel.operands
    (out,) = kernel.roots
    d = node.attrs["dimension"]
    is_max = node.op.name == "argmax"
    n = x.shape[d]
    b = em.b
    if out.type.size == 0:
        return
    dt = x.dtype
    with em.nest(out.shape, need_dims=False) as oidx:
        odims = oidx.dims()

        def at(j):
            return em.ev(x, Index(em, x.shape, dims=odims[:d] + [j] + odims[d:]))

        best = em.alloca(reg_type(dt), at(i64(0)))
        bi = em.alloca(I64, i64(0))
        with em.loop(n - 1) as j:
            jj = b.add(j, i64(1))
            v = at(jj)
            cur = b.load(best)
            if dt.is_float:
                better = b.fcmp_ordered(">" if is_max else "<", v, cur)
                vnan = b.fcmp_unordered("uno", v, v)
                curnan = b.fcmp_unordered("uno", cur, cur)
                take = b.and_(b.not_(curnan), b.or_(vnan, better))
            else:
                icmp = b.icmp_unsigned if dt.is_unsigned else b.icmp_signed
                take = icmp(">" if is_max else "<", v, cur)
            b.store(b.select(take, v, cur), best)
            b.store(b.select(take, jj, b.load(bi)), bi)
        r = b.load(bi)
        if out.dtype.bits == 32:
            r = b.trunc(r, I32)
        em.store_at(out, oidx.flat(), r)


def emit_scatter(em: Emitter, kernel):
    node = kernel.node
    x, ind, upd = kernel.operands
    (out,) = kernel.roots
    axis, bd, kind = node.attrs["axis"], node.attrs["batch_dims"], node.attrs["kind"]
    b = em.b
    _copy(em, x, out)
    if upd.type.size == 0:
        return
    nj = ind.ndim - bd
    n = x.shape[axis]
    with em.nest(upd.shape, need_dims=True) as uidx:
        dims = uidx.dims()
        k = em.index_clamp(em.to_i64(em.ev(ind, Index(em, ind.shape, dims=dims[:bd] + dims[axis:axis + nj]))), 0, n - 1)
        tgt = Index(em, x.shape, dims=dims[:axis] + [k] + dims[axis + nj:])
        u = em.ev(upd, uidx)
        flat = tgt.flat()
        if kind == "add":
            cur = em.load(out, tgt)
            u = (b.or_(cur, u) if x.dtype.is_bool else
                 b.fadd(cur, u) if x.dtype.is_inexact else b.add(cur, u))
        em.store_at(out, flat, u)


def _copy(em, x, out):
    if out.type.size == 0:
        return
    with em.nest(out.shape, em.needs_dims([x])) as idx:
        em.store_at(out, idx.flat(), em.ev(x, idx))


def emit_dus(em: Emitter, kernel):
    x, u, starts = kernel.operands[0], kernel.operands[1], kernel.operands[2:]
    (out,) = kernel.roots
    b = em.b
    _copy(em, x, out)
    if u.type.size == 0:
        return
    st = [em.index_clamp(em.to_i64(em.scalar(s)), 0, n - k) for s, n, k in zip(starts, x.shape, u.shape)]
    with em.nest(u.shape, need_dims=True) as uidx:
        dims = [b.add(s, d) for s, d in zip(st, uidx.dims())]
        val = em.ev(u, uidx)
        em.store_at(out, Index(em, x.shape, dims=dims).flat(), val)
