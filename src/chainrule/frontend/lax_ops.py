"""chainrule.lax, part one: jax.lax's slicing, padding, broadcasting, contraction and elementwise names.

Each function takes JAX's arguments and keeps JAX's semantics (lax's, not NumPy's: no implicit
broadcasting of array operands, explicit dimension numbers); they bind the IR ops of the same
StableHLO name, so they work on concrete arrays at once and on symbolic tensors inside a trace.
"""

from __future__ import annotations

import numpy as np

from ..ir import dtype as as_dtype
from .core import bind, is_tensor, type_of
from .lax import broadcast_to, convert, elementwise, normalize_axis, operand, result_type
from .numpy.ufuncs import where, less
from .numpy.special_normal import erfinv


def _ints(name, what, v):
    try:
        out = tuple(int(i) for i in v)
    except TypeError:
        raise TypeError(f"{name}: {what} must be a sequence of integers, got {v!r}") from None
    return out


def _index_scalar(name, i, size, allow_negative):
    """A scalar integer start index as a tensor/array; negative ones wrap once (JAX's default)."""
    if isinstance(i, (bool, np.bool_)):
        raise TypeError(f"{name}: indices must be integers, got a bool")
    if isinstance(i, (int, np.integer)):
        i = int(i)
        if allow_negative and i < 0:
            i += size
        return np.asarray(i, np.int64)
    x = operand(i)
    t = type_of(x)
    if t.shape != () or t.dtype.kind not in "iu":
        raise TypeError(f"{name}: each start index must be a scalar integer, got {t}")
    if t.dtype.kind == "u" or t.dtype.bits < 64:
        x = convert(x, "int64")
    if allow_negative:
        x = where(less(x, 0), bind("add", x, np.asarray(size, np.int64)), x)
    return x


def _starts(name, start_indices, shape, allow_negative):
    if is_tensor(start_indices) or isinstance(start_indices, np.ndarray):
        a = operand(start_indices)
        if type_of(a).ndim != 1:
            raise TypeError(f"{name}: start_indices must be a sequence of scalars or a 1-d array")
        start_indices = [bind("reshape", bind("slice", a, start_indices=(i,), limit_indices=(i + 1,), strides=()),
                              shape=()) for i in range(type_of(a).shape[0])]
    starts = list(start_indices)
    if len(starts) != len(shape):
        raise ValueError(f"{name}: got {len(starts)} start indices for an operand of rank {len(shape)}")
    neg = allow_negative if isinstance(allow_negative, (list, tuple)) else [allow_negative] * len(shape)
    return [_index_scalar(name, s, n, a) for s, n, a in zip(starts, shape, neg)]


def dynamic_slice(operand_, start_indices, slice_sizes, *, allow_negative_indices=True):
    """operand[start:start+size] per dimension, starts clamped into range (XLA), negative starts wrapped."""
    x = operand(operand_)
    t = type_of(x)
    sizes = _ints("dynamic_slice", "slice_sizes", slice_sizes)
    starts = _starts("dynamic_slice", start_indices, t.shape, allow_negative_indices)
    return bind("dynamic_slice", x, *starts, slice_sizes=sizes)


def dynamic_update_slice(operand_, update, start_indices, *, allow_negative_indices=True):
    """operand with `update` written at the (clamped) start indices."""
    x = operand(operand_)
    t = type_of(x)
    u = convert(operand(update), t.dtype)
    starts = _starts("dynamic_update_slice", start_indices, t.shape, allow_negative_indices)
    return bind("dynamic_update_slice", x, u, *starts)


def dynamic_slice_in_dim(operand_, start_index, slice_size, axis=0, *, allow_negative_indices=True):
    x = operand(operand_)
    t = type_of(x)
    axis = normalize_axis(axis, t.ndim)
    starts = [0] * t.ndim
    starts[axis] = start_index
    sizes = list(t.shape)
    sizes[axis] = int(slice_size)
    neg = [False] * t.ndim
    neg[axis] = allow_negative_indices
    return dynamic_slice(x, starts, sizes, allow_negative_indices=neg)


def dynamic_index_in_dim(operand_, index, axis=0, keepdims=True, *, allow_negative_indices=True):
    x = operand(operand_)
    axis = normalize_axis(axis, type_of(x).ndim)
    r = dynamic_slice_in_dim(x, index, 1, axis, allow_negative_indices=allow_negative_indices)
    return r if keepdims else squeeze(r, (axis,))


def dynamic_update_slice_in_dim(operand_, update, start_index, axis, *, allow_negative_indices=True):
    x = operand(operand_)
    t = type_of(x)
    axis = normalize_axis(axis, t.ndim)
    starts = [0] * t.ndim
    starts[axis] = start_index
    neg = [False] * t.ndim
    neg[axis] = allow_negative_indices
    return dynamic_update_slice(x, update, starts, allow_negative_indices=neg)


def dynamic_update_index_in_dim(operand_, update, index, axis, *, allow_negative_indices=True):
    x = operand(operand_)
    t = type_of(x)
    axis = normalize_axis(axis, t.ndim)
    u = operand(update)
    if type_of(u).ndim == t.ndim - 1:
        u = expand_dims(u, (axis,))
    return dynamic_update_slice_in_dim(x, u, index, axis, allow_negative_indices=allow_negative_indices)


def slice(operand_, start_indices, limit_indices, strides=None):  # noqa: A001  (jax.lax's name)
    """The static slice operand[start:limit:stride] per dimension (StableHLO slice)."""
    x = operand(operand_)
    start = _ints("slice", "start_indices", start_indices)
    limit = _ints("slice", "limit_indices", limit_indices)
    st = () if strides is None else _ints("slice", "strides", strides)
    if any(s <= 0 for s in st):
        raise ValueError(f"slice: strides must be positive, got {st}")
    return bind("slice", x, start_indices=start, limit_indices=limit, strides=st)


def slice_in_dim(operand_, start_index, limit_index, stride=1, axis=0):
    """slice along one axis; None means the ends, negative indices count from the end (as JAX)."""
    x = operand(operand_)
    t = type_of(x)
    axis = normalize_axis(axis, t.ndim)
    n = t.shape[axis]
    s = 0 if start_index is None else int(start_index)
    e = n if limit_index is None else int(limit_index)
    s, e = (s + n if s < 0 else s), (e + n if e < 0 else e)
    start = [0] * t.ndim
    limit = list(t.shape)
    strides = [1] * t.ndim
    start[axis], limit[axis], strides[axis] = s, e, int(stride)
    return slice(x, start, limit, strides)


def index_in_dim(operand_, index, axis=0, keepdims=True):
    x = operand(operand_)
    t = type_of(x)
    axis = normalize_axis(axis, t.ndim)
    i = int(index)
    n = t.shape[axis]
    if not -n <= i < n:
        raise IndexError(f"index_in_dim: index {i} is out of bounds for axis {axis} of size {n}")
    i = i % n
    r = slice_in_dim(x, i, i + 1, 1, axis)
    return r if keepdims else squeeze(r, (axis,))


def pad(operand_, padding_value, padding_config):
    """StableHLO pad: padding_config is one (low, high, interior) per dimension; low/high may be negative."""
    x = operand(operand_)
    t = type_of(x)
    cfg = [tuple(int(v) for v in c) for c in padding_config]
    if len(cfg) != t.ndim or any(len(c) != 3 for c in cfg):
        raise ValueError(f"pad: padding_config must hold one (low, high, interior) triple per dimension "
                         f"({t.ndim}), got {padding_config!r}")
    if any(c[2] < 0 for c in cfg):
        raise ValueError(f"pad: interior padding must be non-negative, got {padding_config!r}")
    v = convert(operand(padding_value), t.dtype)
    if type_of(v).shape != ():
        raise TypeError(f"pad: padding_value must be a scalar, got shape {type_of(v).shape}")
    return bind("pad", x, v, edge_padding_low=tuple(c[0] for c in cfg), edge_padding_high=tuple(c[1] for c in cfg),
                interior_padding=tuple(c[2] for c in cfg))


def concatenate(operands, dimension):
    xs = [operand(o) for o in operands]
    if not xs:
        raise ValueError("concatenate: needs at least one operand")
    dt = result_type(*xs)
    xs = [convert(o, dt) for o in xs]
    return bind("concatenate", *xs, dimension=normalize_axis(dimension, type_of(xs[0]).ndim))


def broadcast_in_dim(operand_, shape, broadcast_dimensions):
    x = operand(operand_)
    return bind("broadcast_in_dim", x, shape=_ints("broadcast_in_dim", "shape", shape),
                broadcast_dimensions=_ints("broadcast_in_dim", "broadcast_dimensions", broadcast_dimensions))


def broadcast(operand_, sizes):
    """Adds leading dimensions `sizes`."""
    x = operand(operand_)
    t = type_of(x)
    sizes = _ints("broadcast", "sizes", sizes)
    return broadcast_in_dim(x, sizes + t.shape, range(len(sizes), len(sizes) + t.ndim))


def reshape(operand_, new_sizes, dimensions=None):
    x = operand(operand_)
    if dimensions is not None:
        x = transpose(x, dimensions)
    return bind("reshape", x, shape=_ints("reshape", "new_sizes", new_sizes))


def squeeze(array, dimensions):
    x = operand(array)
    t = type_of(x)
    dims = {normalize_axis(d, t.ndim) for d in dimensions}
    for d in dims:
        if t.shape[d] != 1:
            raise ValueError(f"squeeze: dimension {d} has size {t.shape[d]}, not 1")
    return bind("reshape", x, shape=tuple(n for i, n in enumerate(t.shape) if i not in dims))


def expand_dims(array, dimensions):
    x = operand(array)
    t = type_of(x)
    nd = t.ndim + len(dimensions)
    dims = sorted(normalize_axis(d, nd) for d in dimensions)
    shape = list(t.shape)
    for d in dims:
        shape.insert(d, 1)
    return bind("reshape", x, shape=tuple(shape))


def rev(operand_, dimensions):
    x = operand(operand_)
    dims = tuple(sorted(normalize_axis(d, type_of(x).ndim) for d in dimensions))
    return bind("reverse", x, dimensions=dims) if dims else x


def transpose(operand_, permutation):
    x = operand(operand_)
    perm = _ints("transpose", "permutation", permutation)
    return bind("transpose", x, permutation=perm) if perm != tuple(range(len(perm))) else x


def dot_general(lhs, rhs, dimension_numbers, precision=None, preferred_element_type=None):
    """jax.lax.dot_general: dimension_numbers = ((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))."""
    a, b = operand(lhs), operand(rhs)
    try:
        (lc, rc), (lb, rb) = dimension_numbers
    except (TypeError, ValueError):
        raise TypeError("dot_general: dimension_numbers must be ((lhs_contracting, rhs_contracting), "
                        f"(lhs_batch, rhs_batch)), got {dimension_numbers!r}") from None
    dt = result_type(a, b)
    if dt.is_bool:
        dt = as_dtype("int32")
    a, b = convert(a, dt), convert(b, dt)
    r = bind("dot_general", a, b, lhs_contracting=_ints("dot_general", "lhs_contracting", lc),
             rhs_contracting=_ints("dot_general", "rhs_contracting", rc),
             lhs_batch=_ints("dot_general", "lhs_batch", lb), rhs_batch=_ints("dot_general", "rhs_batch", rb))
    return r if preferred_element_type is None else convert(r, preferred_element_type)


def select(pred, on_true, on_false):
    """Elementwise pred ? on_true : on_false; pred is bool of the branches' shape (or a scalar)."""
    p, a, b = operand(pred), operand(on_true), operand(on_false)
    if type_of(p).dtype.name != "bool":
        raise TypeError(f"select: pred must be a bool array, got {type_of(p).dtype}")
    if type_of(a) != type_of(b):
        raise TypeError(f"select: on_true and on_false must have one type, got {type_of(a)} and {type_of(b)}")
    return bind("select", broadcast_to(p, type_of(a).shape), a, b)


def select_n(which, *cases):
    """cases[which] elementwise (which bool or int)."""
    if not cases:
        raise ValueError("select_n: needs at least one case")
    w = operand(which)
    out = cases[0]
    if type_of(w).dtype.name == "bool":
        if len(cases) != 2:
            raise ValueError("select_n: a bool `which` needs exactly two cases")
        return select(w, cases[1], cases[0])
    for i, c in enumerate(cases[1:], start=1):
        out = select(bind("compare", w, broadcast_to(np.asarray(i, type_of(w).dtype.np), type_of(w).shape),
                          direction="EQ"), c, out)
    return out


def clamp(min, x, max):  # noqa: A002  (jax.lax's names)
    """min(max(x, min), max) elementwise; min and max may be scalars."""
    v = operand(x)
    t = type_of(v)
    lo = broadcast_to(convert(operand(min), t.dtype), t.shape)
    hi = broadcast_to(convert(operand(max), t.dtype), t.shape)
    return bind("clamp", lo, v, hi)


def integer_pow(x, y):
    """x ** y for a static integer y, by repeated multiplication (as XLA expands it)."""
    if isinstance(y, bool) or not isinstance(y, (int, np.integer)):
        raise TypeError(f"integer_pow: y must be a Python int, got {y!r}")
    v = operand(x)
    t = type_of(v)
    y = int(y)
    if y == 0:
        return broadcast_to(np.asarray(1, t.dtype.np), t.shape)
    n, acc, base = -y if y < 0 else y, None, v
    while n:
        if n & 1:
            acc = base if acc is None else bind("multiply", acc, base)
        n >>= 1
        if n:
            base = bind("multiply", base, base)
    if y < 0:
        acc = bind("divide", broadcast_to(np.asarray(1, t.dtype.np), t.shape), acc)
    return acc


def _unary(op, doc):
    def f(x):
        v = operand(x)
        if not type_of(v).dtype.is_float:
            raise TypeError(f"{f.__name__}: needs a float operand, got {type_of(v).dtype}")
        return bind(op, v)
    f.__doc__ = doc
    return f


rsqrt = _unary("rsqrt", "1 / sqrt(x).")
rsqrt.__name__ = "rsqrt"
logistic = _unary("logistic", "1 / (1 + exp(-x)).")
logistic.__name__ = "logistic"


def _elementwise(op, doc):
    def f(*xs):
        return elementwise(op, *xs)
    f.__doc__ = doc
    return f


add, sub, mul, div, rem = (_elementwise(o, f"Elementwise {o} (jax.lax's name).") for o in
                           ("add", "subtract", "multiply", "divide", "remainder"))
max, min, pow, atan2 = (_elementwise(o, f"Elementwise {o} (jax.lax's name).") for o in  # noqa: A001
                        ("maximum", "minimum", "power", "atan2"))
neg, abs, sign, exp, expm1, log, log1p, tanh, sqrt, sin, cos, floor, ceil = (  # noqa: A001
    _elementwise(o, f"Elementwise {o} (jax.lax's name).") for o in
    ("negate", "abs", "sign", "exponential", "exponential_minus_one", "log", "log_plus_one", "tanh", "sqrt",
     "sine", "cosine", "floor", "ceil"))
for _f, _n in zip((add, sub, mul, div, rem, max, min, pow, atan2, neg, abs, sign, exp, expm1, log, log1p, tanh, sqrt,
                   sin, cos, floor, ceil),
                  ("add sub mul div rem max min pow atan2 neg abs sign exp expm1 log log1p tanh sqrt sin cos floor "
                   "ceil").split()):
    _f.__name__ = _f.__qualname__ = _n


def erf_inv(x):
    """The inverse error function."""
    return erfinv(x)


def convert_element_type(operand_, new_dtype):
    return convert(operand(operand_), new_dtype)


def iota(dtype, size):
    return bind("iota", dtype=as_dtype(dtype), shape=(int(size),), dimension=0)


def full(shape, fill_value, dtype=None):
    v = np.asarray(fill_value, dtype=None if dtype is None else as_dtype(dtype).np)
    return broadcast_to(operand(v), _ints("full", "shape", shape))


def _reducer(kind):
    def f(operand_, axes):
        x = operand(operand_)
        dims = tuple(sorted(normalize_axis(a, type_of(x).ndim) for a in axes))
        return bind("reduce", x, kind=kind, dimensions=dims) if dims else x
    f.__name__ = f"reduce_{kind if kind not in ('prod',) else 'prod'}"
    f.__doc__ = f"The {kind} over `axes`."
    return f


reduce_sum, reduce_prod, reduce_max, reduce_min = (_reducer(k) for k in ("sum", "prod", "max", "min"))
reduce_and, reduce_or = _reducer("and"), _reducer("or")


def argmax(operand_, axis, index_dtype):
    x = operand(operand_)
    return bind("argmax", x, dimension=normalize_axis(axis, type_of(x).ndim), index_dtype=as_dtype(index_dtype))


def argmin(operand_, axis, index_dtype):
    x = operand(operand_)
    return bind("argmin", x, dimension=normalize_axis(axis, type_of(x).ndim), index_dtype=as_dtype(index_dtype))


__all__ = ["dynamic_slice", "dynamic_update_slice", "dynamic_slice_in_dim", "dynamic_index_in_dim",
           "dynamic_update_slice_in_dim", "dynamic_update_index_in_dim", "slice", "slice_in_dim", "index_in_dim",
           "pad", "concatenate", "broadcast_in_dim", "broadcast", "reshape", "squeeze", "expand_dims", "rev",
           "transpose", "dot_general", "select", "select_n", "clamp", "integer_pow", "rsqrt", "logistic", "erf_inv",
           "convert_element_type", "iota", "full", "reduce_sum", "reduce_prod", "reduce_max", "reduce_min",
           "reduce_and", "reduce_or", "argmax", "argmin", "add", "sub", "mul", "div", "rem", "max", "min", "pow",
           "atan2", "neg", "abs", "sign", "exp", "expm1", "log", "log1p", "tanh", "sqrt", "sin", "cos", "floor", "ceil"]
