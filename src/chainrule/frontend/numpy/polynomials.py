"""Polynomials as coefficient arrays: polyval, vander, polyadd, polysub, polymul, polyder, polyint,
polyfit, poly.
"""

from __future__ import annotations

import builtins

import numpy as np

from .. import lax
from ..core import bind, is_tensor, type_of
from ..lax import convert, float_operand, operand, result_type as _promote
from .ufuncs import add, divide, multiply, negative, subtract
from .transcendental import sqrt
from .shapes import concatenate, ravel, reshape, stack
from .reductions import sum
from .manipulation import slice_axis
from .products import matmul
from .calculus import convolve
from .linalg import qr, solve


# --- polynomials ---------------------------------------------------------------------------------

def polyval(p, x):
    """Horner's rule, in NumPy's order: y = y * x + p[i], starting from zeros_like(x)."""
    pp = operand(p)
    xx = operand(x)
    if type_of(pp).ndim != 1:
        raise ValueError("polyval needs a 1-d coefficient array")
    y = lax.full_like(xx, 0)
    for i in range(type_of(pp).shape[0]):
        coef = slice_axis(pp, 0, i, i + 1)
        y = add(multiply(y, xx), reshape(coef, ()))
    return y


def vander(x, N=None, increasing=False):
    xx = operand(x)
    if type_of(xx).ndim != 1:
        raise ValueError("x must be a one-dimensional array or sequence.")
    n = type_of(xx).shape[0] if N is None else int(N)
    dt = _promote(xx, np.zeros((), np.int64))
    xx = convert(xx, dt)
    cols = []
    if n > 0:
        cols.append(lax.full_like(xx, 1))
    for _ in range(1, n):
        cols.append(multiply(cols[-1], xx))
    if not increasing:
        cols = cols[::-1]
    if not cols:
        return np.zeros((type_of(xx).shape[0], 0), dt.np)
    return stack(cols, axis=1)


# --- polynomials as coefficient arrays --------------------------------------------------------------

def _poly_pad(a, n):
    x = ravel(operand(a))
    m = type_of(x).shape[0]
    return x if m == n else bind("pad", x, np.zeros((), type_of(x).dtype.np), edge_padding_low=(n - m,),
                                 edge_padding_high=(0,))


def polyadd(a1, a2):
    x, y = ravel(operand(a1)), ravel(operand(a2))
    n = builtins.max(type_of(x).shape[0], type_of(y).shape[0])
    return add(_poly_pad(x, n), _poly_pad(y, n))


def polysub(a1, a2):
    x, y = ravel(operand(a1)), ravel(operand(a2))
    n = builtins.max(type_of(x).shape[0], type_of(y).shape[0])
    return subtract(_poly_pad(x, n), _poly_pad(y, n))


def polymul(a1, a2):
    return convolve(a1, a2)


def polyder(p, m=1):
    x = ravel(operand(p))
    for _ in range(int(m)):
        n = type_of(x).shape[0]
        if n <= 1:
            return np.zeros(1, type_of(x).dtype.np) if not is_tensor(x) else multiply(slice_axis(x, 0, 0, 1), 0)
        x = multiply(slice_axis(x, 0, 0, n - 1), np.arange(n - 1, 0, -1))
    return x


def polyint(p, m=1, k=None):
    x = ravel(operand(p))
    ks = [0.0] * int(m) if k is None else list(np.atleast_1d(k))
    if len(ks) == 1 and m > 1:
        ks = ks * int(m)
    for i in range(int(m)):
        n = type_of(x).shape[0]
        x = divide(x, np.arange(n, 0, -1, dtype=np.float64))
        x = concatenate([x, np.asarray([ks[i]], type_of(x).dtype.np)])
    return x


def polyfit(x, y, deg, rcond=None, full=False, w=None, cov=False):
    """Least squares on NumPy's column-scaled Vandermonde matrix, by Householder QR (full column rank)."""
    if full or cov:
        raise NotImplementedError("polyfit(full=True / cov=True) needs singular values, which are not supported yet")
    xx = float_operand(x)
    yy = float_operand(y)
    order = int(deg) + 1
    if order < 1:
        raise ValueError("expected deg >= 0")
    lhs = vander(xx, order)
    rhs = yy
    if w is not None:
        ww = float_operand(w)
        lhs = multiply(lhs, reshape(ww, (-1, 1)))
        rhs = multiply(rhs, ww if type_of(rhs).ndim == 1 else reshape(ww, (-1, 1)))
    scale = sqrt(sum(multiply(lhs, lhs), axis=0))
    lhs = divide(lhs, scale)
    q, r = qr(lhs)
    qt_b = matmul(lax.transpose(q), rhs)
    c = solve(r, qt_b)
    return divide(c, scale if type_of(c).ndim == 1 else reshape(scale, (-1, 1)))


def poly(seq_of_zeros):
    """Coefficients of the polynomial with the given roots: (x - r0)(x - r1)... by repeated convolution."""
    z = ravel(operand(seq_of_zeros))
    dt = type_of(z).dtype
    out = np.ones(1, dt.np if dt.is_float else np.float64)
    for i in range(type_of(z).shape[0]):
        root = slice_axis(z, 0, i, i + 1)
        out = convolve(out, concatenate([np.ones(1, type_of(operand(out)).dtype.np), negative(root)]))
    return out


__all__ = ["polyval", "vander", "polyadd", "polysub", "polymul", "polyder", "polyint", "polyfit", "poly"]
