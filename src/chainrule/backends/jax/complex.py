"""Lowerings of the complex-number ops and of `fft` to `jax.lax`."""

from __future__ import annotations

from jax import lax

from .table import lowering


@lowering("real")
def _real(args, attrs, out, regions):
    (x,) = args
    return (lax.real(x) if x.dtype.kind == "c" else x,)


@lowering("imag")
def _imag(args, attrs, out, regions):
    (x,) = args
    return (lax.imag(x) if x.dtype.kind == "c" else lax.full_like(x, 0),)


@lowering("complex")
def _complex(args, attrs, out, regions):
    return (lax.complex(args[0], args[1]),)


@lowering("conj")
def _conj(args, attrs, out, regions):
    (x,) = args
    return (lax.conj(x) if x.dtype.kind == "c" else x,)


_FFT_TYPES = {"FFT": lax.FftType.FFT, "IFFT": lax.FftType.IFFT, "RFFT": lax.FftType.RFFT,
              "IRFFT": lax.FftType.IRFFT}


@lowering("fft")
def _fft(args, attrs, out, regions):
    return (lax.fft(args[0], _FFT_TYPES[attrs["fft_type"]], tuple(attrs["fft_length"])),)
