"""Complex numbers on the llvm backend: the float-operand cases of `real`, `imag` and `conj`.

Complex values (interleaved {re, im} pairs in memory, NumPy's layout) may be parameters, results
and the operands and results of `fft` (fft.py); any other op on them raises NotImplementedError
naming it (`check_complex`): use backend="jax" or "reference" for those.
"""

from __future__ import annotations

from .lltypes import const
from .scalar import rule

UNSUPPORTED_COMPLEX = ("complex64/complex128 values are not supported by the llvm backend yet; "
                       "compile with backend='jax' or backend='reference'")
COMPLEX_OPS = frozenset({"fft"})  # ops the llvm backend runs on complex values


def check_complex(graph):
    """Raise NotImplementedError for a complex value the llvm backend cannot compute."""
    for node in graph.walk():
        if node.op.name in COMPLEX_OPS:
            continue
        for v in list(node.results) + list(node.operands):
            if v.dtype.kind == "c":
                raise NotImplementedError(f"op {node.op.name!r} on a {v.type} value: only fft takes complex "
                                          f"values on the llvm backend; {UNSUPPORTED_COMPLEX}")


@rule("real", "conj")
def _identity(b, attrs, args, dt, out):
    return args[0]  # on floats (complex operands are refused before code generation)


@rule("imag")
def _imag(b, attrs, args, dt, out):
    return const(out, 0.0)
