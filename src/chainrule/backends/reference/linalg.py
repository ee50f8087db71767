"""Reference evaluation of the linear-algebra ops (see `chainrule.ir.linalg_ops`) with numpy.linalg.

NumPy raises `LinAlgError` where LAPACK reports a failure; these rules give
NaN for that matrix instead (as JAX does), so no op fails on data. NumPy has
no LU or triangular solve: those are written here as the textbook loops
(partial pivoting with LAPACK's choice of the first largest pivot; forward or
back substitution), vectorised over the batch and over the right-hand sides.
"""

from __future__ import annotations

import numpy as np

from .rules import rule


def _per_matrix(fn, a, outs):
    """fn(a) on the whole batch; where NumPy raises LinAlgError, NaN results for the failing matrices only."""
    try:
        return tuple(np.asarray(r, dtype=t.dtype.np) for r, t in zip(fn(a), outs))
    except np.linalg.LinAlgError:
        pass
    res = [np.full(t.shape, np.nan, t.dtype.np) for t in outs]
    batch = a.shape[:-2]
    for idx in np.ndindex(*batch):
        try:
            got = fn(a[idx])
        except np.linalg.LinAlgError:
            continue
        for r, g in zip(res, got):
            r[idx] = g
    return tuple(res)


def _t(x):
    return np.swapaxes(x, -1, -2)


@rule("cholesky")
def _cholesky(args, attrs, out, regions):
    (a,) = args
    lower = attrs["lower"]
    src = a if lower else _t(a)  # numpy reads the lower triangle; the upper one of a is the lower of a^T
    with np.errstate(all="ignore"):
        (l,) = _per_matrix(lambda x: (np.linalg.cholesky(x),), np.ascontiguousarray(src), out)
    l = np.tril(l)
    return (np.ascontiguousarray(l if lower else _t(l)).astype(out[0].dtype.np),)


def _substitute(t, b, lower):
    """Solve t x = b for triangular t ([..., m, m]) and b ([..., m, n]), row by row."""
    m = t.shape[-1]
    x = np.zeros(np.broadcast_shapes(t.shape[:-2], b.shape[:-2]) + b.shape[-2:], b.dtype)
    rows = range(m) if lower else range(m - 1, -1, -1)
    for i in rows:
        done = slice(0, i) if lower else slice(i + 1, m)
        acc = b[..., i, :] - np.einsum("...j,...jn->...n", t[..., i, done], x[..., done, :])
        x[..., i, :] = acc / t[..., i, i][..., None]
    return x


@rule("triangular_solve")
def _triangular_solve(args, attrs, out, regions):
    a, b = args
    lower, transpose = attrs["lower"], attrs["transpose_a"]
    if not attrs["left_side"]:
        # x op(a) = b  <=>  op(a)^T x^T = b^T
        b, transpose = _t(b), not transpose
    t = np.tril(a) if lower else np.triu(a)
    if attrs["unit_diagonal"]:
        t = t.copy()
        idx = np.arange(t.shape[-1])
        t[..., idx, idx] = 1
    if transpose:
        t, lower = _t(t), not lower
    with np.errstate(all="ignore"):
        x = _substitute(t, b, lower)
    if not attrs["left_side"]:
        x = _t(x)
    return (np.ascontiguousarray(x).astype(out[0].dtype.np),)


@rule("lu")
def _lu(args, attrs, out, regions):
    (a,) = args
    lu = np.array(a, copy=True)
    *batch, m, n = lu.shape
    k = min(m, n)
    batch = tuple(batch)
    pivots = np.zeros(batch + (k,), np.int32)
    perm = np.broadcast_to(np.arange(m, dtype=np.int32), batch + (m,)).copy()
    bidx = np.indices(batch) if batch else ()
    bidx = tuple(bidx)
    with np.errstate(all="ignore"):
        for j in range(k):
            p = j + np.argmax(np.abs(lu[..., j:, j]), axis=-1)  # the first largest, as LAPACK's idamax
            pivots[..., j] = p
            # swap rows j and p of lu and of the permutation
            row_j, row_p = lu[..., j, :].copy(), lu[(*bidx, p)].copy()
            lu[..., j, :] = row_p
            lu[(*bidx, p)] = row_j
            pj, pp = perm[..., j].copy(), perm[(*bidx, p)].copy()
            perm[..., j] = pp
            perm[(*bidx, p)] = pj
            piv = lu[..., j, j]
            # a zero pivot leaves its column as it is (LAPACK getf2)
            scale = np.where(piv == 0, 1, piv)[..., None]
            lu[..., j + 1:, j] = lu[..., j + 1:, j] / scale
            lu[..., j + 1:, j + 1:] -= lu[..., j + 1:, j:j + 1] * lu[..., j:j + 1, j + 1:]
    return lu, pivots, perm


@rule("qr")
def _qr(args, attrs, out, regions):
    (a,) = args
    mode = "complete" if attrs["full_matrices"] else "reduced"
    return _per_matrix(lambda x: np.linalg.qr(x, mode=mode), a, out)


@rule("eigh")
def _eigh(args, attrs, out, regions):
    (a,) = args
    uplo = "L" if attrs["lower"] else "U"

    def fn(x):
        w, v = np.linalg.eigh(x, UPLO=uplo)
        return v, w
    return _per_matrix(fn, a, out)


@rule("svd")
def _svd(args, attrs, out, regions):
    (a,) = args
    full, uv = attrs["full_matrices"], attrs["compute_uv"]
    if not uv:
        return _per_matrix(lambda x: (np.linalg.svd(x, compute_uv=False),), a, out)
    return _per_matrix(lambda x: tuple(np.linalg.svd(x, full_matrices=full)), a, out)


@rule("lu_pivots_to_permutation")
def _lu_pivots_to_permutation(args, attrs, out, regions):
    (piv,) = args
    size = attrs["permutation_size"]
    batch = piv.shape[:-1]
    perm = np.broadcast_to(np.arange(size, dtype=np.int32), batch + (size,)).copy()
    piv = np.clip(piv, 0, max(size - 1, 0))
    bidx = tuple(np.indices(batch)) if batch else ()
    for i in range(piv.shape[-1]):
        p = piv[..., i]
        a, b = perm[..., i].copy(), perm[(*bidx, p)].copy()
        perm[..., i] = b
        perm[(*bidx, p)] = a
    return (perm,)


@rule("eig")
def _eig(args, attrs, out, regions):
    (a,) = args
    left, right = attrs["compute_left_eigenvectors"], attrs["compute_right_eigenvectors"]

    def fn(x):
        w, vr = np.linalg.eig(x)
        res = [w]
        if left:
            # left eigenvectors of a: the right ones of a^H for the conjugated eigenvalues, in w's order
            wl, vl = np.linalg.eig(np.conj(np.swapaxes(x, -1, -2)))
            res.append(np.take_along_axis(vl, _match(np.conj(wl), w)[..., None, :], -1))
        if right:
            res.append(vr)
        return res
    with np.errstate(all="ignore"):
        return _per_matrix(fn, a, out)


def _match(src, dst):
    """Indices into the last axis of src putting each value nearest dst's value at the same position."""
    if src.ndim > 1:
        return np.stack([_match(s, d) for s, d in zip(src, dst)])
    free = list(range(src.shape[-1]))
    idx = []
    for d in dst:
        k = min(free, key=lambda i: abs(src[i] - d))
        free.remove(k)
        idx.append(k)
    return np.array(idx, dtype=np.intp)
