"""dot_general on NumPy's OpenBLAS (through the runtime table), or loops for integers.

Operands arrive in a layout GEMM reads directly (plan.py inserts transposes
otherwise); transposed operands use the trans flags. Every float dot kernel
calls one shared routine per dtype (sizes as arguments), so a module holds
one copy of the GEMM code. OpenBLAS's own thread pool spin-waits when the
cores are shared, so each cblas call runs single-threaded; large GEMMs are cut
into output slices that the calling thread and the pool's helper thread take
dynamically (pool.py).
"""

from __future__ import annotations

import math

import llvmlite.ir as ir

from .emitter import Emitter, Index
from .lltypes import I1, I8, I32, I64, PTR, VOID, const, i64, reg_type
from .pool import pool_run, pool_state


def _gemm_layout(node, lhs, rhs):
    a = node.attrs
    lb, rb, lc, rc = a["lhs_batch"], a["rhs_batch"], a["lhs_contracting"], a["rhs_contracting"]
    lf = tuple(i for i in range(lhs.ndim) if i not in lb and i not in lc)
    rf = tuple(i for i in range(rhs.ndim) if i not in rb and i not in rc)
    B = math.prod(lhs.shape[i] for i in lb)
    M = math.prod(lhs.shape[i] for i in lf)
    K = math.prod(lhs.shape[i] for i in lc)
    N = math.prod(rhs.shape[i] for i in rf)
    ta = tuple(range(lhs.ndim)) != lb + lf + lc
    tb = tuple(range(rhs.ndim)) != rb + rc + rf
    return B, M, K, N, ta, tb


def emit_dot(em: Emitter, kernel):
    lhs, rhs = kernel.operands
    (out,) = kernel.roots
    B, M, K, N, ta, tb = _gemm_layout(kernel.node, lhs, rhs)
    b = em.b
    dt = out.dtype
    if B * M * N == 0:
        return
    if K == 0 or not dt.is_float:
        with em.nest(out.shape, need_dims=False) as oidx:
            em.store_at(out, oidx.flat(), const(dt, 0))
        if K == 0:
            return
    if not dt.is_float:
        # integer: i-k-j order so the inner loop runs along contiguous rows and vectorizes
        with em.loop(B) as bb, em.loop(M) as i, em.loop(K) as k:
            abase = b.mul(b.add(b.mul(bb, i64(M)), i), i64(K))
            av = em.load(lhs, Index(em, (B * M * K,), flat=b.add(abase, k)))
            bbase = b.mul(b.add(b.mul(bb, i64(K)), k), i64(N))
            cbase = b.mul(b.add(b.mul(bb, i64(M)), i), i64(N))
            with em.loop(N) as j:
                cflat = b.add(cbase, j)
                cv = em.load(out, Index(em, (B * M * N,), flat=cflat))
                bv = em.load(rhs, Index(em, (B * K * N,), flat=b.add(bbase, j)))
                if dt.is_complex:
                    from .complex import vector_multiply
                    em.store_at(out, cflat, b.fadd(cv, vector_multiply(b, dt, av, bv)))
                else:
                    em.store_at(out, cflat, b.add(cv, b.mul(av, bv)))
        return
    threads = em.mb.threads
    nchunks = (GEMM_CHUNKS or threads) if (B == 1 and em.mb.threads > 1 and 2 * M * N * K >= PARALLEL_GEMM_FLOPS
                              and max(M, N) >= 64) else 1
    b.call(gemm_fn(em.mb.module, dt), [em.rt, i64(ta), i64(tb), i64(B), i64(M), i64(N), i64(K),
                                       em.ptr[id(lhs)], em.ptr[id(rhs)], em.ptr[id(out)], i64(nchunks),
                                       i64(threads - 1)])


PARALLEL_GEMM_FLOPS = 1 << 21  # below ~20 us of work the pool's hand-off does not pay for itself
# Output slices taken dynamically by the threads; 0: one per thread. Each slice is a cblas call that
# packs the whole shared operand again, so two beat four on two threads: MLP step 4.87 vs 5.08 ms
# quiet, equal with one busy core (the caller still takes a helper's slice when it has not joined).
GEMM_CHUNKS = 0

def _cblas_type(dt):
    ft = reg_type(dt)
    return ir.FunctionType(VOID, [I32, I32, I32, I64, I64, I64, ft, PTR, I64, PTR, I64, ft, PTR, I64])


_SET_TYPE = ir.FunctionType(I32, [I32])


def _rt_slot(b, rt, k, fnty):
    return b.load(b.gep(rt, [i64(k)], inbounds=True, source_etype=PTR), typ=ir.PointerType(fnty))


def _is_set(b, p):
    return b.icmp_unsigned("!=", b.ptrtoint(p, I64), i64(0))


def _cblas_call(b, dt, gemm, ta, tb, m, n, K, pa, lda, pb, ldb, pc, ldc):
    """C = A @ B (row-major cblas_?gemm, alpha 1, beta 0); ta/tb are i1 'transposed' flags."""
    ft = reg_type(dt)
    flag = lambda t: b.select(t, ir.Constant(I32, 112), ir.Constant(I32, 111))  # noqa: E731
    b.call(gemm, [ir.Constant(I32, 101), flag(ta), flag(tb), m, n, K, ir.Constant(ft, 1.0), pa, lda, pb, ldb,
                  ir.Constant(ft, 0.0), pc, ldc])


def _small_fn(module, name, fnty):
    fn = ir.Function(module, fnty, name)
    fn.linkage = "internal"
    for a in ("noinline", "nounwind", "optnone"):
        fn.attributes.add(a)
    return fn


def gemm_fn(module, dt):
    """The module's one GEMM routine for float dtype `dt`, called by every dot kernel:
    void gemm(ptr rt, i64 ta, i64 tb, i64 B, i64 M, i64 N, i64 K, ptr A, ptr B, ptr C, i64 nchunks,
    i64 helpers).

    Row-major operands (transposed ones flagged, so lda = M or K, ldb = K or N), batched B
    times with dense strides. OpenBLAS's own thread pool spin-waits when the cores are shared
    (measured: 10x slower on a busy 2-core machine), so each cblas call runs single-threaded on
    the thread that makes it (the caller's previous setting is restored after). With
    nchunks > 1 (B == 1 only) the output is cut into nchunks slices run as one parallel region
    on this thread and up to `helpers` threads of the pool (pool.py)."""
    name = f"chainrule_gemm_{dt.short}"
    fn = module.globals.get(name)
    if fn is not None:
        return fn
    fn = _small_fn(module, name, ir.FunctionType(VOID, [PTR] + [I64] * 6 + [PTR] * 3 + [I64, I64]))
    rt, ta, tb, nb, M, N, K, pa, pb, pc, nchunks, helpers = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    es = dt.itemsize
    gemm = _rt_slot(b, rt, 0 if dt.bits == 32 else 1, _cblas_type(dt))
    set_fp = _rt_slot(b, rt, 2, _SET_TYPE)
    prev = b.alloca(I32)
    ctx = b.alloca(ir.ArrayType(I64, 11))
    with b.if_then(_is_set(b, set_fp)):
        b.store(b.call(set_fp, [ir.Constant(I32, 1)]), prev)
    ta1, tb1 = b.trunc(ta, I1), b.trunc(tb, I1)
    with b.if_else(b.icmp_signed(">", nchunks, i64(1))) as (par, seq):
        with par:
            fields = [b.ptrtoint(gemm, I64), b.ptrtoint(set_fp, I64), ta, tb, M, N, K,
                      b.ptrtoint(pa, I64), b.ptrtoint(pb, I64), b.ptrtoint(pc, I64), nchunks]
            for k, v in enumerate(fields):
                b.store(v, b.gep(ctx, [i64(0), i64(k)], inbounds=True))
            b.call(pool_run(module), [pool_state(b, rt), _gemm_chunk(module, dt), b.bitcast(ctx, PTR), nchunks,
                                           helpers])
        with seq:
            lda, ldb = b.select(ta1, M, K), b.select(tb1, K, N)
            pre = b.block
            head, body, out = (fn.append_basic_block(s) for s in ("batch", "batch_body", "batch_out"))
            b.branch(head)
            b.position_at_end(head)
            i = b.phi(I64)
            i.add_incoming(i64(0), pre)
            b.cbranch(b.icmp_signed("<", i, nb), body, out)
            b.position_at_end(body)
            at = lambda p, n: b.gep(p, [b.mul(i, b.mul(n, i64(es)))], source_etype=I8)  # noqa: E731
            _cblas_call(b, dt, gemm, ta1, tb1, M, N, K, at(pa, b.mul(M, K)), lda, at(pb, b.mul(K, N)), ldb,
                        at(pc, b.mul(M, N)), N)
            i.add_incoming(b.add(i, i64(1)), body)
            b.branch(head)
            b.position_at_end(out)
    with b.if_then(_is_set(b, set_fp)):
        b.call(set_fp, [b.load(prev, typ=I32)])
    b.ret_void()
    return fn


def _gemm_chunk(module, dt):
    """void chunk(i64 ctx[11], i64 c): slice c of nchunks of the output (rows when M >= N, else
    columns; slices a multiple of 16 long) as one single-threaded cblas call. ctx: gemm,
    set_threads, ta, tb, M, N, K, A, B, C, nchunks."""
    name = f"chainrule_gemm_{dt.short}_chunk"
    fn = module.globals.get(name)
    if fn is not None:
        return fn
    fn = _small_fn(module, name, ir.FunctionType(VOID, [PTR, I64]))
    ctx, c = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    gemm_i, set_i, ta, tb, M, N, K, pa, pb, pc, n = [
        b.load(b.gep(ctx, [i64(k)], inbounds=True, source_etype=I64), typ=I64) for k in range(11)]
    ta1, tb1 = b.trunc(ta, I1), b.trunc(tb, I1)
    along_m = b.icmp_signed(">=", M, N)
    D = b.select(along_m, M, N)
    step = b.and_(b.add(b.sdiv(b.add(D, b.sub(n, i64(1))), n), i64(15)), i64(-16))
    lo = b.mul(c, step)
    with b.if_then(b.icmp_signed(">=", lo, D), likely=False):
        b.ret_void()
    hi = b.add(lo, step)
    ln = b.sub(b.select(b.icmp_signed("<", hi, D), hi, D), lo)
    with b.if_then(b.icmp_unsigned("!=", set_i, i64(0))):
        b.call(b.inttoptr(set_i, ir.PointerType(_SET_TYPE)), [ir.Constant(I32, 1)])
    es = i64(dt.itemsize)
    # along M: rows lo.. of A (column lo when A is transposed) and of C; along N: columns of B and C
    a_off = b.select(along_m, b.select(ta1, lo, b.mul(lo, K)), i64(0))
    b_off = b.select(along_m, i64(0), b.select(tb1, b.mul(lo, K), lo))
    c_off = b.select(along_m, b.mul(lo, N), lo)
    off = lambda p, e: b.gep(b.inttoptr(p, PTR), [b.mul(e, es)], source_etype=I8)  # noqa: E731
    _cblas_call(b, dt, b.inttoptr(gemm_i, ir.PointerType(_cblas_type(dt))), ta1, tb1,
                b.select(along_m, ln, M), b.select(along_m, N, ln), K, off(pa, a_off), b.select(ta1, M, K),
                off(pb, b_off), b.select(tb1, K, N), off(pc, c_off), N)
    b.ret_void()
    return fn
