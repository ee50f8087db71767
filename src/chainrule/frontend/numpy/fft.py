"""chainrule.numpy.fft: NumPy's discrete Fourier transforms on tensors and arrays, on the `fft` op.

Each transform moves its axes last, pads or crops them to the requested lengths (`n`, `s`), applies
the `fft` op (which transforms up to three trailing dimensions at a time) and moves the axes back.
`norm` is "backward" (the default: the inverse scaled by 1/n), "ortho" (both by 1/sqrt(n)) or
"forward" (the forward transform scaled by 1/n), as in NumPy. Float32 data gives complex64 and
float64 data complex128 (integers and bools become the default float first), as NumPy 2 and JAX.
"""

from __future__ import annotations

import math

import numpy as np

from ...ir.complex_ops import complex_dtype
from .. import lax
from ..core import bind, type_of
from ..lax import convert, float_operand, operand
from .manipulation import roll

_NORMS = (None, "backward", "ortho", "forward")


def _check_norm(norm, name):
    if norm not in _NORMS:
        raise ValueError(f"{name}: norm must be 'backward', 'ortho', 'forward' or None, got {norm!r}")


def _as_complex(x):
    x = operand(x)
    d = type_of(x).dtype
    if d.kind == "c":
        return x
    x = float_operand(x)
    return convert(x, complex_dtype(type_of(x).dtype))


def _as_real(x, name):
    x = operand(x)
    if type_of(x).dtype.kind == "c":
        raise TypeError(f"{name} does not support complex input (dtype {type_of(x).dtype.name}); "
                        "use fft for complex data, or pass its real part")
    return float_operand(x)


def _axes_and_lengths(x, s, axes, name, default_axes):
    ndim = type_of(x).ndim
    if axes is None:
        axes = tuple(range(ndim - len(s), ndim)) if s is not None else default_axes(ndim)
    axes = tuple(lax.normalize_axis(a, ndim, "axes") for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: axes {list(axes)} repeat an axis")
    if s is not None:
        s = tuple(int(n) for n in s)
        if len(s) != len(axes):
            raise ValueError(f"{name}: s {list(s)} and axes {list(axes)} have different lengths")
    return axes, s


def _resize(x, axis, size):
    """Zero-pad or crop dimension `axis` of x to `size`."""
    t = type_of(x)
    n = t.shape[axis]
    if n == size:
        return x
    hi = [0] * t.ndim
    hi[axis] = size - n
    zero = np.zeros((), t.dtype.np)
    return bind("pad", x, zero, edge_padding_low=(0,) * t.ndim, edge_padding_high=tuple(hi))


def _fft_last(x, kind, lengths, first):
    """The fft op over dimensions first .. first+len(lengths)-1 of x (moved last and back)."""
    nd = type_of(x).ndim
    dims = list(range(first, first + len(lengths)))
    if dims[-1] != nd - 1:
        perm = [i for i in range(nd) if i not in dims] + dims
        y = bind("fft", bind("transpose", x, permutation=tuple(perm)), fft_type=kind, fft_length=tuple(lengths))
        return bind("transpose", y, permutation=tuple(int(i) for i in np.argsort(perm)))
    return bind("fft", x, fft_type=kind, fft_length=tuple(lengths))


def _transform(a, s, axes, norm, kind, name, default_axes):
    _check_norm(norm, name)
    x = _as_real(a, name) if kind == "RFFT" else _as_complex(a)
    axes, s = _axes_and_lengths(x, s, axes, name, default_axes)
    shape = type_of(x).shape
    if not axes:
        return x
    if s is None:
        s = tuple(shape[ax] for ax in axes)
        if kind == "IRFFT":
            s = s[:-1] + (2 * (shape[axes[-1]] - 1),)
    if any(n < 1 for n in s):
        raise ValueError(f"{name}: invalid number of data points {list(s)}; each must be at least 1")
    for ax, n in zip(axes, s):  # the input length along each axis
        x = _resize(x, ax, n // 2 + 1 if kind == "IRFFT" and ax == axes[-1] else n)
    nd = type_of(x).ndim
    perm = [i for i in range(nd) if i not in axes] + list(axes)
    if perm != list(range(nd)):
        x = bind("transpose", x, permutation=tuple(perm))
    k = len(axes)
    lead = nd - k
    # groups of at most 3 trailing dimensions; the real transform acts on the group holding the last axis
    groups = [(max(lead, nd - 3 * (i + 1)), nd - 3 * i) for i in range((k + 2) // 3)]
    cplx = {"RFFT": "FFT", "IRFFT": "IFFT"}.get(kind, kind)
    if kind == "IRFFT":
        order = groups[1:] + groups[:1]
    else:
        order = groups
    for lo, hi in order:
        lengths = s[lo - lead:hi - lead]
        op = kind if (lo, hi) == groups[0] else cplx
        x = _fft_last(x, op, lengths, lo)
    if perm != list(range(nd)):
        x = bind("transpose", x, permutation=tuple(int(i) for i in np.argsort(perm)))
    return _normalize(x, norm, math.prod(s), inverse=kind in ("IFFT", "IRFFT"))


def _normalize(x, norm, n, inverse):
    if norm is None or norm == "backward":
        return x
    if norm == "ortho":
        c = math.sqrt(n) if inverse else 1 / math.sqrt(n)
    else:  # forward
        c = float(n) if inverse else 1 / n
    return bind("multiply", x, lax.full_like(x, c))


def _last(ndim):
    return (ndim - 1,) if ndim else ()


def _last2(ndim):
    return (-2, -1)


def _all(ndim):
    return tuple(range(ndim))


def _one(kind, name):
    def f(a, n=None, axis=-1, norm=None):
        return _transform(a, None if n is None else (n,), (axis,), norm, kind, name, _last)
    f.__name__ = name
    f.__doc__ = f"numpy.fft.{name}: the {kind} of `a` along `axis`, padded or cropped to `n`."
    return f


def _many(kind, name, default_axes):
    def f(a, s=None, axes=None if default_axes is _all else (-2, -1), norm=None):
        return _transform(a, s, axes, norm, kind, name, default_axes)
    f.__name__ = name
    f.__doc__ = f"numpy.fft.{name}: the {kind} of `a` over `axes`, padded or cropped to `s`."
    return f


fft = _one("FFT", "fft")
ifft = _one("IFFT", "ifft")
rfft = _one("RFFT", "rfft")
irfft = _one("IRFFT", "irfft")
fft2 = _many("FFT", "fft2", _last2)
ifft2 = _many("IFFT", "ifft2", _last2)
rfft2 = _many("RFFT", "rfft2", _last2)
irfft2 = _many("IRFFT", "irfft2", _last2)
fftn = _many("FFT", "fftn", _all)
ifftn = _many("IFFT", "ifftn", _all)
rfftn = _many("RFFT", "rfftn", _all)
irfftn = _many("IRFFT", "irfftn", _all)


def hfft(a, n=None, axis=-1, norm=None):
    """numpy.fft.hfft: the FFT of a Hermitian-symmetric signal given by its first half (a real result)."""
    _check_norm(norm, "hfft")
    x = _as_complex(a)
    m = n if n is not None else 2 * (type_of(x).shape[lax.normalize_axis(axis, type_of(x).ndim)] - 1)
    inv = {None: "forward", "backward": "forward", "forward": "backward", "ortho": "ortho"}[norm]
    return irfft(bind("conj", x), m, axis, inv)


def ihfft(a, n=None, axis=-1, norm=None):
    """numpy.fft.ihfft: the inverse of hfft (a real input, the first half of a Hermitian result)."""
    _check_norm(norm, "ihfft")
    x = _as_real(a, "ihfft")
    inv = {None: "forward", "backward": "forward", "forward": "backward", "ortho": "ortho"}[norm]
    return bind("conj", rfft(x, n, axis, inv))


def _freq_dtype():
    return lax.default_float_type().np


def fftfreq(n, d=1.0, *, dtype=None):
    """numpy.fft.fftfreq: the sample frequencies [0, 1, ..., -1] / (d * n) (a concrete array)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"fftfreq: n must be a positive integer, got {n!r}")
    return np.fft.fftfreq(int(n), d).astype(dtype or _freq_dtype())


def rfftfreq(n, d=1.0, *, dtype=None):
    """numpy.fft.rfftfreq: the non-negative sample frequencies of rfft (a concrete array)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"rfftfreq: n must be a positive integer, got {n!r}")
    return np.fft.rfftfreq(int(n), d).astype(dtype or _freq_dtype())


def _shift(x, axes, sign, name):
    x = operand(x)
    t = type_of(x)
    if axes is None:
        axes = tuple(range(t.ndim))
    elif isinstance(axes, (int, np.integer)):
        axes = (int(axes),)
    axes = tuple(lax.normalize_axis(a, t.ndim, "axes") for a in axes)
    shifts = tuple((t.shape[a] // 2) if sign > 0 else -(t.shape[a] // 2) for a in axes)
    return roll(x, shifts, axes) if axes else x


def fftshift(x, axes=None):
    """numpy.fft.fftshift: the zero frequency moved to the centre."""
    return _shift(x, axes, 1, "fftshift")


def ifftshift(x, axes=None):
    """numpy.fft.ifftshift: the inverse of fftshift."""
    return _shift(x, axes, -1, "ifftshift")


__all__ = ["fft", "ifft", "rfft", "irfft", "fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn", "rfftn", "irfftn",
           "hfft", "ihfft", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]
