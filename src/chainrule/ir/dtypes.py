"""The five element types of the IR and their NumPy twins.

A `DType` is an interned singleton: compare with `is` or `==`, hash freely.
Its short name (`f32`, `i64`, `bool`) is what the text form prints.
"""

from __future__ import annotations

import numpy as np


class DType:
    __slots__ = ("name", "short", "np", "kind", "bits")

    def __init__(self, name: str, short: str, np_dtype, kind: str, bits: int):
        self.name = name
        self.short = short
        self.np = np.dtype(np_dtype)
        self.kind = kind  # "b" bool, "i" signed integer, "f" float
        self.bits = bits

    @property
    def is_float(self) -> bool:
        return self.kind == "f"

    @property
    def is_int(self) -> bool:
        return self.kind == "i"

    @property
    def is_bool(self) -> bool:
        return self.kind == "b"

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
int32 = DType("int32", "i32", np.int32, "i", 32)
int64 = DType("int64", "i64", np.int64, "i", 64)
float32 = DType("float32", "f32", np.float32, "f", 32)
float64 = DType("float64", "f64", np.float64, "f", 64)

ALL_DTYPES = (bool_, int32, int64, float32, float64)
FLOAT_DTYPES = (float32, float64)
INT_DTYPES = (int32, int64)

BY_NAME = {}
for _d in ALL_DTYPES:
    BY_NAME[_d.name] = _d
    BY_NAME[_d.short] = _d
BY_NAME["pred"] = bool_


def dtype(x) -> DType:
    """Coerce a name (`"float32"`, `"f32"`), a NumPy dtype or a DType to a DType."""
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
        for d in ALL_DTYPES:
            if d.np == npd:
                return d
        raise TypeError(
            f"dtype {npd} is not supported; chainrule supports "
            f"{', '.join(d.name for d in ALL_DTYPES)}"
        )
    raise TypeError(
        f"cannot interpret {x!r} as a dtype; expected one of "
        f"{', '.join(d.name for d in ALL_DTYPES)}"
    )


def result_dtype(*dtypes: DType) -> DType:
    """NumPy's promotion of strongly typed operands, restricted to our dtypes."""
    out = np.result_type(*[d.np for d in dtypes])
    if out == np.float16:
        out = np.dtype(np.float32)
    if out.kind == "u":  # never produced from our dtypes, but be safe
        out = np.dtype(np.int64)
    return dtype(out)
