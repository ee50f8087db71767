"""Complex numbers on the llvm backend: one element of each elementwise op on complex values.

A complex value is a two-lane vector {re, im} in registers and in memory (NumPy's interleaved
layout); `add`, `subtract`, `negate` and `select` are the vector instructions themselves. The
rest follow NumPy's formulas: division by Smith's algorithm as NumPy's loops do it, `abs` as an
overflow-free hypot, exp/log/sqrt/sin/cos/tan/tanh/expm1/log1p from the real functions of mathlib.
Infinities and NaNs inside complex transcendental functions are not given C99 Annex G's special
values (finite inputs are what the tests cover). `check_complex` refuses, by name, an op this
backend does not run on complex values (iota of a complex type, for one).
"""

from __future__ import annotations

import math

import llvmlite.ir as ir

from . import mathlib
from .lltypes import I32, const, reg_type
from .scalar import COMPLEX, SCALAR, rule

UNSUPPORTED_COMPLEX = ("it is not supported on complex64/complex128 values by the llvm backend yet; "
                       "compile with backend='jax' or backend='reference'")
# ops the llvm backend runs on complex values: the elementwise ones below, fft, and index mappings
COMPLEX_OPS = frozenset({"fft", "eig", "reduce", "dot_general", "scatter", "constant", "broadcast_in_dim", "reshape", "transpose", "slice", "reverse", "pad",
                         "concatenate", "dynamic_slice", "dynamic_update_slice", "gather", "optimization_barrier"})


def check_complex(graph):
    """Raise NotImplementedError naming the first op on a complex value this backend cannot compute."""
    for node in graph.walk():
        name = node.op.name
        if name in COMPLEX_OPS or name in COMPLEX or node.op.num_regions:
            continue
        for v in list(node.results) + list(node.operands):
            if v.dtype.kind == "c":
                raise NotImplementedError(f"op {name!r} on a {v.type} value: {UNSUPPORTED_COMPLEX}")


# --- real, imag, conj on floats (the SCALAR table) -----------------------------------------------

@rule("real", "conj")
def _identity(b, attrs, args, dt, out):
    return args[0]


@rule("imag")
def _imag_of_real(b, attrs, args, dt, out):
    return const(out, 0.0)


# --- helpers ------------------------------------------------------------------------------------

def _part(dt):
    from ...ir import dtype
    return dtype("float64" if dt.name == "complex128" else "float32")


class _C:
    """Complex arithmetic on (re, im) pairs of one float type."""

    def __init__(self, b, dt):
        self.b = b
        self.dt = dt
        self.pd = _part(dt)
        self.m = mathlib.FMath(b, reg_type(self.pd))

    def parts(self, v):
        b = self.b
        return b.extract_element(v, ir.Constant(I32, 0)), b.extract_element(v, ir.Constant(I32, 1))

    def pack(self, re, im):
        b = self.b
        v = ir.Constant(reg_type(self.dt), ir.Undefined)
        return b.insert_element(b.insert_element(v, re, ir.Constant(I32, 0)), im, ir.Constant(I32, 1))

    def c(self, v):
        return self.m.c(v)

    def f(self, name, *xs):  # a real elementwise op of the part type
        return SCALAR[name](self.b, {}, xs, self.pd, self.pd)

    def mul(self, x, y):
        m = self.m
        (a, bb), (c, d) = x, y
        return m.sub(m.mul(a, c), m.mul(bb, d)), m.add(m.mul(a, d), m.mul(bb, c))

    def div(self, x, y):
        """NumPy's complex division (Smith's algorithm, with its branch for a zero divisor)."""
        m, b = self.m, self.b
        (a, bb), (c, d) = x, y
        ac, ad = m.abs(c), m.abs(d)
        big_c = m.ge(ac, ad)
        zero = b.and_(m.eq(ac, m.c(0)), m.eq(ad, m.c(0)))
        # |c| >= |d|: rat = d / c, scl = 1 / (c + d rat)
        rat1 = m.div(d, c)
        scl1 = m.div(m.c(1), m.add(c, m.mul(d, rat1)))
        r1 = m.mul(m.add(a, m.mul(bb, rat1)), scl1), m.mul(m.sub(bb, m.mul(a, rat1)), scl1)
        r0 = m.div(a, ac), m.div(bb, ac)
        rat2 = m.div(c, d)
        scl2 = m.div(m.c(1), m.add(d, m.mul(c, rat2)))
        r2 = m.mul(m.add(m.mul(a, rat2), bb), scl2), m.mul(m.sub(m.mul(bb, rat2), a), scl2)
        re = m.sel(big_c, m.sel(zero, r0[0], r1[0]), r2[0])
        im = m.sel(big_c, m.sel(zero, r0[1], r1[1]), r2[1])
        return re, im

    def abs(self, x):
        """hypot(re, im) without overflow: max * sqrt(1 + (min / max)^2); inf wins over NaN."""
        m = self.m
        a, bb = m.abs(x[0]), m.abs(x[1])
        hi, lo = m.sel(m.ge(a, bb), a, bb), m.sel(m.ge(a, bb), bb, a)
        r = m.div(lo, hi)
        h = m.mul(hi, m.intr("sqrt", m.add(m.c(1), m.mul(r, r))))
        h = m.sel(m.eq(hi, m.c(0)), m.c(0), h)
        h = m.sel(b_or(self.b, m.isnan(a), m.isnan(bb)), m.c(math.nan), h)
        return m.sel(b_or(self.b, m.isinf(a), m.isinf(bb)), m.c(math.inf), h)

    def exp(self, x):
        m = self.m
        e = self.f("exponential", x[0])
        re, im = m.mul(e, self.f("cosine", x[1])), m.mul(e, self.f("sine", x[1]))
        return re, m.sel(m.eq(x[1], m.c(0)), x[1], im)  # exp(a + 0i) keeps its zero imaginary part

    def log(self, x):
        return self.f("log", self.abs(x)), self.f("atan2", x[1], x[0])

    def sqrt(self, x):
        m = self.m
        a, bb = x
        t = m.intr("sqrt", m.mul(m.add(m.abs(a), self.abs(x)), m.c(0.5)))
        pos = m.ge(a, m.c(0))
        u = m.div(m.abs(bb), m.mul(m.c(2), t))
        re = m.sel(pos, t, u)
        im = m.sel(pos, m.div(bb, m.mul(m.c(2), t)), m.copysign(t, bb))
        zero = b_and(self.b, m.eq(a, m.c(0)), m.eq(bb, m.c(0)))
        return m.sel(zero, m.c(0), re), m.sel(zero, bb, im)

    def cosh_sinh(self, y):
        m = self.m
        ep, en = self.f("exponential", y), self.f("exponential", m.neg(y))
        sh = m.mul(m.sub(self.f("exponential_minus_one", y), self.f("exponential_minus_one", m.neg(y))), m.c(0.5))
        return m.mul(m.add(ep, en), m.c(0.5)), sh


def b_or(b, x, y):
    return b.or_(x, y)


def b_and(b, x, y):
    return b.and_(x, y)


def _complex_rule(*ops):
    return COMPLEX.register(*ops)


# --- the rules ------------------------------------------------------------------------------------------

@_complex_rule("add")
def _add(b, attrs, args, dt, out):
    return b.fadd(args[0], args[1])


@_complex_rule("subtract")
def _sub(b, attrs, args, dt, out):
    return b.fsub(args[0], args[1])


@_complex_rule("negate")
def _neg(b, attrs, args, dt, out):
    return b.fneg(args[0])


@_complex_rule("select")
def _select(b, attrs, args, dt, out):
    return b.select(*args)


@_complex_rule("stop_gradient")
def _stop(b, attrs, args, dt, out):
    return args[0]


def _unary(fn):
    def apply(b, attrs, args, dt, out):
        c = _C(b, dt)
        return c.pack(*fn(c, c.parts(args[0])))
    return apply


def _binary(fn):
    def apply(b, attrs, args, dt, out):
        c = _C(b, dt)
        return c.pack(*fn(c, c.parts(args[0]), c.parts(args[1])))
    return apply


def _sign(c, x):
    m = c.m
    r = c.abs(x)
    zero = m.eq(r, m.c(0))
    return m.sel(zero, m.c(0), m.div(x[0], r)), m.sel(zero, m.c(0), m.div(x[1], r))


def _expm1(c, x):
    m = c.m
    a, bb = x
    s = c.f("sine", m.mul(bb, m.c(0.5)))
    re = m.sub(m.mul(c.f("exponential_minus_one", a), c.f("cosine", bb)), m.mul(m.c(2), m.mul(s, s)))
    return re, m.mul(c.f("exponential", a), c.f("sine", bb))


def _sin(c, x):
    ch, sh = c.cosh_sinh(x[1])
    return c.m.mul(c.f("sine", x[0]), ch), c.m.mul(c.f("cosine", x[0]), sh)


def _cos(c, x):
    ch, sh = c.cosh_sinh(x[1])
    return c.m.mul(c.f("cosine", x[0]), ch), c.m.neg(c.m.mul(c.f("sine", x[0]), sh))


def _tan(c, x):
    m = c.m
    ch, sh = c.cosh_sinh(m.mul(m.c(2), x[1]))
    a2 = m.mul(m.c(2), x[0])
    den = m.add(c.f("cosine", a2), ch)
    return m.div(c.f("sine", a2), den), m.div(sh, den)


def _tanh(c, x):
    m = c.m
    ch, sh = c.cosh_sinh(m.mul(m.c(2), x[0]))
    b2 = m.mul(m.c(2), x[1])
    den = m.add(ch, c.f("cosine", b2))
    return m.div(sh, den), m.div(c.f("sine", b2), den)


def _logistic(c, x):
    m = c.m
    e = c.exp((m.neg(x[0]), m.neg(x[1])))
    return c.div((m.c(1), m.c(0)), (m.add(m.c(1), e[0]), e[1]))


def _power(c, x, y):
    m = c.m
    lx = c.log(x)
    r = c.exp(c.mul(y, lx))
    x0 = b_and(c.b, m.eq(x[0], m.c(0)), m.eq(x[1], m.c(0)))
    y0 = b_and(c.b, m.eq(y[0], m.c(0)), m.eq(y[1], m.c(0)))
    # 0 ** 0 = 1; 0 ** y = 0 for other y with a positive real part (NumPy)
    re = m.sel(y0, m.c(1), m.sel(b_and(c.b, x0, m.gt(y[0], m.c(0))), m.c(0), r[0]))
    im = m.sel(y0, m.c(0), m.sel(b_and(c.b, x0, m.gt(y[0], m.c(0))), m.c(0), r[1]))
    return re, im


for _name, _fn in {
    "sign": _sign, "exponential": lambda c, x: c.exp(x), "log": lambda c, x: c.log(x),
    "sqrt": lambda c, x: c.sqrt(x), "rsqrt": lambda c, x: c.div((c.c(1), c.c(0)), c.sqrt(x)),
    "exponential_minus_one": _expm1, "log_plus_one": lambda c, x: c.log((c.m.add(x[0], c.c(1)), x[1])),
    "sine": _sin, "cosine": _cos, "tan": _tan, "tanh": _tanh, "logistic": _logistic,
    "conj": lambda c, x: (x[0], c.m.neg(x[1])),
}.items():
    COMPLEX[_name] = _unary(_fn)
for _name, _fn in {"multiply": lambda c, x, y: c.mul(x, y), "divide": lambda c, x, y: c.div(x, y),
                   "power": _power}.items():
    COMPLEX[_name] = _binary(_fn)


@_complex_rule("abs")
def _abs(b, attrs, args, dt, out):
    c = _C(b, dt)
    return c.abs(c.parts(args[0]))


@_complex_rule("real")
def _real(b, attrs, args, dt, out):
    return b.extract_element(args[0], ir.Constant(I32, 0))


@_complex_rule("imag")
def _imag(b, attrs, args, dt, out):
    return b.extract_element(args[0], ir.Constant(I32, 1))


@_complex_rule("complex")
def _complex(b, attrs, args, dt, out):
    return _C(b, out).pack(args[0], args[1])


@_complex_rule("compare")
def _compare(b, attrs, args, dt, out):
    c = _C(b, dt)
    (a, bb), (x, y) = c.parts(args[0]), c.parts(args[1])
    if attrs["direction"] == "EQ":
        return b.and_(b.fcmp_ordered("==", a, x), b.fcmp_ordered("==", bb, y))
    return b.or_(b.fcmp_unordered("!=", a, x), b.fcmp_unordered("!=", bb, y))


@_complex_rule("convert")
def _convert(b, attrs, args, src, dst):
    (x,) = args
    if src == dst:
        return x
    if src.kind == "c" and dst.kind == "c":
        t = reg_type(dst)
        return b.fpext(x, t) if dst.bits > src.bits else b.fptrunc(x, t)
    if src.kind == "c":  # complex -> real: the real part, then the real conversion
        if dst.is_bool:
            c = _C(b, src)
            re, im = c.parts(x)
            return b.or_(b.fcmp_unordered("!=", re, c.c(0)), b.fcmp_unordered("!=", im, c.c(0)))
        pd = _part(src)
        return SCALAR["convert"](b, attrs, (b.extract_element(x, ir.Constant(I32, 0)),), pd, dst)
    pd = _part(dst)
    c = _C(b, dst)
    return c.pack(SCALAR["convert"](b, attrs, (x,), src, pd), c.c(0))


def vector_multiply(b, dt, x, y):
    """x * y of two complex register values (reductions and the complex matrix product use it)."""
    c = _C(b, dt)
    return c.pack(*c.mul(c.parts(x), c.parts(y)))
