"""Complex numbers on the llvm backend: the float-operand cases of `real`, `imag` and `conj`.

Complex-typed values are not supported by this backend yet (see `UNSUPPORTED_COMPLEX`): graphs
holding them raise NotImplementedError naming the value; use backend="jax" or "reference".
"""

from __future__ import annotations

from .lltypes import const
from .scalar import rule

UNSUPPORTED_COMPLEX = ("complex64/complex128 values are not supported by the llvm backend yet; "
                       "compile with backend='jax' or backend='reference'")


@rule("real", "conj")
def _identity(b, attrs, args, dt, out):
    return args[0]  # on floats (complex operands are refused before code generation)


@rule("imag")
def _imag(b, attrs, args, dt, out):
    return const(out, 0.0)
