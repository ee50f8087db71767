"""The `fft` op (StableHLO's): discrete Fourier transforms over the last 1 to 3 dimensions.

`fft_type` is one of
- FFT:   complex -> complex, the forward transform sum_k x[k] e^(-2 pi i jk / n) (unnormalized);
- IFFT:  complex -> complex, the inverse, with the 1/n factor (numpy.fft.ifftn);
- RFFT:  float -> complex, the forward transform of real data, keeping n//2 + 1 entries in the last
         dimension (numpy.fft.rfftn);
- IRFFT: complex -> float, the inverse of RFFT (numpy.fft.irfftn): the last dimension of the operand
         holds fft_length[-1]//2 + 1 entries, the result fft_length[-1].
`fft_length` gives the sizes of the transformed (last) dimensions. The op is linear over the reals.
"""

from __future__ import annotations

from .complex_ops import complex_dtype, real_dtype
from .errors import IRTypeError
from .ops import AttrSpec, OpDef, register

FFT_TYPES = ("FFT", "IFFT", "RFFT", "IRFFT")


def _fft(types, attrs, regions):
    (t,) = types
    kind, lengths = attrs["fft_type"], tuple(attrs["fft_length"])
    k = len(lengths)
    if not 1 <= k <= 3:
        raise IRTypeError("fft", types, f"fft_length {list(lengths)} has {k} entries", "1 to 3 transformed dimensions")
    if k > t.ndim:
        raise IRTypeError("fft", types, f"fft_length {list(lengths)} has more entries than the operand's rank {t.ndim}",
                          "at most one length per operand dimension")
    if kind == "RFFT":
        if t.dtype.kind != "f" or t.dtype.bits not in (32, 64):
            raise IRTypeError("fft", types, f"RFFT operand dtype {t.dtype.name}", "a float32 or float64 operand")
    elif t.dtype.kind != "c":
        raise IRTypeError("fft", types, f"{kind} operand dtype {t.dtype.name}", "a complex64 or complex128 operand")
    lead, last = t.shape[:t.ndim - k], t.shape[t.ndim - k:]
    want = lengths if kind != "IRFFT" else lengths[:-1] + (lengths[-1] // 2 + 1,)
    if any(n < 1 for n in lengths):
        raise IRTypeError("fft", types, f"fft_length {list(lengths)} has a length below 1", "positive lengths")
    if tuple(last) != want:
        raise IRTypeError("fft", types, f"transformed dimensions {list(last)} do not fit fft_length {list(lengths)}",
                          f"trailing dimensions {list(want)}")
    if kind == "FFT" or kind == "IFFT":
        return (t,)
    if kind == "RFFT":
        return (t.with_shape(lead + lengths[:-1] + (lengths[-1] // 2 + 1,)).with_dtype(complex_dtype(t.dtype)),)
    return (t.with_shape(lead + lengths).with_dtype(real_dtype(t.dtype)),)


register(OpDef("fft", _fft, attrs={"fft_type": AttrSpec("enum", choices=FFT_TYPES), "fft_length": AttrSpec("ints")},
               category="fft", linear=(0,),
               doc="Fourier transform of the last len(fft_length) dimensions: FFT, IFFT (scaled by 1/n), "
                   "RFFT (real -> the n//2 + 1 non-negative frequencies), IRFFT (its inverse), as numpy.fft."))
