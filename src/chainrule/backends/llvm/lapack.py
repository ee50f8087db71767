"""Linear-algebra kernels on LAPACK: cholesky, triangular_solve, lu, qr, eigh, svd.

Each kernel loops over the batch (the leading dimensions) and calls one or two
LAPACK routines per matrix through the runtime table (codegen.RUNTIME_SLOTS,
filled from NumPy's bundled OpenBLAS: ILP64, Fortran ABI, every argument by
reference, see backends/blas.py). Our buffers are row-major and LAPACK reads
column-major, i.e. it sees the transpose; each kernel either poses the
transposed problem (cholesky, triangular_solve and svd need no copy beyond the
one LAPACK overwrites) or transposes into its scratch (lu, qr, eigh's
eigenvectors) with a blocked transpose emitted once per module.

Failures follow JAX: a matrix whose factorization fails (cholesky of a
non-positive-definite matrix, eigh or svd that do not converge, NaN input to
svd) gives NaNs in all of its results; LU of a singular matrix is returned as
LAPACK computes it. Workspace sizes are fixed when the graph is planned (the
library's own optimal size, queried once per shape, or LAPACK's documented
minimum), so it lives in the arena: no allocation while the code runs.

Threads: one LAPACK call per matrix; for matrices large enough to pay
(LAPACK_PARALLEL_N) OpenBLAS runs it on up to the executable's `threads`
(its own pool; ours is idle meanwhile) less the cores other work keeps busy
(threads_fn), smaller ones run on the calling thread only
(openblas_set_num_threads_local; the caller's setting is restored).
"""

from __future__ import annotations

import ctypes
import functools
import math
from contextlib import contextmanager

import llvmlite.ir as ir

from ...ir import REGISTRY
from ..blas import LAPACK_SLOTS, numpy_openblas
from .emitter import Emitter
from .lltypes import F32, F64, I8, I32, I64, PTR, VOID, i64

BASE_SLOTS = 5  # codegen.RUNTIME_SLOTS before the LAPACK slots (sgemm, dgemm, threads, pool, interrupt)
THREADS_SLOT = 2
LAPACK_OPS = frozenset(n for n in ("cholesky", "triangular_solve", "lu", "qr", "eigh", "svd") if n in REGISTRY)
# kernels of this module: the LAPACK ones and lu_pivots_to_permutation (a loop, no LAPACK)
LINALG_KERNEL_OPS = LAPACK_OPS | frozenset(n for n in ("lu_pivots_to_permutation",) if n in REGISTRY)
LAPACK_PARALLEL_N = 192  # smaller matrices: OpenBLAS's threads cost more than they bring
GETRF_PARALLEL_N = 640  # the same for getrf, measured (see lu_solve.py)
TILE, MICRO = 64, 8  # blocked transpose: tiles of blocks
SELF_WINDOW = (0.1, 30.0)  # seconds: the shortest and the longest window this process's CPU use is measured over
CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID = 1, 2  # Linux's clock ids


def lapack_prefix(dt) -> str:
    """LAPACK's letter for a dtype: s float32, d float64, c complex64, z complex128."""
    return {"float32": "s", "float64": "d", "complex64": "c", "complex128": "z"}[dt.name]


def slot_index(routine: str, dt) -> int:
    return BASE_SLOTS + LAPACK_SLOTS.index(lapack_prefix(dt) + routine)


def _batch(shape, tail: int) -> int:
    return math.prod(shape[:len(shape) - tail])


def _pad(n: int) -> int:
    return max(64, -(-n // 64) * 64)


# -- workspace sizes (LAPACK's own optimum when NumPy's OpenBLAS can be asked, else the documented minimum)

@functools.lru_cache(maxsize=None)
def _query(slot: str, args: tuple) -> tuple:
    """Call `slot` with lwork = -1 (a workspace query); args in order: ints, 1-char strings, and the
    markers "@W" (work), "@I" (iwork), "@A" (an array LAPACK does not touch), "@N" (info).
    Returns (work[0], iwork[0]), or (0, 0) without NumPy's OpenBLAS or when the query fails."""
    _lib, found = numpy_openblas()
    addr = found.get(slot)
    if not addr:
        return 0, 0
    work = (ctypes.c_double * 2)()
    iwork = (ctypes.c_int64 * 2)()
    info = ctypes.c_int64(0)
    dummy = (ctypes.c_double * 16)()
    marks = {"@W": work, "@I": iwork, "@A": dummy, "@N": info}
    keep, cargs, nchar = [], [], 0
    for a in args:
        if a in marks:
            cargs.append(ctypes.addressof(marks[a]))
            continue
        c = ctypes.c_char(a.encode()) if isinstance(a, str) else ctypes.c_int64(a)
        nchar += isinstance(a, str)
        keep.append(c)
        cargs.append(ctypes.addressof(c))
    fn = ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * len(cargs) + [ctypes.c_int64] * nchar))(addr)
    fn(*cargs, *([1] * nchar))
    if info.value != 0:
        return 0, 0
    w = work[0] if slot[0] in "dz" else ctypes.cast(work, ctypes.POINTER(ctypes.c_float))[0]
    return int(w), int(iwork[0])


def _geqrf_lwork(p, m, n):
    got, _ = _query(p + "geqrf", (m, n, "@A", max(1, m), "@A", "@W", -1, "@N"))
    return max(got, n, 1)


def _orgqr_lwork(p, m, ncols, k):
    got, _ = _query(p + "orgqr", (m, ncols, k, "@A", max(1, m), "@A", "@W", -1, "@N"))
    return max(got, ncols, 1)


def _syevd_work(p, n):
    w, iw = _query(p + "syevd", ("V", "L", n, "@A", max(1, n), "@A", "@W", -1, "@I", -1, "@N"))
    return max(w, 1 + 6 * n + 2 * n * n), max(iw, 3 + 5 * n)


def _gesdd_lwork(p, jobz, m, n):
    k, mx = min(m, n), max(m, n)
    ldu = max(1, m)
    ldvt = max(1, n if jobz == "A" else k)
    got, _ = _query(p + "gesdd", (jobz, m, n, "@A", max(1, m), "@A", "@A", ldu, "@A", ldvt, "@W", -1, "@I", "@N"))
    least = 3 * k + max(mx, 7 * k) if jobz == "N" else 4 * k * k + 6 * k + mx
    return max(got, least, 1)


def layout(node, operands) -> list:
    """[(name, bytes)] of the scratch a kernel needs per matrix (it is reused across the batch)."""
    name = node.op.name
    a = operands[0]
    dt = a.dtype
    es = dt.itemsize
    p = "s" if dt.bits == 32 else "d"
    if name in ("cholesky", "triangular_solve", "lu_pivots_to_permutation"):
        return []
    m, n = a.shape[-2], a.shape[-1]
    k = min(m, n)
    if name == "lu":
        return [("a", m * n * es), ("ipiv", k * 8)]
    if name == "qr":
        mq = m if node.attrs["full_matrices"] else k
        lwork = max(_geqrf_lwork(p, m, n), _orgqr_lwork(p, m, mq, k))
        return [("a", m * max(n, mq) * es), ("tau", k * es), ("work", lwork * es)]
    if name == "eigh":
        lwork, liwork = _syevd_work(p, n)
        return [("a", n * n * es), ("work", lwork * es), ("iwork", liwork * 8)]
    if name == "svd":
        jobz = _jobz(node)
        uc = (m if jobz == "A" else k) if jobz != "N" else 1
        vr = (n if jobz == "A" else k) if jobz != "N" else 1
        return [("a", m * n * es), ("u", m * uc * es), ("vt", vr * n * es),
                ("work", _gesdd_lwork(p, jobz, m, n) * es), ("iwork", 8 * k * 8)]
    raise KeyError(name)


def scratch_bytes(node, operands) -> int:
    return sum(_pad(nb) for _, nb in layout(node, operands))


def _jobz(node) -> str:
    if not node.attrs["compute_uv"]:
        return "N"
    return "A" if node.attrs["full_matrices"] else "S"


# -- small helper functions, emitted once per module

def _helper(module, name, args):
    fn = module.globals.get(name)
    if fn is not None:
        return fn, None
    fn = ir.Function(module, ir.FunctionType(VOID, args), name)
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    fn.attributes.add("noinline")
    return fn, ir.IRBuilder(fn.append_basic_block("entry"))


@contextmanager
def _loop(b, lo, hi):
    """for i in range(lo, hi) (i64 values) at the builder's position."""
    fn = b.function
    pre = b.block
    head, body, done = (fn.append_basic_block(s) for s in ("head", "body", "done"))
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64)
    i.add_incoming(lo, pre)
    b.cbranch(b.icmp_signed("<", i, hi), body, done)
    b.position_at_end(body)
    yield i
    i.add_incoming(b.add(i, i64(1)), b.block)
    b.branch(head)
    b.position_at_end(done)


def _ftype(dt):
    return F32 if dt.bits == 32 else F64


def _at(b, ft, p, idx):
    return b.gep(p, [idx], inbounds=True, source_etype=ft)


def transpose_fn(module, dt):
    """void tr(dst, ldd, src, lds, rows, cols): dst[j*ldd + i] = src[i*lds + j]. TILE x TILE tiles of
    MICRO x MICRO blocks, each read as MICRO row vectors and written as MICRO column vectors (three
    rounds of shuffles in registers), the edges element by element. Element-wise 32 x 32 tiles took
    4.5 ms for 1,024 x 1,024 float64 (the tile's rows, 8 KiB apart, share cache sets), these 1.2 ms (a
    copy: 0.65 ms). Complex elements move as their bits (complex64 as one i64, complex128 as a
    [2 x double] pair, element by element): no conjugation."""
    if dt.kind == "c":
        ft = I64 if dt.bits == 64 else ir.ArrayType(F64, 2)
    else:
        ft = _ftype(dt)
    blocks = dt.itemsize <= 8  # complex128: element by element
    al = dt.np.alignment
    vt = ir.VectorType(ft, MICRO) if blocks else None
    fn, b = _helper(module, f"chainrule_transpose_{dt.short}", [PTR, I64, PTR, I64, I64, I64])
    if b is None:
        return fn
    dst, ldd, src, lds, rows, cols = fn.args
    mn = lambda x, y: b.select(b.icmp_signed("<", x, y), x, y)  # noqa: E731
    full = (lambda x: b.and_(x, i64(-MICRO))) if blocks else (lambda x: i64(0))  # noqa: E731
    rm, cm = full(rows), full(cols)  # the rows and columns in full blocks
    t, m = i64(TILE), i64(MICRO)
    if blocks:
        with _loop(b, i64(0), b.sdiv(b.add(rm, i64(TILE - 1)), t)) as ti:
            i0 = b.mul(ti, t)
            i1 = mn(b.add(i0, t), rm)
            with _loop(b, i64(0), b.sdiv(b.add(cm, i64(TILE - 1)), t)) as tj:
                j0 = b.mul(tj, t)
                j1 = mn(b.add(j0, t), cm)
                with _loop(b, i64(0), b.sdiv(b.sub(i1, i0), m)) as bi:
                    i = b.add(i0, b.mul(bi, m))
                    with _loop(b, i64(0), b.sdiv(b.sub(j1, j0), m)) as bj:
                        j = b.add(j0, b.mul(bj, m))
                        v = [b.load(_at(b, ft, src, b.add(b.mul(b.add(i, i64(r)), lds), j)), typ=vt, align=al)
                             for r in range(MICRO)]
                        k = 1
                        while k < MICRO:  # swap bit k of the vector index with bit k of the lane index
                            lo = [MICRO + (x & ~k) if x & k else x for x in range(MICRO)]
                            hi = [MICRO + x if x & k else x | k for x in range(MICRO)]
                            for r in range(MICRO):
                                if not r & k:
                                    v[r], v[r | k] = (b.shuffle_vector(v[r], v[r | k], ir.Constant(
                                        ir.VectorType(I32, MICRO), idx)) for idx in (lo, hi))
                            k *= 2
                        for c in range(MICRO):
                            b.store(v[c], _at(b, ft, dst, b.add(b.mul(b.add(j, i64(c)), ldd), i)), align=al)
    for lo_i, hi_i, lo_j in ((i64(0), rm, cm), (rm, rows, i64(0))):  # the columns right of the blocks, the rows below
        with _loop(b, lo_i, hi_i) as i:
            with _loop(b, lo_j, cols) as j:
                v = b.load(_at(b, ft, src, b.add(b.mul(i, lds), j)), typ=ft, align=al)
                b.store(v, _at(b, ft, dst, b.add(b.mul(j, ldd), i)), align=al)
    b.ret_void()
    return fn


def threads_fn(module):
    """i32 lapack_threads(i32 want): how many OpenBLAS threads a large LAPACK call gets: `want` less the
    cores other processes keep busy, at least 1. OpenBLAS's threads wait for each other by spinning, so
    on busy cores one thread is far faster (eigh of 1,024 x 1,024 with both cores of the machine busy:
    0.67 s on one thread, 6.4 s on two). Other processes' load is the 1-minute load average less this
    process's own share of it: its CPU time per second since a window began, 0.1 to 30 s before (state
    per module; until a window is measured, and at least, this thread: 1). Counting only this thread
    made a process alone on the machine, whose earlier two-thread LAPACK calls (or NumPy's, or XLA's) had
    raised the load average to 2, drop to one thread. A module's first call has no window yet, and a
    window after single-threaded calls measures 1, so this is never below the old count. The cost: a
    read of /proc/loadavg and two clock reads per call, against the milliseconds such a call takes."""
    name = "chainrule_lapack_threads"
    fn = module.globals.get(name)
    if fn is not None:
        return fn
    fn = ir.Function(module, ir.FunctionType(I32, [I32]), name)
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    (want,) = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    getloadavg = module.globals.get("getloadavg") or ir.Function(
        module, ir.FunctionType(I32, [PTR, I32]), "getloadavg")
    clock = module.globals.get("clock_gettime") or ir.Function(module, ir.FunctionType(I32, [I32, PTR]),
                                                                "clock_gettime")
    # the window's start (wall and CPU seconds; 0: none yet) and the last share measured, per module
    state = ir.GlobalVariable(module, ir.ArrayType(F64, 3), f"{name}_self")
    state.linkage = "internal"
    state.initializer = ir.Constant(ir.ArrayType(F64, 3), [0.0, 0.0, 1.0])
    f64 = lambda x: ir.Constant(F64, x)  # noqa: E731
    field = lambda k: b.gep(state, [i64(0), i64(k)], inbounds=True)  # noqa: E731
    get = lambda k: b.load_atomic(field(k), "monotonic", 8, typ=F64)  # noqa: E731
    put = lambda k, v: b.store_atomic(v, field(k), "monotonic", 8)  # noqa: E731
    load = b.alloca(F64)
    got = b.call(getloadavg, [load, ir.Constant(I32, 1)])
    with b.if_then(b.icmp_signed("<", got, ir.Constant(I32, 1)), likely=False):
        b.ret(want)
    ts = b.alloca(ir.ArrayType(I64, 2))

    def seconds(clock_id):  # (ok, seconds) of clock_gettime(clock_id)
        ok = b.icmp_signed("==", b.call(clock, [ir.Constant(I32, clock_id), ts]), ir.Constant(I32, 0))
        sec = b.load(b.gep(ts, [i64(0), i64(0)], inbounds=True), typ=I64)
        nsec = b.load(b.gep(ts, [i64(0), i64(1)], inbounds=True), typ=I64)
        return ok, b.fadd(b.sitofp(sec, F64), b.fmul(b.sitofp(nsec, F64), f64(1e-9)))
    ok_wall, now = seconds(CLOCK_MONOTONIC)
    ok_cpu, cpu = seconds(CLOCK_PROCESS_CPUTIME_ID)
    share = b.alloca(F64)
    b.store(f64(1.0), share)
    with b.if_then(b.and_(ok_wall, ok_cpu)):
        t0, c0 = get(0), get(1)
        with b.if_else(b.fcmp_ordered("==", t0, f64(0.0))) as (first, later):
            with first:
                put(0, now)
                put(1, cpu)
            with later:
                dt = b.fsub(now, t0)
                long_enough = b.fcmp_ordered(">=", dt, f64(SELF_WINDOW[0]))
                with b.if_then(long_enough):
                    put(2, b.fdiv(b.fsub(cpu, c0), dt))
                with b.if_then(b.fcmp_ordered(">=", dt, f64(SELF_WINDOW[1]))):
                    put(0, now)
                    put(1, cpu)
                b.store(get(2), share)
    mine = b.load(share, typ=F64)
    mine = b.select(b.fcmp_ordered(">", mine, f64(1.0)), mine, f64(1.0))
    others = b.fptosi(b.fadd(b.fsub(b.load(load, typ=F64), mine), f64(0.5)), I32)
    n = b.sub(want, others)
    n = b.select(b.icmp_signed(">", n, want), want, n)
    b.ret(b.select(b.icmp_signed("<", n, ir.Constant(I32, 1)), ir.Constant(I32, 1), n))
    return fn


def fill_fn(module, dt):
    """void fill(p, n, value)."""
    ft = _ftype(dt)
    fn, b = _helper(module, f"chainrule_fill_{dt.short}", [PTR, I64, ft])
    if b is None:
        return fn
    p, n, v = fn.args
    with _loop(b, i64(0), n) as i:
        b.store(v, _at(b, ft, p, i))
    b.ret_void()
    return fn


def zero_triangle_fn(module, dt):
    """void zt(p, rows, cols, upper): zero p[i, j] (row-major) for j > i (upper != 0) or j < i."""
    ft = _ftype(dt)
    fn, b = _helper(module, f"chainrule_zero_triangle_{dt.short}", [PTR, I64, I64, I64])
    if b is None:
        return fn
    p, rows, cols, upper = fn.args
    up = b.icmp_signed("!=", upper, i64(0))
    zero = ir.Constant(ft, 0.0)
    with _loop(b, i64(0), rows) as i:
        ip1 = b.add(i, i64(1))
        lo = b.select(up, b.select(b.icmp_signed("<", ip1, cols), ip1, cols), i64(0))
        hi = b.select(up, cols, b.select(b.icmp_signed("<", i, cols), i, cols))
        with _loop(b, lo, hi) as j:
            b.store(zero, _at(b, ft, p, b.add(b.mul(i, cols), j)))
    b.ret_void()
    return fn


def identity_fn(module, dt):
    """void eye(p, rows, cols): p = the rows x cols identity."""
    ft = _ftype(dt)
    fn, b = _helper(module, f"chainrule_identity_{dt.short}", [PTR, I64, I64])
    if b is None:
        return fn
    p, rows, cols = fn.args
    with _loop(b, i64(0), rows) as i:
        with _loop(b, i64(0), cols) as j:
            b.store(b.uitofp(b.zext(b.icmp_signed("==", i, j), I64), ft), _at(b, ft, p, b.add(b.mul(i, cols), j)))
    b.ret_void()
    return fn


# -- the kernels

class _Call:
    """One kernel's LAPACK calls: by-reference arguments, the thread setting, per-matrix pointers.
    `parts`: the scratch layout [(name, bytes)] of a kernel another module lays out (lapack_eig.py)."""

    def __init__(self, em: Emitter, kernel, parts=None):
        self.em, self.b = em, em.b
        self.node = kernel.node
        self.dt = kernel.operands[0].dtype
        self.ft = _ftype(self.dt)
        self.es = self.dt.itemsize
        self.module = em.mb.module
        self.info = em.alloca(I64, i64(0))
        offs, off = {}, 0
        for name, nb in layout(kernel.node, kernel.operands) if parts is None else parts:
            offs[name] = off
            off += _pad(nb)
        self.scr = {name: self.b.gep(em.scratch, [i64(o)], inbounds=True, source_etype=I8) for name, o in offs.items()}

    def int(self, v):
        return self.em.alloca(I64, v if isinstance(v, ir.Value) else i64(v))

    def char(self, c):
        return self.em.alloca(I8, ir.Constant(I8, ord(c)))

    def real(self, x):
        return self.em.alloca(self.ft, ir.Constant(self.ft, x))

    def lapack(self, routine, args, nchar):
        """routine(*args) through its runtime-table slot; returns info (i64) read after the call."""
        b = self.b
        fnty = ir.FunctionType(VOID, [PTR] * len(args) + [I64] * nchar)
        slot = b.gep(self.em.rt, [i64(slot_index(routine, self.dt))], inbounds=True, source_etype=PTR)
        f = b.load(slot, typ=ir.PointerType(fnty))
        b.call(f, list(args) + [i64(1)] * nchar)

    @contextmanager
    def threads(self, n, at=LAPACK_PARALLEL_N):
        """OpenBLAS's thread count for the calls inside (threads_fn: up to the executable's threads for
        n >= at, else 1); the caller's setting is restored after."""
        b = self.b
        want = self.em.mb.threads if n >= at else 1
        sty = ir.FunctionType(I32, [I32])
        set_fp = b.load(b.gep(self.em.rt, [i64(THREADS_SLOT)], inbounds=True, source_etype=PTR), typ=ir.PointerType(sty))
        has = b.icmp_unsigned("!=", b.ptrtoint(set_fp, I64), i64(0))
        prev = self.em.alloca(I32, ir.Constant(I32, 0))
        with b.if_then(has):
            count = ir.Constant(I32, 1) if want == 1 else b.call(threads_fn(self.module), [ir.Constant(I32, want)])
            b.store(b.call(set_fp, [count]), prev)
        yield
        with b.if_then(has):
            b.call(set_fp, [b.load(prev, typ=I32)])

    def at(self, v, bi, per):
        """Matrix `bi` of buffer value `v` (`per` elements each)."""
        return self.b.gep(self.em.ptr[id(v)], [self.b.mul(bi, i64(per * self.es))], source_etype=I8)

    def failed(self):
        return self.b.icmp_signed("!=", self.b.load(self.info, typ=I64), i64(0))

    def nan(self, p, n):
        self.b.call(fill_fn(self.module, self.dt), [p, i64(n), ir.Constant(self.ft, math.nan)])

    def transpose(self, dst, ldd, src, lds, rows, cols):
        self.b.call(transpose_fn(self.module, self.dt), [dst, i64(ldd), src, i64(lds), i64(rows), i64(cols)])


def emit_cholesky(em: Emitter, kernel):
    """L with A = L L^T from A's lower triangle: LAPACK's upper factor of the transpose is L row-major
    (lower=false: the other way round)."""
    c = _Call(em, kernel)
    (a,) = kernel.operands
    (out,) = kernel.roots
    n = a.shape[-1]
    B = _batch(a.shape, 2)
    if B * n == 0:
        return
    b = c.b
    lower = kernel.node.attrs["lower"]
    uplo, nn, lda = c.char("U" if lower else "L"), c.int(n), c.int(max(1, n))
    em.memcpy(em.ptr[id(out)], em.ptr[id(a)], out.type.nbytes)
    with c.threads(n), em.loop(B) as bi:
        p = c.at(out, bi, n * n)
        c.lapack("potrf", [uplo, nn, p, lda, c.info], 1)
        with b.if_then(c.failed()):
            c.nan(p, n * n)
        # the other triangle is zero, also where the factor is NaN (as JAX)
        b.call(zero_triangle_fn(c.module, c.dt), [p, i64(n), i64(n), i64(int(lower))])


def emit_triangular_solve(em: Emitter, kernel):
    """op(A) X = B (left_side) or X op(A) = B, in place on a copy of B: LAPACK solves the transposed
    problem (side and triangle swapped, the same op) on our row-major buffers."""
    c = _Call(em, kernel)
    a, rhs = kernel.operands
    (out,) = kernel.roots
    at = kernel.node.attrs
    m = a.shape[-1]
    rows, cols = rhs.shape[-2], rhs.shape[-1]
    B = _batch(rhs.shape, 2)
    if B * rows * cols == 0:
        return
    em.memcpy(em.ptr[id(out)], em.ptr[id(rhs)], out.type.nbytes)
    side = c.char("R" if at["left_side"] else "L")
    uplo = c.char("U" if at["lower"] else "L")
    trans = c.char("T" if at["transpose_a"] else "N")
    diag = c.char("U" if at["unit_diagonal"] else "N")
    mm, nn, alpha = c.int(cols), c.int(rows), c.real(1.0)
    lda, ldb = c.int(max(1, m)), c.int(max(1, cols))
    with c.threads(max(m, min(rows, cols))), em.loop(B) as bi:
        c.lapack("trsm", [side, uplo, trans, diag, mm, nn, alpha, c.at(a, bi, m * m), lda,
                          c.at(out, bi, rows * cols), ldb], 4)


def emit_lu(em: Emitter, kernel):
    """P A = L U with partial pivoting (getrf on a transposed copy); pivots and the permutation 0-based."""
    c = _Call(em, kernel)
    (a,) = kernel.operands
    lu, piv, perm = kernel.node.results
    m, n = a.shape[-2], a.shape[-1]
    k = min(m, n)
    B = _batch(a.shape, 2)
    if B * m == 0:
        return
    b = c.b
    pt = piv.dtype
    it = I32 if pt.bits == 32 else I64
    mm, nn, lda = c.int(m), c.int(n), c.int(max(1, m))
    with c.threads(k, GETRF_PARALLEL_N), em.loop(B) as bi:
        ipiv = c.scr["ipiv"]
        pv = b.gep(em.ptr[id(piv)], [b.mul(bi, i64(k * pt.bits // 8))], source_etype=I8)
        pm = b.gep(em.ptr[id(perm)], [b.mul(bi, i64(m * pt.bits // 8))], source_etype=I8)
        with _loop(b, i64(0), i64(m)) as i:
            b.store(b.trunc(i, it) if it is I32 else i, b.gep(pm, [i], inbounds=True, source_etype=it))
        if k > 0:
            c.transpose(c.scr["a"], m, c.at(a, bi, m * n), n, m, n)
            c.lapack("getrf", [mm, nn, c.scr["a"], lda, ipiv, c.info], 0)
            c.transpose(c.at(lu, bi, m * n), n, c.scr["a"], m, n, m)
            with _loop(b, i64(0), i64(k)) as i:
                j = b.sub(b.load(b.gep(ipiv, [i], inbounds=True, source_etype=I64), typ=I64), i64(1))
                b.store(b.trunc(j, it) if it is I32 else j, b.gep(pv, [i], inbounds=True, source_etype=it))
                pi, pj = b.gep(pm, [i], inbounds=True, source_etype=it), b.gep(pm, [j], inbounds=True, source_etype=it)
                vi, vj = b.load(pi, typ=it), b.load(pj, typ=it)
                b.store(vj, pi)
                b.store(vi, pj)
        else:
            em.memcpy(c.at(lu, bi, m * n), c.at(a, bi, m * n), m * n * c.es)


def emit_qr(em: Emitter, kernel):
    """Householder QR (geqrf, then orgqr forms Q) on a transposed copy."""
    c = _Call(em, kernel)
    (a,) = kernel.operands
    q, r = kernel.node.results
    m, n = a.shape[-2], a.shape[-1]
    k = min(m, n)
    mq, rr = q.type.shape[-1], r.type.shape[-2]
    B = _batch(a.shape, 2)
    if B == 0 or m == 0:
        return
    b = c.b
    if k == 0:
        with em.loop(B) as bi:  # r is empty (k x n or m x 0)
            b.call(identity_fn(c.module, c.dt), [c.at(q, bi, m * mq), i64(m), i64(mq)])
        return
    lwork = (dict(layout(kernel.node, kernel.operands))["work"]) // c.es
    mm, nn, kk, mqq, lda, lw = c.int(m), c.int(n), c.int(k), c.int(mq), c.int(max(1, m)), c.int(lwork)
    s = c.scr
    with c.threads(k), em.loop(B) as bi:
        c.transpose(s["a"], m, c.at(a, bi, m * n), n, m, n)
        c.lapack("geqrf", [mm, nn, s["a"], lda, s["tau"], s["work"], lw, c.info], 0)
        rp = c.at(r, bi, rr * n)
        c.transpose(rp, n, s["a"], m, n, rr)
        b.call(zero_triangle_fn(c.module, c.dt), [rp, i64(rr), i64(n), i64(0)])
        c.lapack("orgqr", [mm, mqq, kk, s["a"], lda, s["tau"], s["work"], lw, c.info], 0)
        c.transpose(c.at(q, bi, m * mq), mq, s["a"], m, mq, m)


def emit_eigh(em: Emitter, kernel):
    """Symmetric eigendecomposition (syevd: divide and conquer, ascending eigenvalues) of a transposed
    copy: LAPACK gets the call numpy.linalg.eigh makes, so the eigenvectors' signs agree with it."""
    c = _Call(em, kernel)
    (a,) = kernel.operands
    v, w = kernel.node.results
    n = a.shape[-1]
    B = _batch(a.shape, 2)
    if B * n == 0:
        return
    b = c.b
    sizes = dict(layout(kernel.node, kernel.operands))
    jobz, uplo = c.char("V"), c.char("L" if kernel.node.attrs["lower"] else "U")
    nn, lda, lw, liw = c.int(n), c.int(n), c.int(sizes["work"] // c.es), c.int(sizes["iwork"] // 8)
    s = c.scr
    with c.threads(n), em.loop(B) as bi:
        wp, vp = c.at(w, bi, n), c.at(v, bi, n * n)
        c.transpose(s["a"], n, c.at(a, bi, n * n), n, n, n)
        c.lapack("syevd", [jobz, uplo, nn, s["a"], lda, wp, s["work"], lw, s["iwork"], liw, c.info], 2)
        with b.if_else(c.failed()) as (bad, good):
            with bad:
                c.nan(wp, n)
                c.nan(vp, n * n)
            with good:
                c.transpose(vp, n, s["a"], n, n, n)


def emit_svd(em: Emitter, kernel):
    """gesdd (divide and conquer) on a transposed copy, u and vh transposed back: the call
    numpy.linalg.svd makes, so the singular vectors' signs agree with it."""
    c = _Call(em, kernel)
    node = kernel.node
    (a,) = kernel.operands
    m, n = a.shape[-2], a.shape[-1]
    k = min(m, n)
    B = _batch(a.shape, 2)
    jobz = _jobz(node)
    res = svd_results(node)
    s_out, u, vh = res["s"], res.get("u"), res.get("vh")
    if B == 0:
        return
    b = c.b
    if k == 0:
        if jobz != "N":
            with em.loop(B) as bi:
                for x in (u, vh):
                    r, cc = x.type.shape[-2:]
                    if r * cc:
                        b.call(identity_fn(c.module, c.dt), [c.at(x, bi, r * cc), i64(r), i64(cc)])
        return
    sizes = dict(layout(node, kernel.operands))
    s = c.scr
    uc = u.type.shape[-1] if jobz != "N" else 1  # columns of u, rows of vh
    vr = vh.type.shape[-2] if jobz != "N" else 1
    jz, mm, nn, lda = c.char(jobz), c.int(m), c.int(n), c.int(max(1, m))
    ldu, ldvt = c.int(max(1, m)), c.int(max(1, vr))
    lw = c.int(sizes["work"] // c.es)
    with c.threads(k), em.loop(B) as bi:
        sp = c.at(s_out, bi, k)
        c.transpose(s["a"], m, c.at(a, bi, m * n), n, m, n)
        c.lapack("gesdd", [jz, mm, nn, s["a"], lda, sp, s["u"], ldu, s["vt"], ldvt, s["work"], lw, s["iwork"],
                           c.info], 1)
        with b.if_else(c.failed()) as (bad, good):
            with bad:
                c.nan(sp, k)
                if jobz != "N":
                    c.nan(c.at(u, bi, m * uc), m * uc)
                    c.nan(c.at(vh, bi, vr * n), vr * n)
            with good:
                if jobz != "N":
                    c.transpose(c.at(u, bi, m * uc), uc, s["u"], m, uc, m)
                    c.transpose(c.at(vh, bi, vr * n), n, s["vt"], vr, n, vr)


def emit_lu_pivots_to_permutation(em: Emitter, kernel):
    """perm = iota; for i < k: swap perm[i], perm[pivots[i]] (pivots clamped into range, as JAX)."""
    (piv,) = kernel.operands
    (perm,) = kernel.roots
    k, size = piv.shape[-1], perm.shape[-1]
    B = _batch(perm.shape, 1)
    if B * size == 0:
        return
    b = em.b
    it = I32 if perm.dtype.bits == 32 else I64
    pit = I32 if piv.dtype.bits == 32 else I64
    w = perm.dtype.bits // 8
    with em.loop(B) as bi:
        pm = b.gep(em.ptr[id(perm)], [b.mul(bi, i64(size * w))], source_etype=I8)
        with _loop(b, i64(0), i64(size)) as i:
            b.store(b.trunc(i, it) if it is I32 else i, b.gep(pm, [i], inbounds=True, source_etype=it))
        if k > 0:
            pv = b.gep(em.ptr[id(piv)], [b.mul(bi, i64(k * piv.dtype.bits // 8))], source_etype=I8)
            with _loop(b, i64(0), i64(min(k, size))) as i:
                j = b.load(b.gep(pv, [i], inbounds=True, source_etype=pit), typ=pit)
                j = b.sext(j, I64) if pit is I32 else j
                j = b.select(b.icmp_signed("<", j, i64(0)), i64(0), j)
                j = b.select(b.icmp_signed(">", j, i64(size - 1)), i64(size - 1), j)
                pi, pj = b.gep(pm, [i], inbounds=True, source_etype=it), b.gep(pm, [j], inbounds=True, source_etype=it)
                vi, vj = b.load(pi, typ=it), b.load(pj, typ=it)
                b.store(vj, pi)
                b.store(vi, pj)


def svd_results(node) -> dict:
    """svd's results by role."""
    names = ("u", "s", "vh") if node.attrs["compute_uv"] else ("s",)
    return dict(zip(names, node.results))


KERNELS = {"cholesky": emit_cholesky, "triangular_solve": emit_triangular_solve, "lu": emit_lu, "qr": emit_qr,
           "eigh": emit_eigh, "svd": emit_svd, "lu_pivots_to_permutation": emit_lu_pivots_to_permutation}
KERNELS = {k: v for k, v in KERNELS.items() if k in LINALG_KERNEL_OPS}

__all__ = ["KERNELS", "LAPACK_OPS", "LINALG_KERNEL_OPS", "scratch_bytes", "slot_index"]
