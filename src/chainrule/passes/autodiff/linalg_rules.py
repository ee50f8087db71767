"""JVP and transpose rules of the linear-algebra ops, as jax.lax.linalg writes them.

Every rule is written in IR ops (dot_general, triangular_solve, select, ...),
so its output differentiates again; each applies only linear ops to the
tangents. The formulas are JAX's (jax/_src/lax/linalg.py), cited per rule:

* cholesky: L' = L phi(L^-1 A' L^-T), phi = lower triangle with the diagonal
  halved (Murray, arXiv:1602.07527); A' is taken as a whole matrix, as JAX does
  (the frontend symmetrizes A, so its derivative is symmetric too);
* triangular_solve: linear in b; in a, X' = -op(A)^-1 op(A') X (or the right-
  side mirror), in whichever order is cheaper; transposed by solving with
  op(A)^T;
* lu: De Hoog, Anderssen and Lukas: with X = L^-1 P A' U^-1, L' = L tril(X, -1)
  and U' = triu(X) U;
* qr: j-towns.github.io/papers/qr-derivative.pdf (m >= n, reduced or square);
* eigh: first-order perturbation theory for distinct eigenvalues;
* eig: eigenvalues only, as JAX: w_i' = (vl_i^H A' vr_i) / (vl_i^H vr_i)
  with the left and right eigenvectors of one geev call (JAX writes it as
  diag(V^-1 A' V), the same for distinct eigenvalues); an eig whose
  eigenvectors are results has no derivative (NonDifferentiableError, as JAX
  raises NotImplementedError: see jax issue 2748);
* svd: Giles's formulas with JAX's guards (F is 0 where singular values
  repeat, so the singular values' derivative, u_i^T A' v_i, is right for
  repeated values too); full_matrices is supported for square matrices only
  (JAX supports neither non-square case).
"""

from __future__ import annotations

from ...ir import TensorType
from .errors import NonDifferentiableError
from .jvp_rules import JVP_RULES, jvp
from .transpose_rules import transpose

JVP_RULES.exempt("lu_pivots_to_permutation", "an integer permutation result: piecewise constant")


# --- matrix helpers on [..., m, n] values ------------------------------------------------------

def _nb(x):
    return x.ndim - 2


def mm(e, x, y):
    """Batched matrix product x @ y over the leading dimensions."""
    nb = _nb(x)
    b = tuple(range(nb))
    return e.op("dot_general", x, y, lhs_batch=b, rhs_batch=b, lhs_contracting=(nb + 1,), rhs_contracting=(nb,))


def tr(e, x):
    """x with its last two dimensions swapped."""
    perm = tuple(range(_nb(x))) + (x.ndim - 1, x.ndim - 2)
    return e.op("transpose", x, permutation=perm)


def _tri_mask(e, shape, k, lower):
    """bool[shape]: j - i <= k (lower, as numpy.tril) or j - i >= k (upper, numpy.triu)."""
    m, n = shape[-2:]
    i = e.op("iota", shape=(m, n), dimension=0, dtype="int32")
    j = e.op("iota", shape=(m, n), dimension=1, dtype="int32")
    d = e.op("subtract", j, i)
    kk = e.full(k, TensorType((m, n), "int32"))
    mask = e.op("compare", d, kk, direction="LE" if lower else "GE")
    return e.bcast(mask, shape, (len(shape) - 2, len(shape) - 1))


def tril(e, x, k=0):
    return e.op("select", _tri_mask(e, x.shape, k, True), x, e.zeros(x.type))


def triu(e, x, k=0):
    return e.op("select", _tri_mask(e, x.shape, k, False), x, e.zeros(x.type))


def eye(e, shape, dtype, start=0):
    """The identity on the last two dimensions of `shape` (ones at i == j >= start), broadcast."""
    m, n = shape[-2:]
    i = e.op("iota", shape=(m, n), dimension=0, dtype="int32")
    j = e.op("iota", shape=(m, n), dimension=1, dtype="int32")
    on = e.op("compare", i, j, direction="EQ")
    if start:
        on = e.op("and", on, e.op("compare", i, e.full(start, TensorType((m, n), "int32")), direction="GE"))
    return e.bcast(e.op("convert", on, dtype=dtype), shape, (len(shape) - 2, len(shape) - 1))


def diagonal(e, x):
    """[..., n, n] -> [..., n]: the diagonal."""
    return e.reduce_sum(e.op("multiply", x, eye(e, x.shape, x.dtype)), (x.ndim - 1,))


def row(e, v, n_rows):
    """[..., k] -> [..., n_rows, k]: v repeated along a new second-to-last dimension (v[..., None, :])."""
    nb = v.ndim - 1
    shape = v.shape[:-1] + (n_rows, v.shape[-1])
    return e.bcast(v, shape, tuple(range(nb)) + (nb + 1,))


def col(e, v, n_cols):
    """[..., k] -> [..., k, n_cols]: v repeated along a new last dimension (v[..., :, None])."""
    nb = v.ndim - 1
    shape = v.shape + (n_cols,)
    return e.bcast(v, shape, tuple(range(nb + 1)))


def _tsolve(e, a, b, **attrs):
    return e.op("triangular_solve", a, b, **attrs)


# --- cholesky ------------------------------------------------------------------------------------

@jvp("cholesky")
def _cholesky(e, node, xs, ts, ys):
    (l,), (t,) = ys, ts
    upper = not node.attrs["lower"]
    if upper:  # u = chol_lower(a^T)^T: differentiate the lower factor of a^T
        l, t = tr(e, l), tr(e, t)
    # JAX: tmp = L^-1 A' L^-T; L' = L phi(tmp), phi = tril with the diagonal halved
    tmp = _tsolve(e, l, t, left_side=False, lower=True, transpose_a=True)
    tmp = _tsolve(e, l, tmp, left_side=True, lower=True)
    half = e.op("add", e.full_like(1, tmp), eye(e, tmp.shape, tmp.dtype))
    ldot = mm(e, l, e.op("divide", tril(e, tmp), half))
    return [tr(e, ldot) if upper else ldot]


# --- triangular_solve -------------------------------------------------------------------------------

@jvp("triangular_solve")
def _triangular_solve(e, node, xs, ts, ys):
    a, _ = xs
    ga, gb = ts
    (x,) = ys
    at = dict(node.attrs)
    out = None if gb is None else _tsolve(e, a, gb, **at)
    if ga is not None:
        k = 1 if at["unit_diagonal"] else 0
        g = tril(e, ga, -k) if at["lower"] else triu(e, ga, k)
        g = e.op("negate", g)
        if at["transpose_a"]:
            g = tr(e, g)
        m, n = x.shape[-2:]
        if at["left_side"]:  # X' = -op(A)^-1 op(A') X
            da = _tsolve(e, a, mm(e, g, x), **at) if m > n else mm(e, _tsolve(e, a, g, **at), x)
        else:                # X' = -X op(A') op(A)^-1
            da = _tsolve(e, a, mm(e, x, g), **at) if m < n else mm(e, x, _tsolve(e, a, g, **at))
        out = e.add_any(out, da)
    return [out]


@transpose("triangular_solve")
def _triangular_solve_t(e, node, ct, linear):
    if linear[0]:
        raise NonDifferentiableError("internal error: triangular_solve is not linear in a; a JVP rule applied "
                                     "it to a tangent matrix")
    at = dict(node.attrs)
    at["transpose_a"] = not at["transpose_a"]
    return [None, _tsolve(e, node.operands[0], ct, **at)]


# --- lu ----------------------------------------------------------------------------------------------

def lu_factors(e, lu):
    """(l [..., m, m], u [..., n, n]) of a packed lu [..., m, n], padded to square as JAX's rule does:
    l gets unit columns beyond k = min(m, n), u ones on its diagonal beyond k."""
    *batch, m, n = lu.shape
    nb, k = len(batch), min(m, n)
    zero = e.scalar(0, lu.dtype)
    lk = e.op("slice", lu, start_indices=(0,) * (nb + 2), limit_indices=tuple(batch) + (m, k))
    l = e.op("pad", tril(e, lk, -1), zero, edge_padding_low=(0,) * (nb + 2),
             edge_padding_high=(0,) * (nb + 1) + (m - k,))
    l = e.op("add", l, eye(e, tuple(batch) + (m, m), lu.dtype))
    uk = e.op("slice", lu, start_indices=(0,) * (nb + 2), limit_indices=tuple(batch) + (k, n))
    u = e.op("pad", triu(e, uk), zero, edge_padding_low=(0,) * (nb + 2),
             edge_padding_high=(0,) * nb + (n - k, 0))
    if n > k:
        u = e.op("add", u, eye(e, tuple(batch) + (n, n), lu.dtype, start=k))
    return l, u


@jvp("lu")
def _lu(e, node, xs, ts, ys):
    (t,) = ts
    lu, _, perm = ys
    nb = _nb(lu)
    x = e.op("gather", t, perm, axis=nb, batch_dims=nb)  # P A': the rows of A' in the pivoted order
    l, u = lu_factors(e, lu)
    la = _tsolve(e, l, x, left_side=True, lower=True, unit_diagonal=True)
    lau = _tsolve(e, u, la, left_side=False, lower=False)
    ldot = mm(e, l, tril(e, lau, -1))
    udot = mm(e, triu(e, lau), u)
    return [e.op("add", ldot, udot), None, None]


# --- qr -------------------------------------------------------------------------------------------------

@jvp("qr")
def _qr(e, node, xs, ts, ys):
    (a,), (dx,) = xs, ts
    m, n = a.shape[-2:]
    if m < n or (node.attrs["full_matrices"] and m != n):
        raise NonDifferentiableError(
            f"the derivative of qr is defined for m >= n with reduced factors (full_matrices=False or square "
            f"matrices), as in JAX; got {m}x{n} matrices with full_matrices={node.attrs['full_matrices']}")
    q, r = ys
    dx_rinv = _tsolve(e, r, dx, left_side=False, lower=False)  # A' R^-1
    qt_dx_rinv = mm(e, tr(e, q), dx_rinv)
    low = tril(e, qt_dx_rinv, -1)
    do = e.op("subtract", low, tr(e, low))  # skew-symmetric
    dq = e.op("add", mm(e, q, e.op("subtract", do, qt_dx_rinv)), dx_rinv)
    dr = mm(e, e.op("subtract", qt_dx_rinv, do), r)
    return [dq, dr]


# --- eigh -------------------------------------------------------------------------------------------------

@jvp("eigh")
def _eigh(e, node, xs, ts, ys):
    (t,) = ts
    v, w = ys
    n = w.shape[-1]
    i = eye(e, v.shape, v.dtype)
    # F[i, j] = 1 / (w_j - w_i) off the diagonal, 0 on it (JAX builds it the same way, avoiding NaN)
    diff = e.op("subtract", row(e, w, n), col(e, w, n))
    fmat = e.op("subtract", e.op("divide", e.full_like(1, i), e.op("add", i, diff)), i)
    vt_a_v = mm(e, mm(e, tr(e, v), t), v)
    dv = mm(e, v, e.op("multiply", vt_a_v, fmat))
    dw = diagonal(e, vt_a_v)
    return [dv, dw]


# --- eig --------------------------------------------------------------------------------------------------

@jvp("eig")
def _eig(e, node, xs, ts, ys):
    if node.attrs["compute_left_eigenvectors"] or node.attrs["compute_right_eigenvectors"]:
        raise NonDifferentiableError(
            "the derivative of eig is implemented for the eigenvalues only, not the eigenvectors (as in JAX: "
            "https://github.com/jax-ml/jax/issues/2748); differentiate eigvals(a) instead of eig(a)")
    (a,), (t,) = xs, ts
    w = ys[0]
    _, vl, vr = e.op("eig", a, compute_left_eigenvectors=True, compute_right_eigenvectors=True)
    vlh = e.op("conj", vl)
    t = e.convert(t, w.dtype)
    num = e.reduce_sum(e.op("multiply", vlh, mm(e, t, vr)), (vr.ndim - 2,))  # vl_i^H A' vr_i
    den = e.reduce_sum(e.op("multiply", vlh, vr), (vr.ndim - 2,))            # vl_i^H vr_i
    return [e.op("divide", num, den)]


# --- svd ----------------------------------------------------------------------------------------------------

@jvp("svd")
def _svd(e, node, xs, ts, ys):
    (a,), (da,) = xs, ts
    m, n = a.shape[-2:]
    full, uv = node.attrs["full_matrices"], node.attrs["compute_uv"]
    if uv and full and m != n:
        raise NonDifferentiableError(
            f"the derivative of svd with full_matrices=True is defined for square matrices only (JAX: for "
            f"none); got {m}x{n}: use full_matrices=False")
    if uv:
        u, s, vt = ys
    else:  # the singular values' derivative needs the vectors
        u, s, vt = e.op("svd", a, full_matrices=False, compute_uv=True)
    k = s.shape[-1]
    v = tr(e, vt)
    ds_mat = mm(e, mm(e, tr(e, u), da), v)  # dS = U^T A' V
    ds = diagonal(e, ds_mat)
    if not uv:
        return [ds]
    s_row, s_col = row(e, s, k), col(e, s, k)
    i = eye(e, s_row.shape, s.dtype)
    s_diffs = e.op("multiply", e.op("add", s_row, s_col), e.op("subtract", s_row, s_col))
    f = e.op("subtract", e.op("divide", e.full_like(1, i), e.op("add", s_diffs, i)), i)
    dss = e.op("multiply", ds_mat, s_row)  # dS diag(s)
    sds = e.op("multiply", ds_mat, s_col)  # diag(s) dS
    du = mm(e, u, e.op("multiply", e.op("add", dss, tr(e, dss)), f))
    dv = mm(e, v, e.op("multiply", e.op("add", sds, tr(e, sds)), f))
    # (the term 0.5 (dS - dS^H) diag(1/s) of JAX's rule is zero for real matrices)
    if m > n:
        dav = mm(e, da, v)
        proj = e.op("subtract", dav, mm(e, u, mm(e, tr(e, u), dav)))
        du = e.op("add", du, e.op("divide", proj, row(e, s, m)))
    if n > m:
        dau = mm(e, tr(e, da), u)
        proj = e.op("subtract", dau, mm(e, v, mm(e, vt, dau)))
        dv = e.op("add", dv, e.op("divide", proj, row(e, s, n)))
    return [du, ds, tr(e, dv)]

