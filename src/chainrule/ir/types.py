"""`TensorType`: a static shape and a dtype."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .dtypes import DType, dtype as as_dtype

# Largest element count a tensor may have; beyond this no buffer could exist.
MAX_ELEMENTS = 2**62


def check_shape(shape) -> tuple[int, ...]:
    """Normalise a shape to a tuple of non-negative ints, or raise ValueError."""
    try:
        dims = tuple(shape)
    except TypeError:
        dims = (shape,)
    out = []
    for d in dims:
        if isinstance(d, bool) or not hasattr(d, "__index__"):
            raise ValueError(f"shape {shape!r} is invalid: dimension {d!r} is not an integer")
        d = int(d.__index__())
        if d < 0:
            raise ValueError(f"shape {shape!r} is invalid: dimension {d} is negative")
        out.append(d)
    n = 1
    for d in out:
        n *= d
        if n > MAX_ELEMENTS:
            raise ValueError(
                f"shape {tuple(out)} is invalid: it has more than 2**62 elements"
            )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class TensorType:
    shape: tuple[int, ...]
    dtype: DType

    def __init__(self, shape, dtype):
        object.__setattr__(self, "shape", check_shape(shape))
        object.__setattr__(self, "dtype", as_dtype(dtype))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def with_shape(self, shape) -> "TensorType":
        return TensorType(shape, self.dtype)

    def with_dtype(self, dt) -> "TensorType":
        return TensorType(self.shape, dt)

    def __str__(self) -> str:
        return f"{self.dtype.short}[{','.join(map(str, self.shape))}]"

    def __repr__(self) -> str:
        return f"TensorType({self.shape}, {self.dtype.name})"
