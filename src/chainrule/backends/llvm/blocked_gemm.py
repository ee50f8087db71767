"""A packed, register-tiled GEMM in IR, for exported libraries called without OpenBLAS.

Same signature and semantics as cblas_?gemm64_ in row-major order (the only layout
the code generator emits): C = alpha * op(A) @ op(B) + beta * C, beta == 0 writing C
without reading it. The structure is the usual one of BLIS/OpenBLAS:

- C is first scaled by beta (set to 0 when beta == 0), so every later step adds;
- loops over column blocks of NC, depth blocks of KC and row blocks of MC; each
  block of op(B) (KC x NC) and op(A) (MC x KC) is packed into panels NR columns /
  MR rows wide, zero-padded past the matrix edge, so the micro-kernel never
  reads outside A or B and always runs a full tile;
- the micro-kernel keeps an MR x NR tile of C in MR * 2 vector registers (NR is
  two vectors of the target's width) and adds alpha times it to C: full tiles
  with vector loads/stores, edge tiles through a small stack buffer, element by
  element, so nothing outside C is touched.

The packing buffers come from malloc (one per call: no shared state between
threads); when malloc fails the caller's `fallback` (a simple loop GEMM) runs.
Vector width and MR follow the CPU the module is compiled for (`tile_for`).
"""

from __future__ import annotations

import llvmlite.ir as ir

from .emitter import no_vectorize
from .lltypes import F32, F64, I32, I64, PTR, VOID, i64
from .target import vector_bytes  # noqa: F401  (re-exported: artifacts pick their tile by it)

CBLAS_TRANS = 112
KC = 256  # depth of a packed block: an MR x KC panel of A stays in L1, the MC x KC block in L2
FMA = ("contract",)  # fmul + fadd fused into fma where the target has it (no libm call where not)


def tile_for(vbytes: int, itemsize: int):
    """(MR, W, NR): rows of the register tile, lanes per vector, columns (two vectors).

    MR * 2 accumulators + 2 B vectors + 1 broadcast fit the register file: 8x2 of 32
    zmm registers, 6x2 of 16 ymm, 4x2 of 16 xmm."""
    w = max(1, vbytes // itemsize)
    mr = 8 if vbytes >= 64 else 6 if vbytes >= 32 else 4
    return mr, w, 2 * w


class _Fn:
    """An IRBuilder over a new internal function, with counted loops."""

    def __init__(self, module, name, ret, args):
        self.fn = ir.Function(module, ir.FunctionType(ret, args), name)
        self.fn.linkage = "internal"
        self.b = ir.IRBuilder(self.fn.append_basic_block("entry"))

    def loop(self, lo, hi, step, body, name="i", hint=None):
        """for (v = lo; v < hi; v += step) body(v); hint: loop metadata for the back edge."""
        b = self.b
        pre = b.block
        head, loop, done = (self.fn.append_basic_block(name + s) for s in (".head", ".body", ".done"))
        b.branch(head)
        b.position_at_end(head)
        v = b.phi(I64, name)
        v.add_incoming(lo, pre)
        b.cbranch(b.icmp_signed("<", v, hi), loop, done)
        b.position_at_end(loop)
        body(v)
        v.add_incoming(b.add(v, step), b.block)
        br = b.branch(head)
        if hint is not None:
            br.set_metadata("llvm.loop", hint)
        b.position_at_end(done)

    def min(self, x, y):
        return self.b.select(self.b.icmp_signed("<", x, y), x, y)

    def at(self, ft, p, idx):
        return self.b.gep(p, [idx], inbounds=True, source_etype=ft)


def _pack(module, ft, P, name):
    """void pack(dst, src, s_i, s_k, i0, n, k0, kc): dst[p][k][r] = src[(i0+p*P+r)*s_i + (k0+k)*s_k]
    for panels p of P along i (zero past i0 + n), k < kc; rows past the end read nothing.

    A full panel of contiguous rows (s_i == 1) is one vector copy per k; otherwise each row
    is copied along k, a scalar loop (kept out of the vectorizer: compile time)."""
    f = _Fn(module, name, VOID, [PTR, PTR, I64, I64, I64, I64, I64, I64])
    dst, src, s_i, s_k, i0, n, k0, kc = f.fn.args
    b = f.b
    zero = ir.Constant(ft, 0.0)
    vt = ir.VectorType(ft, P)
    es = 4 if ft == F32 else 8

    def panel(p0):
        out = f.at(ft, dst, b.mul(p0, kc))  # panel p0/P starts at p0 * kc
        rem = b.sub(n, p0)
        base = b.add(b.mul(b.add(i0, p0), s_i), b.mul(k0, s_k))
        vec = b.and_(b.icmp_signed(">=", rem, i64(P)), b.icmp_signed("==", s_i, i64(1)))
        if P & (P - 1):  # <6 x float> is padded to 8 in memory: no vector copies of odd widths
            vec = ir.Constant(ir.IntType(1), 0)
        with b.if_else(vec) as (contiguous, rows):
            with contiguous:
                def kvec(k):
                    v = b.load(f.at(ft, src, b.add(base, b.mul(k, s_k))), typ=vt, align=es)
                    b.store(v, f.at(ft, out, b.mul(k, i64(P))), align=es)
                f.loop(i64(0), kc, i64(1), kvec, "kv")
            with rows:
                def row(r):
                    inside = b.icmp_signed("<", r, rem)
                    rbase = b.select(inside, b.add(base, b.mul(r, s_i)), base)  # base: a valid element

                    def kcopy(k):
                        v = b.load(f.at(ft, src, b.add(rbase, b.mul(k, s_k))), typ=ft)
                        b.store(b.select(inside, v, zero), f.at(ft, out, b.add(b.mul(k, i64(P)), r)))
                    f.loop(i64(0), kc, i64(1), kcopy, "k", hint=no_vectorize(module))
                f.loop(i64(0), i64(P), i64(1), row, "r")

    f.loop(i64(0), n, i64(P), panel, "p")
    b.ret_void()
    return f.fn


def _micro(module, ft, mr_, w, nr_, name):
    """void micro(Ap, Bp, kc, C, ldc, mr, nr, alpha, tmp): C[:mr, :nr] += alpha * Ap @ Bp for an
    MR x KC panel of A and KC x NR panel of B; tmp holds MR * NR elements for edge tiles."""
    f = _Fn(module, name, VOID, [PTR, PTR, I64, PTR, I64, I64, I64, ft, PTR])
    ap, bp, kc, c, ldc, mr, nr, alpha = f.fn.args[:8]
    tmp = f.fn.args[8]
    b = f.b
    vt = ir.VectorType(ft, w)
    nv = nr_ // w
    es = 4 if ft == F32 else 8
    zero = ir.Constant(vt, [0.0] * w)
    undef = ir.Constant(vt, ir.Undefined)
    pre = b.block
    head, body, done = (f.fn.append_basic_block(s) for s in ("k.head", "k.body", "k.done"))
    b.branch(head)
    b.position_at_end(head)
    k = b.phi(I64, "k")
    k.add_incoming(i64(0), pre)
    accs = [[b.phi(vt, f"c{r}_{v}") for v in range(nv)] for r in range(mr_)]
    for row in accs:
        for a in row:
            a.add_incoming(zero, pre)
    b.cbranch(b.icmp_signed("<", k, kc), body, done)
    b.position_at_end(body)
    bvec = [b.load(f.at(vt, bp, b.add(b.mul(k, i64(nv)), i64(v))), typ=vt, align=es * w) for v in range(nv)]
    abase = b.mul(k, i64(mr_))
    for r in range(mr_):
        s = b.load(f.at(ft, ap, b.add(abase, i64(r))), typ=ft)
        sv = b.shuffle_vector(b.insert_element(undef, s, ir.Constant(I32, 0)), undef,
                              ir.Constant(ir.VectorType(I32, w), [0] * w))
        for v in range(nv):
            nxt = b.fadd(accs[r][v], b.fmul(sv, bvec[v], flags=FMA), flags=FMA)
            accs[r][v].add_incoming(nxt, body)
    k.add_incoming(b.add(k, i64(1)), body)
    b.branch(head)
    b.position_at_end(done)
    av = b.shuffle_vector(b.insert_element(undef, alpha, ir.Constant(I32, 0)), undef,
                          ir.Constant(ir.VectorType(I32, w), [0] * w))
    full = b.and_(b.icmp_signed("==", mr, i64(mr_)), b.icmp_signed("==", nr, i64(nr_)))
    with b.if_else(full) as (whole, edge):
        with whole:
            for r in range(mr_):
                crow = b.mul(i64(r), ldc)
                for v in range(nv):
                    p = f.at(ft, c, b.add(crow, i64(v * w)))
                    old = b.load(p, typ=vt, align=es)
                    b.store(b.fadd(old, b.fmul(av, accs[r][v], flags=FMA), flags=FMA), p, align=es)
        with edge:
            for r in range(mr_):
                for v in range(nv):
                    b.store(accs[r][v], f.at(vt, tmp, i64(r * nv + v)), align=es)

            def row(i):
                def col(j):
                    p = f.at(ft, c, b.add(b.mul(i, ldc), j))
                    t = b.load(f.at(ft, tmp, b.add(b.mul(i, i64(nr_)), j)), typ=ft)
                    b.store(b.fadd(b.load(p, typ=ft), b.fmul(alpha, t)), p)
                f.loop(i64(0), nr, i64(1), col, "ej")
            f.loop(i64(0), mr, i64(1), row, "ei")
    b.ret_void()
    return f.fn


def blocked_gemm(module: ir.Module, ft, name: str, vbytes: int, fallback: ir.Function) -> ir.Function:
    """void name(order, transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc), row-major."""
    es = 4 if ft == F32 else 8
    mr_, w, nr_ = tile_for(vbytes, es)
    mc_ = mr_ * 16
    nc_ = nr_ * max(1, 1024 // nr_) if es == 4 else nr_ * max(1, 512 // nr_)
    align = max(64, vbytes)
    tbuf = mr_ * nr_ * es
    pack_a = _pack(module, ft, mr_, f"{name}_pack_a")
    pack_b = _pack(module, ft, nr_, f"{name}_pack_b")
    micro = _micro(module, ft, mr_, w, nr_, f"{name}_micro")

    f = _Fn(module, name, VOID, [I32, I32, I32, I64, I64, I64, ft, PTR, I64, PTR, I64, ft, PTR, I64])
    order, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc = f.fn.args
    b = f.b
    zero = ir.Constant(ft, 0.0)
    with b.if_then(b.or_(b.icmp_signed("<=", M, i64(0)), b.icmp_signed("<=", N, i64(0))), likely=False):
        b.ret_void()
    # C = beta * C (beta == 0: zeros, never reading C; beta == 1: untouched)
    with b.if_then(b.fcmp_unordered("!=", beta, ir.Constant(ft, 1.0))):
        beta_zero = b.fcmp_ordered("==", beta, zero)

        def srow(i):
            def scol(j):
                p = f.at(ft, C, b.add(b.mul(i, ldc), j))
                b.store(b.select(beta_zero, zero, b.fmul(beta, b.load(p, typ=ft))), p)
            f.loop(i64(0), N, i64(1), scol, "sj")
        f.loop(i64(0), M, i64(1), srow, "si")
    with b.if_then(b.or_(b.icmp_signed("<=", K, i64(0)), b.fcmp_ordered("==", alpha, zero)), likely=False):
        b.ret_void()
    malloc = module.globals.get("malloc") or ir.Function(module, ir.FunctionType(PTR, [I64]), "malloc")
    free = module.globals.get("free") or ir.Function(module, ir.FunctionType(VOID, [PTR]), "free")
    # the panels need no more than the blocks this call packs (small GEMMs: small buffers)
    kcap = f.min(i64(KC), K)
    acap = b.mul(f.min(i64(mc_), b.mul(b.udiv(b.add(M, i64(mr_ - 1)), i64(mr_)), i64(mr_))), kcap)
    bcap = b.mul(f.min(i64(nc_), b.mul(b.udiv(b.add(N, i64(nr_ - 1)), i64(nr_)), i64(nr_))), kcap)
    abytes = b.and_(b.add(b.mul(acap, i64(es)), i64(align - 1)), i64(-align))
    bbytes = b.and_(b.add(b.mul(bcap, i64(es)), i64(align - 1)), i64(-align))
    mem = b.call(malloc, [b.add(b.add(abytes, bbytes), i64(tbuf + align))])
    with b.if_then(b.icmp_unsigned("==", b.ptrtoint(mem, I64), i64(0)), likely=False):
        # no memory for the panels: the loop kernel (C already holds beta * C)
        b.call(fallback, [order, ta, tb, M, N, K, alpha, A, lda, B, ldb, ir.Constant(ft, 1.0), C, ldc])
        b.ret_void()
    base = b.and_(b.add(b.ptrtoint(mem, I64), i64(align - 1)), i64(-align))
    pa = b.inttoptr(base, PTR)
    pb = b.inttoptr(b.add(base, abytes), PTR)
    pt = b.inttoptr(b.add(b.add(base, abytes), bbytes), PTR)
    a_t = b.icmp_signed("==", ta, ir.Constant(I32, CBLAS_TRANS))
    b_t = b.icmp_signed("==", tb, ir.Constant(I32, CBLAS_TRANS))
    one = i64(1)
    # op(A)[i, k] = A[i * rsa + k * csa]; op(B)[k, j] = B[k * rsb + j * csb]
    rsa, csa = b.select(a_t, one, lda), b.select(a_t, lda, one)
    rsb, csb = b.select(b_t, one, ldb), b.select(b_t, ldb, one)

    def jblock(jc):
        nc = f.min(i64(nc_), b.sub(N, jc))

        def kblock(pc):
            kc = f.min(i64(KC), b.sub(K, pc))
            b.call(pack_b, [pb, B, csb, rsb, jc, nc, pc, kc])

            def iblock(ic):
                mc = f.min(i64(mc_), b.sub(M, ic))
                b.call(pack_a, [pa, A, rsa, csa, ic, mc, pc, kc])

                def jtile(jr):
                    nr = f.min(i64(nr_), b.sub(nc, jr))
                    bpanel = f.at(ft, pb, b.mul(jr, kc))

                    def itile(ir_):
                        mr = f.min(i64(mr_), b.sub(mc, ir_))
                        cp = f.at(ft, C, b.add(b.mul(b.add(ic, ir_), ldc), b.add(jc, jr)))
                        b.call(micro, [f.at(ft, pa, b.mul(ir_, kc)), bpanel, kc, cp, ldc, mr, nr, alpha, pt])
                    f.loop(i64(0), mc, i64(mr_), itile, "ir")
                f.loop(i64(0), nc, i64(nr_), jtile, "jr")
            f.loop(i64(0), M, i64(mc_), iblock, "ic")
        f.loop(i64(0), K, i64(KC), kblock, "pc")
    f.loop(i64(0), N, i64(nc_), jblock, "jc")
    b.call(free, [mem])
    b.ret_void()
    return f.fn


def standalone_text(vbytes: int) -> str:
    """IR of a module exporting `blocked_{s,d}gemm` and the loop kernels under them as
    `loop_{s,d}gemm` (tests and benchmarks call them through ctypes)."""
    from .export import fallback_gemm
    module = ir.Module("blocked_gemm")
    for s, ft in (("s", F32), ("d", F64)):
        loop = fallback_gemm(module, ft, f"loop_{s}gemm")
        blocked_gemm(module, ft, f"blocked_{s}gemm", vbytes, loop).linkage = "external"
        loop.linkage = "external"
    return str(module)


def standalone_library(vbytes: int, cpu: str, features: str):
    """`standalone_text(vbytes)` compiled for `cpu`/`features` and loaded with ctypes, the four
    kernels typed as cblas_?gemm64_ (order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta,
    C, ldc); for tests and benchmarks."""
    import ctypes

    from . import cache
    from .loadlib import load_bytes
    from .target import compile_ir
    lib = load_bytes(cache.link_bytes(compile_ir(standalone_text(vbytes), 2, cpu, features)), "chainrule-gemm")
    for s, ct in (("s", ctypes.c_float), ("d", ctypes.c_double)):
        for kind in ("blocked", "loop"):
            fn = getattr(lib, f"{kind}_{s}gemm")
            fn.restype = None
            fn.argtypes = [ctypes.c_int32] * 3 + [ctypes.c_int64] * 3 + [
                ct, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ct, ctypes.c_void_p,
                ctypes.c_int64]
    return lib


__all__ = ["blocked_gemm", "standalone_library", "standalone_text", "tile_for", "vector_bytes", "KC"]
