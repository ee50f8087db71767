"""The `fft` kernel: an O(n log n) FFT in LLVM IR for any length.

Lengths are static, so each 1-D transform is generated for its length: a mixed-radix Stockham
(self-sorting, out of place, radices 4, 2, 3, 5, 7, 11, 13 with their butterflies written out) when
n has no larger prime factor, else Bluestein's algorithm (a chirp times a circular convolution of
power-of-two length m >= 2n - 1, itself done by Stockham FFTs). Twiddles and Bluestein's tables are
computed once per process, in float64 from the exact index (k * t mod n), on the first call, into
zero-initialised globals guarded by a flag. The inverse is conj(FFT(conj(x))): the conjugations are
folded into the first load and the last store.

Complex values live interleaved in memory ({re, im} pairs, NumPy's layout). A transform over the
last k dimensions runs 1-D transforms along the last one (rows, straight into the result), then
along each other one (lines gathered into scratch and scattered back). RFFT transforms rows of real
data as complex ones and keeps the first n//2 + 1 entries; IRFFT completes each row by Hermitian
symmetry and keeps the real part, after the complex inverses along the other dimensions.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import llvmlite.ir as ir

from . import mathlib
from .lltypes import F32, F64, I32, I64, PTR, VOID, i64

RADICES = (4, 2, 3, 5, 7, 11, 13)


def factorize(n: int):
    """The Stockham radices of n (fours first), or None when n has a prime factor above 13."""
    out = []
    for p in RADICES:
        while n % p == 0 and n > 1:
            out.append(p)
            n //= p
    return out if n == 1 else None


def bluestein_length(n: int) -> int:
    return 1 << (2 * n - 2).bit_length()


def work_elements(n: int) -> int:
    """Complex scratch elements a 1-D transform of length n needs besides its source and result."""
    if n == 1 or factorize(n) is not None:
        return n
    m = bluestein_length(n)
    return 3 * m


# --- small IR helpers ------------------------------------------------------------------------------

class _Gen:
    def __init__(self, b: ir.IRBuilder, ft):
        self.b = b
        self.t = ft
        self.fn = b.function

    def c(self, v):
        return ir.Constant(self.t, float(v))

    @contextmanager
    def loop(self, n, lo=None):
        """for i in range(lo or 0, n) (n an int or an i64 value)."""
        b = self.b
        lo = lo if lo is not None else i64(0)
        hi = n if isinstance(n, ir.Value) else i64(n)
        pre = b.block
        body = self.fn.append_basic_block("fl")
        done = self.fn.append_basic_block("fd")
        b.cbranch(b.icmp_unsigned("<", lo, hi), body, done)
        b.position_at_end(body)
        i = b.phi(I64)
        i.add_incoming(lo, pre)
        yield i
        nxt = b.add(i, i64(1))
        i.add_incoming(nxt, b.block)
        b.cbranch(b.icmp_unsigned("<", nxt, hi), body, done)
        b.position_at_end(done)

    def at(self, ptr, k):
        """Address of complex element k (a pointer to its real part)."""
        return self.b.gep(ptr, [self.b.mul(k, i64(2)) if isinstance(k, ir.Value) else i64(2 * k)],
                          inbounds=True, source_etype=self.t)

    def load(self, ptr, k, conj=False):
        b = self.b
        p = self.at(ptr, k)
        re = b.load(p, typ=self.t)
        im = b.load(b.gep(p, [i64(1)], inbounds=True, source_etype=self.t), typ=self.t)
        return (re, b.fneg(im) if conj else im)

    def store(self, ptr, k, z, conj=False):
        b = self.b
        p = self.at(ptr, k)
        b.store(z[0], p)
        b.store(b.fneg(z[1]) if conj else z[1], b.gep(p, [i64(1)], inbounds=True, source_etype=self.t))

    def add(self, x, y):
        return (self.b.fadd(x[0], y[0]), self.b.fadd(x[1], y[1]))

    def sub(self, x, y):
        return (self.b.fsub(x[0], y[0]), self.b.fsub(x[1], y[1]))

    def mul(self, x, y):
        b = self.b
        return (b.fsub(b.fmul(x[0], y[0]), b.fmul(x[1], y[1])), b.fadd(b.fmul(x[0], y[1]), b.fmul(x[1], y[0])))

    def scale(self, x, s):
        return (self.b.fmul(x[0], s), self.b.fmul(x[1], s))

    def mul_minus_i(self, x):  # x * (-i)
        return (x[1], self.b.fneg(x[0]))


def _global(module, name, ty):
    g = module.globals.get(name)
    if g is None:
        g = ir.GlobalVariable(module, ty, name)
        g.linkage = "internal"
        g.initializer = ir.Constant(ty, None)
    return g


def _declare(module, name, ret, args):
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(ret, args), name)
    return fn


def _tname(ft):
    return "f64" if isinstance(ft, ir.DoubleType) else "f32"


# --- exp(-2 pi i k / n), computed in float64 -------------------------------------------------------

def _root_fn(module, ft):
    """root(k, n, out): out = exp(-2 pi i k / n) in `ft`, from float64 sin/cos of the reduced angle."""
    name = f"cr_fft_root_{_tname(ft)}"
    fn = module.globals.get(name)
    if fn is not None:
        return fn
    fn = ir.Function(module, ir.FunctionType(VOID, [I64, I64, PTR]), name)
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    k, n, out = fn.args
    m = mathlib.FMath(b, F64)
    ang = b.fdiv(b.fmul(m.c(2 * math.pi), b.sitofp(k, F64)), b.sitofp(n, F64))
    re, im = mathlib.cos(m, ang), b.fneg(mathlib.sin(m, ang))
    if isinstance(ft, ir.FloatType):
        re, im = b.fptrunc(re, F32), b.fptrunc(im, F32)
    b.store(re, out)
    b.store(im, b.gep(out, [i64(1)], inbounds=True, source_etype=ft))
    b.ret_void()
    return fn


# --- one 1-D transform of a static length --------------------------------------------------------------

class _Line:
    """The generated functions of 1-D transforms of length n: `forward(src, dst, work)` and
    `inverse(...)` (unnormalized), plus the init filling their tables."""

    def __init__(self, module, ft, n):
        self.module, self.ft, self.n = module, ft, n
        self.tag = f"{_tname(ft)}_{n}"
        self.radices = factorize(n) if n > 1 else []
        self.inner = None
        if self.radices is None:
            self.m = bluestein_length(n)
            self.inner = line(module, ft, self.m)
        self.tables = []   # (global, complex elements, filler(gen, ptr))
        self._build_tables()
        self.init = self._init_fn()
        self.fns = {conj: self._line_fn(conj) for conj in (False, True)}

    # tables ------------------------------------------------------------------------------------------
    def _table(self, name, count):
        g = _global(self.module, f"cr_fft_{name}_{self.tag}", ir.ArrayType(self.ft, 2 * max(count, 1)))
        return g

    def _build_tables(self):
        if self.inner is None:
            self.stages = []
            ncur, s = self.n, 1
            for p in self.radices:
                m = ncur // p
                tw = self._table(f"tw{len(self.stages)}", m * (p - 1)) if m > 1 else None
                self.stages.append((p, ncur, s, m, tw))
                ncur, s = m, s * p
        else:
            self.chirp = self._table("chirp", self.n)
            self.bhat = self._table("bhat", self.m)

    def _init_fn(self):
        name = f"cr_fft_init_{self.tag}"
        flag = _global(self.module, f"cr_fft_ready_{self.tag}", I32)
        fn = ir.Function(self.module, ir.FunctionType(VOID, []), name)
        fn.linkage = "internal"
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        g = _Gen(b, self.ft)
        ready = b.load_atomic(flag, "acquire", 4, typ=I32)
        work = fn.append_basic_block("work")
        done = fn.append_basic_block("done")
        b.cbranch(b.icmp_unsigned("!=", ready, ir.Constant(I32, 0)), done, work)
        b.position_at_end(work)
        root = _root_fn(self.module, self.ft)
        if self.inner is None:
            for p, ncur, s, m, tw in self.stages:
                if tw is None:
                    continue
                with g.loop(m) as j:
                    for t in range(1, p):
                        k = b.urem(b.mul(j, i64(t)), i64(ncur))
                        slot = b.add(b.mul(j, i64(p - 1)), i64(t - 1))
                        b.call(root, [k, i64(ncur), g.at(tw, slot)])
        else:
            b.call(self.inner.init, [])
            n, m = self.n, self.m
            with g.loop(n) as k:  # chirp_k = exp(-i pi k^2 / n) = root(k^2 mod 2n, 2n)
                b.call(root, [b.urem(b.mul(k, k), i64(2 * n)), i64(2 * n), g.at(self.chirp, k)])
            malloc = _declare(self.module, "malloc", PTR, [I64])
            free = _declare(self.module, "free", VOID, [PTR])
            size = ir.Constant(I64, 2 * m * (4 if isinstance(self.ft, ir.FloatType) else 8))
            bvec, tmp = b.call(malloc, [size]), b.call(malloc, [size])
            with g.loop(m) as j:
                g.store(bvec, j, (g.c(0), g.c(0)))
            inv_m = g.c(1.0 / m)
            with g.loop(n) as k:  # b_k = b_{m-k} = conj(chirp_k) / m (the inverse's 1/m folded in)
                z = g.scale(g.load(self.chirp, k, conj=True), inv_m)
                g.store(bvec, k, z)
                with_k = b.icmp_unsigned("!=", k, i64(0))
                with b.if_then(with_k):
                    g.store(bvec, b.sub(i64(m), k), z)
            b.call(self.inner.fns[False], [bvec, self.bhat, tmp])
            b.call(free, [bvec])
            b.call(free, [tmp])
        b.store_atomic(ir.Constant(I32, 1), flag, "release", 4)
        b.branch(done)
        b.position_at_end(done)
        b.ret_void()
        return fn

    # the transform -----------------------------------------------------------------------------------
    def _line_fn(self, conj):
        name = f"cr_fft_line_{self.tag}_{'inv' if conj else 'fwd'}"
        fn = ir.Function(self.module, ir.FunctionType(VOID, [PTR, PTR, PTR]), name)
        fn.linkage = "internal"
        for a in fn.args:
            a.add_attribute("noalias")
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        g = _Gen(b, self.ft)
        src, dst, work = fn.args
        if self.n == 1:
            g.store(dst, 0, g.load(src, 0, conj), conj)
        elif self.inner is None:
            self._stockham(g, src, dst, work, conj)
        else:
            self._bluestein(g, src, dst, work, conj)
        b.ret_void()
        return fn

    def _stockham(self, g, src, dst, work, conj):
        b = g.b
        nst = len(self.stages)
        for i, (p, ncur, s, m, tw) in enumerate(self.stages):
            x = src if i == 0 else (dst if (nst - i) % 2 == 0 else work)
            y = dst if (nst - 1 - i) % 2 == 0 else work
            first, last = i == 0, i == nst - 1
            with g.loop(m) as j:
                ws = None
                if tw is not None:
                    base = b.mul(j, i64(p - 1))
                    ws = [g.load(tw, b.add(base, i64(t - 1))) for t in range(1, p)]

                def body(q):
                    a = [g.load(x, b.add(q, b.mul(i64(s), b.add(j, i64(r * m)))), conj and first)
                         for r in range(p)]
                    out = _butterfly(g, a)
                    for t in range(p):
                        z = out[t] if (t == 0 or ws is None) else g.mul(out[t], ws[t - 1])
                        g.store(y, b.add(q, b.mul(i64(s), b.add(b.mul(j, i64(p)), i64(t)))), z, conj and last)
                if s == 1:
                    body(i64(0))
                else:
                    with g.loop(s) as q:
                        body(q)

    def _bluestein(self, g, src, dst, work, conj):
        b = g.b
        n, m = self.n, self.m
        a = work
        big = g.b.gep(work, [i64(2 * m)], inbounds=True, source_etype=self.ft)
        scratch = g.b.gep(work, [i64(4 * m)], inbounds=True, source_etype=self.ft)
        b.call(self.init, [])
        with g.loop(n) as k:
            g.store(a, k, g.mul(g.load(src, k, conj), g.load(self.chirp, k)))
        with g.loop(m, i64(n)) as k:
            g.store(a, k, (g.c(0), g.c(0)))
        b.call(self.inner.fns[False], [a, big, scratch])
        with g.loop(m) as k:
            g.store(big, k, g.mul(g.load(big, k), g.load(self.bhat, k)))
        b.call(self.inner.fns[True], [big, a, scratch])
        with g.loop(n) as k:
            g.store(dst, k, g.mul(g.load(a, k), g.load(self.chirp, k)), conj)


def line(module, ft, n) -> _Line:
    """The 1-D transform of length n in this module (made once per module, dtype and length)."""
    cache = module.__dict__.setdefault("_cr_fft_lines", {})
    key = (_tname(ft), n)
    if key not in cache:
        cache[key] = _Line(module, ft, n)
    return cache[key]


def _butterfly(g, a):
    """The DFT of the p values a (exp(-2 pi i rt / p) kernel)."""
    p = len(a)
    if p == 2:
        return [g.add(a[0], a[1]), g.sub(a[0], a[1])]
    if p == 4:
        t0, t1 = g.add(a[0], a[2]), g.sub(a[0], a[2])
        t2, t3 = g.add(a[1], a[3]), g.mul_minus_i(g.sub(a[1], a[3]))
        return [g.add(t0, t2), g.add(t1, t3), g.sub(t0, t2), g.sub(t1, t3)]
    h = (p - 1) // 2
    sums = [g.add(a[r], a[p - r]) for r in range(1, h + 1)]
    difs = [g.sub(a[r], a[p - r]) for r in range(1, h + 1)]
    total = a[0]
    for s_ in sums:
        total = g.add(total, s_)
    out = [None] * p
    out[0] = total
    b = g.b
    for t in range(1, h + 1):
        ar, ai = a[0]
        br = bi = None
        for r in range(1, h + 1):
            c, s = math.cos(2 * math.pi * r * t / p), math.sin(2 * math.pi * r * t / p)
            ar = b.fadd(ar, b.fmul(sums[r - 1][0], g.c(c)))
            ai = b.fadd(ai, b.fmul(sums[r - 1][1], g.c(c)))
            dr, di = b.fmul(difs[r - 1][0], g.c(s)), b.fmul(difs[r - 1][1], g.c(s))
            br = dr if br is None else b.fadd(br, dr)
            bi = di if bi is None else b.fadd(bi, di)
        # b_t = A - i B, b_{p-t} = A + i B
        out[t] = (b.fadd(ar, bi), b.fsub(ai, br))
        out[p - t] = (b.fsub(ar, bi), b.fadd(ai, br))
    return out


# --- the kernel ------------------------------------------------------------------------------------------

def _float_type(dt):
    return F64 if dt.name in ("float64", "complex128") else F32


def fft_scratch_bytes(node) -> int:
    """Arena bytes the fft kernel of `node` needs."""
    kind, lengths = node.attrs["fft_type"], tuple(node.attrs["fft_length"])
    x = node.operands[0].type
    ft_bytes = 8 if x.dtype.name in ("float64", "complex128") else 4
    nmax = max(lengths)
    elems = 2 * COLUMNS * nmax + max(work_elements(n) for n in lengths)
    if kind == "IRFFT" and len(lengths) > 1:
        elems += x.size
    return 2 * ft_bytes * elems


def emit_fft(em, kernel):
    node = kernel.node
    (x,) = kernel.operands
    (out,) = kernel.roots
    kind, lengths = node.attrs["fft_type"], tuple(node.attrs["fft_length"])
    ft = _float_type(x.dtype)
    b = em.b
    module = b.module
    g = _Gen(b, ft)
    k = len(lengths)
    lead = math.prod(x.type.shape[:x.type.ndim - k])
    if out.type.size == 0:
        return
    lines = {n: line(module, ft, n) for n in lengths}
    for ln in lines.values():
        b.call(ln.init, [])
    nmax = max(lengths)
    line_a = em.scratch
    line_b = b.gep(line_a, [i64(2 * COLUMNS * nmax)], inbounds=True, source_etype=ft)
    work = b.gep(line_a, [i64(4 * COLUMNS * nmax)], inbounds=True, source_etype=ft)
    extra = b.gep(work, [i64(2 * max(work_elements(n) for n in lengths))], inbounds=True, source_etype=ft)
    xp, op = em.ptr[id(x)], em.ptr[id(out)]
    n_last = lengths[-1]
    inverse = kind in ("IFFT", "IRFFT")
    h = n_last // 2 + 1
    # complex shape of the data the other dimensions are transformed in: lead + lengths[:-1] + (last,)
    if kind in ("FFT", "IFFT"):
        rows = lead * math.prod(lengths) // n_last
        fn = lines[n_last].fns[inverse]
        with g.loop(rows) as r:
            off = b.mul(r, i64(n_last))
            b.call(fn, [g.at(xp, off), g.at(op, off), work])
        _other_axes(g, op, lead, lengths, n_last, lines, inverse, line_a, line_b, work)
        if inverse:
            _scale(g, op, out.type.size, 1.0 / math.prod(lengths), complex_=True)
        return
    if kind == "RFFT":
        rows = lead * math.prod(lengths) // n_last
        fn = lines[n_last].fns[False]
        zero = g.c(0)
        with g.loop(rows) as r:
            src = b.mul(r, i64(n_last))
            with g.loop(n_last) as j:
                re = b.load(b.gep(xp, [b.add(src, j)], inbounds=True, source_etype=ft), typ=ft)
                g.store(line_a, j, (re, zero))
            b.call(fn, [line_a, line_b, work])
            dst = b.mul(r, i64(h))
            with g.loop(h) as j:
                g.store(op, b.add(dst, j), g.load(line_b, j))
        _other_axes(g, op, lead, lengths, h, lines, False, line_a, line_b, work)
        return
    # IRFFT
    data = xp
    rows = lead * math.prod(lengths[:-1])
    if k > 1:
        data = extra
        em.memcpy(data, xp, x.type.nbytes)
        _other_axes(g, data, lead, lengths, h, lines, True, line_a, line_b, work)
    fn = lines[n_last].fns[True]
    scale = g.c(1.0 / math.prod(lengths))
    with g.loop(rows) as r:
        src = b.mul(r, i64(h))
        with g.loop(h) as j:
            g.store(line_a, j, g.load(data, b.add(src, j)))
        with g.loop(n_last, i64(h)) as j:  # Hermitian symmetry: Y_j = conj(Y_{n-j})
            g.store(line_a, j, g.load(data, b.add(src, b.sub(i64(n_last), j)), conj=True))
        b.call(fn, [line_a, line_b, work])
        dst = b.mul(r, i64(n_last))
        with g.loop(n_last) as j:
            re = g.load(line_b, j)[0]
            b.store(b.fmul(re, scale), b.gep(op, [b.add(dst, j)], inbounds=True, source_etype=ft))


COLUMNS = 16  # lines gathered at once along a non-last dimension (128 bytes of complex64, 256 of complex128)


def _other_axes(g, ptr, lead, lengths, last, lines, inverse, line_a, line_b, work):
    """1-D transforms along every transformed dimension but the last, in place in `ptr` (complex data of
    shape lead + lengths[:-1] + (last,)). Up to COLUMNS neighbouring lines are gathered into line_a at
    once (contiguous reads), transformed one by one into line_b, and scattered back together."""
    b = g.b
    shape = tuple(lengths[:-1]) + (last,)
    for a in range(len(lengths) - 2, -1, -1):
        n = lengths[a]
        if n == 1:
            continue
        stride = math.prod(shape[a + 1:])
        outer = lead * math.prod(shape[:a])
        fn = lines[n].fns[inverse]
        width = min(COLUMNS, stride)
        full, rest = divmod(stride, width)
        for count, start, w in ((full, 0, width), (1 if rest else 0, full * width, rest)):
            if count == 0:
                continue
            with g.loop(outer) as o:
                with g.loop(count) as blk:
                    base = b.add(b.add(b.mul(o, i64(n * stride)), b.mul(blk, i64(w))), i64(start))
                    with g.loop(n) as j:
                        row = b.add(base, b.mul(j, i64(stride)))
                        for c in range(w):
                            g.store(line_a, b.add(i64(c * n), j), g.load(ptr, b.add(row, i64(c))))
                    for c in range(w):
                        b.call(fn, [g.at(line_a, i64(c * n)), g.at(line_b, i64(c * n)), work])
                    with g.loop(n) as j:
                        row = b.add(base, b.mul(j, i64(stride)))
                        for c in range(w):
                            g.store(ptr, b.add(row, i64(c)), g.load(line_b, b.add(i64(c * n), j)))


def _scale(g, ptr, count, factor, complex_):
    b = g.b
    f = g.c(factor)
    with g.loop(2 * count if complex_ else count) as i:
        p = b.gep(ptr, [i], inbounds=True, source_etype=g.t)
        b.store(b.fmul(b.load(p, typ=g.t), f), p)


__all__ = ["emit_fft", "factorize", "fft_scratch_bytes", "line"]
