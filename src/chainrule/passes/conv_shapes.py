"""Shape bookkeeping shared by the convolution and window rules of autodiff and batching.

Every helper takes `em`, anything with `.op(name, *operands, **attrs)` (the
autodiff `Emitter`, the batching `BatchContext`), so the rules read as JAX's.
"""

from __future__ import annotations

import numpy as np

from ..ir.conv_ops import dilate_shape


def reshape_axis_out_of(em, src: int, size1: int, x):
    """Split dimension `src` of x into (size1, rest), size1 major (JAX's _reshape_axis_out_of)."""
    shape = list(x.shape)
    shape[src:src + 1] = [size1, shape[src] // size1]
    return em.op("reshape", x, shape=tuple(shape))


def reshape_axis_into(em, src: int, dst: int, x):
    """Merge dimension `src` into dimension `dst` (numbered with `src` removed), `src` major
    (JAX's _reshape_axis_into)."""
    perm = [i for i in range(x.ndim) if i != src]
    perm.insert(dst, src)
    if perm != list(range(x.ndim)):
        x = em.op("transpose", x, permutation=tuple(perm))
    shape = list(x.shape)
    shape[dst:dst + 2] = [shape[dst] * shape[dst + 1]]
    return em.op("reshape", x, shape=tuple(shape))


def vjp_lhs_padding(in_shape, window, strides, out_shape, padding, lhs_dilation, rhs_dilation):
    """Padding of the transposed convolution (or window sum) that maps the result's cotangent back
    to the lhs (JAX's _conv_general_vjp_lhs_padding)."""
    pads = []
    for n, w, s, o, (lo, _), ld, rd in zip(in_shape, window, strides, out_shape, padding, lhs_dilation, rhs_dilation):
        before = dilate_shape(w, rd) - lo - 1
        after = dilate_shape(n, ld) + dilate_shape(w, rd) - 1 - dilate_shape(o, s) - before
        pads.append((int(before), int(after)))
    return tuple(pads)


def vjp_rhs_padding(in_shape, window, strides, out_shape, padding, lhs_dilation, rhs_dilation):
    """Padding of the convolution that gives the rhs's cotangent (JAX's _conv_general_vjp_rhs_padding)."""
    pads = []
    for n, w, s, o, (lo, _), ld, rd in zip(in_shape, window, strides, out_shape, padding, lhs_dilation, rhs_dilation):
        hi = dilate_shape(o, s) - dilate_shape(n, ld) + dilate_shape(w, rd) - lo - 1
        pads.append((int(lo), int(hi)))
    return tuple(pads)


def spec_transpose(spec):
    """Swap the first two entries of a dimension spec (batch <-> feature)."""
    return (spec[1], spec[0]) + tuple(spec[2:])


def take(shape, dims):
    return tuple(int(v) for v in np.take(shape, dims)) if len(dims) else ()
