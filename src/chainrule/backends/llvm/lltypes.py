"""IR dtypes -> LLVM types, in registers and in memory.

bool lives in memory as one byte (NumPy's layout) and in registers as i1.
float16 and bfloat16 live in memory in 16 bits and in registers as float32:
each op computes in float32 and its result is rounded once to the narrow
type (`narrow_round`), as XLA's CPU backend does. Unsigned integers are LLVM
integers of their width; the ops that care about the sign choose the
unsigned instruction (udiv, icmp ult, zext, uitofp, ...).
"""

from __future__ import annotations

import llvmlite.ir as ir

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I16 = ir.IntType(16)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
F16 = ir.HalfType()
F32 = ir.FloatType()
F64 = ir.DoubleType()
PTR = ir.PointerType()
VOID = ir.VoidType()

_REG = {"bool": I1, "int8": I8, "int16": I16, "int32": I32, "int64": I64,
        "uint8": I8, "uint16": I16, "uint32": I32, "uint64": I64,
        "float16": F32, "bfloat16": F32, "float32": F32, "float64": F64}
_MEM = dict(_REG, bool=I8, float16=F16, bfloat16=I16)
# complex: {re, im} as a two-lane vector in registers and in memory (NumPy's interleaved layout)
_REG.update(complex64=ir.VectorType(F32, 2), complex128=ir.VectorType(F64, 2))
_MEM.update(complex64=_REG["complex64"], complex128=_REG["complex128"])


def reg_type(dt):
    try:
        return _REG[dt.name]
    except KeyError:
        raise NotImplementedError(f"the llvm backend does not support dtype {dt.name} yet") from None


def mem_type(dt):
    try:
        return _MEM[dt.name]
    except KeyError:
        raise NotImplementedError(f"the llvm backend does not support dtype {dt.name} yet") from None


def const(dt, value):
    """An LLVM constant of dtype `dt` (register form)."""
    t = reg_type(dt)
    if dt.kind == "b":
        return ir.Constant(I1, int(bool(value)))
    if dt.kind == "c":
        z = complex(value)
        return ir.Constant(t, [ir.Constant(t.element, z.real), ir.Constant(t.element, z.imag)])
    if dt.kind in "iu":
        v = int(value) & ((1 << dt.bits) - 1)  # two's complement bits: -1 is all ones for unsigned too
        return ir.Constant(t, v - (1 << dt.bits) if v >= 1 << (dt.bits - 1) else v)
    return ir.Constant(t, float(value))


def i64(v: int):
    return ir.Constant(I64, int(v))


# --- float16 / bfloat16 -------------------------------------------------------------

def _splat(like, value):
    t = like.type
    if isinstance(t, ir.VectorType):
        return ir.Constant(t, [ir.Constant(t.element, value)] * t.count)
    return ir.Constant(t, value)


def _bf16_bits(b, x):
    """float32 -> the 16 bits of the nearest bfloat16 (ties to even; NaN stays a quiet NaN of x's sign)."""
    bits = b.bitcast(x, I32)
    lsb = b.and_(b.lshr(bits, ir.Constant(I32, 16)), ir.Constant(I32, 1))
    rounded = b.add(bits, b.add(lsb, ir.Constant(I32, 0x7FFF)))
    quiet = b.or_(bits, ir.Constant(I32, 0x00400000))
    nan = b.fcmp_unordered("uno", x, x)
    return b.trunc(b.lshr(b.select(nan, quiet, rounded), ir.Constant(I32, 16)), I16)


def store_narrow(b, dt, x):
    """A float32 register value as `dt`'s memory form (one rounding)."""
    if dt.name == "float16":
        return b.fptrunc(x, F16)
    return _bf16_bits(b, x)


def load_narrow(b, dt, m):
    """`dt`'s memory form as a float32 register value (exact)."""
    if dt.name == "float16":
        return b.fpext(m, F32)
    return b.bitcast(b.shl(b.zext(m, I32), ir.Constant(I32, 16)), F32)


def narrow_round(b, dt, x):
    """Round a float32 value to `dt` (float16/bfloat16) and widen it back: what one narrow op gives."""
    return load_narrow(b, dt, store_narrow(b, dt, x))


def f64_to_f32_odd(b, x):
    """float64 -> float32 rounded to odd: a later rounding to a narrower float is then the single,
    correct rounding of x (float32 has more than twice the bits of float16/bfloat16, plus two)."""
    t = b.fptrunc(x, F32)
    back = b.fpext(t, F64)
    bits = b.bitcast(t, I32)
    # one step toward zero where RNE rounded away from zero (|back| > |x|), then set the sticky bit
    away = b.fcmp_ordered(">", _fabs(b, back), _fabs(b, x))
    finite = b.fcmp_ordered("<", _fabs(b, x), ir.Constant(F64, float("inf")))
    bits = b.select(b.and_(away, finite), b.sub(bits, ir.Constant(I32, 1)), bits)
    inexact = b.fcmp_ordered("!=", b.fpext(b.bitcast(bits, F32), F64), x)
    bits = b.select(b.and_(inexact, finite), b.or_(bits, ir.Constant(I32, 1)), bits)
    return b.bitcast(bits, F32)


def _fabs(b, x):
    name = "llvm.fabs.f64"
    fn = b.module.globals.get(name)
    if fn is None:
        fn = ir.Function(b.module, ir.FunctionType(F64, [F64]), name)
    return b.call(fn, [x])
