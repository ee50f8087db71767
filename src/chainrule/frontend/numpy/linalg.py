"""chainrule.numpy.linalg: norms, products, and dense factorizations unrolled into primitive ops.

The IR has no LAPACK-like ops, so every factorization is unrolled over the
(static) matrix size, on the whole batch of matrices at once:
- `solve`, `inv`, `det`, `slogdet`: Gauss-Jordan with partial pivoting,
  n steps of argmax + gather + select + arithmetic;
- `cholesky`: n column steps;
- `qr`: Householder reflections with LAPACK's sign convention, so Q and R
  agree with numpy.linalg.qr's, signs included; `polyfit` builds on it;
- `eigh`/`eigvalsh`: cyclic Jacobi rotations, `svd` (and `pinv`,
  `matrix_rank`, `cond`, `lstsq`, the 2/-2/nuc norms): one-sided Jacobi,
  a fixed number of sweeps that reaches float64 precision for small n.
Graphs grow with n (O(n) steps for the eliminations, O(sweeps * n^2)
rotations for Jacobi), which suits the small matrices found in models; every
step is a primitive with a derivative rule, so all of it differentiates.
Where NumPy raises on data (LinAlgError for a singular matrix), a traced
function cannot: a singular matrix gives inf/NaN (det gives 0). General
(non-symmetric) eigenvalues raise NotImplementedError.
"""

from __future__ import annotations

import numpy as np

from .. import lax
from ..core import constant_tensor, is_tensor, type_of
from ..lax import broadcast_to, convert, normalize_axis, operand, result_type
from .ufuncs import (abs, add, divide, equal, floor, greater, isfinite, less, logical_and, maximum, minimum, multiply,
                     negative, not_equal, power, sign, subtract, where)
from .transcendental import log, sqrt
from .shapes import concatenate, expand_dims, moveaxis, reshape, stack, swapaxes
from .reductions import any as any_, argmax, count_nonzero, max, min, prod, sum
from .indexing import take_along_axis
from .manipulation import slice_axis
from .matrices import diagonal as _diagonal, trace as _trace, tril, triu
from .products import matmul, outer as _outer, tensordot as _td, vecdot
from .sorting import argsort


_F64 = lax.as_dtype("float64")


def _float(x):
    x = operand(x)
    return x if type_of(x).dtype.is_float else convert(x, _F64)


# --- norms --------------------------------------------------------------------------------------

def _l2(a, axis, keepdims):
    """sqrt(sum(a^2)) computed on a * 2^-k with 2^k near max|a| (held constant for the derivative): the
    same rounding as unscaled where that does not overflow or underflow (powers of two scale exactly), and
    finite where the squares alone would be (norm([1e200, 1e200]) = 1.41e200; NumPy and JAX give inf)."""
    t = type_of(a)
    if any(t.shape[i] == 0 for i in lax.normalize_axes(axis, t.ndim)):
        return sqrt(sum(multiply(a, a), axis=axis, keepdims=keepdims))
    dt = t.dtype
    lim = 1000.0 if dt == _F64 else 120.0
    m = lax.bind("stop_gradient", max(abs(a), axis=axis, keepdims=True))
    ok = logical_and(greater(m, lax.full_like(m, 0.0)), isfinite(m))
    k = floor(divide(log(where(ok, m, lax.full_like(m, 1.0))), lax.full_like(m, np.log(2.0))))
    k = minimum(maximum(k, lax.full_like(k, -lim)), lax.full_like(k, lim))
    two = lax.full_like(k, 2.0)
    b = multiply(a, power(two, negative(k)))
    r = multiply(sqrt(sum(multiply(b, b), axis=axis, keepdims=True)), power(two, k))
    if not keepdims:
        axes = lax.normalize_axes(axis, t.ndim)
        r = reshape(r, [n for i, n in enumerate(t.shape) if i not in axes])
    return r


def norm(x, ord=None, axis=None, keepdims=False):
    a = _float(x)
    t = type_of(a)
    if axis is None:
        if ord is None or (ord in ("fro", "f") and t.ndim == 2):
            r = _l2(a, None, False)
            return reshape(r, (1,) * t.ndim) if keepdims else r
        if t.ndim == 1:
            return vector_norm(a, axis=0, keepdims=keepdims, ord=ord)
        if t.ndim == 2:
            return matrix_norm(a, keepdims=keepdims, ord=ord)
        raise ValueError("Improper number of dimensions to norm.")
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    if len(axes) == 1:
        return vector_norm(a, axis=axes[0], keepdims=keepdims, ord=2 if ord is None else ord)
    if len(axes) == 2:
        a = moveaxis(a, [normalize_axis(axes[0], t.ndim), normalize_axis(axes[1], t.ndim)], [-2, -1])
        r = matrix_norm(a, keepdims=False, ord="fro" if ord is None else ord)
        if keepdims:
            shape = list(t.shape)
            for ax in axes:
                shape[normalize_axis(ax, t.ndim)] = 1
            r = reshape(r, shape)
        return r
    raise ValueError("Improper number of dimensions to norm.")


def vector_norm(x, axis=None, keepdims=False, ord=2):
    a = _float(x)
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
        if keepdims:
            raise NotImplementedError("vector_norm(axis=None, keepdims=True) is not supported yet")
    absa = abs(a)
    if ord == np.inf:
        return max(absa, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return min(absa, axis=axis, keepdims=keepdims)
    if ord == 0:
        return convert(count_nonzero(a, axis=axis, keepdims=keepdims), type_of(a).dtype)
    if ord == 1:
        return sum(absa, axis=axis, keepdims=keepdims)
    if ord is None or ord == 2:
        return _l2(a, axis, keepdims)
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    p = float(ord)
    return power(sum(power(absa, p), axis=axis, keepdims=keepdims), 1.0 / p)


def matrix_norm(x, keepdims=False, ord="fro"):
    a = _float(x)
    t = type_of(a)
    if t.ndim < 2:
        raise ValueError("matrix_norm needs at least 2 dimensions")
    if ord in ("fro", "f", None):
        r = _l2(a, (-2, -1), False)
    elif ord in (1, -1):
        s = sum(abs(a), axis=-2)
        r = max(s, axis=-1) if ord == 1 else min(s, axis=-1)
    elif ord in (np.inf, -np.inf):
        s = sum(abs(a), axis=-1)
        r = max(s, axis=-1) if ord == np.inf else min(s, axis=-1)
    elif ord in (2, -2, "nuc"):
        sv = svdvals(a)
        r = max(sv, axis=-1) if ord == 2 else min(sv, axis=-1) if ord == -2 else sum(sv, axis=-1)
    else:
        raise ValueError(f"Invalid norm order {ord!r} for matrices")
    return reshape(r, t.shape[:-2] + (1, 1)) if keepdims else r


# --- products -------------------------------------------------------------------------------------

def multi_dot(arrays):
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("Expecting at least two arrays.")
    out = arrays[0]
    for a in arrays[1:]:
        out = matmul(out, a)
    return out


def matrix_power(a, n):
    x = operand(a)
    t = type_of(x)
    if t.ndim < 2 or t.shape[-1] != t.shape[-2]:
        raise ValueError("matrix_power needs square matrices in its last two dimensions")
    n = int(n)
    if n < 0:
        return matrix_power(inv(x), -n)
    if n == 0:
        eye = np.eye(t.shape[-1], dtype=t.dtype.np)
        return broadcast_to(constant_tensor(eye) if is_tensor(x) else eye, t.shape)
    result, base = None, x
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


def outer(x1, x2):
    return _outer(x1, x2)


def trace(x, offset=0, dtype=None):
    """The array API's trace: over the last two axes."""
    return _trace(x, offset, -2, -1, dtype)


def diagonal(x, offset=0):
    """The array API's diagonal: of the last two axes."""
    return _diagonal(x, offset, -2, -1)


def matrix_transpose(x):
    return swapaxes(x, -1, -2)


def tensordot(x1, x2, axes=2):
    return _td(x1, x2, axes)


# --- elimination -----------------------------------------------------------------------------------

def _square(a, what):
    x = _float(a)
    t = type_of(x)
    if t.ndim < 2 or t.shape[-1] != t.shape[-2]:
        raise ValueError(f"{what}: last 2 dimensions of the array must be square")
    return x


def _eliminate(m, n):
    """Gauss-Jordan with partial pivoting on rows of M (..., n, w); returns (M, pivots (..., n), swaps (...,))."""
    t = type_of(m)
    dt = t.dtype.np
    batch = t.shape[:-2]
    w = t.shape[-1]
    rows = np.arange(n).reshape(n, 1)
    pivots = []
    swaps = None
    for c in range(n):
        col = reshape(slice_axis(m, t.ndim - 1, c, c + 1), batch + (n,))
        score = where(rows.reshape(n) >= c, abs(col), np.asarray(-1, dt))
        p = argmax(score, axis=-1)  # (...,)
        p_idx = broadcast_to(reshape(p, batch + (1, 1)), batch + (1, w))
        row_p = take_along_axis(m, p_idx, axis=-2)
        row_c = slice_axis(m, t.ndim - 2, c, c + 1)
        is_p = equal(rows, reshape(p, batch + (1, 1)))
        m = where(rows == c, row_p, where(is_p, row_c, m))
        moved = convert(not_equal(p, c), "int64")
        swaps = moved if swaps is None else add(swaps, moved)
        pivot = reshape(slice_axis(slice_axis(m, t.ndim - 2, c, c + 1), t.ndim - 1, c, c + 1), batch + (1, 1))
        pivots.append(reshape(pivot, batch))
        safe = where(equal(pivot, np.asarray(0, dt)), np.asarray(1, dt), pivot)
        rc = divide(slice_axis(m, t.ndim - 2, c, c + 1), safe)
        factor = slice_axis(m, t.ndim - 1, c, c + 1)  # (..., n, 1)
        m = where(rows == c, rc, subtract(m, multiply(factor, rc)))
    return m, stack(pivots, axis=-1), swaps


def solve(a, b):
    x = _square(a, "solve")
    y = _float(b)
    n = type_of(x).shape[-1]
    vector = type_of(y).ndim == 1
    if vector:
        y = reshape(y, (n, 1))
    dt = result_type(x, y)
    x, y = convert(x, dt), convert(y, dt)
    if type_of(y).shape[-2] != n:
        raise ValueError(f"solve: b has {type_of(y).shape[-2]} rows, expected {n}")
    batch = lax.broadcast_shapes(type_of(x).shape[:-2], type_of(y).shape[:-2])
    x = broadcast_to(x, batch + (n, n))
    y = broadcast_to(y, batch + type_of(y).shape[-2:])
    m, _, _ = _eliminate(concatenate([x, y], axis=-1), n)
    out = slice_axis(m, len(batch) + 1, n, type_of(m).shape[-1])
    return reshape(out, (n,)) if vector else out


def inv(a):
    x = _square(a, "inv")
    t = type_of(x)
    eye = np.eye(t.shape[-1], dtype=t.dtype.np)
    return solve(x, broadcast_to(constant_tensor(eye) if is_tensor(x) else eye, t.shape))


def slogdet(a):
    x = _square(a, "slogdet")
    n = type_of(x).shape[-1]
    if n == 0:
        batch = type_of(x).shape[:-2]
        return np.ones(batch, type_of(x).dtype.np), np.zeros(batch, type_of(x).dtype.np)
    _, piv, swaps = _eliminate(x, n)
    dt = type_of(piv).dtype.np
    parity = subtract(np.asarray(1, dt), multiply(np.asarray(2, dt), convert(lax.elementwise("remainder", swaps, 2),
                                                                             type_of(piv).dtype)))
    s = multiply(prod(sign(piv), axis=-1), parity)
    return s, sum(log(abs(piv)), axis=-1)


def det(a):
    x = _square(a, "det")
    n = type_of(x).shape[-1]
    if n == 0:
        return np.ones(type_of(x).shape[:-2], type_of(x).dtype.np)
    _, piv, swaps = _eliminate(x, n)
    dt = type_of(piv).dtype.np
    parity = subtract(np.asarray(1, dt), multiply(np.asarray(2, dt), convert(lax.elementwise("remainder", swaps, 2),
                                                                             type_of(piv).dtype)))
    return multiply(prod(piv, axis=-1), parity)


def cholesky(a, upper=False):
    """Column by column: L[:, j] = (A[:, j] - L[:, :j] L[j, :j]) / sqrt(that at j), zero above the diagonal."""
    x = _square(a, "cholesky")
    t = type_of(x)
    n = t.shape[-1]
    batch = t.shape[:-2]
    rows = np.arange(n)
    cols = []
    for j in range(n):
        v = reshape(slice_axis(x, t.ndim - 1, j, j + 1), batch + (n,))
        for k in range(j):
            ljk = slice_axis(cols[k], len(batch), j, j + 1)
            v = subtract(v, multiply(cols[k], ljk))
        d = sqrt(slice_axis(v, len(batch), j, j + 1))
        col = where(rows < j, np.asarray(0, t.dtype.np), where(rows == j, d, divide(v, d)))
        cols.append(col)
    if not cols:
        return x
    lower = stack(cols, axis=-1)
    return swapaxes(lower, -1, -2) if upper else lower


def qr(a, mode="reduced"):
    """Householder QR with LAPACK's reflector convention (dgeqrf/dlarfg: beta = -sign(alpha) |x|), so the
    factors agree with numpy.linalg.qr's, signs included. Unrolled over min(m, n) static steps."""
    if mode not in ("reduced", "complete", "r"):
        raise NotImplementedError(f"qr mode {mode!r} is not supported; 'reduced', 'complete' and 'r' are")
    r = _float(a)
    t = type_of(r)
    if t.ndim < 2:
        raise ValueError("qr needs at least a 2-d array")
    m, n = t.shape[-2:]
    batch = t.shape[:-2]
    dt = t.dtype.np
    k = _min_int(m, n)
    rows = np.arange(m).reshape(m, 1)
    eye = np.eye(m, dtype=dt)
    q = broadcast_to(constant_tensor(eye) if is_tensor(r) else eye, batch + (m, m)) if mode != "r" else None
    zero, one = np.asarray(0, dt), np.asarray(1, dt)
    for j in range(k):
        col = slice_axis(r, t.ndim - 1, j, j + 1)  # (..., m, 1)
        alpha = slice_axis(col, t.ndim - 2, j, j + 1)  # (..., 1, 1)
        below = where(rows > j, col, zero)
        xnorm = sqrt(sum(multiply(below, below), axis=-2, keepdims=True))
        norm_all = sqrt(add(multiply(alpha, alpha), multiply(xnorm, xnorm)))
        beta = where(less(alpha, zero), norm_all, multiply(norm_all, np.asarray(-1, dt)))
        trivial = equal(xnorm, zero)
        denom = where(trivial, one, subtract(alpha, beta))
        v = where(rows == j, one, divide(below, denom))  # (..., m, 1), zero above j
        tau = where(trivial, zero, divide(subtract(beta, alpha), where(trivial, one, beta)))
        w = matmul(swapaxes(v, -1, -2), r)  # (..., 1, n)
        r = subtract(r, multiply(tau, multiply(v, w)))
        cols = np.arange(n)
        fixed = where(rows == j, where(trivial, alpha, beta), where(rows > j, zero, col))
        r = where(cols == j, fixed, r)
        if q is not None:
            qv = matmul(q, v)  # (..., m, 1)
            q = subtract(q, multiply(tau, matmul(qv, swapaxes(v, -1, -2))))
    if mode == "r":
        return slice_axis(r, t.ndim - 2, 0, k)
    if mode == "reduced":
        return slice_axis(q, t.ndim - 1, 0, k), slice_axis(r, t.ndim - 2, 0, k)
    return q, r


def _min_int(a, b):
    return a if a < b else b


def _jacobi_sweeps(n):
    """Cyclic Jacobi converges quadratically: this many sweeps reach float64 precision for the small
    matrices the unrolled graph suits (its size grows as sweeps * n^2 rotations)."""
    return 6 if n <= 4 else 8 if n <= 8 else 10


def eigh(a, UPLO="L"):
    """Symmetric eigendecomposition by cyclic Jacobi rotations, unrolled; eigenvalues ascending.

    Only the `UPLO` triangle is read, as in NumPy. Eigenvectors are unique up to sign (and
    within repeated eigenvalues), as with LAPACK.
    """
    x = _square(a, "eigh")
    t = type_of(x)
    n = t.shape[-1]
    batch = t.shape[:-2]
    dt = t.dtype.np
    if UPLO not in ("L", "U"):
        raise ValueError("UPLO argument must be 'L' or 'U'")
    half = tril(x, -1) if UPLO == "L" else triu(x, 1)
    x = add(add(half, swapaxes(half, -1, -2)), multiply(x, np.eye(n, dtype=dt)))
    eye = np.eye(n, dtype=dt)
    v = broadcast_to(constant_tensor(eye) if is_tensor(x) else eye, t.shape)
    zero, one = np.asarray(0, dt), np.asarray(1, dt)
    for _ in range(_jacobi_sweeps(n) if n > 1 else 0):
        for p in range(n - 1):
            for q in range(p + 1, n):
                app = _entry(x, p, p, batch)
                aqq = _entry(x, q, q, batch)
                apq = _entry(x, p, q, batch)
                skip = equal(apq, zero)
                theta = divide(subtract(aqq, app), multiply(np.asarray(2, dt), where(skip, one, apq)))
                sgn = where(less(theta, zero), np.asarray(-1, dt), one)
                tt = divide(sgn, add(abs(theta), sqrt(add(multiply(theta, theta), one))))
                tt = where(skip, zero, tt)
                c = divide(one, sqrt(add(multiply(tt, tt), one)))
                sn = multiply(tt, c)
                j = _rotation(n, p, q, c, sn, dt)
                x = matmul(matmul(swapaxes(j, -1, -2), x), j)
                v = matmul(v, j)
    w = _diag_last(x, n)
    order = argsort(w, axis=-1)
    w = take_along_axis(w, order, axis=-1)
    v = take_along_axis(v, broadcast_to(reshape(order, batch + (1, n)), t.shape), axis=-1)
    return w, v


def _entry(x, i, j, batch):
    nd = len(batch) + 2
    return reshape(slice_axis(slice_axis(x, nd - 2, i, i + 1), nd - 1, j, j + 1), batch + (1, 1))


def _diag_last(x, n):
    return _diagonal(x, 0, -2, -1)


def _rotation(n, p, q, c, s, dt):
    """I with [[c, s], [-s, c]] at rows/columns p, q; c and s of shape (..., 1, 1)."""
    e_pp = np.zeros((n, n), dt)
    e_pp[p, p] = e_pp[q, q] = 1
    e_pq = np.zeros((n, n), dt)
    e_pq[p, q], e_pq[q, p] = 1, -1
    base = np.eye(n, dtype=dt) - e_pp
    return add(add(base, multiply(c, e_pp)), multiply(s, e_pq))


def eigvalsh(a, UPLO="L"):
    return eigh(a, UPLO)[0]


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """Singular value decomposition by one-sided (Hestenes) Jacobi rotations of the columns, unrolled.

    Singular values come sorted descending, as NumPy's. Singular vectors are unique up to sign (and
    within repeated values); for a zero singular value the matching column of u is zero rather than
    an arbitrary unit vector (u s vh still rebuilds a). With full_matrices, u is completed to a square
    orthogonal matrix by Householder QR.
    """
    x = _float(a)
    t = type_of(x)
    if t.ndim < 2:
        raise ValueError("svd needs at least a 2-d array")
    m, n = t.shape[-2:]
    if m < n:
        res = svd(swapaxes(x, -1, -2), full_matrices, compute_uv)
        if not compute_uv:
            return res
        u, sv, vh = res
        return swapaxes(vh, -1, -2), sv, swapaxes(u, -1, -2)
    batch = t.shape[:-2]
    dt = t.dtype.np
    zero, one = np.asarray(0, dt), np.asarray(1, dt)
    u = x
    eye = np.eye(n, dtype=dt)
    v = broadcast_to(constant_tensor(eye) if is_tensor(x) else eye, batch + (n, n))
    nd = len(batch) + 2
    for _ in range(_jacobi_sweeps(n) if n > 1 else 0):
        for p in range(n - 1):
            for q in range(p + 1, n):
                up, uq = slice_axis(u, nd - 1, p, p + 1), slice_axis(u, nd - 1, q, q + 1)
                alpha = sum(multiply(up, up), axis=-2, keepdims=True)
                beta = sum(multiply(uq, uq), axis=-2, keepdims=True)
                gamma = sum(multiply(up, uq), axis=-2, keepdims=True)
                skip = equal(gamma, zero)
                zeta = divide(subtract(beta, alpha), multiply(np.asarray(2, dt), where(skip, one, gamma)))
                sgn = where(less(zeta, zero), np.asarray(-1, dt), one)
                tt = where(skip, zero, divide(sgn, add(abs(zeta), sqrt(add(multiply(zeta, zeta), one)))))
                c = divide(one, sqrt(add(multiply(tt, tt), one)))
                j = _rotation(n, p, q, c, multiply(tt, c), dt)
                u = matmul(u, j)
                v = matmul(v, j)
    sv = sqrt(sum(multiply(u, u), axis=-2))  # (..., n)
    order = argsort(multiply(sv, np.asarray(-1, dt)), axis=-1)
    sv = take_along_axis(sv, order, axis=-1)
    if not compute_uv:
        return sv
    cols = reshape(order, batch + (1, n))
    u = take_along_axis(u, broadcast_to(cols, batch + (m, n)), axis=-1)
    v = take_along_axis(v, broadcast_to(cols, batch + (n, n)), axis=-1)
    safe = where(equal(sv, zero), one, sv)
    u = where(reshape(equal(sv, zero), batch + (1, n)), zero, divide(u, reshape(safe, batch + (1, n))))
    if full_matrices and m > n:
        q, _ = qr(u, mode="complete")
        u = concatenate([u, slice_axis(q, nd - 1, n, m)], axis=-1)
    return u, sv, swapaxes(v, -1, -2)


def svdvals(x):
    return svd(x, compute_uv=False)


def pinv(a, rcond=None, hermitian=False, *, rtol=None):
    x = _float(a)
    t = type_of(x)
    m, n = t.shape[-2:]
    u, sv, vh = svd(x, full_matrices=False)
    if rcond is None and rtol is None:
        rtol = _max_int(m, n) * np.finfo(t.dtype.np).eps
    tol = rcond if rcond is not None else rtol
    cutoff = multiply(max(sv, axis=-1, keepdims=True), np.asarray(tol, t.dtype.np))
    keep = greater(sv, cutoff)
    inv_s = where(keep, divide(np.asarray(1, t.dtype.np), where(keep, sv, np.asarray(1, t.dtype.np))),
                  np.asarray(0, t.dtype.np))
    return matmul(multiply(swapaxes(vh, -1, -2), expand_dims(inv_s, -2)), swapaxes(u, -1, -2))


def matrix_rank(A, tol=None, hermitian=False, *, rtol=None):
    x = _float(A)
    t = type_of(x)
    if t.ndim < 2:
        return convert(any_(not_equal(x, np.asarray(0, t.dtype.np))), "int64")
    sv = svdvals(x)
    if tol is None:
        r = rtol if rtol is not None else _max_int(*t.shape[-2:]) * np.finfo(t.dtype.np).eps
        tol = multiply(max(sv, axis=-1, keepdims=True), np.asarray(r, t.dtype.np))
    else:
        tol = expand_dims(operand(tol), -1) if is_tensor(tol) or np.ndim(tol) else tol
    return sum(greater(sv, tol), axis=-1)


def cond(x, p=None):
    if p not in (None, 2, -2):
        a = _float(x)
        return multiply(norm(a, p, axis=(-2, -1)), norm(inv(a), p, axis=(-2, -1)))
    sv = svdvals(x)
    hi, lo = max(sv, axis=-1), min(sv, axis=-1)
    return divide(lo, hi) if p == -2 else divide(hi, lo)


def lstsq(a, b, rcond=None):
    """Least squares by the pseudo-inverse. Returns (x, residuals, rank, s) as NumPy does, except that
    residuals are given whenever m > n (NumPy leaves them empty for rank-deficient a: a data-dependent
    shape)."""
    x = _float(a)
    y = _float(b)
    m, n = type_of(x).shape[-2:]
    u, sv, vh = svd(x, full_matrices=False)
    eps = np.finfo(type_of(x).dtype.np).eps
    tol = _max_int(m, n) * eps if rcond is None else rcond
    cutoff = multiply(max(sv, axis=-1, keepdims=True), np.asarray(tol, type_of(x).dtype.np))
    keep = greater(sv, cutoff)
    one, zero = np.asarray(1, type_of(x).dtype.np), np.asarray(0, type_of(x).dtype.np)
    inv_s = where(keep, divide(one, where(keep, sv, one)), zero)
    vec = type_of(y).ndim == 1
    yy = reshape(y, (m, 1)) if vec else y
    coef = matmul(multiply(swapaxes(vh, -1, -2), expand_dims(inv_s, -2)), matmul(swapaxes(u, -1, -2), yy))
    rank = convert(sum(keep, axis=-1), "int32")  # LAPACK's integer, as NumPy returns it
    if m > n:
        r = subtract(yy, matmul(x, coef))
        resid = sum(multiply(r, r), axis=0)
    else:
        resid = np.zeros((0,), type_of(x).dtype.np)
    if vec:
        coef = reshape(coef, (n,))
    return coef, resid, rank, sv


def _max_int(*v):
    out = v[0]
    for e in v[1:]:
        out = e if e > out else out
    return out


def _needs_decomposition(name):
    def fn(*args, **kwargs):
        raise NotImplementedError(f"linalg.{name} needs an iterative decomposition, which chainrule does not "
                                  "support yet")
    fn.__name__ = name
    return fn


eig = _needs_decomposition("eig")
eigvals = _needs_decomposition("eigvals")


__all__ = ["norm", "vector_norm", "matrix_norm", "multi_dot", "matrix_power", "outer", "trace", "diagonal",
           "matrix_transpose", "tensordot", "solve", "inv", "slogdet", "det", "cholesky", "qr", "eigh", "eigvalsh",
           "svd", "svdvals", "pinv", "matrix_rank", "cond", "lstsq", "eig", "eigvals",
           "matmul", "vecdot"]  # matmul and vecdot: products.py's, as numpy.linalg has them too
