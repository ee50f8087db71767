"""JVP and transpose rules of the complex-number ops and of `fft`, with JAX's conventions.

All of them are linear over the reals, so the JVP applies the op to the tangent. The transposes
are JAX's (no conjugation except where JAX conjugates), which is what makes `grad` of a
real-valued function of a complex input return JAX's gradient (the conjugate of df/dz* times 2).
"""

from __future__ import annotations

import math

import numpy as np

from ...ir import Literal
from .jvp_rules import jvp
from .transpose_rules import transpose


@jvp("real", "imag", "conj", "fft")
def _linear_unary(e, node, xs, ts, ys):
    return [e.emit(node.op, (ts[0],), node.attrs).results[0]]


@jvp("complex")
def _complex(e, node, xs, ts, ys):
    re = e.materialize(ts[0], xs[0].type)
    im = e.materialize(ts[1], xs[1].type)
    return [e.op("complex", re, im)]


@transpose("real")
def _t_real(e, node, ct, linear):
    x = node.operands[0]
    if not x.dtype.is_complex:
        return [ct]
    return [e.op("complex", ct, e.zeros(ct.type))]  # JAX: complex(t, 0)


@transpose("imag")
def _t_imag(e, node, ct, linear):
    x = node.operands[0]
    if not x.dtype.is_complex:
        return [e.zeros(x.type)]
    return [e.op("complex", e.zeros(ct.type), e.op("negate", ct))]  # JAX: complex(0, -t)


@transpose("complex")
def _t_complex(e, node, ct, linear):
    # JAX: [real(t), imag(-t)]
    return [e.op("real", ct) if linear[0] else None,
            e.op("negate", e.op("imag", ct)) if linear[1] else None]


@transpose("conj")
def _t_conj(e, node, ct, linear):
    return [e.op("conj", ct)]


def _hermitian_mask(e, t, n):
    """1 for the DC entry (and the Nyquist entry of an even n), 2 for the others, along t's last dim."""
    m = t.shape[-1]
    mask = np.full((m,), 2.0, dtype=t.dtype.np)
    mask[0] = 1.0
    if n % 2 == 0:
        mask[-1] = 1.0
    c = e.builder.constant(Literal(mask, t.dtype))
    return e.op("broadcast_in_dim", c, shape=t.shape, broadcast_dimensions=(t.ndim - 1,))


@transpose("fft")
def _t_fft(e, node, ct, linear):
    kind, lengths = node.attrs["fft_type"], tuple(node.attrs["fft_length"])
    if kind in ("FFT", "IFFT"):
        return [e.op("fft", ct, fft_type=kind, fft_length=lengths)]  # the DFT matrix is symmetric
    total = float(math.prod(lengths))
    if kind == "RFFT":  # JAX: N * irfft(conj(t) / mask)
        x = e.op("divide", e.op("conj", ct), _hermitian_mask(e, ct, lengths[-1]))
        y = e.op("fft", x, fft_type="IRFFT", fft_length=lengths)
        return [e.op("multiply", y, e.full(total, y.type))]
    # IRFFT, JAX: conj(mask * rfft(t) / N)
    x = e.op("fft", ct, fft_type="RFFT", fft_length=lengths)
    x = e.op("multiply", x, _hermitian_mask(e, x, lengths[-1]))
    x = e.op("multiply", x, e.full(1.0 / total, x.type))
    return [e.op("conj", x)]
