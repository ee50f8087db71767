"""Array creation, constants and dtypes: array, asarray, zeros, ones, full, *_like, eye, arange,
linspace, logspace, geomspace, copy; NumPy's dtype objects and window functions.
"""

from __future__ import annotations

import builtins
import math

import ml_dtypes
import numpy as np

from ...ir import dtype as as_dtype, result_dtype
from .. import lax
from ..core import canonical_array, is_tensor, type_of
from ..lax import broadcast_to, convert, operand
from ..tensor import Tensor, in_trace
from .ufuncs import add, multiply, power, subtract


pi = np.pi
e = np.e
inf = np.inf
nan = np.nan
newaxis = None

# dtype names users pass around (cnp.float32 etc. are NumPy's, so astype works on both worlds)
bool_ = np.bool_
float16 = np.float16
bfloat16 = ml_dtypes.bfloat16  # NumPy's twin from ml_dtypes, as jnp.bfloat16
float32 = np.float32
float64 = np.float64
int8 = np.int8
int16 = np.int16
int32 = np.int32
int64 = np.int64
uint8 = np.uint8
uint16 = np.uint16
uint32 = np.uint32
uint64 = np.uint64
complex64 = np.complex64
complex128 = np.complex128


# dtype introspection is NumPy's own: it works on tensors' dtypes (NumPy dtypes) unchanged
dtype = np.dtype
finfo = ml_dtypes.finfo  # NumPy's finfo, and bfloat16's too
iinfo = np.iinfo
can_cast = np.can_cast
integer, floating, number, inexact, signedinteger = np.integer, np.floating, np.number, np.inexact, np.signedinteger
unsignedinteger = np.unsignedinteger


def issubdtype(arg1, arg2):
    """NumPy's issubdtype, with bfloat16 a floating type (as jnp.issubdtype has it)."""
    if np.dtype(arg1) == np.dtype(ml_dtypes.bfloat16) and arg2 in (np.floating, np.inexact, np.number, np.generic):
        return True
    return np.issubdtype(arg1, arg2)


def promote_types(type1, type2):
    """The dtype two dtypes promote to: NumPy's rules, and JAX's lattice for bfloat16 (jnp.promote_types)."""
    return np.dtype(result_dtype(as_dtype(np.dtype(type1)), as_dtype(np.dtype(type2))).np)


# --- creation -------------------------------------------------------------------------

def _dt(dtype, default=None):
    """`dtype`, or `default`, or the default float dtype (see cr.config)."""
    if dtype is not None:
        return as_dtype(dtype)
    return lax.default_float_type() if default is None else as_dtype(default)


def _shape_arg(shape):
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)


def _filled(shape, value, d):
    """A constant array; inside a trace a broadcast scalar, so the graph holds no large literal."""
    if in_trace() and math.prod(shape) > 1:
        return lax.full(shape, value, d)
    return np.full(shape, value, d.np)


def zeros(shape, dtype=None):
    return _filled(_shape_arg(shape), 0, _dt(dtype))


def ones(shape, dtype=None):
    return _filled(_shape_arg(shape), 1, _dt(dtype))


def full(shape, fill_value, dtype=None):
    if is_tensor(fill_value):
        d = _dt(dtype, type_of(fill_value).dtype.name)
        return broadcast_to(convert(fill_value, d), _shape_arg(shape))
    d = _dt(dtype, lax.dtype_of(fill_value).name)
    return _filled(_shape_arg(shape), fill_value, d)


def empty(shape, dtype=None):
    return zeros(shape, dtype)


def _like(a, value, dtype, shape):
    t = type_of(operand(a))
    d = _dt(dtype, t.dtype.name)
    sh = t.shape if shape is None else _shape_arg(shape)
    if is_tensor(value):
        return broadcast_to(convert(value, d), sh)
    return _filled(sh, value, d)


def zeros_like(a, dtype=None, shape=None):
    return _like(a, 0, dtype, shape)


def ones_like(a, dtype=None, shape=None):
    return _like(a, 1, dtype, shape)


def full_like(a, fill_value, dtype=None, shape=None):
    return _like(a, fill_value, dtype, shape)


def empty_like(a, dtype=None, shape=None):
    return _like(a, 0, dtype, shape)


def eye(N, M=None, k=0, dtype=None):
    return np.eye(N, M, k, dtype=_dt(dtype).np)


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def arange(start, stop=None, step=None, dtype=None):
    for v in (start, stop, step):
        if is_tensor(v):
            raise TypeError("arange needs concrete (Python) bounds: the length of a tensor must be static")
    r = np.arange(start, stop, step) if stop is not None else np.arange(start)
    if step is not None and stop is not None:
        r = np.arange(start, stop, step)
    d = _dt(dtype, lax.default_int_type() if r.dtype.kind in "iu" else None)
    return r.astype(d.np)


def linspace(start, stop, num=50, endpoint=True, dtype=None):
    if is_tensor(start) or is_tensor(stop):
        n = int(num)
        div = (n - 1) if endpoint else n
        t = np.arange(n, dtype=np.float64) / builtins.max(div, 1)
        start, stop = operand(start), operand(stop)
        s = convert(start, "float64")
        return add(s, multiply(subtract(convert(stop, "float64"), s), t))
    return np.linspace(start, stop, num, endpoint=endpoint, dtype=_dt(dtype).np)


def result_type(*arrays_and_dtypes):
    """NumPy's result_type, accepting tensors (by their dtype) too."""
    items = [np.dtype(a.dtype) if is_tensor(a) else a for a in arrays_and_dtypes]
    try:
        dts = [as_dtype(np.asarray(a).dtype if not isinstance(a, (np.dtype, type, str)) else np.dtype(a))
               for a in items]
    except TypeError:
        return np.result_type(*items)
    if not any(d.name == "bfloat16" for d in dts) or any(type(a) in (bool, int, float) for a in items):
        return np.result_type(*items)
    return np.dtype(result_dtype(*dts).np)  # bfloat16: JAX's lattice


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    if is_tensor(start) or is_tensor(stop) or is_tensor(base):
        return power(base, linspace(start, stop, num, endpoint=endpoint))
    return np.logspace(start, stop, num, endpoint, base, None if dtype is None else as_dtype(dtype).np, axis)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    if is_tensor(start) or is_tensor(stop):
        raise NotImplementedError("geomspace needs concrete bounds")
    return np.geomspace(start, stop, num, endpoint, None if dtype is None else as_dtype(dtype).np, axis)


euler_gamma = np.euler_gamma
isdtype = np.isdtype


def copy(a, order="K"):
    """Tensors are immutable, so a copy is the tensor itself; arrays are copied."""
    x = operand(a)
    return x if is_tensor(x) else np.array(x, copy=True)


def asanyarray(a, dtype=None):
    return asarray(a, dtype=dtype)


ascontiguousarray = asanyarray
broadcast_shapes = np.broadcast_shapes
bartlett, blackman, hamming, hanning, kaiser = np.bartlett, np.blackman, np.hamming, np.hanning, np.kaiser


def array(obj, dtype=None, copy=True):
    if not lax.contains_tensor(obj):
        a = canonical_array(obj) if dtype is None else np.asarray(obj, dtype=as_dtype(dtype).np)
        return np.array(a, copy=True) if copy else a
    if isinstance(obj, Tensor):
        return obj if dtype is None else lax.convert(obj, as_dtype(dtype))
    return lax.nested(obj, dtype)


def asarray(obj, dtype=None):
    if is_tensor(obj) and dtype is None:
        return obj
    return array(obj, dtype=dtype, copy=False)




__all__ = ["pi", "e", "inf", "nan", "newaxis", "bool_", "float32", "float64", "int32", "int64", "complex64",
           "complex128", "dtype", "finfo",
           "float16", "bfloat16", "int8", "int16", "uint8", "uint16", "uint32", "uint64", "unsignedinteger",
           "iinfo", "issubdtype", "promote_types", "can_cast", "integer", "floating", "number", "inexact",
           "signedinteger", "zeros", "ones", "full", "empty", "zeros_like", "ones_like", "full_like", "empty_like",
           "eye", "identity", "arange", "linspace", "result_type", "logspace", "geomspace", "euler_gamma", "isdtype",
           "copy", "asanyarray", "ascontiguousarray", "broadcast_shapes", "bartlett", "blackman", "hamming", "hanning",
           "kaiser", "array", "asarray"]
