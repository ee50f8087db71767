"""Linear-algebra ops: `cholesky`, `triangular_solve`, `lu`, `qr`, `eigh`, `svd` (jax.lax.linalg semantics).

Each op works on the last two dimensions of its operands and is batched over
the leading ones; float32 and float64. Names, attributes and result order are
those of `jax.lax.linalg` (StableHLO's `cholesky` and `triangular_solve` have
the same meaning), so a graph reads like the JAX program it came from:

* `cholesky(a) {lower=true}` -> l: the Cholesky factor of the symmetric
  positive-definite a, lower (a = l l^T, zeros above the diagonal) or, with
  lower=false, upper (a = u^T u, zeros below). Only that triangle of a is
  read. A matrix that is not positive definite gives NaN (as JAX; NumPy raises).
* `triangular_solve(a, b) {left_side=false, lower=false, transpose_a=false,
  unit_diagonal=false}` -> x solving op(a) x = b (left_side) or x op(a) = b,
  op(a) = a^T when transpose_a. Only the `lower` (or upper) triangle of a is
  read, and its diagonal is taken as ones when unit_diagonal. a: [..., m, m];
  b: [..., m, n] (left_side) or [..., n, m], same batch dimensions. Linear in b.
* `lu(a)` -> (lu, pivots: i32[..., k], permutation: i32[..., m]), k = min(m, n):
  LU with partial pivoting (LAPACK getrf): lu holds l's strictly lower part
  (unit diagonal implied) and u; row i was swapped with row pivots[i] (0-based);
  a[permutation] = l @ u.
* `qr(a) {full_matrices=true}` -> (q, r): Householder QR (LAPACK geqrf +
  orgqr signs); full: q [..., m, m], r [..., m, n]; otherwise q [..., m, k],
  r [..., k, n].
* `eigh(a) {lower=true}` -> (v, w): eigenvectors (columns of v) and ascending
  eigenvalues of the symmetric a, reading its lower (or upper) triangle.
* `eig(a) {compute_left_eigenvectors=false, compute_right_eigenvectors=true}`
  -> (w, v) (with left eigenvectors: (w, vl, vr); with neither: (w,)):
  eigenvalues w [..., n] and eigenvectors (columns, unit 2-norm, as LAPACK
  geev) of a general square a (f32/f64/c64/c128), all complex (c64 for
  f32/c64 input, c128 for f64/c128).
* `svd(a) {full_matrices=true, compute_uv=true}` -> (u, s, vh), or (s,) without
  compute_uv: a = u diag(s) vh, s descending and non-negative.
* `lu_pivots_to_permutation(pivots) {permutation_size}` -> the permutation
  the row swaps make (what lu_solve needs from lu_factor's pivots).

No op fails on data: where LAPACK reports a failure (not positive definite,
no convergence) the results are NaN; a singular matrix gives lu with a zero
on u's diagonal, and triangular_solve then gives inf/NaN, as LAPACK does.
"""

from __future__ import annotations

from .dtypes import complex64, complex128, float64, int32
from .errors import IRTypeError
from .ops import AttrSpec, OpDef, register
from .types import TensorType

LINALG_OPS = ("cholesky", "triangular_solve", "lu", "qr", "eigh", "svd", "lu_pivots_to_permutation")
EIG_OPS = ("eig",)  # llvm: its own kernel module (backends/llvm/lapack_eig.py, LAPACK geev)


def _matrix(op, types, t, what="operand", square=False):
    if t.dtype.kind != "f":
        raise IRTypeError(op, types, f"{what} dtype {t.dtype.name} is not supported", f"a float32/float64 {what}")
    if t.ndim < 2:
        raise IRTypeError(op, types, f"{what} has rank {t.ndim}", f"a {what} of rank >= 2 ([..., m, n] matrices)")
    if square and t.shape[-1] != t.shape[-2]:
        raise IRTypeError(op, types, f"{what} matrices are {t.shape[-2]}x{t.shape[-1]}",
                          f"square matrices ([..., n, n]) as the {what}")
    return t.shape[:-2], t.shape[-2], t.shape[-1]


def _cholesky(types, attrs, regions):
    (a,) = types
    _matrix("cholesky", types, a, square=True)
    return (a,)


register(OpDef("cholesky", _cholesky, attrs={"lower": AttrSpec("bool", True)}, category="linalg", inexact=True,
               doc="Cholesky factor of symmetric positive-definite matrices, batched over leading dimensions: "
                   "lower l (a = l l^T) or, with lower=false, upper u (a = u^T u); only that triangle of a is "
                   "read, the other triangle of the result is zero. Not positive definite: NaN."))


def _triangular_solve(types, attrs, regions):
    a, b = types
    batch, m, _ = _matrix("triangular_solve", types, a, "a", square=True)
    bbatch, bm, bn = _matrix("triangular_solve", types, b, "b")
    if b.dtype != a.dtype:
        raise IRTypeError("triangular_solve", types, "a and b have different dtypes", "one float dtype")
    if bbatch != batch:
        raise IRTypeError("triangular_solve", types, f"batch dimensions {list(batch)} and {list(bbatch)} differ",
                          "a and b with the same leading (batch) dimensions")
    k = bm if attrs["left_side"] else bn
    if k != m:
        side = "rows" if attrs["left_side"] else "columns"
        raise IRTypeError("triangular_solve", types, f"b has {k} {side}, a is {m}x{m}",
                          f"b with {m} {side} (left_side={attrs['left_side']})")
    return (b,)


register(OpDef("triangular_solve", _triangular_solve, num_operands=2, category="linalg", linear=(1,), inexact=True,
               attrs={"left_side": AttrSpec("bool", False), "lower": AttrSpec("bool", False),
                      "transpose_a": AttrSpec("bool", False), "unit_diagonal": AttrSpec("bool", False)},
               doc="triangular_solve(a, b): x with op(a) x = b (left_side) or x op(a) = b, op(a) = a^T when "
                   "transpose_a; reads only the lower (or upper) triangle of a, with ones on the diagonal when "
                   "unit_diagonal. a: [..., m, m]; b: [..., m, n] or [..., n, m]. Linear in b."))


def _lu(types, attrs, regions):
    (a,) = types
    batch, m, n = _matrix("lu", types, a)
    return (a, TensorType(batch + (min(m, n),), int32), TensorType(batch + (m,), int32))


register(OpDef("lu", _lu, category="linalg", inexact=True, discontinuous=True,
               doc="LU decomposition with partial pivoting (LAPACK getrf) of [..., m, n] matrices. Results: lu "
                   "(l strictly below the diagonal, unit diagonal implied; u on and above), pivots i32[..., "
                   "min(m, n)] (row i was swapped with row pivots[i], 0-based) and permutation i32[..., m] "
                   "(a[permutation] = l @ u)."))


def _qr(types, attrs, regions):
    (a,) = types
    batch, m, n = _matrix("qr", types, a)
    k = m if attrs["full_matrices"] else min(m, n)
    return (TensorType(batch + (m, k), a.dtype), TensorType(batch + (k, n), a.dtype))


register(OpDef("qr", _qr, attrs={"full_matrices": AttrSpec("bool", True)}, category="linalg", inexact=True,
               discontinuous=True,
               doc="Householder QR of [..., m, n] matrices (LAPACK's signs). Results (q, r): q [..., m, m] and "
                   "r [..., m, n] when full_matrices, else q [..., m, k] and r [..., k, n], k = min(m, n)."))


def _eigh(types, attrs, regions):
    (a,) = types
    batch, n, _ = _matrix("eigh", types, a, square=True)
    return (a, TensorType(batch + (n,), a.dtype))


register(OpDef("eigh", _eigh, attrs={"lower": AttrSpec("bool", True)}, category="linalg", inexact=True,
               discontinuous=True,
               doc="Eigendecomposition of symmetric [..., n, n] matrices, reading the lower (or upper) "
                   "triangle. Results (v, w): eigenvectors in the columns of v, eigenvalues w ascending."))


def _eig(types, attrs, regions):
    (a,) = types
    if a.dtype.kind not in "fc" or a.dtype.name in ("float16", "bfloat16"):
        raise IRTypeError("eig", types, f"operand dtype {a.dtype.name} is not supported",
                          "a float32/float64/complex64/complex128 operand")
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise IRTypeError("eig", types, f"operand of shape {list(a.shape)}", "square matrices [..., n, n]")
    batch, n = a.shape[:-2], a.shape[-1]
    c = complex128 if a.dtype in (float64, complex128) else complex64
    vec = TensorType(batch + (n, n), c)
    res = [TensorType(batch + (n,), c)]
    if attrs["compute_left_eigenvectors"]:
        res.append(vec)
    if attrs["compute_right_eigenvectors"]:
        res.append(vec)
    return tuple(res)


register(OpDef("eig", _eig, attrs={"compute_left_eigenvectors": AttrSpec("bool", False),
                                   "compute_right_eigenvectors": AttrSpec("bool", True)},
               category="linalg", inexact=True, discontinuous=True,
               doc="Eigendecomposition of general square [..., n, n] matrices (f32/f64/c64/c128; LAPACK geev), "
                   "as jax.lax.linalg.eig. Results, all complex (c64 for f32/c64, c128 for f64/c128): "
                   "eigenvalues w [..., n], then the left eigenvectors vl when compute_left_eigenvectors, then "
                   "the right eigenvectors vr when compute_right_eigenvectors (columns of unit 2-norm: "
                   "a vr[:, j] = w[j] vr[:, j], vl[:, j]^H a = w[j] vl[:, j]^H). Eigenvalues are in LAPACK's "
                   "order (unsorted)."))


def _svd(types, attrs, regions):
    (a,) = types
    batch, m, n = _matrix("svd", types, a)
    k = min(m, n)
    s = TensorType(batch + (k,), a.dtype)
    if not attrs["compute_uv"]:
        return (s,)
    um, vn = (m, n) if attrs["full_matrices"] else (k, k)
    return (TensorType(batch + (m, um), a.dtype), s, TensorType(batch + (vn, n), a.dtype))


register(OpDef("svd", _svd, attrs={"full_matrices": AttrSpec("bool", True), "compute_uv": AttrSpec("bool", True)},
               category="linalg", inexact=True, discontinuous=True,
               doc="Singular value decomposition of [..., m, n] matrices: (u, s, vh) with a = u diag(s) vh, s "
                   "descending (k = min(m, n) values); u [..., m, m] and vh [..., n, n] when full_matrices, "
                   "else [..., m, k] and [..., k, n]. With compute_uv=false the one result is s."))


def _lu_pivots_to_permutation(types, attrs, regions):
    (p,) = types
    size = attrs["permutation_size"]
    if p.dtype != int32 or p.ndim < 1:
        raise IRTypeError("lu_pivots_to_permutation", types, f"pivots of type {p}", "int32 pivots [..., k]")
    if size < p.shape[-1]:
        raise IRTypeError("lu_pivots_to_permutation", types, f"permutation_size={size} < {p.shape[-1]} pivots",
                          "permutation_size >= the number of pivots")
    return (TensorType(p.shape[:-1] + (size,), int32),)


register(OpDef("lu_pivots_to_permutation", _lu_pivots_to_permutation, category="linalg",
               attrs={"permutation_size": AttrSpec("int")}, discontinuous=True,
               doc="The permutation i32[..., permutation_size] that applying the row swaps `pivots` i32[..., k] "
                   "(swap i with pivots[i], for i = 0..k-1, 0-based) makes of 0, 1, ..., permutation_size-1; "
                   "pivots out of range are clamped into it."))
