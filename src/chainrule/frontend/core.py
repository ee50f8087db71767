"""Binding ops: symbolic when any input is a Tensor, eager otherwise.

Every chainrule.numpy function is written once against `bind`: given NumPy
arrays it computes at once with the reference rules (as jax.numpy does
outside jit); given symbolic tensors it records an `Apply`.
"""

from __future__ import annotations

import numpy as np

from ..ir import ALL_DTYPES, Attrs, IRError, OpDef, TensorType, dtype as as_dtype, get_op, typed
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
    if arr.dtype not in _SUPPORTED_NP:
        arr = arr.astype(_canonical_np(arr.dtype))
    from ..ir import Literal
    lit = Literal(arr)
    return Apply(get_op("constant"), (), Attrs(value=lit), (), (lit.type,), current_scope()).outputs[0]


_SUPPORTED_NP = frozenset(d.np for d in ALL_DTYPES)


def _canonical_np(d):
    d = np.dtype(d)
    if d.newbyteorder("=") in _SUPPORTED_NP:
        return d.newbyteorder("=")
    raise TypeError(f"arrays of dtype {d} are not supported; use one of "
                    f"{', '.join(d.name for d in ALL_DTYPES)}")


def canonical_array(x) -> np.ndarray:
    """A NumPy array in one of chainrule's dtypes (native byte order). Python floats and ints (and lists
    of them) take the default dtypes of `cr.config`; NumPy arrays keep theirs."""
    a = np.asarray(x)
    if a.dtype.kind in "fi" and (type(x) in (float, int) or isinstance(x, (list, tuple))):
        from .config import config
        want = config.float_dtype if a.dtype.kind == "f" else config.int_dtype
        if a.dtype != want and a.dtype.itemsize == 8:
            return a.astype(want)
    if a.dtype.kind == "c" and (type(x) is complex or isinstance(x, (list, tuple))):
        from .config import config  # Python complex numbers: the default float's complex type
        if np.dtype(config.float_dtype) == np.float32:
            return a.astype(np.complex64)
    if a.dtype in _SUPPORTED_NP or (a.dtype.kind != "O" and a.dtype.newbyteorder("=") in _SUPPORTED_NP):
        return a  # (a byte-swapped array too: compiled functions name its byte order in their TypeError)
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
