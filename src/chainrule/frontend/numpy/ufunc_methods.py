"""NumPy's ufunc methods on chainrule.numpy's binary functions: `add.reduce`, `maximum.accumulate`,
`multiply.outer`, ... so code written against `np.add.reduce(x, axis)` ports unchanged.

`reduce` and `accumulate` exist for the associative functions (they map to a
`reduce` op and to the log-step scan); `outer` exists for every binary
function; `at` (in-place) refers to `x.at[...]`.
"""

from __future__ import annotations

import numpy as np

from ...ir import dtype as as_dtype
from ..core import type_of
from ..lax import convert, normalize_axis, operand
from . import reductions, transcendental, ufuncs
from .reductions import associative_scan, sum_dtype
from .shapes import ravel, reshape
from .ufuncs import as_bool

# function -> (reduction in reductions.py, IR op of the scan, identity for the scan, integer sums widen)
_ASSOCIATIVE = {
    "add": ("sum", "add", lambda dt: 0, True),
    "multiply": ("prod", "multiply", lambda dt: 1, True),
    "maximum": ("max", "maximum", lambda dt: -np.inf if dt.is_float else (False if dt.is_bool else np.iinfo(dt.np).min),
                False),
    "minimum": ("min", "minimum", lambda dt: np.inf if dt.is_float else (True if dt.is_bool else np.iinfo(dt.np).max),
                False),
    "logical_and": ("all", "and", lambda dt: True, False),
    "logical_or": ("any", "or", lambda dt: False, False),
}


def _make_reduce(name):
    reducer, _, _, _ = _ASSOCIATIVE[name]

    def reduce(array, axis=0, dtype=None, out=None, keepdims=False, initial=None):
        if out is not None:
            raise NotImplementedError(f"{name}.reduce(out=...) writes in place, which tensors cannot")
        fn = getattr(reductions, reducer)
        kwargs = {"axis": axis, "keepdims": keepdims}
        if reducer in ("sum", "prod"):
            kwargs["dtype"] = dtype
        r = fn(array, **kwargs)
        if initial is not None:
            r = _function(name)(r, initial)
        return r
    reduce.__name__ = f"{name}.reduce"
    return reduce


def _make_accumulate(name):
    _, op, identity, widen = _ASSOCIATIVE[name]

    def accumulate(array, axis=0, dtype=None, out=None):
        if out is not None:
            raise NotImplementedError(f"{name}.accumulate(out=...) writes in place, which tensors cannot")
        x = operand(array)
        if name in ("logical_and", "logical_or"):
            x = as_bool(x)
        if axis is None:
            x, axis = ravel(x), 0
        axis = normalize_axis(axis, type_of(x).ndim)
        dt = sum_dtype(x, dtype) if widen else (type_of(x).dtype if dtype is None else as_dtype(dtype))
        x = convert(x, dt)
        return associative_scan(op, x, axis, np.asarray(identity(dt), dt.np))
    accumulate.__name__ = f"{name}.accumulate"
    return accumulate


def _make_outer(fn):
    def outer(a, b):
        x, y = operand(a), operand(b)
        nb = type_of(y).ndim
        return fn(reshape(x, type_of(x).shape + (1,) * nb), y)
    outer.__name__ = f"{fn.__name__}.outer"
    return outer


def _make_at(name):
    def at(a, indices, b=None):
        raise NotImplementedError(f"{name}.at updates in place, which tensors cannot; use "
                                  f"x.at[indices].add(b) (or .set/.multiply) for a functional update")
    return at


BINARY = ["add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "power", "remainder", "mod", "fmod",
          "maximum", "minimum", "fmax", "fmin", "arctan2", "hypot", "logaddexp", "logaddexp2", "equal", "not_equal",
          "less", "less_equal", "greater", "greater_equal", "logical_and", "logical_or", "logical_xor",
          "bitwise_and", "bitwise_or", "bitwise_xor"]


def _function(name):
    return getattr(ufuncs, name, None) or getattr(transcendental, name)


def install():
    """Attach the methods to the binary functions (before chainrule.numpy wraps them)."""
    for name in BINARY:
        fn = _function(name)
        fn.outer = _make_outer(fn)
        fn.at = _make_at(name)
        if name in _ASSOCIATIVE:
            fn.reduce = _make_reduce(name)
            fn.accumulate = _make_accumulate(name)


install()
