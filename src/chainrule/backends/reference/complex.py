"""Reference evaluation of the complex-number ops and of `fft`, with NumPy."""

from __future__ import annotations

import numpy as np

from .rules import rule


@rule("real")
def _real(args, attrs, out, regions):
    return (np.ascontiguousarray(np.real(args[0])).astype(out[0].dtype.np, copy=True),)


@rule("imag")
def _imag(args, attrs, out, regions):
    return (np.ascontiguousarray(np.imag(args[0])).astype(out[0].dtype.np, copy=True),)


@rule("complex")
def _complex(args, attrs, out, regions):
    re, im = args
    z = np.empty(re.shape, out[0].dtype.np)
    z.real, z.imag = re, im
    return (z,)


@rule("conj")
def _conj(args, attrs, out, regions):
    return (np.conj(args[0]).astype(out[0].dtype.np, copy=False),)


def fft_numpy(x, fft_type, lengths, out_dtype):
    """numpy.fft over the last len(lengths) axes (computed in double, rounded once to the result type)."""
    axes = tuple(range(x.ndim - len(lengths), x.ndim))
    if fft_type == "FFT":
        y = np.fft.fftn(x, axes=axes)
    elif fft_type == "IFFT":
        y = np.fft.ifftn(x, axes=axes)
    elif fft_type == "RFFT":
        y = np.fft.rfftn(x, axes=axes)
    else:
        y = np.fft.irfftn(x, s=tuple(lengths), axes=axes)
    return np.ascontiguousarray(y).astype(out_dtype, copy=False)


@rule("fft")
def _fft(args, attrs, out, regions):
    return (fft_numpy(args[0], attrs["fft_type"], attrs["fft_length"], out[0].dtype.np),)
