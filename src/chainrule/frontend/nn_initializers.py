"""chainrule.nn.initializers: jax.nn.initializers' factories, drawing from chainrule.random keys.

An initializer is `init(key, shape, dtype=None)`; a factory (`glorot_uniform()`, `normal(0.1)`, ...)
returns one. The arithmetic follows JAX's, so for the same key the uniform-based initializers give
JAX's values and the normal-based ones agree to the last bits of erf_inv.
"""

from __future__ import annotations

import math

import numpy as np

from ..ir import dtype as as_dtype
from .lax import broadcast_to, default_float_type
from .numpy.ufuncs import multiply, sign
from .numpy.linalg import qr
from .numpy.matrices import diagonal
from .numpy.shapes import moveaxis, reshape, transpose
from . import random as _random


def _dt(dtype):
    return default_float_type() if dtype is None else as_dtype(dtype)


def _shape(shape):
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)


def zeros(key, shape, dtype=None):
    return broadcast_to(np.zeros((), _dt(dtype).np), _shape(shape))


def ones(key, shape, dtype=None):
    return broadcast_to(np.ones((), _dt(dtype).np), _shape(shape))


def constant(value, dtype=None):
    def init(key, shape, dtype=dtype):
        return broadcast_to(np.asarray(value, _dt(dtype).np), _shape(shape))
    return init


def uniform(scale=1e-2, dtype=None):
    def init(key, shape, dtype=dtype):
        dt = _dt(dtype)
        return multiply(_random.uniform(key, _shape(shape), dt), np.asarray(scale, dt.np))
    return init


def normal(stddev=1e-2, dtype=None):
    def init(key, shape, dtype=dtype):
        dt = _dt(dtype)
        return multiply(_random.normal(key, _shape(shape), dt), np.asarray(stddev, dt.np))
    return init


def truncated_normal(stddev=1e-2, dtype=None, lower=-2.0, upper=2.0):
    def init(key, shape, dtype=dtype):
        dt = _dt(dtype)
        return multiply(_random.truncated_normal(key, lower, upper, _shape(shape), dt), np.asarray(stddev, dt.np))
    return init


def _size(shape, axes):
    if isinstance(axes, (int, np.integer)):
        return shape[axes]
    return math.prod(shape[i] for i in axes)


def compute_fans(shape, in_axis=-2, out_axis=-1, batch_axis=()):
    """(fan_in, fan_out) of a weight shape; the other axes are the receptive field."""
    if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
        raise ValueError(f"Can't compute input and output sizes of a {len(shape)}-dimensional weights tensor "
                         "with default in_axis. Must be at least 2D or specify in_axis explicitly.")
    in_size, out_size, batch = _size(shape, in_axis), _size(shape, out_axis), _size(shape, batch_axis)
    receptive = math.prod(shape) / in_size / out_size / batch
    return in_size * receptive, out_size * receptive


def variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    """Draws with variance scale / fan (mode fan_in, fan_out, fan_avg or fan_geo_avg) from a
    truncated normal, normal or uniform distribution, as jax.nn.initializers.variance_scaling."""
    if mode not in ("fan_in", "fan_out", "fan_avg", "fan_geo_avg"):
        raise ValueError(f"invalid mode for variance scaling initializer: {mode}")
    if distribution not in ("truncated_normal", "normal", "uniform"):
        raise ValueError(f"invalid distribution for variance scaling initializer: {distribution}")

    def init(key, shape, dtype=dtype):
        shape = _shape(shape)
        dt = _dt(dtype)
        fan_in, fan_out = compute_fans(shape, in_axis, out_axis, batch_axis)
        denominator = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
                       "fan_geo_avg": (fan_in * fan_out) ** 0.5}[mode]
        variance = np.asarray(scale / denominator, dt.np)
        if distribution == "truncated_normal":
            stddev = np.sqrt(variance) / np.asarray(.87962566103423978, dt.np)
            return multiply(_random.truncated_normal(key, -2, 2, shape, dt), stddev)
        if distribution == "normal":
            return multiply(_random.normal(key, shape, dt), np.sqrt(variance))
        return multiply(_random.uniform(key, shape, dt, -1), np.sqrt(np.asarray(3, dt.np) * variance))
    return init


def glorot_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    return variance_scaling(1.0, "fan_avg", "uniform", in_axis, out_axis, batch_axis, dtype)


def glorot_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    return variance_scaling(1.0, "fan_avg", "truncated_normal", in_axis, out_axis, batch_axis, dtype)


def lecun_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    return variance_scaling(1.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype)


def lecun_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    return variance_scaling(1.0, "fan_in", "truncated_normal", in_axis, out_axis, batch_axis, dtype)


def he_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    return variance_scaling(2.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype)


def he_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=None):
    return variance_scaling(2.0, "fan_in", "truncated_normal", in_axis, out_axis, batch_axis, dtype)


xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal


def orthogonal(scale=1.0, column_axis=-1, dtype=None):
    """A uniformly random orthogonal matrix (or a stack of orthonormal rows/columns), from the QR
    decomposition of a normal draw with R's diagonal signs folded in, as JAX's."""
    def init(key, shape, dtype=dtype):
        shape = _shape(shape)
        dt = _dt(dtype)
        if len(shape) < 2:
            raise ValueError("orthogonal initializer requires at least a 2D shape")
        n_cols = shape[column_axis]
        n_rows = math.prod(shape) // n_cols
        wide = n_rows < n_cols
        a = _random.normal(key, (n_cols, n_rows) if wide else (n_rows, n_cols), dt)
        q, r = qr(a)
        q = multiply(q, sign(diagonal(r)))
        if wide:
            q = transpose(q)
        rest = tuple(s for i, s in enumerate(shape) if i != column_axis % len(shape))
        q = moveaxis(reshape(q, rest + (n_cols,)), -1, column_axis)
        return multiply(np.asarray(scale, dt.np), q)
    return init


__all__ = ["zeros", "ones", "constant", "uniform", "normal", "truncated_normal", "variance_scaling",
           "glorot_uniform", "glorot_normal", "lecun_uniform", "lecun_normal", "he_uniform", "he_normal",
           "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal", "compute_fans"]
