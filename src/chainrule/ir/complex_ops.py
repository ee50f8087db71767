"""The complex-number ops: `real`, `imag`, `complex`, `conj` (StableHLO's names and semantics).

`real` and `imag` of a complex tensor give its parts in the matching float type
(complex64 -> float32, complex128 -> float64); of a float tensor, `real` is the
identity and `imag` is zero, as in StableHLO. `complex(re, im)` builds a complex
tensor from two float tensors of one type. `conj` negates the imaginary part
(the identity on floats). All four are elementwise and linear (over the reals).
"""

from __future__ import annotations

from .dtypes import complex64, complex128, float32, float64
from .errors import IRTypeError
from .ops import OpDef, register


def real_dtype(d):
    """The float type of a complex type's parts (complex64 -> float32, complex128 -> float64); others unchanged."""
    return {complex64: float32, complex128: float64}.get(d, d)


def complex_dtype(d):
    """The complex type with parts of float type d (float64 -> complex128, other floats -> complex64)."""
    return complex128 if d in (float64, complex128) else complex64


def _real_or_imag(name):
    def infer(types, attrs, regions):
        (t,) = types
        if t.dtype.kind not in "fc":
            raise IRTypeError(name, types, f"operand dtype {t.dtype.name} is not supported", "a float or complex operand")
        return (t.with_dtype(real_dtype(t.dtype)),)
    return infer


def _complex(types, attrs, regions):
    re, im = types
    if re != im:
        raise IRTypeError("complex", types, "operand types differ",
                          "real and imaginary parts of identical shape and dtype")
    if re.dtype.kind != "f" or re.dtype.bits not in (32, 64):
        raise IRTypeError("complex", types, f"operand dtype {re.dtype.name} is not supported",
                          "float32 or float64 parts")
    return (re.with_dtype(complex_dtype(re.dtype)),)


def _conj(types, attrs, regions):
    (t,) = types
    if t.dtype.kind not in "fc":
        raise IRTypeError("conj", types, f"operand dtype {t.dtype.name} is not supported", "a float or complex operand")
    return (t,)


register(OpDef("real", _real_or_imag("real"), category="unary", elementwise=True, linear=(0,),
               doc="The real part (float32 of complex64, float64 of complex128); the identity on floats."))
register(OpDef("imag", _real_or_imag("imag"), category="unary", elementwise=True, linear=(0,),
               doc="The imaginary part (float32 of complex64, float64 of complex128); zero on floats."))
register(OpDef("complex", _complex, num_operands=2, category="binary", elementwise=True, linear=(0, 1),
               doc="re + i*im from two float tensors of one type (float32 -> complex64, float64 -> complex128)."))
register(OpDef("conj", _conj, category="unary", elementwise=True, linear=(0,),
               doc="The complex conjugate re - i*im; the identity on floats."))
