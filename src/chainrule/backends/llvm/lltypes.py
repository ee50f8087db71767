"""IR dtypes -> LLVM types, in registers and in memory.

bool lives in memory as one byte (NumPy's layout) and in registers as i1.
"""

from __future__ import annotations

import llvmlite.ir as ir

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
F32 = ir.FloatType()
F64 = ir.DoubleType()
PTR = ir.PointerType()
VOID = ir.VoidType()

_REG = {"bool": I1, "int32": I32, "int64": I64, "float32": F32, "float64": F64}
_MEM = {"bool": I8, "int32": I32, "int64": I64, "float32": F32, "float64": F64}


def reg_type(dt):
    return _REG[dt.name]


def mem_type(dt):
    return _MEM[dt.name]


def const(dt, value):
    """An LLVM constant of dtype `dt` (register form)."""
    t = _REG[dt.name]
    if dt.kind == "b":
        return ir.Constant(I1, int(bool(value)))
    if dt.kind == "i":
        return ir.Constant(t, int(value))
    return ir.Constant(t, float(value))


def i64(v: int):
    return ir.Constant(I64, int(v))
