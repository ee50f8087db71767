"""Reference evaluation of `sort` (see chainrule.ir.sort_ops): NumPy's stable argsort on the keys.

Keys are made comparable first: for floats -0.0 becomes 0.0 and every NaN the
same NaN (JAX's comparator treats them as equal), so a stable argsort keeps
their order; several keys sort lexicographically, the last key first (each a
stable pass), as np.lexsort does.
"""

from __future__ import annotations

import numpy as np

from .rules import rule


def comparable(x: np.ndarray) -> np.ndarray:
    """The key as sort compares it: -0.0 as 0.0 and every NaN alike (NaN sorts last in NumPy)."""
    if x.dtype.kind == "f":
        x = np.where(x == 0, np.zeros((), x.dtype), x)
        return np.where(np.isnan(x), np.array(np.nan, x.dtype), x)
    return x


@rule("sort")
def _sort(args, attrs, out, regions):
    d, k = attrs["dimension"], attrs["num_keys"]
    arrays = [np.asarray(a) for a in args]
    if arrays[0].size == 0:
        return tuple(a.copy() for a in arrays)
    perm = np.broadcast_to(np.arange(arrays[0].shape[d]).reshape(
        (-1,) + (1,) * (arrays[0].ndim - d - 1)), arrays[0].shape)
    for key in reversed(arrays[:k]):  # least significant key first; each pass stable
        keyed = np.take_along_axis(comparable(key), perm, axis=d)
        perm = np.take_along_axis(perm, np.argsort(keyed, axis=d, kind="stable"), axis=d)
    return tuple(np.take_along_axis(a, perm, axis=d) for a in arrays)
