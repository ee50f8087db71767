"""chainrule.nn: jax.nn's activations, normalisers and attention on symbolic tensors and arrays.

Every function is a composite of IR ops, so it differentiates, batches and compiles like the rest.
Where jax.nn fixes a derivative at a kink, the composite is written so that its derivative agrees
(relu'(0) = 0, relu6' is 0 at 0 and 6, leaky_relu'(0) = 1, hard_tanh'(+-1) = 1), and the
numerically delicate forms are the stable ones (softplus via logaddexp, log_sigmoid = -softplus(-x),
softmax and log_softmax with the maximum subtracted).
"""

from __future__ import annotations

import math

import numpy as np

from .core import bind, type_of
from .custom import custom_jvp
from .lax import broadcast_to, convert, default_float_type, float_operand, normalize_axis, operand
from .numpy.ufuncs import absolute, add, divide, equal, greater, greater_equal, less, less_equal, maximum, minimum, \
    multiply, subtract, where, negative, logical_and
from .numpy.transcendental import exp, expm1, logaddexp, tanh, sqrt
from .numpy.reductions import mean as _mean
from .numpy.special import erfc, log_softmax as _log_softmax, logsumexp, softmax as _softmax
from .numpy.manipulation import split as _split
from .numpy.shapes import expand_dims, moveaxis, reshape
from .numpy.creation import arange
from .numpy.manipulation import repeat


def _f(x):
    return float_operand(x)


def relu(x):
    """max(x, 0), with relu'(0) = 0 as in JAX; NaN passes through."""
    x = _f(x)
    return where(less_equal(x, 0), 0.0, x)


def relu6(x):
    """min(max(x, 0), 6); the derivative is 0 at both kinks, as in JAX."""
    x = _f(x)
    return where(less_equal(x, 0), 0.0, where(greater_equal(x, 6), 6.0, x))


def leaky_relu(x, negative_slope=0.01):
    x = _f(x)
    return where(greater_equal(x, 0), x, multiply(negative_slope, x))


def elu(x, alpha=1.0):
    x = _f(x)
    safe = where(greater(x, 0), 0.0, x)
    return where(greater(x, 0), x, multiply(alpha, expm1(safe)))


def celu(x, alpha=1.0):
    x = _f(x)
    return add(maximum(x, 0.0), multiply(alpha, expm1(divide(minimum(x, 0.0), alpha))))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    return multiply(_SELU_SCALE, elu(x, _SELU_ALPHA))


def _gelu_exact_value(x):
    return multiply(x, divide(erfc(multiply(negative(x), math.sqrt(0.5))), 2.0))


@custom_jvp
def _gelu_exact(x):
    return _gelu_exact_value(x)


@_gelu_exact.defjvp
def _gelu_exact_jvp(primals, tangents):
    # d/dx x Phi(x) = Phi(x) + x phi(x): written out, because differentiating erfc's piecewise
    # polynomial costs ten times its value
    (x,), (t,) = primals, tangents
    cdf = divide(erfc(multiply(negative(x), math.sqrt(0.5))), 2.0)
    pdf = multiply(exp(multiply(-0.5, multiply(x, x))), 1.0 / math.sqrt(2 * math.pi))
    return multiply(x, cdf), multiply(t, add(cdf, multiply(x, pdf)))


def gelu(x, approximate=True):
    """x * Phi(x); approximate=True uses the tanh form (JAX's default)."""
    x = _f(x)
    if approximate:
        c = math.sqrt(2 / math.pi)
        inner = multiply(c, add(x, multiply(0.044715, multiply(x, multiply(x, x)))))
        return multiply(x, multiply(0.5, add(1.0, tanh(inner))))
    return _gelu_exact(x)


def sigmoid(x):
    return bind("logistic", _f(x))


def silu(x):
    x = _f(x)
    return multiply(x, sigmoid(x))


swish = silu


def softplus(x):
    """log(1 + exp(x)), stable for large |x| (logaddexp(x, 0))."""
    return logaddexp(_f(x), 0.0)


def log_sigmoid(x):
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    return negative(softplus(negative(_f(x))))


def soft_sign(x):
    x = _f(x)
    return divide(x, add(absolute(x), 1.0))


def hard_tanh(x):
    """-1 below -1, 1 above 1, x between (derivative 1 at +-1, as in JAX)."""
    x = _f(x)
    return where(greater(x, 1), 1.0, where(less(x, -1), -1.0, x))


def hard_sigmoid(x):
    return divide(relu6(add(_f(x), 3.0)), 6.0)


def hard_silu(x):
    x = _f(x)
    return multiply(x, hard_sigmoid(x))


hard_swish = hard_silu


def sparse_plus(x):
    x = _f(x)
    return where(less_equal(x, -1.0), 0.0, where(greater_equal(x, 1.0), x, multiply(0.25, multiply(add(x, 1.0), add(x, 1.0)))))


def glu(x, axis=-1):
    """Gated linear unit: the first half times the sigmoid of the second half along `axis`."""
    x = _f(x)
    n = type_of(x).shape[normalize_axis(axis, type_of(x).ndim)]
    if n % 2:
        raise ValueError(f"glu: axis {axis} has odd size {n}; it must split into two halves")
    a, b = _split(x, 2, axis=axis)
    return multiply(a, sigmoid(b))


def _no_where(name, where_):
    if where_ is not None:
        raise NotImplementedError(f"{name}(where=...) is not supported yet")


def softmax(x, axis=-1, where=None):
    _no_where("softmax", where)
    return _softmax(_f(x), axis=axis)


def log_softmax(x, axis=-1, where=None):
    _no_where("log_softmax", where)
    return _log_softmax(_f(x), axis=axis)


def one_hot(x, num_classes, *, dtype=None, axis=-1):
    """x[..., None] == arange(num_classes) as floats (default dtype), with the class axis at `axis`;
    out-of-range classes give all zeros."""
    v = operand(x)
    num_classes = int(num_classes)
    t = type_of(v)
    dt = default_float_type() if dtype is None else dtype
    out_axis = normalize_axis(axis, t.ndim + 1)
    classes = arange(num_classes, dtype=t.dtype.np if t.dtype.kind in "iu" else None)
    lhs = expand_dims(v, -1)
    hot = equal(lhs, classes)
    return moveaxis(convert(hot, dt), -1, out_axis)


def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5, where=None):
    """(x - mean) / sqrt(variance + epsilon) along `axis`, as jax.nn.standardize."""
    _no_where("standardize", where)
    x = _f(x)
    m = mean
    if m is None:
        m = _mean(x, axis=axis, keepdims=True)
    if variance is None:
        variance = subtract(_mean(multiply(x, x), axis=axis, keepdims=True), multiply(m, m))
    return multiply(subtract(x, m), bind("rsqrt", _f(add(variance, epsilon))))



def _attention_mask(B, N, T, S, mask, is_causal):
    combined = None
    if mask is not None:
        combined = operand(mask)
        if type_of(combined).dtype.name != "bool":
            raise TypeError(f"dot_product_attention: mask must be a bool array, got {type_of(combined).dtype}")
    if is_causal:
        causal = np.tril(np.ones((T, S), dtype=bool))
        combined = causal if combined is None else logical_and(combined, causal)
    return combined


def dot_product_attention(query, key, value, bias=None, mask=None, *, scale=None, is_causal=False,
                          query_seq_lengths=None, key_value_seq_lengths=None, local_window_size=None,
                          implementation=None):
    """softmax(q k^T * scale + bias, masked) v, as jax.nn.dot_product_attention (the XLA path).

    query is (B, T, N, H) or (T, N, H); key and value (B, S, K, H) with K dividing N (grouped
    attention). `mask` is bool, True keeps a logit (broadcast to (B, N, T, S)); is_causal keeps
    key position s <= query position t. As in JAX, the softmax runs in float32 and masked logits
    are set to -0.7 * the float32 maximum.
    """
    if query_seq_lengths is not None or key_value_seq_lengths is not None or local_window_size is not None:
        raise NotImplementedError("dot_product_attention: sequence lengths and local windows are not supported yet")
    if implementation not in (None, "xla"):
        raise NotImplementedError(f"dot_product_attention: implementation {implementation!r} (only 'xla')")
    q, k, v = _f(query), _f(key), _f(value)
    unbatched = type_of(q).ndim == 3
    if unbatched:
        q, k, v = (expand_dims(a, 0) for a in (q, k, v))
    for name, a in (("query", q), ("key", k), ("value", v)):
        if type_of(a).ndim != 4:
            raise ValueError(f"dot_product_attention: {name} must have shape (B, T, N, H) or (T, N, H), "
                             f"got {type_of(a).shape}")
    B, T, N, H = type_of(q).shape
    S, K = type_of(k).shape[1], type_of(k).shape[2]
    if type_of(k).shape != type_of(v).shape[:3] + (H,) or type_of(k).shape[0] != B or N % K:
        raise ValueError(f"dot_product_attention: key {type_of(k).shape} and value {type_of(v).shape} do not fit "
                         f"query {type_of(q).shape} (same B and H, and key heads dividing the query heads)")
    if K != N:
        k, v = repeat(k, N // K, axis=2), repeat(v, N // K, axis=2)
    dt = type_of(q).dtype
    scale = 1.0 / math.sqrt(H) if scale is None else scale
    # (B, T, N, H) x (B, S, N, H) -> (B, N, T, S)
    logits = bind("dot_general", q, convert(k, dt), lhs_batch=(0, 2), rhs_batch=(0, 2), lhs_contracting=(3,),
                  rhs_contracting=(3,))
    logits = multiply(logits, np.asarray(scale, dt.np))
    if bias is not None:
        logits = convert(add(logits, bias), dt)
    m = _attention_mask(B, N, T, S, mask, is_causal)
    if m is not None:
        big = np.asarray(-0.7 * float(np.finfo(np.float32).max), dt.np)
        logits = where(broadcast_to(m, (B, N, T, S)), logits, big)
    probs = convert(_softmax(convert(logits, "float32"), axis=-1), type_of(v).dtype)
    # (B, N, T, S) x (B, S, N, H) -> (B, N, T, H)
    out = bind("dot_general", probs, v, lhs_batch=(0, 1), rhs_batch=(0, 2), lhs_contracting=(3,),
               rhs_contracting=(1,))
    out = bind("transpose", out, permutation=(0, 2, 1, 3))
    return reshape(out, (T, N, type_of(v).shape[3])) if unbatched else out


__all__ = ["relu", "relu6", "leaky_relu", "elu", "celu", "selu", "gelu", "sigmoid", "silu", "swish", "softplus",
           "log_sigmoid", "soft_sign", "hard_tanh", "hard_sigmoid", "hard_silu", "hard_swish", "sparse_plus", "glu",
           "softmax", "log_softmax", "logsumexp", "one_hot", "standardize", "dot_product_attention"]

del sqrt
