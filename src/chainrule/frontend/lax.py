"""Typed building blocks over `bind`: promotion, broadcasting, casts.

`chainrule.numpy` is written with these. Operands are symbolic Tensors,
NumPy arrays or Python scalars; Python scalars are weakly typed (they take
the other operand's dtype), as in NumPy 2.
"""

from __future__ import annotations

import numpy as np

from ..ir import TensorType, dtype as as_dtype, float32, float64, int64, bool_, result_dtype
from ..ir.complex_ops import complex_dtype
from .config import config
from .core import bind, canonical_array, constant_tensor, is_tensor, type_of
from .tensor import Tensor

WEAK_TYPES = (bool, int, float, complex)


def is_weak(x) -> bool:
    return type(x) in WEAK_TYPES


def operand(x):
    """A Tensor or a canonical NumPy array (Python scalars become 0-d arrays)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (list, tuple)) and any(contains_tensor(e) for e in x):
        return nested(x)
    return canonical_array(x)


def nested(obj, dtype=None):
    """A (nested) list or tuple that holds tensors, as one tensor: NumPy's array(obj) on symbolic leaves."""
    items = [nested(e) if isinstance(e, (list, tuple)) and contains_tensor(e) else e for e in obj]
    dt = as_dtype(dtype) if dtype is not None else result_type(*items)
    items = [convert(operand(e) if not is_weak(e) else e, dt) for e in items]
    shapes = {type_of(e).shape for e in items}
    if len(shapes) != 1:
        raise ValueError(f"cannot build an array from items of different shapes {sorted(shapes)}")
    (shape,) = shapes
    rows = [reshape(e, (1,) + shape) for e in items]
    return rows[0] if len(rows) == 1 else bind("concatenate", *rows, dimension=0)


def contains_tensor(x):
    if isinstance(x, Tensor):
        return True
    if isinstance(x, (list, tuple)):
        return any(contains_tensor(e) for e in x)
    return False


def default_float_type():
    return float64 if config._float == np.float64 else float32


def default_int_type():
    return int64 if config._int == np.int64 else as_dtype("int32")


def dtype_of(x):
    if isinstance(x, Tensor):
        return x.type.dtype
    if is_weak(x):
        return {bool: bool_, int: default_int_type(), float: default_float_type(),
                complex: complex_dtype(default_float_type())}[type(x)]
    return as_dtype(canonical_array(x).dtype)


def _weak_kind(x):
    """'f'/'i'/'b' for a Python scalar or a traced one (a weak Tensor); None for strong values."""
    if type(x) in WEAK_TYPES:
        return {bool: "b", int: "i", float: "f", complex: "c"}[type(x)]
    if type(x) is Tensor and x.weak:
        return x.type.dtype.kind
    return None


def result_type(*xs):
    """NumPy 2 promotion with Python scalars (and traced Python scalars) weak."""
    kinds = [_weak_kind(x) for x in xs]
    strong = [dtype_of(x) for x, k in zip(xs, kinds) if k is None]
    weak = [k for k in kinds if k is not None]
    if strong:
        d = result_dtype(*strong)
        for k in weak:
            if k == "c" and d.kind in "biuf":  # a Python complex makes a float32 operand complex64
                d = complex_dtype(d if d.kind == "f" else default_float_type())
            elif k == "f" and d.kind in "biu":
                d = default_float_type()
            elif k == "i" and d.kind == "b":
                d = default_int_type()
        return d
    if "c" in weak:
        return complex_dtype(default_float_type())
    if "f" in weak:
        return default_float_type()
    if "i" in weak:
        return default_int_type()
    return bool_


def shape_of(x) -> tuple:
    return type_of(x).shape if not is_weak(x) else ()


def convert(x, dt):
    dt = as_dtype(dt)
    if is_weak(x):
        return np.asarray(x, dtype=dt.np)
    x = operand(x)
    if type_of(x).dtype == dt:
        return x
    return bind("convert", x, dtype=dt)


def broadcast_shapes(*shapes) -> tuple:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ValueError(f"shapes {', '.join(str(tuple(s)) for s in shapes)} cannot be broadcast together") from None


def broadcast_to(x, shape):
    x = operand(x)
    shape = tuple(int(s) for s in shape)
    t = type_of(x)
    if t.shape == shape:
        return x
    if len(shape) < t.ndim:
        raise ValueError(f"cannot broadcast shape {t.shape} to the smaller rank shape {shape}")
    lead = len(shape) - t.ndim
    for i, n in enumerate(t.shape):
        if n != 1 and n != shape[lead + i]:
            raise ValueError(f"cannot broadcast shape {t.shape} to {shape}")
    # drop size-1 dims that must expand, so broadcast_in_dim maps the rest directly
    keep = [i for i, n in enumerate(t.shape) if n == shape[lead + i]]
    if len(keep) != t.ndim:
        x = bind("reshape", x, shape=tuple(t.shape[i] for i in keep))
    return bind("broadcast_in_dim", x, shape=shape, broadcast_dimensions=tuple(lead + i for i in keep))


def promote_and_broadcast(*xs):
    """Common dtype and common shape for elementwise ops."""
    dt = result_type(*xs)
    ops = [convert(x, dt) for x in xs]
    shape = broadcast_shapes(*[type_of(o).shape for o in ops])
    if any(is_tensor(o) for o in ops):
        # keep small constants small: broadcast them in the graph, not in memory
        ops = [o if is_tensor(o) or type_of(o).shape == shape else constant_tensor(o) for o in ops]
    return [broadcast_to(o, shape) for o in ops]


def elementwise(op: str, *xs, dtype=None, **attrs):
    ops = promote_and_broadcast(*xs)
    if dtype is not None:
        ops = [convert(o, dtype) for o in ops]
    return bind(op, *ops, **attrs)


def float_operand(x):
    """Ints become float64 (the default float, see cr.config), bools and 8/16-bit integers the
    smallest float that holds them, as NumPy's ufuncs like exp do."""
    x = operand(x)
    d = type_of(x).dtype
    if d.is_float or d.is_complex:
        return x
    if d.bits <= 16:  # NumPy: bool, int8 and uint8 to float16, int16 and uint16 to float32
        return convert(x, result_dtype(d, as_dtype("float16")))
    return convert(x, default_float_type())


def full(shape, value, dt):
    dt = as_dtype(dt)
    c = np.asarray(value, dtype=dt.np)
    if not shape:
        return c
    return broadcast_to(c, tuple(shape))


def full_like(x, value, dt=None):
    t = type_of(x)
    return full(t.shape, value, dt or t.dtype)


def normalize_axis(axis, ndim, name="axis"):
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {axis!r}")
    axis = int(axis)
    if not -ndim <= axis < max(ndim, 1) or (ndim == 0 and axis not in (0, -1)):
        raise ValueError(f"{name} {axis} is out of bounds for an array of dimension {ndim}")
    return axis % ndim if ndim else 0


def normalize_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(normalize_axis(a, ndim) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"repeated axis in {axis}")
        return tuple(sorted(axes))
    return (normalize_axis(axis, ndim),)


def reduce(x, kind, axis=None, keepdims=False):
    x = operand(x)
    t = type_of(x)
    axes = normalize_axes(axis, t.ndim)
    r = bind("reduce", x, kind=kind, dimensions=axes) if axes else x
    if keepdims:
        r = bind("reshape", r, shape=tuple(1 if i in axes else n for i, n in enumerate(t.shape)))
    return r


def reshape(x, shape):
    x = operand(x)
    t = type_of(x)
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    shape = list(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise ValueError("can only specify one unknown dimension (-1)")
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1]))
        if known == 0 or t.size % known:
            raise ValueError(f"cannot reshape array of size {t.size} into shape {tuple(shape)}")
        shape[shape.index(-1)] = t.size // known
    shape = tuple(shape)
    if shape == t.shape:
        return x
    if int(np.prod(shape)) != t.size:
        raise ValueError(f"cannot reshape array of size {t.size} into shape {shape}")
    return bind("reshape", x, shape=shape)


def transpose(x, axes=None):
    x = operand(x)
    n = type_of(x).ndim
    perm = tuple(reversed(range(n))) if axes is None else tuple(normalize_axis(a, n) for a in axes)
    if sorted(perm) != list(range(n)):
        raise ValueError(f"axes {axes} are not a permutation of the {n} dimensions")
    if perm == tuple(range(n)):
        return x
    return bind("transpose", x, permutation=perm)


# --- sorting (the `sort` op; chainrule.numpy's sort, argsort, ... are built on these) ----------------

def sort(operand, dimension=-1, is_stable=True, num_keys=1):
    """jax.lax.sort: one array, or a sequence of arrays of one shape sorted together along `dimension`
    by their first `num_keys` (lexicographically); NaNs last, -0.0 equal to 0.0."""
    single = not isinstance(operand, (tuple, list))
    xs = [globals()["operand"](x) for x in ([operand] if single else operand)]
    if not xs:
        raise ValueError("sort needs at least one operand")
    nd = type_of(xs[0]).ndim
    if nd == 0:
        raise ValueError("sort: the operands must have at least one dimension (got a scalar)")
    if not isinstance(num_keys, (int, np.integer)) or not 1 <= num_keys <= len(xs):
        raise ValueError(f"sort: num_keys must be an integer in [1, {len(xs)}] (the number of operands), "
                         f"got {num_keys!r}")
    out = bind("sort", *xs, dimension=normalize_axis(dimension, nd, "dimension"), is_stable=bool(is_stable),
               num_keys=int(num_keys))
    return out if single else tuple(out) if isinstance(out, tuple) else (out,)


def sort_key_val(keys, values, dimension=-1, is_stable=True):
    """jax.lax.sort_key_val: `values` permuted as `keys` are sorted."""
    return sort((keys, values), dimension, is_stable, 1)


def top_k(operand, k, *, axis=-1):
    """jax.lax.top_k: the k largest entries along `axis` in descending order and their int32 indices;
    equal entries in index order, NaN largest and 0.0 above -0.0 (XLA's total order)."""
    x = globals()["operand"](operand)
    t = type_of(x)
    if t.ndim == 0:
        raise ValueError("top_k: operand must have at least one dimension (got a scalar)")
    axis = normalize_axis(axis, t.ndim)
    n = t.shape[axis]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= n:
        raise ValueError(f"top_k: k must be an integer in [0, {n}] (the size of axis {axis}), got {k!r}")
    # ascending sort of the reversed axis, reversed: descending with ties in index order
    xr = bind("reverse", x, dimensions=(axis,))
    idx = bind("iota", shape=t.shape, dimension=axis, dtype="int32")
    keys = [xr]
    if t.dtype.is_float:  # -0.0 below 0.0: a second key, 1 where 1/x >= 0 (+0.0 and positives)
        recip = elementwise("divide", np.asarray(1, t.dtype.np), xr)
        keys.append(elementwise("compare", recip, np.asarray(0, t.dtype.np), direction="GE"))
    outs = bind("sort", *keys, bind("reverse", idx, dimensions=(axis,)), dimension=axis, num_keys=len(keys))
    vals, ind = outs[0], outs[-1]
    lo = [0] * t.ndim
    hi = list(t.shape)
    lo[axis], hi[axis] = n - k, n
    vals, ind = (bind("reverse", bind("slice", v, start_indices=tuple(lo), limit_indices=tuple(hi),
                                      strides=(1,) * t.ndim), dimensions=(axis,)) for v in (vals, ind))
    return vals, ind


def static_shape(x):
    return type_of(x).shape


def is_symbolic(*xs) -> bool:
    return any(is_tensor(x) for x in xs)


__all__ = [n for n in dir() if not n.startswith("_")]
