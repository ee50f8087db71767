"""What a warm call may skip: a cheap key for flat arguments, and whether they are exactly a
compiled function's parameters (so a cached caller can hand them to native code unchecked).

Shared by `cr.jit`, `Compiled` and loaded artifacts.
"""

from __future__ import annotations

import numpy as np

from . import pytree

_SCALAR_TYPES = (float, int, bool)
_CANONICAL = frozenset(np.dtype(t) for t in (np.bool_, np.int32, np.int64, np.float32, np.float64))


def fast_key(args):
    """A cheap signature for flat positional arguments (arrays, NumPy or Python scalars of chainrule's
    dtypes, so no conversion is needed beyond wrapping scalars), else None. Arrays contribute their
    shape and dtype, scalars their type, so equal keys mean interchangeable arguments."""
    key = []
    for a in args:
        t = type(a)
        if t is np.ndarray:
            if a.dtype not in _CANONICAL:
                return None
            key.append(a.shape)
            key.append(a.dtype)
        elif t in _SCALAR_TYPES:
            key.append(t)
        elif isinstance(a, np.generic) and a.dtype in _CANONICAL:
            key.append(t)
        else:
            return None
    return tuple(key)


def exact_flat(args, in_tree, param_types) -> bool:
    """Whether `args` are exactly the flat parameters `param_types` (structured as `in_tree`): arrays
    of the compiled shapes and dtypes, and scalars that convert without checks (a NumPy scalar of the
    parameter's dtype, a Python float for a float, a bool for a bool). Python ints take the checked
    path, which reports values out of range."""
    if len(args) != len(param_types) or in_tree not in (pytree.flatten(args)[1], pytree.flatten((args, {}))[1]):
        return False  # (args, {}): the tree of functions traced by jit(...).lower
    for a, t in zip(args, param_types):
        dt = t.dtype.np
        if type(a) is np.ndarray:
            if a.shape != t.shape or a.dtype != dt:
                return False
        elif t.shape != () or not (a.dtype == dt if isinstance(a, np.generic) else
                                    type(a) is {"f": float, "b": bool}.get(dt.kind)):
            return False
    return True
