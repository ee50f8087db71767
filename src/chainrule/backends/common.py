"""What every backend shares: the Executable interface and argument checks.

Not a backend itself, so backends may import it.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

from ..ir import Graph, TensorType


def describe(x) -> str:
    if isinstance(x, np.ndarray):
        return f"{x.dtype}{list(x.shape)}"
    return type(x).__name__


def check_arguments(graph: Graph, args, names=None) -> list[np.ndarray]:
    """Check count, shape and dtype; return C-contiguous, aligned arrays.

    Python scalars and NumPy scalars are accepted where a rank-0 parameter of a
    compatible kind is expected. Nothing is cast silently across kinds.
    """
    params = graph.params
    if len(args) != len(params):
        raise TypeError(f"{graph.name} takes {len(params)} argument(s), got {len(args)}")
    out = []
    for i, (p, a) in enumerate(zip(params, args)):
        name = (names[i] if names else None) or p.name or f"argument {i}"
        out.append(check_array(a, p.type, name))
    return out


def check_array(a, t: TensorType, name: str) -> np.ndarray:
    want = t.dtype.np
    if isinstance(a, (bool, int, float, np.generic)) and not isinstance(a, np.ndarray):
        if t.shape != ():
            raise ValueError(f"{name}: expected an array of shape {t.shape} ({t}), got a scalar {a!r}")
        kind = np.asarray(a).dtype.kind
        ok = {"b": "b", "i": "bi", "u": "bi", "f": "bif"}[t.dtype.kind]
        if kind not in ok:
            raise TypeError(f"{name}: expected {t.dtype.name}, got {type(a).__name__} {a!r}")
        try:  # a Python int beyond the dtype's range raises; a NumPy integer would wrap silently
            out = np.asarray(a, dtype=want)
        except OverflowError:
            out = None
        if out is None or (t.dtype.kind == "i" and int(out) != int(a)):
            info = np.iinfo(want)
            raise ValueError(f"{name}: {a!r} is out of range for {t.dtype.name} ([{info.min}, {info.max}])")
        return out
    if not isinstance(a, np.ndarray):
        if hasattr(a, "__array__") and not isinstance(a, (list, tuple, dict, str, bytes)):
            a = np.asarray(a)
        else:
            raise TypeError(f"{name}: expected an array {t}, got {type(a).__name__}")
    if a.dtype != want:
        raise TypeError(f"{name}: expected dtype {t.dtype.name}, got {a.dtype} (cast it with .astype)")
    if a.shape != t.shape:
        raise ValueError(f"{name}: expected shape {t.shape}, got {a.shape}")
    return c_aligned(a)


ARRAY_DATA_OFFSET = 16  # offsetof(PyArrayObject_fields, data) on 64-bit CPython


@functools.lru_cache(maxsize=None)
def array_data_offset_holds() -> bool:
    """Whether a NumPy array's data pointer sits at ARRAY_DATA_OFFSET in its object, checked on
    live arrays (CPython, 64-bit); where it does not, callers use `a.ctypes.data`."""
    try:
        for a in (np.zeros(3), np.zeros((), np.float32), np.zeros((2, 5), np.int8)[1:]):
            if ctypes.c_void_p.from_address(id(a) + ARRAY_DATA_OFFSET).value != a.ctypes.data:
                return False
        return ctypes.sizeof(ctypes.c_void_p) == 8
    except Exception:  # pragma: no cover
        return False


def _data_pointer_by_offset(a, _read=ctypes.c_void_p.from_address, _off=ARRAY_DATA_OFFSET):
    return _read(id(a) + _off).value


data_pointer = _data_pointer_by_offset if array_data_offset_holds() else (lambda a: a.ctypes.data)
data_pointer.__doc__ = "The address of ndarray `a`'s data (~8x cheaper than `a.ctypes.data`)."


def c_aligned(a: np.ndarray) -> np.ndarray:
    """`a` itself when C-contiguous and aligned, else a C-ordered, aligned copy of the same shape.

    Not np.ascontiguousarray: that returns a misaligned array as it is (compiled code assumes
    element alignment) and turns a 0-d array into shape (1,)."""
    if a.flags.c_contiguous and a.flags.aligned:
        return a
    return np.array(a, order="C", copy=True)


class Executable:
    """A compiled graph: called with flat arrays, returns a list of arrays."""

    backend = "abstract"

    def __init__(self, graph: Graph):
        self.graph = graph

    @property
    def param_types(self):
        return self.graph.param_types

    @property
    def result_types(self):
        return self.graph.result_types

    def __call__(self, *args):
        return self.run(check_arguments(self.graph, args))

    def run(self, args: list[np.ndarray]) -> list[np.ndarray]:
        """Run on arguments already checked by `check_arguments`."""
        raise NotImplementedError

    def __repr__(self):
        return f"<{type(self).__name__} {self.graph.name} on {self.backend}>"
