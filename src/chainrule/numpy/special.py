"""chainrule.numpy.special: logsumexp, erf and friends (scipy.special's names)."""

from __future__ import annotations

from ..frontend import lax
from ..frontend.core import bind, type_of
from ..frontend import numpy_core as _np


def erf(x):
    return bind("erf", lax.float_operand(x))


def erfc(x):
    x = lax.float_operand(x)
    return bind("subtract", lax.full_like(x, 1.0), bind("erf", x))


def expit(x):
    return bind("logistic", lax.float_operand(x))


def logit(x):
    x = lax.float_operand(x)
    return _np.log(_np.divide(x, _np.subtract(lax.full_like(x, 1.0), x)))


def logsumexp(a, axis=None, b=None, keepdims=False):
    x = lax.float_operand(a)
    if b is not None:
        x = _np.add(x, _np.log(b))
    m = _np.max(x, axis=axis, keepdims=True)
    m = _np.where(_np.isfinite(m), m, lax.full_like(m, 0.0))
    m = bind("stop_gradient", m)
    s = _np.sum(_np.exp(_np.subtract(x, m)), axis=axis, keepdims=True)
    out = _np.add(_np.log(s), m)
    if not keepdims:
        t = type_of(x)
        axes = lax.normalize_axes(axis, t.ndim)
        out = lax.reshape(out, [n for i, n in enumerate(t.shape) if i not in axes])
    return out


def softmax(x, axis=-1):
    x = lax.float_operand(x)
    m = bind("stop_gradient", _np.max(x, axis=axis, keepdims=True))
    e = _np.exp(_np.subtract(x, m))
    return _np.divide(e, _np.sum(e, axis=axis, keepdims=True))


def log_softmax(x, axis=-1):
    x = lax.float_operand(x)
    return _np.subtract(x, logsumexp(x, axis=axis, keepdims=True))
