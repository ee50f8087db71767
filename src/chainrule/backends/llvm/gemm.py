"""dot_general on NumPy's OpenBLAS (through the runtime table), or loops for integers.

Operands arrive in a layout GEMM reads directly (plan.py inserts transposes
otherwise); transposed operands use the trans flags. OpenBLAS's own thread
pool spin-waits when the cores are shared, so each call runs on the calling
thread; large float GEMMs may be split in two halves over two threads while
the load average leaves a core free.
"""

from __future__ import annotations

import math

import llvmlite.ir as ir

from .emitter import Emitter, Index, byte_offset, extern
from .lltypes import F64, I1, I8, I32, I64, PTR, VOID, const, i64, reg_type


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
                em.store_at(out, cflat, b.add(cv, b.mul(av, bv)))
        return
    ft = reg_type(dt)
    fnty = ir.FunctionType(VOID, [I32, I32, I32, I64, I64, I64, ft, PTR, I64, PTR, I64, ft, PTR, I64])
    slot = b.gep(em.rt, [i64(0 if dt.bits == 32 else 1)], inbounds=True, source_etype=PTR)
    fp = b.load(slot, typ=ir.PointerType(fnty))
    lda = M if ta else K
    ldb = K if tb else N
    es = dt.itemsize
    # OpenBLAS's own thread pool spin-waits when the cores are shared (measured: 10x slower on
    # a busy 2-core machine), so each GEMM runs on the calling thread; the previous per-thread
    # setting is restored after it, leaving NumPy's own matmuls untouched.
    set_ty = ir.FunctionType(I32, [I32])
    set_fp = b.load(b.gep(em.rt, [i64(2)], inbounds=True, source_etype=PTR), typ=ir.PointerType(set_ty))
    have_set = b.icmp_unsigned("!=", b.ptrtoint(set_fp, I64), i64(0))
    with b.if_then(have_set):
        prev_slot = em.alloca(I32)
        b.store(b.call(set_fp, [ir.Constant(I32, 1)]), prev_slot)
    def call(pa, pb, pc, m, n):
        b.call(fp, [ir.Constant(I32, 101), ir.Constant(I32, 112 if ta else 111), ir.Constant(I32, 112 if tb else 111),
                    i64(m), i64(n), i64(K), ir.Constant(ft, 1.0), pa, i64(lda), pb, i64(ldb),
                    ir.Constant(ft, 0.0), pc, i64(N)])

    pa0, pb0, pc0 = em.ptr[id(lhs)], em.ptr[id(rhs)], em.ptr[id(out)]
    def sequential():
        with em.loop(B) as bb:
            call(b.gep(pa0, [b.mul(bb, i64(M * K * es))], source_etype=I8),
                 b.gep(pb0, [b.mul(bb, i64(K * N * es))], source_etype=I8),
                 b.gep(pc0, [b.mul(bb, i64(M * N * es))], source_etype=I8), M, N)

    def split():
        # two halves on two threads (a pthread for the second): along M, or N when N is larger
        if M >= N:
            h = (M // 2 + 15) // 16 * 16
            second = (byte_offset(b, pa0, h * es if ta else h * K * es), pb0, byte_offset(b, pc0, h * N * es), M - h, N)
            first = (pa0, pb0, pc0, h, N)
        else:
            h = (N // 2 + 15) // 16 * 16
            second = (pa0, byte_offset(b, pb0, h * K * es if tb else h * es), byte_offset(b, pc0, h * es), M, N - h)
            first = (pa0, pb0, pc0, M, h)
        worker = _gemm_worker(em.mb.module, dt)
        blk = [b.ptrtoint(b.bitcast(fp, PTR), I64), b.ptrtoint(b.bitcast(set_fp, PTR), I64),
               i64(112 if ta else 111), i64(112 if tb else 111), i64(second[3]), i64(second[4]), i64(K),
               b.ptrtoint(second[0], I64), i64(lda), b.ptrtoint(second[1], I64), i64(ldb),
               b.ptrtoint(second[2], I64), i64(N)]
        arr = ir.IRBuilder(em.entry_block).alloca(ir.ArrayType(I64, len(blk)))
        for k, v in enumerate(blk):
            b.store(v, b.gep(arr, [i64(0), i64(k)], inbounds=True))
        argp = b.bitcast(arr, PTR)
        tid = em.alloca(I64)
        rc = b.call(extern(em.mb.module, "pthread_create", I32, [PTR, PTR, PTR, PTR]),
                    [b.bitcast(tid, PTR), ir.Constant(PTR, None), worker, argp])
        call(*first)
        started = b.icmp_signed("==", rc, ir.Constant(I32, 0))
        with b.if_else(started) as (then, otherwise):
            with then:
                b.call(extern(em.mb.module, "pthread_join", I32, [I64, PTR]), [b.load(tid), ir.Constant(PTR, None)])
            with otherwise:
                b.call(worker, [argp])

    threads = em.mb.threads
    if B == 1 and threads > 1 and 2 * M * N * K >= PARALLEL_GEMM_FLOPS and max(M, N) >= 64:
        # Split unless the machine is oversubscribed: with every core busy a second thread only
        # waits for one (measured 37 -> 50 ms per MLP step at load 8 on 2 cores). The caller itself
        # counts in the load average, so "load < cores + 0.5" still splits on a quiet machine.
        la = em.alloca(F64)
        got = b.call(extern(em.mb.module, "getloadavg", I32, [PTR, I32]), [b.bitcast(la, PTR), ir.Constant(I32, 1)])
        quiet = b.and_(b.icmp_signed("==", got, ir.Constant(I32, 1)),
                       b.fcmp_ordered("<", b.load(la), ir.Constant(F64, threads + 0.5)))
        if em.mb.force_split:
            quiet = ir.Constant(I1, 1)
        with b.if_else(quiet) as (then, otherwise):
            with then:
                split()
            with otherwise:
                sequential()
    else:
        sequential()
    with b.if_then(have_set):
        b.call(set_fp, [b.load(prev_slot)])


PARALLEL_GEMM_FLOPS = 1 << 24  # below ~0.2 ms of work a second thread does not pay for itself


def _gemm_worker(module, dt):
    """void* worker(i64 blk[13]): one cblas_?gemm call on the calling (new) thread, with the
    OpenBLAS thread count of that thread set to 1 first. blk: gemm, set_threads, transa,
    transb, M, N, K, A, lda, B, ldb, C, ldc."""
    name = f"chainrule_gemm_worker_{dt.short}"
    fn = module.globals.get(name)
    if fn is not None:
        return fn
    fn = ir.Function(module, ir.FunctionType(PTR, [PTR]), name)
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    (blk,) = fn.args

    def slot(k):
        return b.load(b.gep(blk, [i64(k)], inbounds=True, source_etype=I64), typ=I64)

    ft = reg_type(dt)
    fnty = ir.FunctionType(VOID, [I32, I32, I32, I64, I64, I64, ft, PTR, I64, PTR, I64, ft, PTR, I64])
    set_ty = ir.FunctionType(I32, [I32])
    setp = slot(1)
    with b.if_then(b.icmp_unsigned("!=", setp, i64(0))):
        b.call(b.inttoptr(setp, ir.PointerType(set_ty)), [ir.Constant(I32, 1)])
    gemm = b.inttoptr(slot(0), ir.PointerType(fnty))
    b.call(gemm, [ir.Constant(I32, 101), b.trunc(slot(2), I32), b.trunc(slot(3), I32), slot(4), slot(5), slot(6),
                  ir.Constant(ft, 1.0), b.inttoptr(slot(7), PTR), slot(8), b.inttoptr(slot(9), PTR), slot(10),
                  ir.Constant(ft, 0.0), b.inttoptr(slot(11), PTR), slot(12)])
    b.ret(ir.Constant(PTR, None))
    return fn
