"""Per-element semantics of the elementwise ops, as LLVM instructions.

`SCALAR[op](b, attrs, args, in_dtype, out_dtype) -> value` computes one
element from the operands' register values. The rules follow the reference
backend exactly (rules.py is the oracle): integer division by zero gives -1,
MIN / -1 gives MIN, x % 0 gives x, float->int saturates with NaN -> 0, and
max/min propagate NaN the way NumPy does. Nothing here traps or is poison.
"""

from __future__ import annotations

import llvmlite.ir as ir

from ...ir import RuleTable
from . import mathlib
from .lltypes import F16, F64, I1, I16, const, f64_to_f32_odd, load_narrow, narrow_round, reg_type, store_narrow

SCALAR = RuleTable("llvm scalar (elementwise)", covers=lambda op: op.elementwise)
rule = SCALAR.register
# The elementwise ops on complex operands or results (complex.py fills it): a partial table.
COMPLEX = RuleTable("llvm scalar (complex)", covers=None)


def _fm(b, dt):
    return mathlib.FMath(b, reg_type(dt))


def _intrinsic(b, name, ty, args, ret=None):
    fn = b.module.globals.get(name)
    if fn is None:
        fn = ir.Function(b.module, ir.FunctionType(ret or ty, [a.type for a in args]), name)
    return b.call(fn, list(args))


def _sfx(t):
    if isinstance(t, ir.DoubleType):
        return "f64"
    if isinstance(t, ir.FloatType):
        return "f32"
    return f"i{t.width}"


# --- unary -------------------------------------------------------------------------

@rule("negate")
def _negate(b, attrs, args, dt, out):
    (x,) = args
    return b.fneg(x) if dt.is_float else b.sub(const(dt, 0), x)


@rule("abs")
def _abs(b, attrs, args, dt, out):
    (x,) = args
    if dt.is_float:
        return _fm(b, dt).abs(x)
    return b.select(b.icmp_signed("<", x, const(dt, 0)), b.sub(const(dt, 0), x), x)


@rule("sign")
def _sign(b, attrs, args, dt, out):
    (x,) = args
    if dt.is_float:
        one, zero = const(dt, 1.0), const(dt, 0.0)
        r = b.select(b.fcmp_ordered("<", x, zero), const(dt, -1.0), x)  # +-0.0 and NaN pass through
        return b.select(b.fcmp_ordered(">", x, zero), one, r)
    t = reg_type(dt)
    pos = b.zext(b.icmp_signed(">", x, const(dt, 0)), t)
    neg = b.zext(b.icmp_signed("<", x, const(dt, 0)), t)
    return b.sub(pos, neg)


for _name in mathlib.UNARY:
    def _make(fn):
        def apply(b, attrs, args, dt, out):
            return fn(_fm(b, dt), args[0])
        return apply
    SCALAR[_name] = _make(mathlib.UNARY[_name])


@rule("sqrt")
def _sqrt(b, attrs, args, dt, out):
    return _fm(b, dt).intr("sqrt", args[0])


@rule("rsqrt")
def _rsqrt(b, attrs, args, dt, out):
    m = _fm(b, dt)
    return m.div(m.c(1.0), m.intr("sqrt", args[0]))


@rule("cbrt")
def _cbrt(b, attrs, args, dt, out):
    """exp(log|x| / 3) (vectorizable), then one Newton step y - (y - |x| / y^2) / 3 for the last bits;
    +-0, +-inf and NaN pass through, and the sign is x's."""
    m = _fm(b, dt)
    (x,) = args
    a = m.abs(x)
    y = mathlib.UNARY["exponential"](m, m.div(mathlib.UNARY["log"](m, a), m.c(3.0)))
    y = m.sub(y, m.div(m.sub(y, m.div(a, m.mul(y, y))), m.c(3.0)))
    special = b.or_(m.eq(a, m.c(0.0)), b.or_(m.isinf(a), m.isnan(a)))
    return m.copysign(m.sel(special, a, y), x)


@rule("floor")
def _floor(b, attrs, args, dt, out):
    return _fm(b, dt).intr("floor", args[0])


@rule("ceil")
def _ceil(b, attrs, args, dt, out):
    return _fm(b, dt).intr("ceil", args[0])


@rule("round_nearest_even")
def _round(b, attrs, args, dt, out):
    return _fm(b, dt).intr("roundeven", args[0])


@rule("not")
def _not(b, attrs, args, dt, out):
    (x,) = args
    return b.xor(x, ir.Constant(x.type, 1 if dt.is_bool else -1))


@rule("is_finite")
def _is_finite(b, attrs, args, dt, out):
    m = _fm(b, dt)
    return m.lt(m.abs(args[0]), m.c(float("inf")))


@rule("stop_gradient")
def _identity(b, attrs, args, dt, out):
    return args[0]


# --- binary ------------------------------------------------------------------------

@rule("add")
def _add(b, attrs, args, dt, out):
    return b.fadd(*args) if dt.is_float else b.add(*args)


@rule("subtract")
def _sub(b, attrs, args, dt, out):
    return b.fsub(*args) if dt.is_float else b.sub(*args)


@rule("multiply")
def _mul(b, attrs, args, dt, out):
    return b.fmul(*args) if dt.is_float else b.mul(*args)


def _safe_divisor(b, x, y, dt):
    """y with 0 and the overflowing MIN / -1 case replaced by 1 (no trap)."""
    lo = const(dt, -(1 << (dt.bits - 1)))
    zero = b.icmp_signed("==", y, const(dt, 0))
    ovf = b.and_(b.icmp_signed("==", x, lo), b.icmp_signed("==", y, const(dt, -1)))
    return b.select(b.or_(zero, ovf), const(dt, 1), y), zero


def _unsigned_divisor(b, y, dt):
    """y with 0 replaced by 1 (no trap), and where it was 0."""
    zero = b.icmp_unsigned("==", y, const(dt, 0))
    return b.select(zero, const(dt, 1), y), zero


@rule("divide")
def _divide(b, attrs, args, dt, out):
    x, y = args
    if dt.is_float:
        return b.fdiv(x, y)
    if dt.is_unsigned:  # x / 0 is all ones, as in XLA
        sy, zero = _unsigned_divisor(b, y, dt)
        return b.select(zero, const(dt, -1), b.udiv(x, sy))
    sy, zero = _safe_divisor(b, x, y, dt)
    return b.select(zero, const(dt, -1), b.sdiv(x, sy))


@rule("remainder")
def _remainder(b, attrs, args, dt, out):
    x, y = args
    if dt.is_float:
        return b.frem(x, y)
    if dt.is_unsigned:
        sy, zero = _unsigned_divisor(b, y, dt)
        return b.select(zero, x, b.urem(x, sy))
    sy, zero = _safe_divisor(b, x, y, dt)
    return b.select(zero, x, b.srem(x, sy))


@rule("power")
def _power(b, attrs, args, dt, out):
    x, y = args
    if dt.is_float:
        return mathlib.power(_fm(b, dt), x, y)
    # exponentiation by squaring, unrolled (exponents < 2**(bits-1) need bits-1 steps)
    one = const(dt, 1)
    if dt.is_unsigned:
        e, steps = y, dt.bits
    else:
        e, steps = b.select(b.icmp_signed("<", y, const(dt, 0)), const(dt, 0), y), dt.bits - 1
    result, base = one, x
    for _ in range(steps):
        odd = b.trunc(e, I1)
        result = b.select(odd, b.mul(result, base), result)
        base = b.mul(base, base)
        e = b.lshr(e, one)
    if dt.is_unsigned:
        return result
    # negative exponents: 1 -> 1, -1 -> +-1 by parity, anything else -> 0
    even = b.icmp_signed("==", b.and_(y, one), const(dt, 0))
    neg_val = b.select(b.icmp_signed("==", x, one), one,
                       b.select(b.icmp_signed("==", x, const(dt, -1)),
                                b.select(even, one, const(dt, -1)), const(dt, 0)))
    return b.select(b.icmp_signed("<", y, const(dt, 0)), neg_val, result)


def _maxmin(b, x, y, dt, greater):
    if dt.is_bool:
        return b.or_(x, y) if greater else b.and_(x, y)
    if dt.is_float:
        # NumPy: isnan(x) ? x : (x > y ? x : y)  -- NaN in y comes through the compare
        cmp = b.fcmp_ordered(">" if greater else "<", x, y)
        r = b.select(cmp, x, y)
        return b.select(b.fcmp_unordered("uno", x, x), x, r)
    icmp = b.icmp_unsigned if dt.is_unsigned else b.icmp_signed
    return b.select(icmp(">" if greater else "<", x, y), x, y)


@rule("maximum")
def _maximum(b, attrs, args, dt, out):
    return _maxmin(b, *args, dt, True)


@rule("minimum")
def _minimum(b, attrs, args, dt, out):
    return _maxmin(b, *args, dt, False)


@rule("atan2")
def _atan2(b, attrs, args, dt, out):
    return mathlib.atan2(_fm(b, dt), *args)


@rule("and")
def _and(b, attrs, args, dt, out):
    return b.and_(*args)


@rule("or")
def _or(b, attrs, args, dt, out):
    return b.or_(*args)


@rule("xor")
def _xor(b, attrs, args, dt, out):
    return b.xor(*args)


_FCMP = {"EQ": ("==", True), "NE": ("!=", False), "LT": ("<", True), "LE": ("<=", True),
         "GT": (">", True), "GE": (">=", True)}
_ICMP = {"EQ": "==", "NE": "!=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">="}


@rule("compare")
def _compare(b, attrs, args, dt, out):
    x, y = args
    d = attrs["direction"]
    if dt.is_float:
        op, ordered = _FCMP[d]
        return (b.fcmp_ordered if ordered else b.fcmp_unordered)(op, x, y)
    if dt.is_bool or dt.is_unsigned:
        return b.icmp_unsigned(_ICMP[d], x, y)
    return b.icmp_signed(_ICMP[d], x, y)


@rule("select")
def _select(b, attrs, args, dt, out):
    p, x, y = args
    return b.select(p, x, y)


@rule("clamp")
def _clamp(b, attrs, args, dt, out):
    lo, x, hi = args
    dt = out
    return _maxmin(b, _maxmin(b, x, lo, dt, True), hi, dt, False)


def _to_float(b, x, src, dst):
    """x of dtype src (not bool) as a float register of dst; narrow floats through a float32 value
    that rounds once to dst."""
    t = reg_type(dst)
    if src.is_float:
        if dst.is_narrow_float and src.bits == 64:
            return f64_to_f32_odd(b, x)
        if x.type == t:
            return x
        return b.fpext(x, t) if isinstance(t, ir.DoubleType) else b.fptrunc(x, t)
    to_int = b.uitofp if src.is_unsigned else b.sitofp
    if dst.name == "bfloat16" and src.bits > 16:
        return f64_to_f32_odd(b, to_int(x, F64))  # float32 would round a second time
    return to_int(x, t)


@rule("convert")
def _convert(b, attrs, args, src, dst):
    (x,) = args
    if src == dst:
        return x
    dt_ = reg_type(dst)
    if dst.is_bool:
        if src.is_float:
            return b.fcmp_unordered("!=", x, const(src, 0.0))
        return b.icmp_signed("!=", x, const(src, 0))
    if src.is_bool:
        return b.uitofp(x, dt_) if dst.is_float else b.zext(x, dt_)
    if dst.is_float:
        return _to_float(b, x, src, dst)  # apply_scalar rounds a narrow result
    if src.is_int and dst.is_int:
        if dst.bits > src.bits:
            return b.zext(x, dt_) if src.is_unsigned else b.sext(x, dt_)
        return b.trunc(x, dt_) if dst.bits < src.bits else x
    # float -> int: saturating, NaN -> 0 (plain fptosi would be poison out of range)
    kind = "fptoui" if dst.is_unsigned else "fptosi"
    name = f"llvm.{kind}.sat.{_sfx(dt_)}.{_sfx(x.type)}"
    return _intrinsic(b, name, dt_, [x], ret=dt_)


def _make_shift(kind):
    def apply(b, attrs, args, dt, out):
        """StableHLO: the amount is unsigned; `bits` or more shifts everything out (LLVM would give poison)."""
        x, y = args
        width = const(dt, dt.bits)
        big = b.icmp_unsigned(">=", y, width)
        safe = b.select(big, const(dt, dt.bits - 1 if kind == "ashr" else 0), y)
        r = getattr(b, kind)(x, safe)
        return r if kind == "ashr" else b.select(big, const(dt, 0), r)
    return apply


for _name, _kind in (("shift_left", "shl"), ("shift_right_logical", "lshr"), ("shift_right_arithmetic", "ashr")):
    SCALAR[_name] = _make_shift(_kind)


@rule("popcnt")
def _popcnt(b, attrs, args, dt, out):
    return _intrinsic(b, f"llvm.ctpop.i{dt.bits}", reg_type(dt), args)


@rule("bitcast_convert")
def _bitcast(b, attrs, args, src, dst):
    (x,) = args
    if src == dst:
        return x
    if src.is_narrow_float:  # register float32 -> the 16 stored bits
        x = store_narrow(b, src, x)
        x = b.bitcast(x, I16) if src.name == "float16" else x
    if dst.is_narrow_float:
        return load_narrow(b, dst, b.bitcast(x, F16) if dst.name == "float16" else x)
    return b.bitcast(x, reg_type(dst))


_NARROW_EXACT = frozenset({"select", "stop_gradient", "bitcast_convert", "maximum", "minimum", "clamp", "negate",
                           "abs", "sign", "floor", "ceil", "round_nearest_even"})


def apply_scalar(b, node, args):
    """Compute `node` (an elementwise op) from operand register values."""
    in_dt = node.operands[-1].dtype if node.op.name == "select" else node.operands[0].dtype
    out_dt = node.results[0].dtype
    fn = COMPLEX[node.op.name] if "c" in (in_dt.kind, out_dt.kind) else SCALAR[node.op.name]
    r = fn(b, node.attrs, args, in_dt, out_dt)
    if out_dt.is_narrow_float and node.op.name not in _NARROW_EXACT:
        r = narrow_round(b, out_dt, r)  # computed in float32, rounded once, as XLA's CPU backend does
    return r


__all__ = ["COMPLEX", "SCALAR", "apply_scalar"]
