"""Binding ops: symbolic when any input is a Tensor, eager otherwise.

Every chainrule.numpy function is written once against `bind`: given NumPy
arrays it computes at once with the reference rules (as jax.numpy does
outside jit); given symbolic tensors it records an `Apply`.
"""

from __future__ import annotations

import numpy as np

from ..ir import Attrs, IRError, OpDef, TensorType, dtype as as_dtype, get_op, typed
from .errors import LeakedTensorError, with_user_location
from .tensor import Apply, Tensor, current_scope, in_trace


def is_tensor(x) -> bool:
    return isinstance(x, Tensor)


def type_of(x) -> TensorType:
    """The TensorType of a Tensor or a concrete array (not a Python scalar)."""
    if isinstance(x, Tensor):
        return x.type
    a = np.asarray(x)
    return TensorType(a.shape, as_dtype(a.dtype))


def _eager_evaluate(opdef, args, attrs, out_types, regions):
    from ..backends.reference import evaluate_op
    return evaluate_op(opdef, args, attrs, out_types, regions)


def _check_scope(t: Tensor):
    if not t.scope.active:
        raise LeakedTensorError(
            f"a symbolic tensor {t.type} from a finished trace ({t.scope.name}) was used: a value traced inside "
            "jit/grad/vmap escaped (stored in a global or a closure?). Return it from the function instead.")


def bind(op: str | OpDef, *inputs, regions=(), **attrs):
    """Apply `op`; returns one result or a tuple when the op has several."""
    res = bind_multi(op, inputs, attrs, regions)
    return res[0] if len(res) == 1 else res


# Ops that make a large tensor from small operands: inside a trace they stay in the graph
# even on constant operands, so a broadcast constant never becomes a dense literal.
_GROWING_OPS = frozenset({"broadcast_in_dim", "iota"})


def bind_multi(op, inputs, attrs, regions=(), force_symbolic=False) -> tuple:
    """Apply an op: symbolic when an input is a Tensor (or when forced), eager otherwise."""
    symbolic = force_symbolic
    for x in inputs:
        if isinstance(x, Tensor):
            _check_scope(x)
            symbolic = True
    try:
        opdef, a, types = typed(op, tuple(type_of(x) for x in inputs), attrs, regions)
    except IRError as e:
        raise with_user_location(e) from None
    symbolic = symbolic or (opdef.name in _GROWING_OPS and in_trace())
    if symbolic:
        ins = tuple(x if isinstance(x, Tensor) else constant_tensor(x) for x in inputs)
        return Apply(opdef, ins, a, regions, types, current_scope()).outputs
    args = [np.asarray(x) for x in inputs]
    return _eager_evaluate(opdef, args, a, types, regions)


def constant_tensor(value, dtype=None) -> Tensor:
    arr = np.asarray(value, dtype=None if dtype is None else as_dtype(dtype).np)
    if arr.dtype.kind not in "bifc" or arr.dtype == np.float16 or arr.dtype.kind == "u":
        arr = arr.astype(_canonical_np(arr.dtype))
    from ..ir import Literal
    lit = Literal(arr)
    return Apply(get_op("constant"), (), Attrs(value=lit), (), (lit.type,), current_scope()).outputs[0]


def _canonical_np(d):
    d = np.dtype(d)
    if d.kind == "u":
        return np.int64
    if d == np.float16:
        return np.float32
    if d.kind == "c":
        raise TypeError("complex numbers are not supported by chainrule yet")
    raise TypeError(f"arrays of dtype {d} are not supported; use bool, int32, int64, float32 or float64")


def canonical_array(x) -> np.ndarray:
    """A NumPy array in one of chainrule's dtypes (uint/float16 are widened). Python floats and ints
    (and lists of them) take the default dtypes of `cr.config`; NumPy arrays keep theirs."""
    a = np.asarray(x)
    if a.dtype.kind in "fi" and (type(x) in (float, int) or isinstance(x, (list, tuple))):
        from .config import config
        want = config.float_dtype if a.dtype.kind == "f" else config.int_dtype
        if a.dtype != want and a.dtype.itemsize == 8:
            return a.astype(want)
    if a.dtype.kind == "c" and a.dtype.itemsize in (8, 16):  # complex64, complex128
        return a
    if a.dtype.kind in "bif" and a.dtype != np.float16 and a.dtype.itemsize in (1, 4, 8):
        if a.dtype.kind == "i" and a.dtype.itemsize == 1:
            return a.astype(np.int32)
        return a
    if a.dtype.kind == "i":
        return a.astype(np.int32 if a.dtype.itemsize <= 4 else np.int64)
    if a.dtype.kind == "u":
        return a.astype(np.int64)
    if a.dtype == np.float16:
        return a.astype(np.float32)
    if a.dtype == object:
        raise TypeError(f"cannot turn {x!r} into an array of numbers (mixed symbolic tensors and values? use cnp.array)")
    return a.astype(_canonical_np(a.dtype))


def widened(x: np.ndarray, want: np.dtype, name: str) -> np.ndarray | None:
    """`x` converted as cr.jit converts arrays of a dtype chainrule lacks (float16 to float32,
    int8/int16 to int32, unsigned to int64), when that gives exactly `want`; else None. An unsigned
    value beyond the target's range raises ValueError instead of wrapping."""
    ca = canonical_array(x)
    if ca.dtype != want or ca.dtype == x.dtype:
        return None
    if x.dtype.kind == "u" and x.size and x.max() > np.iinfo(ca.dtype).max:
        raise ValueError(f"{name}: {x.dtype} value {x.max()} is out of range for {ca.dtype}")
    return ca
