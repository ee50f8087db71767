"""`array`/`asarray`: tensors from nested lists of tensors and scalars."""

from __future__ import annotations

import numpy as np

from ..ir import dtype as as_dtype
from . import lax
from .core import canonical_array, is_tensor, type_of
from .tensor import Tensor


def _has_tensor(x) -> bool:
    if isinstance(x, Tensor):
        return True
    if isinstance(x, (list, tuple)):
        return any(_has_tensor(e) for e in x)
    return False


def array(obj, dtype=None, copy=True):
    if not _has_tensor(obj):
        a = canonical_array(obj) if dtype is None else np.asarray(obj, dtype=as_dtype(dtype).np)
        return np.array(a, copy=True) if copy else a
    if isinstance(obj, Tensor):
        return obj if dtype is None else lax.convert(obj, as_dtype(dtype))
    from .numpy_core import stack
    items = [array(e, copy=False) if _has_tensor(e) else e for e in obj]
    leaves = [e for e in items]
    dt = as_dtype(dtype) if dtype is not None else lax.result_type(*leaves)
    items = [lax.convert(lax.operand(e) if not lax.is_weak(e) else e, dt) for e in items]
    shapes = {type_of(e).shape for e in items}
    if len(shapes) != 1:
        raise ValueError(f"cannot build an array from items of different shapes {sorted(shapes)}")
    return stack(items, axis=0)


def asarray(obj, dtype=None):
    if is_tensor(obj) and dtype is None:
        return obj
    return array(obj, dtype=dtype, copy=False)
