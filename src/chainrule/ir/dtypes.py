"""The element types of the IR and their NumPy twins.

A `DType` is an interned singleton: compare with `is` or `==`, hash freely.
Its short name (`f32`, `i64`, `bf16`, `bool`) is what the text form prints.
bfloat16 is NumPy's twin from the `ml_dtypes` package (the one JAX uses).
"""

from __future__ import annotations

import ml_dtypes
import numpy as np


class DType:
    __slots__ = ("name", "short", "np", "kind", "bits")

    def __init__(self, name: str, short: str, np_dtype, kind: str, bits: int):
        self.name = name
        self.short = short
        self.np = np.dtype(np_dtype)
        self.kind = kind  # "b" bool, "i" signed integer, "u" unsigned integer, "f" float, "c" complex
        self.bits = bits

    @property
    def is_float(self) -> bool:
        return self.kind == "f"

    @property
    def is_int(self) -> bool:
        """Any integer, signed or unsigned (`is_signed`/`is_unsigned` tell them apart)."""
        return self.kind in "iu"

    @property
    def is_signed(self) -> bool:
        return self.kind == "i"

    @property
    def is_unsigned(self) -> bool:
        return self.kind == "u"

    @property
    def is_bool(self) -> bool:
        return self.kind == "b"

    @property
    def is_complex(self) -> bool:
        return self.kind == "c"

    @property
    def is_inexact(self) -> bool:
        return self.kind in "fc"

    @property
    def is_narrow_float(self) -> bool:
        """float16 and bfloat16: stored in 16 bits, computed in float32 by the llvm backend."""
        return self.kind == "f" and self.bits == 16

    @property
    def itemsize(self) -> int:
        return self.np.itemsize

    def __repr__(self) -> str:
        return self.name

    def __str__(self) -> str:
        return self.name

    def __reduce__(self):
        return (dtype, (self.name,))


bool_ = DType("bool", "bool", np.bool_, "b", 8)
int8 = DType("int8", "i8", np.int8, "i", 8)
int16 = DType("int16", "i16", np.int16, "i", 16)
int32 = DType("int32", "i32", np.int32, "i", 32)
int64 = DType("int64", "i64", np.int64, "i", 64)
uint8 = DType("uint8", "u8", np.uint8, "u", 8)
uint16 = DType("uint16", "u16", np.uint16, "u", 16)
uint32 = DType("uint32", "u32", np.uint32, "u", 32)
uint64 = DType("uint64", "u64", np.uint64, "u", 64)
float16 = DType("float16", "f16", np.float16, "f", 16)
bfloat16 = DType("bfloat16", "bf16", ml_dtypes.bfloat16, "f", 16)
float32 = DType("float32", "f32", np.float32, "f", 32)
float64 = DType("float64", "f64", np.float64, "f", 64)
complex64 = DType("complex64", "c64", np.complex64, "c", 64)
complex128 = DType("complex128", "c128", np.complex128, "c", 128)

ALL_DTYPES = (bool_, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
              float16, bfloat16, float32, float64, complex64, complex128)
REAL_DTYPES = tuple(d for d in ALL_DTYPES if d.kind != "c")
FLOAT_DTYPES = (float16, bfloat16, float32, float64)
WIDE_FLOAT_DTYPES = (float32, float64)
NARROW_FLOAT_DTYPES = (float16, bfloat16)
SIGNED_DTYPES = (int8, int16, int32, int64)
UNSIGNED_DTYPES = (uint8, uint16, uint32, uint64)
INT_DTYPES = SIGNED_DTYPES + UNSIGNED_DTYPES
COMPLEX_DTYPES = (complex64, complex128)

BY_NAME = {}
for _d in ALL_DTYPES:
    BY_NAME[_d.name] = _d
    BY_NAME[_d.short] = _d
BY_NAME["pred"] = bool_
_BY_NP = {d.np: d for d in ALL_DTYPES}


def dtype(x) -> DType:
    """Coerce a name (`"float32"`, `"f32"`, `"bf16"`), a NumPy dtype or a DType to a DType."""
    if isinstance(x, DType):
        return x
    if isinstance(x, str):
        d = BY_NAME.get(x)
        if d is not None:
            return d
    try:
        npd = np.dtype(x)
    except TypeError:
        npd = None
    if npd is not None:
        d = _BY_NP.get(npd)
        if d is not None:
            return d
        raise TypeError(
            f"dtype {npd} is not supported; chainrule supports "
            f"{', '.join(d.name for d in ALL_DTYPES)}"
        )
    raise TypeError(
        f"cannot interpret {x!r} as a dtype; expected one of "
        f"{', '.join(d.name for d in ALL_DTYPES)}"
    )


def _numpy_result(dts) -> DType:
    return dtype(np.result_type(*[d.np for d in dts]))


def result_dtype(*dtypes: DType) -> DType:
    """The promotion of strongly typed operands: NumPy's rules (`numpy.result_type`) for every dtype
    NumPy has, and JAX's lattice for bfloat16 (`jnp.promote_types`): bool and every integer promote to
    bfloat16, bfloat16 with float16 gives float32, with a wider float or a complex that one."""
    dtypes = [dtype(d) for d in dtypes]
    if bfloat16 not in dtypes:
        return _numpy_result(dtypes)
    rest = [d for d in dtypes if d is not bfloat16]
    if not rest:
        return bfloat16
    r = _numpy_result(rest)
    if r.kind in "biu":
        return bfloat16
    if r is float16:
        return float32
    return r
