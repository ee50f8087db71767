"""Pooling as flax.linen's: max_pool, min_pool, avg_pool over channels-last inputs.

`inputs` is (batch..., spatial..., features) with one spatial dimension per
entry of `window_shape` (no batch dimension is fine too); the window slides
over the spatial dimensions only. `padding` is 'VALID', 'SAME' or one
(low, high) pair per spatial dimension. Built on reduce_window, so they
differentiate (max pooling's gradient goes to the first maximum of each
window, as in JAX) and batch under vmap.
"""

from __future__ import annotations

import math

import numpy as np

from .core import bind, type_of
from .lax import convert, float_operand, full, operand
from .lax_conv import reduce_window_max, reduce_window_min, reduce_window_sum


def _window(fn, x, window_shape, strides, padding):
    window_shape = tuple(int(w) for w in window_shape)
    nd = type_of(x).ndim
    nsp = len(window_shape)
    batch = nd - nsp - 1
    if batch < 0:
        raise ValueError(f"{fn}: inputs of shape {type_of(x).shape} have too few dimensions for a {nsp}-d window "
                         "(expected (batch..., spatial..., features))")
    strides = tuple(int(s) for s in strides) if strides is not None else (1,) * nsp
    if len(strides) != nsp:
        raise ValueError(f"{fn}: strides {strides} must have one entry per window dimension ({nsp})")
    dims = (1,) * batch + window_shape + (1,)
    steps = (1,) * batch + strides + (1,)
    if not isinstance(padding, str):
        pads = tuple(tuple(p) for p in padding)
        if len(pads) != nsp:
            raise ValueError(f"{fn}: padding {padding!r} must have one (low, high) pair per window dimension ({nsp})")
        padding = ((0, 0),) * batch + pads + ((0, 0),)
    return dims, steps, padding


def max_pool(inputs, window_shape, strides=None, padding="VALID"):
    """The max over each window (flax.linen.max_pool)."""
    x = operand(inputs)
    dims, steps, padding = _window("max_pool", x, window_shape, strides, padding)
    return reduce_window_max(x, dims, steps, padding)


def min_pool(inputs, window_shape, strides=None, padding="VALID"):
    """The min over each window (flax.linen.min_pool)."""
    x = operand(inputs)
    dims, steps, padding = _window("min_pool", x, window_shape, strides, padding)
    return reduce_window_min(x, dims, steps, padding)


def avg_pool(inputs, window_shape, strides=None, padding="VALID", count_include_pad=True):
    """The mean over each window (flax.linen.avg_pool); with count_include_pad=False padded
    positions do not count in the divisor."""
    x = float_operand(operand(inputs))
    dims, steps, padding = _window("avg_pool", x, window_shape, strides, padding)
    total = reduce_window_sum(x, dims, steps, padding)
    dt = type_of(total).dtype
    if count_include_pad:
        return bind("divide", total, full(type_of(total).shape, math.prod(window_shape), dt))
    ones = np.ones(type_of(x).shape, dt.np)
    count = reduce_window_sum(ones, dims, steps, padding)   # concrete: a constant of the counts
    return bind("divide", total, convert(count, dt))


__all__ = ["avg_pool", "max_pool", "min_pool"]
