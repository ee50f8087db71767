"""jax.scipy.linalg's functions on the linear-algebra primitives (public as chainrule.scipy.linalg).

Signatures and results are jax.scipy.linalg's (SciPy's, less the arguments
that only matter to SciPy's memory handling, which are accepted and
ignored): `cholesky(a, lower=False)` gives the upper factor by default,
`lu(a)` gives (p, l, u) with a = p @ l @ u, `lu_factor` LAPACK's packed lu
and 0-based pivots, `qr(a, mode="full")`, `eigh(a, lower=True)` gives
(w, v), `solve(a, b, assume_a="gen")` factors with Cholesky for
assume_a="pos". `expm` is Padé scaling and squaring (Higham 2005, as
jax.scipy.linalg.expm: the Padé degree by the 1-norm, squarings in a scan of
`max_squarings` steps), written in ops that all differentiate.
"""

from __future__ import annotations

import numpy as np

from . import lax
from .control_flow import cond, scan, switch
from .core import type_of
from .custom import custom_jvp
from .numpy.linalg import (_eye, _square, det, index_grid, inv, lu_solve_factored, svd, symmetric_input,  # noqa: F401
                           solve as _np_solve)
from .numpy.products import matmul
from .numpy.reductions import max as _max, sum as _sum
from .numpy.shapes import expand_dims, reshape, swapaxes
from .numpy.transcendental import log2
from .numpy.ufuncs import (abs as _abs, add, divide, equal, floor, greater, greater_equal, less, maximum, multiply,
                           power, subtract, where)
from .vmap import vmap

__all__ = ["cholesky", "cho_factor", "cho_solve", "solve_triangular", "lu", "lu_factor", "lu_solve", "qr", "eigh",
           "svd", "solve", "det", "inv", "expm"]


def _t(x):
    return swapaxes(x, -1, -2)


def _rhs(a, b, what):
    """(a, b as [..., n, k] of a's dtype, was_vector); b is one right-hand side when b.ndim == a.ndim - 1."""
    x = _square(a, what)
    y = lax.float_operand(b)
    dt = lax.result_type(x, y)
    x, y = lax.convert(x, dt), lax.convert(y, dt)
    n = type_of(x).shape[-1]
    vector = type_of(y).ndim == type_of(x).ndim - 1
    if vector:
        y = expand_dims(y, -1)
    if type_of(y).ndim < 2 or type_of(y).shape[-2] != n:
        raise ValueError(f"{what}: b of shape {type_of(y).shape if not vector else type_of(y).shape[:-1]} does not "
                         f"match a of shape {type_of(x).shape} (expected {n} rows)")
    return x, y, vector


def _same_batch(x, y):
    batch = lax.broadcast_shapes(type_of(x).shape[:-2], type_of(y).shape[:-2])
    return (lax.broadcast_to(x, batch + type_of(x).shape[-2:]), lax.broadcast_to(y, batch + type_of(y).shape[-2:]))


def _unvector(x, vector):
    return reshape(x, type_of(x).shape[:-1]) if vector else x


# --- Cholesky ------------------------------------------------------------------------------------

def cholesky(a, lower=False, overwrite_a=False, check_finite=True):
    """The Cholesky factor, upper (a = u^T u) by default or lower (a = l l^T); reads that triangle of a."""
    return lax.bind("cholesky", _square(a, "cholesky"), lower=bool(lower))


def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
    """(c, lower): the factor and which triangle holds it (the other triangle is zero)."""
    return cholesky(a, lower=lower), bool(lower)


def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    """Solve a x = b from cho_factor(a)."""
    c, lower = c_and_lower
    c, y, vector = _rhs(c, b, "cho_solve")
    c, y = _same_batch(c, y)
    # a = l l^T (lower) or u^T u: solve with the factor and then its transpose
    y = lax.bind("triangular_solve", c, y, left_side=True, lower=bool(lower), transpose_a=not lower)
    y = lax.bind("triangular_solve", c, y, left_side=True, lower=bool(lower), transpose_a=bool(lower))
    return _unvector(y, vector)


def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, debug=None,
                     check_finite=True):
    """x with op(a) x = b, op(a) = a (trans 0 or 'N') or a^T (1, 'T', 2, 'C'); reads one triangle of a."""
    transposed = {0: False, "N": False, 1: True, "T": True, 2: True, "C": True}.get(trans)
    if transposed is None:
        raise ValueError(f"solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}")
    x, y, vector = _rhs(a, b, "solve_triangular")
    x, y = _same_batch(x, y)
    out = lax.bind("triangular_solve", x, y, left_side=True, lower=bool(lower), transpose_a=transposed,
                   unit_diagonal=bool(unit_diagonal))
    return _unvector(out, vector)


# --- LU ----------------------------------------------------------------------------------------------

def lu(a, permute_l=False, overwrite_a=False, check_finite=True):
    """(p, l, u) with a = p @ l @ u (or (p @ l, u) with permute_l=True); l is m x k, u is k x n."""
    x = lax.float_operand(a)
    t = type_of(x)
    if t.ndim < 2:
        raise ValueError(f"lu: expected an array of at least 2 dimensions, got shape {t.shape}")
    m, n = t.shape[-2:]
    k = min(m, n)
    packed, _, perm = lax.bind("lu", x)
    dt = t.dtype.np
    # p[j, i] = 1 where perm[i] == j: a[perm] = l u, so a = p l u
    rows, _ = index_grid(m, m, x)
    p = lax.convert(equal(expand_dims(perm, -2), rows), t.dtype)
    nd = t.ndim
    lk = packed if k == n else lax.bind("slice", packed, start_indices=(0,) * nd, limit_indices=t.shape[:-1] + (k,))
    i, j = index_grid(m, k, x)
    l = add(where(greater(i, j), lk, np.zeros((), dt)), lax.convert(equal(i, j), t.dtype))
    uk = packed if k == m else lax.bind("slice", packed, start_indices=(0,) * nd,
                                         limit_indices=t.shape[:-2] + (k, n))
    i, j = index_grid(k, n, x)
    u = where(greater(i, j), np.zeros((), dt), uk)
    if permute_l:
        return matmul(p, l), u
    return p, l, u


def lu_factor(a, overwrite_a=False, check_finite=True):
    """(lu, piv): LAPACK's packed factors and 0-based int32 row swaps."""
    x = lax.float_operand(a)
    if type_of(x).ndim < 2:
        raise ValueError(f"lu_factor: expected an array of at least 2 dimensions, got shape {type_of(x).shape}")
    packed, piv, _ = lax.bind("lu", x)
    return packed, piv


def lu_solve(lu_and_piv, b, trans=0, overwrite_b=False, check_finite=True):
    """Solve a x = b (trans 0) or a^T x = b (trans 1 or 2) from lu_factor(a)."""
    packed, piv = lu_and_piv
    if trans not in (0, 1, 2):
        raise ValueError(f"lu_solve: trans must be 0, 1 or 2, got {trans!r}")
    x, y, vector = _rhs(packed, b, "lu_solve")
    perm = lax.bind("lu_pivots_to_permutation", lax.convert(piv, "int32"), permutation_size=type_of(x).shape[-1])
    return _unvector(lu_solve_factored(x, perm, y, trans=min(trans, 1)), vector)


# --- QR, eigh, solve ------------------------------------------------------------------------------------

def qr(a, overwrite_a=False, lwork=None, mode="full", pivoting=False, check_finite=True):
    """(q, r) for mode 'full' or 'economic'; (r,) for mode 'r'. Householder, LAPACK's signs."""
    if pivoting:
        raise NotImplementedError("qr(pivoting=True) is not supported yet (jax.scipy.linalg supports it)")
    if mode not in ("full", "economic", "r"):
        raise ValueError(f"qr: mode must be 'full', 'economic' or 'r', got {mode!r} ('raw' is not supported)")
    x = lax.float_operand(a)
    if type_of(x).ndim < 2:
        raise ValueError(f"qr: expected an array of at least 2 dimensions, got shape {type_of(x).shape}")
    q, r = lax.bind("qr", x, full_matrices=mode != "economic")
    return (r,) if mode == "r" else (q, r)


def eigh(a, b=None, lower=True, eigvals_only=False, overwrite_a=False, overwrite_b=False, turbo=True, eigvals=None,
         type=1, check_finite=True, subset_by_index=None, symmetrize_input=True):
    """(w ascending, v) or w alone, reading the `lower` (or upper) triangle of a; with symmetrize_input it
    differentiates as a function of (a + a^T)/2, as JAX's does."""
    if b is not None:
        raise NotImplementedError("eigh: the generalized problem (b=...) is not supported, as in jax.scipy.linalg")
    if subset_by_index is not None or eigvals is not None:
        raise NotImplementedError("eigh: subset_by_index/eigvals are not supported yet")
    x = _square(a, "eigh")
    v, w = lax.bind("eigh", symmetric_input(x) if symmetrize_input else x, lower=bool(lower))
    return w if eigvals_only else (w, v)


_GENERAL = ("gen", "general", "sym", "symmetric", "her", "hermitian")
_TRIANGULAR = {"upper triangular": False, "lower triangular": True}


def solve(a, b, lower=False, overwrite_a=False, overwrite_b=False, debug=False, check_finite=True, assume_a="gen"):
    """x with a x = b: LU for assume_a 'gen'/'sym'/'her', Cholesky for 'pos' (reading the `lower` or upper
    triangle), one triangular solve for 'upper triangular'/'lower triangular'."""
    if assume_a in _TRIANGULAR:
        return solve_triangular(a, b, lower=_TRIANGULAR[assume_a])
    if assume_a in ("pos", "positive definite"):
        x, y, vector = _rhs(a, b, "solve")
        x, y = _same_batch(x, y)
        return _unvector(_pos_solve(bool(lower), x, y), vector)
    if assume_a not in _GENERAL:
        raise ValueError(f"solve: assume_a must be one of 'gen', 'sym', 'her', 'pos', 'upper triangular', "
                         f"'lower triangular'; got {assume_a!r}")
    x, y, vector = _rhs(a, b, "solve")
    return _unvector(_np_solve(x, y), vector)


def _pos_solve_raw(lower, a, y):
    return cho_solve((cholesky(a, lower=lower), lower), y)


# As jax.scipy.linalg.solve(assume_a="pos") (a custom_linear_solve): the value reads one triangle, the
# derivative is that of a x = y for the whole matrix a, x' = a^-1 (y' - a' x), solved with the same factor.
# (The x and the solve inside the rule are the plain Cholesky solve: so second derivatives agree with
# JAX's along symmetric directions, where the Cholesky rule's derivative is the exact one.)
_pos_solve = custom_jvp(_pos_solve_raw, nondiff_argnums=(0,))


@_pos_solve.defjvp
def _pos_solve_jvp(lower, primals, tangents):
    a, y = primals
    da, dy = tangents
    x = _pos_solve(lower, a, y)
    return x, _pos_solve(lower, a, subtract(dy, matmul(da, x)))


# --- expm: Padé approximants with scaling and squaring ------------------------------------------------

# Higham (2005): the numerator coefficients b_0..b_m of the [m/m] Padé approximant of exp, and the largest
# 1-norm each degree is accurate for in double (float64) and single (float32) precision.
_PADE = {
    3: (120., 60., 12., 1.),
    5: (30240., 15120., 3360., 420., 30., 1.),
    7: (17297280., 8648640., 1995840., 277200., 25200., 1512., 56., 1.),
    9: (17643225600., 8821612800., 2075673600., 302702400., 30270240., 2162160., 110880., 3960., 90., 1.),
    13: (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800., 129060195264000.,
         10559470521600., 670442572800., 33522128640., 1323241920., 40840800., 960960., 16380., 182., 1.),
}
_THETA = {np.dtype(np.float64): ((3, 5, 7, 9, 13), (1.495585217958292e-2, 2.539398330063230e-1,
                                                    9.504178996162932e-1, 2.097847961257068e0), 5.371920351148152),
          np.dtype(np.float32): ((3, 5, 7), (4.258730016922831e-1, 1.880152677804762e0), 3.925724783138660)}


def _pade(m):
    """a -> (u, v): the odd and even parts of the degree-m Padé numerator (p = u + v, q = v - u)."""
    b = _PADE[m]

    def poly(terms, eye):
        out = None
        for coef, x in terms:
            term = multiply(x if x is not None else eye, np.asarray(coef, type_of(eye).dtype.np))
            out = term if out is None else add(out, term)
        return out

    def fn(a):
        n = type_of(a).shape[-1]
        eye = _eye(n, type_of(a).dtype, a)  # from iota in a trace: no n x n literal
        a2 = matmul(a, a)
        powers = [None, a2]  # the identity, A^2, A^4, ...: up to A^(m-1), or A^6 for m = 13
        while len(powers) < (m // 2 + 1 if m < 13 else 4):
            powers.append(matmul(powers[-1], a2))
        if m < 13:
            u = matmul(a, poly([(b[2 * i + 1], powers[i]) for i in range(m // 2 + 1)], eye))
            v = poly([(b[2 * i], powers[i]) for i in range(m // 2 + 1)], eye)
            return u, v
        a4, a6 = powers[2], powers[3]
        u = matmul(a, add(matmul(a6, poly([(b[13], a6), (b[11], a4), (b[9], a2)], eye)),
                          poly([(b[7], a6), (b[5], a4), (b[3], a2), (b[1], None)], eye)))
        v = add(matmul(a6, poly([(b[12], a6), (b[10], a4), (b[8], a2)], eye)),
                poly([(b[6], a6), (b[4], a4), (b[2], a2), (b[0], None)], eye))
        return u, v
    return fn


def _expm2(a, upper_triangular, max_squarings):
    dt = type_of(a).dtype.np
    degrees, bounds, maxnorm = _THETA[np.dtype(dt)]
    norm1 = _max(_sum(_abs(a), axis=0))
    n_sq = maximum(floor(log2(divide(norm1, np.asarray(maxnorm, dt)))), np.zeros((), dt))
    a = divide(a, power(np.asarray(2, dt), n_sq))
    idx = _sum(lax.convert(greater_equal(norm1, np.asarray(bounds, dt)), "int32"))
    u, v = switch(idx, [_pade(m) for m in degrees], a)
    p, q = add(u, v), subtract(v, u)
    r = solve_triangular(q, p) if upper_triangular else _np_solve(q, p)

    def square(c, i):  # undo the scaling: square n_sq times (a cond, so skipped squarings cost nothing)
        return cond(less(i, n_sq), lambda x: matmul(x, x), lambda x: x, c), None
    r, _ = scan(square, r, np.arange(max_squarings, dtype=dt))
    return where(greater(n_sq, np.asarray(max_squarings, dt)), np.asarray(np.nan, dt), r)


def expm(A, *, upper_triangular=False, max_squarings=16):
    """The matrix exponential (batched over leading dimensions); NaN where more than max_squarings
    squarings would be needed, as JAX's."""
    a = _square(A, "expm")
    t = type_of(a)
    fn = lambda m: _expm2(m, upper_triangular, int(max_squarings))  # noqa: E731
    if t.ndim == 2:
        return fn(a)
    flat = reshape(a, (-1,) + t.shape[-2:])
    return reshape(vmap(fn)(flat), t.shape)
