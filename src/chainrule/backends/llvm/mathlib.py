"""Vectorizable transcendental functions, emitted inline as LLVM IR.

Why not `llvm.exp` and friends: LLVM lowers them to one scalar libm call per
lane, which stops the loop vectorizer (FIELD-NOTES). These are branch-free
polynomial implementations (Cephes and fdlibm coefficients) built only from
instructions that vectorize (fma, floor, select, bit casts), so a fused loop
runs at full SIMD width. Special values (NaN, +-inf, -0.0, subnormals) are
fixed up with selects at the end.

float32 exp/log/tanh (the hot ones) have float32 polynomials; sin, cos, tan,
erf and atan2 of float32 are computed in float64 and rounded once, which keeps
them within an ulp without a second set of coefficients; float32 `power` is
exp(y log|x|) in float64 with the IEEE special cases. float64 `power` is
pow64.py (plain float64 exp/log would lose up to |y log x| ulp): a table-driven
double-double log and an exp taking the low part as a correction, ~0.502 ulp
measured, with the same special-case selects.

sin/cos/tan reduce float32 arguments exactly over the whole range (products
with 24-bit chunks of 2/pi, Payne-Hanek style); float64 uses Cody-Waite for
|x| < 2**30 (exact to ~100 bits) and the chunk reduction beyond, where the
result is accurate in absolute terms (~1e-16) but not near zeros of sin/cos.
"""

from __future__ import annotations

import math

import llvmlite.ir as ir

from . import pow64

F32 = ir.FloatType()
F64 = ir.DoubleType()
I1 = ir.IntType(1)
I32 = ir.IntType(32)
I64 = ir.IntType(64)


class FMath:
    """Helpers to emit float arithmetic of one type with an IRBuilder."""

    def __init__(self, b: ir.IRBuilder, ty):
        self.b = b
        self.t = ty
        self.is64 = isinstance(ty, ir.DoubleType)
        self.it = I64 if self.is64 else I32
        self.mant = 52 if self.is64 else 23
        self.bias = 1023 if self.is64 else 127
        self.module = b.module

    # -- basics
    def c(self, v):
        return ir.Constant(self.t, float(v))

    def ic(self, v):
        return ir.Constant(self.it, int(v))

    def intr(self, name, *args, ty=None):
        ty = ty or self.t
        suffix = "f64" if isinstance(ty, ir.DoubleType) else "f32"
        full = f"llvm.{name}.{suffix}"
        fn = self.module.globals.get(full)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(ty, [ty] * len(args)), full)
        return self.b.call(fn, list(args))

    def add(self, a, b):
        return self.b.fadd(a, b)

    def sub(self, a, b):
        return self.b.fsub(a, b)

    def mul(self, a, b):
        return self.b.fmul(a, b)

    def div(self, a, b):
        return self.b.fdiv(a, b)

    def fma(self, a, b, c):
        return self.intr("fma", a, b, c)

    def neg(self, a):
        return self.b.fneg(a)

    def abs(self, a):
        return self.intr("fabs", a)

    def floor(self, a):
        return self.intr("floor", a)

    def rint(self, a):
        return self.intr("roundeven", a)

    def copysign(self, a, b):
        return self.intr("copysign", a, b)

    def sel(self, c, a, b):
        return self.b.select(c, a, b)

    def lt(self, a, b):
        return self.b.fcmp_ordered("<", a, b)

    def le(self, a, b):
        return self.b.fcmp_ordered("<=", a, b)

    def gt(self, a, b):
        return self.b.fcmp_ordered(">", a, b)

    def ge(self, a, b):
        return self.b.fcmp_ordered(">=", a, b)

    def eq(self, a, b):
        return self.b.fcmp_ordered("==", a, b)

    def isnan(self, a):
        return self.b.fcmp_unordered("uno", a, a)

    def isinf(self, a):
        return self.eq(self.abs(a), self.c(math.inf))

    def poly(self, x, coeffs):
        """Horner with fma: coeffs[0]*x^n + ... + coeffs[n]."""
        acc = self.c(coeffs[0])
        for k in coeffs[1:]:
            acc = self.fma(acc, x, self.c(k))
        return acc

    def poly1(self, x, coeffs):
        """Like poly with an implied leading coefficient 1 (Cephes p1evl)."""
        return self.poly(x, (1.0,) + tuple(coeffs))

    def to_int(self, a):
        """Float holding a small integer -> integer of the same width."""
        return self.b.fptosi(a, self.it)

    def to_i64_sat(self, a):
        """Float -> i64 that is never poison (NaN -> 0, out of range saturates)."""
        suffix = "f64" if self.is64 else "f32"
        name = f"llvm.fptosi.sat.i64.{suffix}"
        fn = self.module.globals.get(name)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(I64, [self.t]), name)
        return self.b.call(fn, [a])

    def pow2(self, k):
        """2**k for an integer k in the normal exponent range, by building the bits."""
        bits = self.b.shl(self.b.add(k, self.ic(self.bias)), self.ic(self.mant))
        return self.b.bitcast(bits, self.t)

    def ldexp(self, y, k):
        """y * 2**k in two steps so k may run from about -2*bias to 2*bias (one rounding)."""
        k1 = self.b.ashr(k, self.ic(1))
        k2 = self.b.sub(k, k1)
        return self.mul(self.mul(y, self.pow2(k1)), self.pow2(k2))

    def fix_nan(self, x, r):
        """NaN inputs give NaN (the same payload), whatever the formula did."""
        return self.sel(self.isnan(x), x, r)


# --- exp -------------------------------------------------------------------------

def exp(m: FMath, x):
    if m.is64:
        lo, hi = -746.0, 710.0
    else:
        lo, hi = -104.0, 89.0
    xc = m.sel(m.ge(x, m.c(lo)), x, m.c(lo))  # NaN -> lo here, fixed at the end
    xc = m.sel(m.le(xc, m.c(hi)), xc, m.c(hi))
    n = m.rint(m.mul(xc, m.c(1.4426950408889634)))
    if m.is64:
        # |r| <= ln2/2: Taylor to degree 13 (truncation 4e-18) with fma, no division
        # (a vector divide costs as much as the whole polynomial)
        r = m.fma(n, m.c(-6.93145751953125e-1), xc)
        r = m.fma(n, m.c(-1.42860682030941723212e-6), r)
        y = m.poly(r, tuple(1.0 / math.factorial(k) for k in range(13, -1, -1)))
    else:
        r = m.fma(n, m.c(-0.693359375), xc)
        r = m.fma(n, m.c(2.12194440e-4), r)
        z = m.mul(r, r)
        p = m.poly(r, (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                       1.6666665459e-1, 5.0000001201e-1))
        y = m.add(m.fma(p, z, r), m.c(1.0))
    res = m.ldexp(y, m.to_int(n))
    return m.fix_nan(x, res)


# --- log -------------------------------------------------------------------------

_LG64 = (6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01,
         2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01,
         1.479819860511658591e-01)
_LG32 = (6.6666662693e-01, 4.0000972152e-01, 2.8498786688e-01, 2.4279078841e-01)


def _log_core(m: FMath, x):
    """fdlibm's log for finite x > 0 (subnormals included)."""
    b = m.b
    tiny = m.c(2.0 ** -1022 if m.is64 else 2.0 ** -126)
    small = m.lt(x, tiny)
    scale = 54 if m.is64 else 25
    xs = m.sel(small, m.mul(x, m.c(2.0 ** scale)), x)
    kadj = b.select(small, m.ic(-scale), m.ic(0))
    bits = b.bitcast(xs, m.it)
    if m.is64:
        # m in [sqrt(2)/2, sqrt(2)): shift the exponent by the mantissa's high bits
        hx = b.lshr(bits, m.ic(32))
        hx = b.add(hx, m.ic(0x3ff00000 - 0x3fe6a09e))
        k = b.sub(b.lshr(hx, m.ic(20)), m.ic(0x3ff))
        hx = b.add(b.and_(hx, m.ic(0x000fffff)), m.ic(0x3fe6a09e))
        fbits = b.or_(b.shl(hx, m.ic(32)), b.and_(bits, m.ic(0xffffffff)))
    else:
        ix = b.add(bits, m.ic(0x3f800000 - 0x3f3504f3))
        k = b.sub(b.lshr(ix, m.ic(23)), m.ic(0x7f))
        fbits = b.add(b.and_(ix, m.ic(0x007fffff)), m.ic(0x3f3504f3))
    k = b.add(k, kadj)
    f = m.sub(b.bitcast(fbits, m.t), m.c(1.0))
    s = m.div(f, m.add(m.c(2.0), f))
    z = m.mul(s, s)
    w = m.mul(z, z)
    lg = _LG64 if m.is64 else _LG32
    if m.is64:
        t1 = m.mul(w, m.poly(w, (lg[5], lg[3], lg[1])))
        t2 = m.mul(z, m.poly(w, (lg[6], lg[4], lg[2], lg[0])))
        ln2_hi, ln2_lo = 6.93147180369123816490e-01, 1.90821492927058770002e-10
    else:
        t1 = m.mul(w, m.poly(w, (lg[3], lg[1])))
        t2 = m.mul(z, m.poly(w, (lg[2], lg[0])))
        ln2_hi, ln2_lo = 6.9313812256e-01, 9.0580006145e-06
    R = m.add(t2, t1)
    hfsq = m.mul(m.c(0.5), m.mul(f, f))
    dk = b.sitofp(k, m.t)
    # k*ln2_hi - ((hfsq - (s*(hfsq+R) + k*ln2_lo)) - f)
    inner = m.fma(s, m.add(hfsq, R), m.mul(dk, m.c(ln2_lo)))
    return m.fma(dk, m.c(ln2_hi), m.neg(m.sub(m.sub(hfsq, inner), f)))


def log(m: FMath, x):
    r = _log_core(m, x)
    r = m.sel(m.eq(x, m.c(0.0)), m.c(-math.inf), r)
    r = m.sel(m.lt(x, m.c(0.0)), m.c(math.nan), r)
    r = m.sel(m.eq(x, m.c(math.inf)), x, r)
    return m.fix_nan(x, r)


def log1p(m: FMath, x):
    """Kahan's trick: log(u) * x / (u - 1) with u = 1 + x (exact where u == 1)."""
    u = m.add(m.c(1.0), x)
    um1 = m.sub(u, m.c(1.0))
    safe = m.sel(m.eq(um1, m.c(0.0)), m.c(1.0), um1)
    r = m.mul(log(m, u), m.div(x, safe))
    r = m.sel(m.eq(um1, m.c(0.0)), x, r)
    r = m.sel(m.eq(x, m.c(math.inf)), x, r)
    return m.fix_nan(x, r)


def expm1(m: FMath, x):
    """Kahan's trick: (u - 1) * x / log(u) with u = exp(x)."""
    u = exp(m, x)
    um1 = m.sub(u, m.c(1.0))
    lu = log(m, u)
    safe = m.sel(m.eq(lu, m.c(0.0)), m.c(1.0), lu)
    r = m.mul(um1, m.div(x, safe))
    r = m.sel(m.eq(u, m.c(1.0)), x, r)
    r = m.sel(m.eq(um1, m.c(-1.0)), m.c(-1.0), r)
    r = m.sel(m.eq(u, m.c(math.inf)), u, r)
    return m.fix_nan(x, r)


# --- tanh, logistic ---------------------------------------------------------------

def tanh(m: FMath, x):
    ax = m.abs(x)
    z = m.mul(x, x)
    if m.is64:
        p = m.poly(z, (-9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3))
        q = m.poly1(z, (1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3))
        small = m.fma(m.mul(x, z), m.div(p, q), x)
    else:
        p = m.poly(z, (-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1,
                       -3.33332819422e-1))
        small = m.fma(m.mul(x, z), p, x)
    small = m.copysign(small, x)  # tanh is odd: keeps tanh(-0.0) == -0.0 (x*z*p + x rounds it to +0.0)
    e = exp(m, m.add(ax, ax))
    big = m.sub(m.c(1.0), m.div(m.c(2.0), m.add(e, m.c(1.0))))
    big = m.copysign(big, x)
    r = m.sel(m.lt(ax, m.c(0.625)), small, big)
    return m.fix_nan(x, r)


def logistic(m: FMath, x):
    """Same formula as the reference: exp(-|x|) never overflows."""
    e = exp(m, m.neg(m.abs(x)))
    d = m.add(m.c(1.0), e)
    r = m.sel(m.ge(x, m.c(0.0)), m.div(m.c(1.0), d), m.div(e, d))
    return m.fix_nan(x, r)


# --- trigonometry (float64 core) ----------------------------------------------------

_SINCOF = (1.58962301576546568060e-10, -2.50507477628578072866e-8, 2.75573136213857245213e-6,
           -1.98412698295895385996e-4, 8.33333333332211858878e-3, -1.66666666666666307295e-1)
_COSCOF = (-1.13585365213876817300e-11, 2.08757008419747316778e-9, -2.75573141792967388112e-7,
           2.48015872888517045348e-5, -1.38888888888730564116e-3, 4.16666666666665929218e-2)


def _widen(m: FMath, x):
    """(float64 FMath, x as float64, narrow-back function)."""
    if m.is64:
        return m, x, (lambda r: r)
    m64 = FMath(m.b, F64)
    return m64, m.b.fpext(x, F64), (lambda r: m.b.fptrunc(r, F32))


def _two_over_pi_chunks(count=48, bits=24):
    """2/pi as `count` chunks of `bits` bits, chunk k = integer * 2**(-bits*(k+1)) (exact floats)."""
    prec = bits * count + 64
    one = 1 << prec

    def arctan_inv(n):  # atan(1/n) in fixed point
        total, term, k, n2 = 0, one // n, 1, n * n
        while term:
            total += term // k if (k // 2) % 2 == 0 else -(term // k)
            term //= n2
            k += 2
        return total

    pi = 16 * arctan_inv(5) - 4 * arctan_inv(239)
    two_over_pi = (2 * one * one) // pi  # fixed point with `prec` fraction bits
    out = []
    for k in range(count):
        chunk = (two_over_pi >> (prec - bits * (k + 1))) & ((1 << bits) - 1)
        out.append(math.ldexp(chunk, -bits * (k + 1)))
    return out


_CHUNKS = _two_over_pi_chunks()


def _chunk_table(m: FMath):
    g = m.module.globals.get("chainrule_two_over_pi")
    if g is None:
        ty = ir.ArrayType(F64, len(_CHUNKS))
        g = ir.GlobalVariable(m.module, ty, "chainrule_two_over_pi")
        g.global_constant = True
        g.linkage = "private"
        g.initializer = ir.Constant(ty, [ir.Constant(F64, c) for c in _CHUNKS])
    return g


def _reduce_cody_waite(m: FMath, ax):
    """ax >= 0, float64, |ax| < 2**30: (z in [-pi/4, pi/4], quadrant 0..3)."""
    b = m.b
    y = m.floor(m.mul(ax, m.c(4.0 / math.pi)))
    ym = m.sub(y, m.mul(m.floor(m.mul(y, m.c(1.0 / 16.0))), m.c(16.0)))
    j = m.to_i64_sat(ym)
    odd = b.trunc(j, I1)
    j = b.add(j, b.zext(odd, I64))
    y = m.sel(odd, m.add(y, m.c(1.0)), y)
    z = m.fma(y, m.c(-7.85398125648498535156e-1), ax)
    z = m.fma(y, m.c(-3.77489470793079817668e-8), z)
    z = m.fma(y, m.c(-2.69515142907905952645e-15), z)
    q = b.and_(b.lshr(j, ir.Constant(I64, 1)), ir.Constant(I64, 3))
    return z, q


def _reduce_chunks(m: FMath, ax, mant_bits: int):
    """Payne-Hanek style reduction for any finite ax >= 0 (float64 holding a value with
    `mant_bits` significant bits): x * 2/pi mod 4 from exact products with 24-bit chunks
    of 2/pi, chosen by the exponent so that no needed bit is lost."""
    b = m.b
    bits = b.bitcast(ax, I64)
    e = b.sub(b.and_(b.lshr(bits, ir.Constant(I64, 52)), ir.Constant(I64, 0x7ff)), ir.Constant(I64, 1023))
    q = b.sub(e, ir.Constant(I64, mant_bits - 1))
    qm2 = b.sub(q, ir.Constant(I64, 2))
    k0 = b.select(b.icmp_signed("<", qm2, ir.Constant(I64, 0)), ir.Constant(I64, 0),
                  b.udiv(qm2, ir.Constant(I64, 24)))
    nchunks = 4 if mant_bits <= 26 else 6  # enough bits of 2/pi past the mantissa's reach
    k0 = b.select(b.icmp_signed(">", k0, ir.Constant(I64, len(_CHUNKS) - nchunks)),
                  ir.Constant(I64, len(_CHUNKS) - nchunks), k0)
    table = _chunk_table(m)
    if mant_bits > 26:
        hi = b.bitcast(b.and_(bits, ir.Constant(I64, ~((1 << 26) - 1))), F64)
        parts = [hi, m.sub(ax, hi)]
    else:
        parts = [ax]
    s = m.c(0.0)
    for jj in range(nchunks):
        c = b.load(b.gep(table, [ir.Constant(I64, 0), b.add(k0, ir.Constant(I64, jj))], inbounds=True), typ=F64)
        for part in parts:
            t = m.mul(part, c)
            t = m.sub(t, m.mul(m.c(4.0), m.floor(m.mul(t, m.c(0.25)))))
            s = m.add(s, t)
    s = m.sub(s, m.mul(m.c(4.0), m.floor(m.mul(s, m.c(0.25)))))
    n = m.rint(s)
    f = m.sub(s, n)
    quad = b.and_(m.to_i64_sat(n), ir.Constant(I64, 3))
    z = m.fma(f, m.c(1.5707963267948966), m.mul(f, m.c(6.123233995736766e-17)))
    return z, quad


def _sincos_reduced(m: FMath, ax, narrow: bool):
    """For ax >= 0 (float64): (sin poly, cos poly of the reduced argument, quadrant q in 0..3)."""
    if narrow:  # float32 inputs: the chunk reduction is exact over the whole range
        z, q = _reduce_chunks(m, ax, 24)
    else:
        z1, q1 = _reduce_cody_waite(m, ax)
        z2, q2 = _reduce_chunks(m, ax, 53)
        small = m.lt(ax, m.c(2.0 ** 30))
        z, q = m.sel(small, z1, z2), m.sel(small, q1, q2)
    zz = m.mul(z, z)
    sp = m.fma(m.mul(z, zz), m.poly(zz, _SINCOF), z)
    cp = m.fma(m.mul(zz, zz), m.poly(zz, _COSCOF), m.fma(m.c(-0.5), zz, m.c(1.0)))
    return sp, cp, q


def _inf_to_nan(m: FMath, x, r):
    return m.sel(m.isinf(x), m.c(math.nan), r)


def _pick(m: FMath, q, vals):
    b = m.b
    r = vals[3]
    for k in (2, 1, 0):
        r = m.sel(b.icmp_unsigned("==", q, ir.Constant(I64, k)), vals[k], r)
    return r


def sin(m0: FMath, x0):
    m, x, back = _widen(m0, x0)
    sp, cp, q = _sincos_reduced(m, m.abs(x), not m0.is64)
    r = _pick(m, q, (sp, cp, m.neg(sp), m.neg(cp)))
    r = m.sel(m.lt(x, m.c(0.0)), m.neg(r), r)
    r = m.sel(m.eq(x, m.c(0.0)), x, r)
    return back(m.fix_nan(x, _inf_to_nan(m, x, r)))


def cos(m0: FMath, x0):
    m, x, back = _widen(m0, x0)
    sp, cp, q = _sincos_reduced(m, m.abs(x), not m0.is64)
    r = _pick(m, q, (cp, m.neg(sp), m.neg(cp), sp))
    return back(m.fix_nan(x, _inf_to_nan(m, x, r)))


def tan(m0: FMath, x0):
    m, x, back = _widen(m0, x0)
    sp, cp, q = _sincos_reduced(m, m.abs(x), not m0.is64)
    even = m.b.icmp_unsigned("==", m.b.and_(q, ir.Constant(I64, 1)), ir.Constant(I64, 0))
    r = m.sel(even, m.div(sp, cp), m.neg(m.div(cp, sp)))
    r = m.sel(m.lt(x, m.c(0.0)), m.neg(r), r)
    r = m.sel(m.eq(x, m.c(0.0)), x, r)
    return back(m.fix_nan(x, _inf_to_nan(m, x, r)))


# --- erf (float64 core) ----------------------------------------------------------------

_ERF_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
          7.00332514112805075473e3, 5.55923013010394962768e4)
_ERF_U = (3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
          2.26290000613890934246e4, 4.92673942608635921086e4)
_ERFC_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
           4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
           9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)
_ERFC_Q = (1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
           9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
           1.65666309194161350182e3, 5.57535340817727675546e2)


def erf(m0: FMath, x0):
    m, x, back = _widen(m0, x0)
    ax = m.abs(x)
    z = m.mul(x, x)
    small = m.div(m.mul(x, m.poly(z, _ERF_T)), m.poly1(z, _ERF_U))
    axc = m.sel(m.lt(ax, m.c(8.0)), ax, m.c(8.0))
    e = exp(m, m.neg(m.mul(axc, axc)))
    erfc = m.div(m.mul(e, m.poly(axc, _ERFC_P)), m.poly1(axc, _ERFC_Q))
    big = m.copysign(m.sub(m.c(1.0), erfc), x)
    r = m.sel(m.lt(ax, m.c(1.0)), small, big)
    r = m.sel(m.ge(ax, m.c(6.0)), m.copysign(m.c(1.0), x), r)
    return back(m.fix_nan(x, r))


# --- atan2 (float64 core) --------------------------------------------------------------

_ATAN_P = (-8.750608600031904122785e-1, -1.615753718733365076637e1, -7.500855792314704667340e1,
           -1.228866684490136173410e2, -6.485021904942025371773e1)
_ATAN_Q = (2.485846490142306297962e1, 1.650270098316988542046e2, 4.328810604912902668951e2,
           4.853903996359136964868e2, 1.945506571482613964425e2)
_MOREBITS = 6.123233995736765886130e-17


def _atan_pos(m: FMath, q):
    """atan(q) for q >= 0 (q may be +inf)."""
    big = m.gt(q, m.c(2.41421356237309504880))
    mid = m.gt(q, m.c(0.66))
    safe_q = m.sel(big, q, m.c(1.0))
    xb = m.div(m.c(-1.0), safe_q)
    xm = m.div(m.sub(q, m.c(1.0)), m.add(q, m.c(1.0)))
    xr = m.sel(big, xb, m.sel(mid, xm, q))
    base = m.sel(big, m.c(math.pi / 2), m.sel(mid, m.c(math.pi / 4), m.c(0.0)))
    extra = m.sel(big, m.c(_MOREBITS), m.sel(mid, m.c(0.5 * _MOREBITS), m.c(0.0)))
    z = m.mul(xr, xr)
    p = m.div(m.mul(z, m.poly(z, _ATAN_P)), m.poly1(z, _ATAN_Q))
    r = m.fma(xr, p, xr)
    return m.add(base, m.add(r, extra))


def atan2(m0: FMath, y0, x0):
    m, y, back = _widen(m0, y0)
    x = m.b.fpext(x0, F64) if not m0.is64 else x0
    ay, ax = m.abs(y), m.abs(x)
    q = m.sel(m.eq(ay, m.c(0.0)), m.c(0.0), m.div(ay, ax))
    a = _atan_pos(m, q)
    both_inf = m.b.and_(m.isinf(x), m.isinf(y))
    a = m.sel(both_inf, m.c(math.pi / 4), a)
    xneg = m.b.icmp_signed("<", m.b.bitcast(x, I64), ir.Constant(I64, 0))
    a = m.sel(xneg, m.sub(m.c(math.pi), a), a)
    r = m.copysign(a, y)
    nan = m.b.or_(m.isnan(x), m.isnan(y))
    r = m.sel(nan, m.add(x, y), r)
    return back(r)


# --- power ----------------------------------------------------------------------------

def _pow_special(m64: FMath, xd, yd, r):
    """IEEE/C99 pow from r = |x|**y (float64, which already gives 0/inf at |x| = 0/inf and for
    y = +-inf): y == 0 or x == 1 -> 1, (+-1) ** +-inf -> 1, negative x needs an integer y (else
    NaN) and takes the sign of an odd one (-0.0 included), NaN otherwise propagates."""
    b = m64.b
    y_whole = m64.eq(m64.floor(yd), yd)  # integers and +-inf
    y_int = b.and_(y_whole, m64.lt(m64.abs(yd), m64.c(math.inf)))
    half = m64.mul(yd, m64.c(0.5))
    y_odd = b.and_(y_int, b.not_(m64.eq(m64.floor(half), half)))
    x_neg = b.icmp_signed("<", b.bitcast(xd, I64), ir.Constant(I64, 0))
    r = m64.sel(b.and_(x_neg, y_odd), m64.neg(r), r)
    finite_neg = b.and_(m64.lt(xd, m64.c(0.0)), m64.gt(xd, m64.c(-math.inf)))
    r = m64.sel(b.and_(finite_neg, b.not_(y_whole)), m64.c(math.nan), r)
    ax = m64.abs(xd)
    r = m64.sel(b.and_(m64.eq(ax, m64.c(1.0)), m64.isinf(yd)), m64.c(1.0), r)
    r = m64.sel(b.or_(m64.isnan(xd), m64.isnan(yd)), m64.add(xd, yd), r)
    one = b.or_(m64.eq(yd, m64.c(0.0)), m64.eq(xd, m64.c(1.0)))
    return m64.sel(one, m64.c(1.0), r)


def _pow32(m: FMath, x, y):
    """float32 pow, vectorizable: exp(y * log|x|) in float64 (error far below a float32 ulp),
    then the IEEE special cases (_pow_special)."""
    b = m.b
    m64 = FMath(b, F64)
    xd, yd = b.fpext(x, F64), b.fpext(y, F64)
    r = exp(m64, m64.mul(yd, log(m64, m64.abs(xd))))
    return b.fptrunc(_pow_special(m64, xd, yd, r), F32)


def power(m: FMath, x, y):
    """float32: _pow32. float64: pow64.pow_abs (double-double log, exp with a correction term,
    table-driven, within ~0.52 ulp) with the IEEE special cases (_pow_special)."""
    if not m.is64:
        return _pow32(m, x, y)
    return _pow_special(m, x, y, pow64.pow_abs(m, m.abs(x), y))


UNARY = {
    "exponential": exp, "log": log, "log_plus_one": log1p, "exponential_minus_one": expm1,
    "tanh": tanh, "logistic": logistic, "sine": sin, "cosine": cos, "tan": tan, "erf": erf,
}
