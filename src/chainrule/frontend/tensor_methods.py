"""Operators and methods of `Tensor`, delegating to chainrule.numpy."""

from __future__ import annotations

from .located import located
from .numpy import creation, indexing, manipulation, matrices, products, reductions, shapes, sorting, ufuncs
from .numpy.at import AtIndexer
from .numpy.indexing import getitem
from .tensor import Tensor


def _r(fn):
    return lambda self, other: fn(other, self)


def install():
    T = Tensor
    T.__add__ = lambda s, o: ufuncs.add(s, o)
    T.__radd__ = _r(ufuncs.add)
    T.__sub__ = lambda s, o: ufuncs.subtract(s, o)
    T.__rsub__ = _r(ufuncs.subtract)
    T.__mul__ = lambda s, o: ufuncs.multiply(s, o)
    T.__rmul__ = _r(ufuncs.multiply)
    T.__truediv__ = lambda s, o: ufuncs.divide(s, o)
    T.__rtruediv__ = _r(ufuncs.divide)
    T.__floordiv__ = lambda s, o: ufuncs.floor_divide(s, o)
    T.__rfloordiv__ = _r(ufuncs.floor_divide)
    T.__mod__ = lambda s, o: ufuncs.remainder(s, o)
    T.__rmod__ = _r(ufuncs.remainder)
    T.__pow__ = lambda s, o: ufuncs.power(s, o)
    T.__rpow__ = _r(ufuncs.power)
    T.__matmul__ = lambda s, o: products.matmul(s, o)
    T.__rmatmul__ = _r(products.matmul)
    T.__neg__ = lambda s: ufuncs.negative(s)
    T.__pos__ = lambda s: s
    T.__abs__ = lambda s: ufuncs.absolute(s)
    T.__invert__ = lambda s: ufuncs.invert(s)
    T.__and__ = lambda s, o: ufuncs.bitwise_and(s, o)
    T.__rand__ = _r(ufuncs.bitwise_and)
    T.__or__ = lambda s, o: ufuncs.bitwise_or(s, o)
    T.__ror__ = _r(ufuncs.bitwise_or)
    T.__xor__ = lambda s, o: ufuncs.bitwise_xor(s, o)
    T.__rxor__ = _r(ufuncs.bitwise_xor)
    T.__lshift__ = lambda s, o: ufuncs.left_shift(s, o)
    T.__rlshift__ = _r(ufuncs.left_shift)
    T.__rshift__ = lambda s, o: ufuncs.right_shift(s, o)
    T.__rrshift__ = _r(ufuncs.right_shift)
    T.__lt__ = lambda s, o: ufuncs.less(s, o)
    T.__le__ = lambda s, o: ufuncs.less_equal(s, o)
    T.__gt__ = lambda s, o: ufuncs.greater(s, o)
    T.__ge__ = lambda s, o: ufuncs.greater_equal(s, o)
    T.__eq__ = lambda s, o: ufuncs.equal(s, o)
    T.__ne__ = lambda s, o: ufuncs.not_equal(s, o)
    T.__getitem__ = getitem
    T.T = property(lambda s: shapes.transpose(s))
    T.mT = property(lambda s: shapes.swapaxes(s, -1, -2))
    T.at = property(lambda s: AtIndexer(s))
    T.reshape = lambda s, *shape, **kw: shapes.reshape(s, shape[0] if len(shape) == 1 else shape, **kw)
    T.astype = lambda s, dtype: shapes.astype(s, dtype)
    T.transpose = lambda s, *axes: shapes.transpose(s, (axes[0] if len(axes) == 1 else axes) if axes else None)
    T.ravel = lambda s: shapes.ravel(s)
    T.flatten = lambda s: shapes.ravel(s)
    T.squeeze = lambda s, axis=None: shapes.squeeze(s, axis)
    T.swapaxes = lambda s, a, b: shapes.swapaxes(s, a, b)
    T.sum = lambda s, axis=None, dtype=None, keepdims=False, **kw: reductions.sum(s, axis, dtype, keepdims, **kw)
    T.prod = lambda s, axis=None, dtype=None, keepdims=False, **kw: reductions.prod(s, axis, dtype, keepdims, **kw)
    T.mean = lambda s, axis=None, dtype=None, keepdims=False, **kw: reductions.mean(s, axis, dtype, keepdims, **kw)
    T.var = lambda s, axis=None, dtype=None, ddof=0, keepdims=False, **kw: reductions.var(s, axis, dtype, ddof, keepdims, **kw)
    T.std = lambda s, axis=None, dtype=None, ddof=0, keepdims=False, **kw: reductions.std(s, axis, dtype, ddof, keepdims, **kw)
    T.max = lambda s, axis=None, keepdims=False, initial=None, **kw: reductions.max(s, axis, keepdims, initial, **kw)
    T.min = lambda s, axis=None, keepdims=False, initial=None, **kw: reductions.min(s, axis, keepdims, initial, **kw)
    T.argmax = lambda s, axis=None, keepdims=False: reductions.argmax(s, axis, keepdims)
    T.argmin = lambda s, axis=None, keepdims=False: reductions.argmin(s, axis, keepdims)
    T.all = lambda s, axis=None, keepdims=False, **kw: reductions.all(s, axis, keepdims, **kw)
    T.any = lambda s, axis=None, keepdims=False, **kw: reductions.any(s, axis, keepdims, **kw)
    T.clip = lambda s, a_min=None, a_max=None: ufuncs.clip(s, a_min, a_max)
    T.dot = lambda s, o: products.dot(s, o)
    T.round = lambda s, decimals=0: ufuncs.round(s, decimals)
    T.cumsum = lambda s, axis=None, dtype=None: reductions.cumsum(s, axis, dtype)
    T.cumprod = lambda s, axis=None, dtype=None: reductions.cumprod(s, axis, dtype)
    T.trace = lambda s, offset=0, axis1=0, axis2=1, dtype=None: matrices.trace(s, offset, axis1, axis2, dtype)
    T.diagonal = lambda s, offset=0, axis1=0, axis2=1: matrices.diagonal(s, offset, axis1, axis2)
    T.repeat = lambda s, repeats, axis=None: manipulation.repeat(s, repeats, axis)
    T.take = lambda s, indices, axis=None, mode=None: indexing.take(s, indices, axis, mode)
    T.nonzero = _nonzero
    T.__divmod__ = lambda s, o: (ufuncs.floor_divide(s, o), ufuncs.remainder(s, o))
    T.__rdivmod__ = lambda s, o: (ufuncs.floor_divide(o, s), ufuncs.remainder(o, s))
    T.__setitem__ = _setitem
    T.argsort = lambda s, axis=-1, kind=None, order=None, stable=None: sorting.argsort(s, axis, kind, order, stable)
    T.searchsorted = lambda s, v, side="left", sorter=None: sorting.searchsorted(s, v, side, sorter)
    T.compress = lambda s, condition, axis=None: indexing.compress(condition, s, axis)
    T.sort = T.fill = T.put = T.resize = _in_place
    T.item = T.tolist = T.tobytes = _no_value
    T.__copy__ = lambda s: s
    T.__deepcopy__ = lambda s, memo: s
    T.__array_ufunc__ = _array_ufunc
    T.__array_function__ = _array_function
    # real tensors: conj/real are the identity, imag is zero; copy is the identity (tensors are immutable)
    T.conj = T.conjugate = T.copy = lambda s: s
    T.real = property(lambda s: s)
    T.imag = property(lambda s: creation.zeros_like(s))
    T.itemsize = property(lambda s: s.type.dtype.itemsize)
    T.nbytes = property(lambda s: s.type.nbytes)
    T.__array_namespace__ = lambda s, api_version=None: __import__("chainrule.numpy").numpy


def _locate_methods():
    """Operators and methods report errors at the user's line, like the cnp functions."""
    for name, value in list(vars(Tensor).items()):
        if callable(value) and (not name.startswith("__") or name in _OPERATORS) and name not in _PLUMBING:
            setattr(Tensor, name, located(value))


_PLUMBING = {"__init__", "__repr__", "__hash__", "__bool__", "__index__", "__float__", "__int__", "__array__",
             "__len__", "__iter__"}
_OPERATORS = {f"__{n}__" for n in ("add radd sub rsub mul rmul truediv rtruediv floordiv rfloordiv mod rmod pow "
                                    "rpow matmul rmatmul neg pos abs invert and rand or ror xor rxor lt le gt ge "
                                    "eq ne getitem setitem divmod rdivmod").split()}


def _in_place(self, *args, **kwargs):
    raise TypeError("tensors are immutable: in-place methods (sort, fill, put, resize) are not available; use the "
                    "functions instead (y = cnp.sort(x), cnp.full_like(x, v), x.at[idx].set(v), cnp.resize)")


def _no_value(self, *args, **kwargs):
    raise TypeError(f"a symbolic tensor {self.type} has no concrete value yet (item/tolist/tobytes); return it "
                    "from the traced function instead")


def _namespace(module: str):
    """chainrule.numpy's twin of a NumPy module, or None."""
    import chainrule.numpy as cnp_ns
    return {"numpy": cnp_ns, "numpy.linalg": cnp_ns.linalg}.get(module)


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    """NumPy ufuncs applied to tensors (np.sin(t), ndarray + t, np.add.reduce(t)) run chainrule.numpy's."""
    if kwargs.get("out") is not None:
        raise TypeError(f"numpy.{ufunc.__name__}(..., out=...) writes in place, which tensors cannot")
    kwargs.pop("out", None)
    fn = getattr(_namespace("numpy"), ufunc.__name__, None)
    if fn is None:
        raise NotImplementedError(f"numpy.{ufunc.__name__} is not supported on chainrule tensors yet")
    if method != "__call__":
        fn = getattr(fn, method, None)
        if fn is None:
            raise NotImplementedError(f"numpy.{ufunc.__name__}.{method} is not supported on chainrule tensors yet")
    return fn(*inputs, **kwargs)


def _array_function(self, func, types, args, kwargs):
    """NumPy functions called on tensors (np.sum(t), np.linalg.norm(t)) run chainrule.numpy's."""
    module = func.__module__ or "numpy"
    fn = getattr(_namespace(module), func.__name__, None)
    if fn is None:
        raise NotImplementedError(f"{module}.{func.__name__} is not supported on chainrule tensors yet; "
                                  "chainrule.numpy has no function of that name")
    return fn(*args, **kwargs)


def _setitem(self, idx, value):
    raise TypeError("tensors are immutable and do not support item assignment; use "
                    "y = x.at[idx].set(value) (or .add/.multiply) for a functional update")


def _nonzero(self):
    raise NotImplementedError("nonzero has a data-dependent shape; use cnp.where(mask, x, 0) or "
                              "cnp.count_nonzero instead")


install()
_locate_methods()
