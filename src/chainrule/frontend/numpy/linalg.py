"""chainrule.numpy.linalg: numpy.linalg's functions on the linear-algebra primitives.

Every decomposition is one IR op (`cholesky`, `triangular_solve`, `lu`, `qr`,
`eigh`, `svd`: see chainrule.ir.linalg_ops), batched over leading dimensions,
lowered to LAPACK (reference: numpy.linalg; jax: jax.lax.linalg), and
differentiated by its own rule, as JAX does; the graph's size does not grow
with the matrices'. On top of them:
- `solve`, `inv`, `det`, `slogdet`: LU with partial pivoting, two triangular
  solves;
- `pinv`, `matrix_rank`, `cond`, `lstsq` and the 2/-2/'nuc' norms: the SVD;
- `cholesky` and `eigh`/`eigvalsh` read one triangle of the matrix, as NumPy
  does, and differentiate as jax.numpy does: as functions of the symmetric
  part (a + a^T)/2, so their gradients are symmetric.
Where NumPy raises on data (LinAlgError), a traced function cannot: a singular
matrix gives inf/NaN from `solve`/`inv` (det gives 0), a matrix that is not
positive definite a NaN Cholesky factor. General (non-symmetric) matrices:
`eig`/`eigvals` (the `eig` op, LAPACK geev) always return complex arrays, as
jax.numpy.linalg does (NumPy returns real ones when every eigenvalue is real);
only the eigenvalues differentiate (eigvals), as in JAX.
"""


from __future__ import annotations

import numpy as np

from .. import lax
from ..core import is_tensor, type_of
from ..lax import broadcast_to, convert, normalize_axis, operand, result_type
from .ufuncs import (abs, add, divide, equal, floor, greater, isfinite, logical_and, maximum, minimum, multiply, negative,
                     not_equal, power, sign, subtract, where)
from .transcendental import log, sqrt
from .shapes import expand_dims, moveaxis, reshape, swapaxes
from .reductions import any as any_, count_nonzero, max, min, prod, sum
from .matrices import diagonal as _diagonal, trace as _trace
from .products import matmul, outer as _outer, tensordot as _td, vecdot

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
        return broadcast_to(_eye(t.shape[-1], t.dtype, x), t.shape)
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


# --- helpers on [..., m, n] operands -----------------------------------------------------------

def _square(a, what):
    x = _float(a)
    t = type_of(x)
    if t.ndim < 2 or t.shape[-1] != t.shape[-2]:
        raise ValueError(f"{what}: the last 2 dimensions of the array must be square, got shape {t.shape}")
    return x


def _matrix(a, what):
    x = _float(a)
    if type_of(x).ndim < 2:
        raise ValueError(f"{what}: expected an array of at least 2 dimensions, got shape {type_of(x).shape}")
    return x


def _t(x):
    return swapaxes(x, -1, -2)


def index_grid(m, n, like):
    """(i, j): int32 row and column indices of an m x n matrix; in a trace two iota nodes, never a literal
    that grows with n."""
    if is_tensor(like):
        return (lax.bind("iota", shape=(m, n), dimension=0, dtype="int32"),
                lax.bind("iota", shape=(m, n), dimension=1, dtype="int32"))
    return np.arange(m, dtype=np.int32)[:, None] + np.zeros((1, n), np.int32), \
        np.zeros((m, 1), np.int32) + np.arange(n, dtype=np.int32)


def _eye(n, dt, like):
    i, j = index_grid(n, n, like)
    return convert(equal(i, j), dt)


def symmetric_input(a):
    """`a` itself (bit for bit), differentiating as its symmetric part (a + a^T)/2: what jax.numpy's
    symmetrize_input gives the derivative, while the value keeps NumPy's reading of one triangle."""
    s = multiply(add(a, _t(a)), np.asarray(0.5, type_of(a).dtype.np))
    return add(lax.bind("stop_gradient", a), subtract(s, lax.bind("stop_gradient", s)))


def _nb(x):
    return type_of(x).ndim - 2


def permute_rows(x, perm):
    """x[..., perm[...], :]: the rows of each matrix in the order `perm` (batch dims shared)."""
    nb = _nb(x)
    return lax.bind("gather", x, perm, axis=nb, batch_dims=nb)


def _broadcast_batch(x, batch):
    t = type_of(x)
    nb = len(t.shape) - 2
    return x if t.shape[:nb] == tuple(batch) else broadcast_to(x, tuple(batch) + t.shape[nb:])


def lu_solve_factored(lu, perm, b, trans=0):
    """Solve a x = b (trans=0) or a^T x = b (trans=1) given lu, perm = lax.linalg.lu(a); b is [..., n, k]
    with the batch dimensions of lu (broadcast here)."""
    batch = lax.broadcast_shapes(type_of(lu).shape[:-2], type_of(b).shape[:-2])
    lu, b = _broadcast_batch(lu, batch), _broadcast_batch(b, batch)
    perm = broadcast_to(perm, tuple(batch) + type_of(perm).shape[-1:])
    if trans == 0:
        x = permute_rows(b, perm)
        x = lax.bind("triangular_solve", lu, x, left_side=True, lower=True, unit_diagonal=True)
        return lax.bind("triangular_solve", lu, x, left_side=True, lower=False)
    # a^T = U^T L^T P^T: x = P L^-T U^-T b, and P z puts row i of z at row perm[i]
    x = lax.bind("triangular_solve", lu, b, left_side=True, lower=False, transpose_a=True)
    x = lax.bind("triangular_solve", lu, x, left_side=True, lower=True, unit_diagonal=True, transpose_a=True)
    nb = len(batch)
    n = type_of(perm).shape[-1]
    iota = broadcast_to(np.arange(n, dtype=np.int32), type_of(perm).shape)
    inverse = lax.bind("scatter", broadcast_to(np.zeros((), np.int32), type_of(perm).shape), perm, iota,
                       axis=nb, batch_dims=nb, kind="set")
    return permute_rows(x, inverse)


def _parity(pivots, dt):
    """(-1) ** (number of actual row swaps), from lu's pivots."""
    k = type_of(pivots).shape[-1]
    swaps = sum(convert(not_equal(pivots, np.arange(k, dtype=np.int32)), "int32"), axis=-1)
    odd = convert(lax.elementwise("remainder", swaps, np.asarray(2, np.int32)), dt)
    return subtract(np.asarray(1, dt.np), multiply(np.asarray(2, dt.np), odd))


# --- solving -------------------------------------------------------------------------------------

def solve(a, b):
    """NumPy 2's solve: b is one vector (b.ndim == 1) or a stack of matrices broadcast against a's batch
    dimensions. LU with partial pivoting, then two triangular solves."""
    x = _square(a, "solve")
    y = _float(b)
    dt = result_type(x, y)
    x, y = convert(x, dt), convert(y, dt)
    n = type_of(x).shape[-1]
    vector = type_of(y).ndim == 1
    if vector:
        y = reshape(y, (n, 1))
    if type_of(y).shape[-2] != n:
        raise ValueError(f"solve: b has {type_of(y).shape[-2]} rows, expected {n} (a is {n}x{n})")
    lu, _, perm = lax.bind("lu", x)
    out = lu_solve_factored(lu, perm, y)
    return reshape(out, (n,)) if vector else out


def inv(a):
    x = _square(a, "inv")
    t = type_of(x)
    return solve(x, broadcast_to(_eye(t.shape[-1], t.dtype, x), t.shape))


def slogdet(a):
    x = _square(a, "slogdet")
    t = type_of(x)
    lu, piv, _ = lax.bind("lu", x)
    d = _diagonal(lu, 0, -2, -1)
    s = multiply(prod(sign(d), axis=-1), _parity(piv, t.dtype))
    return s, sum(log(abs(d)), axis=-1)


def det(a):
    x = _square(a, "det")
    t = type_of(x)
    lu, piv, _ = lax.bind("lu", x)
    return multiply(prod(_diagonal(lu, 0, -2, -1), axis=-1), _parity(piv, t.dtype))


def tensorsolve(a, b, axes=None):
    x, y = _float(a), _float(b)
    if axes is not None:
        x = moveaxis(x, list(axes), [type_of(x).ndim - len(axes) + i for i in range(len(axes))])
    rhs_shape = type_of(y).shape
    sol_shape = type_of(x).shape[len(rhs_shape):]
    n = int(np.prod(rhs_shape))
    if int(np.prod(sol_shape)) != n:
        raise ValueError(f"tensorsolve: a's trailing dimensions {sol_shape} must have as many elements as b {rhs_shape}")
    return reshape(solve(reshape(x, (n, n)), reshape(y, (n,))), sol_shape)


def tensorinv(a, ind=2):
    x = _float(a)
    shape = type_of(x).shape
    if ind <= 0:
        raise ValueError("tensorinv: ind must be a positive integer")
    first, rest = shape[:ind], shape[ind:]
    n = int(np.prod(first))
    if int(np.prod(rest)) != n:
        raise ValueError(f"tensorinv: the first {ind} dimensions {first} and the rest {rest} differ in size")
    return reshape(inv(reshape(x, (n, n))), rest + first)


# --- decompositions ---------------------------------------------------------------------------------

def cholesky(a, upper=False):
    """The lower factor L (a = L L^T) or, with upper=True, U = L^T; reads only that triangle of a."""
    x = _square(a, "cholesky")
    return lax.bind("cholesky", symmetric_input(x), lower=not upper)


def qr(a, mode="reduced"):
    """Householder QR with LAPACK's signs (numpy.linalg.qr's): mode 'reduced', 'complete' or 'r'."""
    if mode not in ("reduced", "complete", "r"):
        raise NotImplementedError(f"qr mode {mode!r} is not supported; 'reduced', 'complete' and 'r' are")
    x = _matrix(a, "qr")
    q, r = lax.bind("qr", x, full_matrices=mode == "complete")
    return r if mode == "r" else (q, r)


def eigh(a, UPLO="L"):
    """(eigenvalues ascending, eigenvectors in columns) of symmetric matrices, reading the UPLO triangle."""
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    x = _square(a, "eigh")
    v, w = lax.bind("eigh", symmetric_input(x), lower=UPLO == "L")
    return w, v


def eigvalsh(a, UPLO="L"):
    return eigh(a, UPLO)[0]


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """(u, s, vh) with a = u diag(s) vh, s descending; only s when compute_uv=False. `hermitian` is
    accepted and ignored (the general SVD gives the same s)."""
    x = _matrix(a, "svd")
    if not compute_uv:
        return lax.bind("svd", x, full_matrices=False, compute_uv=False)
    return lax.bind("svd", x, full_matrices=bool(full_matrices), compute_uv=True)


def svdvals(x):
    return svd(x, compute_uv=False)


def _sv_cutoff(sv, tol, dt):
    return multiply(max(sv, axis=-1, keepdims=True), np.asarray(tol, dt.np))


def _pinv_s(sv, keep, dt):
    one, zero = np.asarray(1, dt.np), np.asarray(0, dt.np)
    return where(keep, divide(one, where(keep, sv, one)), zero)


def pinv(a, rcond=None, hermitian=False, *, rtol=None):
    x = _matrix(a, "pinv")
    t = type_of(x)
    m, n = t.shape[-2:]
    u, sv, vh = svd(x, full_matrices=False)
    if rcond is None and rtol is None:
        rtol = _max_int(m, n) * np.finfo(t.dtype.np).eps
    tol = rcond if rcond is not None else rtol
    keep = greater(sv, _sv_cutoff(sv, tol, t.dtype))
    return matmul(multiply(_t(vh), expand_dims(_pinv_s(sv, keep, t.dtype), -2)), _t(u))


def matrix_rank(A, tol=None, hermitian=False, *, rtol=None):
    x = _float(A)
    t = type_of(x)
    if t.ndim < 2:
        return convert(any_(not_equal(x, np.asarray(0, t.dtype.np))), "int64")
    sv = svdvals(x)
    if tol is None:
        r = rtol if rtol is not None else _max_int(*t.shape[-2:]) * np.finfo(t.dtype.np).eps
        tol = _sv_cutoff(sv, r, t.dtype)
    else:
        tol = expand_dims(operand(tol), -1) if is_tensor(tol) or np.ndim(tol) else tol
    return sum(greater(sv, tol), axis=-1)


def cond(x, p=None):
    if p not in (None, 2, -2):
        a = _square(x, "cond")
        return multiply(norm(a, p, axis=(-2, -1)), norm(inv(a), p, axis=(-2, -1)))
    sv = svdvals(_matrix(x, "cond"))
    hi, lo = max(sv, axis=-1), min(sv, axis=-1)
    return divide(lo, hi) if p == -2 else divide(hi, lo)


def lstsq(a, b, rcond=None):
    """Least squares by the SVD. Returns (x, residuals, rank, s) as NumPy does, except that residuals are
    given whenever m > n (NumPy leaves them empty for rank-deficient a: a data-dependent shape)."""
    x = _matrix(a, "lstsq")
    y = _float(b)
    dt = result_type(x, y)
    x, y = convert(x, dt), convert(y, dt)
    m, n = type_of(x).shape[-2:]
    u, sv, vh = svd(x, full_matrices=False)
    tol = _max_int(m, n) * np.finfo(dt.np).eps if rcond is None else rcond
    keep = greater(sv, _sv_cutoff(sv, tol, dt))
    vec = type_of(y).ndim == 1
    yy = reshape(y, (m, 1)) if vec else y
    coef = matmul(multiply(_t(vh), expand_dims(_pinv_s(sv, keep, dt), -2)), matmul(_t(u), yy))
    rank = convert(sum(keep, axis=-1), "int32")  # LAPACK's integer, as NumPy returns it
    if m > n:
        r = subtract(yy, matmul(x, coef))
        resid = sum(multiply(r, r), axis=0)
    else:
        resid = np.zeros((0,), dt.np)
    if vec:
        coef = reshape(coef, (n,))
    return coef, resid, rank, sv


def _max_int(*v):
    out = v[0]
    for e in v[1:]:
        out = e if e > out else out
    return out


def _eig_operand(a, what):
    """a as f32/f64/c64/c128 square matrices: integers become float64, float16/bfloat16 float32."""
    x = operand(a)
    d = type_of(x).dtype
    if not (d.is_float or d.is_complex):
        x = convert(x, _F64)
    elif d.is_float and d.bits < 32:
        x = convert(x, lax.as_dtype("float32"))
    t = type_of(x)
    if t.ndim < 2 or t.shape[-1] != t.shape[-2]:
        raise ValueError(f"{what}: the last 2 dimensions of the array must be square, got shape {t.shape}")
    return x


def eig(a):
    """(w, v): the eigenvalues and right eigenvectors (columns of unit 2-norm) of general square matrices,
    a @ v[..., :, i] = w[..., i] * v[..., :, i]. Both are always complex (complex64 for float32/complex64
    input, complex128 otherwise), as jax.numpy.linalg.eig; NumPy returns real arrays when every eigenvalue
    is real. The eigenvalues are in LAPACK's order, not sorted. Not differentiable (as in JAX): use eigvals."""
    w, v = lax.bind("eig", _eig_operand(a, "eig"), compute_left_eigenvectors=False, compute_right_eigenvectors=True)
    return w, v


def eigvals(a):
    """The (complex) eigenvalues of general square matrices, as jax.numpy.linalg.eigvals; differentiable."""
    return lax.bind("eig", _eig_operand(a, "eigvals"), compute_left_eigenvectors=False,
                    compute_right_eigenvectors=False)


__all__ = ["norm", "vector_norm", "matrix_norm", "multi_dot", "matrix_power", "outer", "trace", "diagonal",
           "matrix_transpose", "tensordot", "solve", "inv", "slogdet", "det", "tensorsolve", "tensorinv", "cholesky",
           "qr", "eigh", "eigvalsh", "svd", "svdvals", "pinv", "matrix_rank", "cond", "lstsq", "eig", "eigvals",
           "matmul", "vecdot"]  # matmul and vecdot: products.py's, as numpy.linalg has them too
