"""float64 x**y for |x| finite > 0, vectorizable: exp(y * log x) with extra precision.

Plain float64 exp(y*log x) loses ~|y log x| ulp, so log x is formed as a
double-double (relative error ~2^-68) and exp takes the product's low part
as a correction. Both are table-driven with N = 128 (tables are private LLVM
constant arrays; the loop vectorizer turns the loads into gathers):

log: x = 2^k z, z in [z0, 2 z0) (z0 ~ 0.704, chosen so that 1 sits 2/3 into
its cell), cell i from the top 7 bits of bits(x) - bits(z0). Each cell has a
c with 1/c of 8 significant bits, so r = z/c - 1 = fma(z, 1/c, -1) is exact,
and log x = k ln2 + log c + log1p(r); the cell holding 1 has c = 1 (no
cancellation near x = 1). log c is split hi + lo with hi on a 2^-43 grid so
k*ln2hi + log c hi is exact; log1p(r) is Taylor to r^9 (|r| < 2^-7.5; error
< 2^-79, relative < 2^-71 where log x is smallest).

exp: t = k ln2/N + r, 2^(i/N) from a table (hi and a relative tail), exp(r)
by Taylor to r^5 (|r| <= ln2/256; error 2^-60). The scale's exponent is biased into the
normal range and multiplied back once, so overflow rounds correctly; for
subnormal results the sum is rounded once on the subnormal grid (adding 1.0)
to avoid double rounding.

Tables are computed here with `decimal` at 50 digits (no hard-coded data).
"""

from __future__ import annotations

import functools
import math
import struct
from decimal import Decimal, localcontext

import llvmlite.ir as ir

F64 = ir.DoubleType()
I64 = ir.IntType(64)
N = 128
_CELL = 1 << 45  # one cell: 2^-7 of a binade in bit space
_ONE_BITS = 0x3FF0000000000000
_OFF = _ONE_BITS - (75 * _CELL + (2 * _CELL) // 3)  # bits(z0): 1.0 lies 2/3 into cell 75
_CLAMP = 1000.0  # |y log x| beyond this is inf or 0 whatever the rounding


def _float(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<q", bits))[0]


@functools.lru_cache(maxsize=None)
def _tables():
    """(invc, logc, logctail, exp hi, exp tail, constants dict), all Python floats."""
    with localcontext() as ctx:
        ctx.prec = 50
        return _compute_tables()


def _compute_tables():
    ln2 = Decimal(2).ln()
    invc, logc, logct = [], [], []
    one_cell = (_ONE_BITS - _OFF) // _CELL
    for i in range(N):
        lo_b = _OFF + i * _CELL
        zl, zh = _float(lo_b), _float(lo_b + _CELL)
        center = (zl + zh) / 2
        if i == one_cell:
            ic = 1.0
        elif center < 1.0:
            ic = round(N / center) / N
        else:
            ic = round(2 * N / center) / (2 * N)
        # r = z*ic - 1 must be exact: |r| < 2^-7 on the 2^-60 grid
        rmax = max(abs(zl * ic - 1), abs(zh * ic - 1))
        assert rmax < 2.0 ** -7, (i, rmax)
        lc = -Decimal(ic).ln()
        hi = float((lc * 2 ** 43).to_integral_value()) / 2.0 ** 43
        if i != one_cell:  # k = 0: t1 + r is a Fast2Sum only if |log c| >= |r|
            assert abs(hi) > rmax, (i, hi, rmax)
        invc.append(ic)
        logc.append(hi)
        logct.append(float(lc - Decimal(hi)))
    ehi, etail = [], []
    for i in range(N):
        v = (ln2 * i / N).exp()
        h = float(v)
        ehi.append(h)
        etail.append(float((v - Decimal(h)) / Decimal(h)))
    ln2hi = float((ln2 * 2 ** 42).to_integral_value()) / 2.0 ** 42
    ln2n = ln2 / N
    ln2nhi = float((ln2n * 2 ** 42).to_integral_value()) / 2.0 ** 42
    consts = {
        "ln2hi": ln2hi, "ln2lo": float(ln2 - Decimal(ln2hi)),
        "invln2n": float(N / ln2), "ln2nhi": ln2nhi, "ln2nlo": float(ln2n - Decimal(ln2nhi)),
    }
    return invc, logc, logct, ehi, etail, consts


def _table(m, name, values):
    g = m.module.globals.get(name)
    if g is None:
        ty = ir.ArrayType(F64, len(values))
        g = ir.GlobalVariable(m.module, ty, name)
        g.global_constant = True
        g.linkage = "private"
        g.initializer = ir.Constant(ty, [ir.Constant(F64, v) for v in values])
    return g


def _load(m, table, idx):
    b = m.b
    return b.load(b.gep(table, [ir.Constant(I64, 0), idx], inbounds=True), typ=F64)


def _two_sum_fast(m, a, b):
    """s + e == a + b exactly, given |a| >= |b| (or a == 0)."""
    s = m.add(a, b)
    return s, m.add(m.sub(a, s), b)


def log_dd(m, x):
    """log(x) as (hi, lo) for finite x > 0 (subnormals included); relative error ~2^-68."""
    b = m.b
    invc_t, logc_t, logct_t, _, _, k = _tables()
    ic = lambda v: ir.Constant(I64, v)  # noqa: E731
    small = m.lt(x, m.c(2.0 ** -1022))
    ix = b.bitcast(m.sel(small, m.mul(x, m.c(2.0 ** 52)), x), I64)
    ix = b.select(small, b.sub(ix, ic(52 << 52)), ix)
    tmp = b.sub(ix, ic(_OFF))
    i = b.and_(b.lshr(tmp, ic(45)), ic(N - 1))
    kd = b.sitofp(b.ashr(tmp, ic(52)), F64)
    z = b.bitcast(b.sub(ix, b.and_(tmp, ic(-(1 << 52)))), F64)
    invc = _load(m, _table(m, "chainrule_pow_invc", invc_t), i)
    logc = _load(m, _table(m, "chainrule_pow_logc", logc_t), i)
    logct = _load(m, _table(m, "chainrule_pow_logct", logct_t), i)
    r = m.fma(z, invc, m.c(-1.0))  # exact
    t1 = m.fma(kd, m.c(k["ln2hi"]), logc)  # exact: both on the 2^-43 grid, < 2^10
    t2, lo2 = _two_sum_fast(m, t1, r)
    lo1 = m.fma(kd, m.c(k["ln2lo"]), logct)
    ar = m.mul(m.c(-0.5), r)
    ar2 = m.mul(r, ar)
    lo3 = m.fma(ar, r, m.neg(ar2))  # exact rounding error of ar2
    hi, lo4 = _two_sum_fast(m, t2, ar2)
    r2 = m.mul(r, r)
    q = m.poly(r, tuple((-1.0) ** (j + 1) / j for j in range(9, 2, -1)))  # 1/3 - r/4 + ... + r^6/9
    p = m.mul(m.mul(r2, r), q)
    lo = m.add(m.add(m.add(lo1, lo2), m.add(lo3, lo4)), p)
    yhi = m.add(hi, lo)
    return yhi, m.add(m.sub(hi, yhi), lo)


def exp_dd(m, hi, lo):
    """exp(hi + lo) for |lo| <~ ulp(hi), correctly handling overflow (inf), underflow (0) and
    subnormal results; hi may be +-inf/NaN (NaN comes back NaN)."""
    b = m.b
    _, _, _, ehi_t, etail_t, k = _tables()
    ic = lambda v: ir.Constant(I64, v)  # noqa: E731
    h = m.sel(m.ge(hi, m.c(-_CLAMP)), hi, m.c(-_CLAMP))  # NaN -> -clamp here (fixed below)
    h = m.sel(m.le(h, m.c(_CLAMP)), h, m.c(_CLAMP))
    kd = m.rint(m.mul(h, m.c(k["invln2n"])))
    ki = b.fptosi(kd, I64)  # |kd| < 2^18
    r = m.fma(kd, m.c(-k["ln2nhi"]), h)  # exact
    r = m.fma(kd, m.c(-k["ln2nlo"]), r)
    r = m.add(r, lo)
    i = b.and_(ki, ic(N - 1))
    tail = _load(m, _table(m, "chainrule_pow_exptail", etail_t), i)
    thi = b.bitcast(_load(m, _table(m, "chainrule_pow_exphi", ehi_t), i), I64)
    pos = b.icmp_signed(">=", ki, ic(0))
    # bias the scale's exponent into the normal range, undo it with one exact/overflowing multiply
    adj = b.select(pos, ic(-1009), ic(1022))
    top = b.add(b.ashr(ki, ic(7)), adj)
    scale = b.bitcast(b.add(thi, b.shl(top, ic(52))), F64)
    e = m.fma(m.mul(r, r), m.poly(r, tuple(1.0 / math.factorial(j) for j in range(5, 1, -1))), r)
    tmp = m.add(tail, e)
    y = m.fma(scale, tmp, scale)
    # subnormal result (y < 1 on the negative side): round 1 + y once on the 2^-52 grid
    ylo = m.fma(scale, tmp, m.sub(scale, y))
    one = m.c(1.0)
    s, serr = _two_sum_fast(m, one, y)
    ysub = m.sub(m.add(s, m.add(serr, ylo)), one)
    y = m.sel(b.and_(b.not_(pos), m.lt(y, one)), ysub, y)
    res = m.mul(y, m.sel(pos, m.c(2.0 ** 1009), m.c(2.0 ** -1022)))
    res = m.sel(m.gt(hi, m.c(_CLAMP)), m.c(math.inf), res)
    res = m.sel(m.lt(hi, m.c(-_CLAMP)), m.c(0.0), res)
    return m.sel(m.isnan(hi), hi, res)


def pow_abs(m, ax, y):
    """|x|**y for ax = |x| >= 0, any y: exact at 0/inf (via +-inf log), NaN where y*log|x| is."""
    finite_pos = m.b.and_(m.gt(ax, m.c(0.0)), m.lt(ax, m.c(math.inf)))
    lhi, llo = log_dd(m, m.sel(finite_pos, ax, m.c(1.0)))
    lhi = m.sel(m.eq(ax, m.c(0.0)), m.c(-math.inf), lhi)
    lhi = m.sel(m.eq(ax, m.c(math.inf)), ax, lhi)
    lhi = m.sel(m.isnan(ax), ax, lhi)
    ehi = m.mul(y, lhi)
    elo = m.fma(y, llo, m.fma(y, lhi, m.neg(ehi)))
    return exp_dd(m, ehi, elo)
