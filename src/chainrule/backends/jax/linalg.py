"""Lowerings of the linear-algebra ops to `jax.lax.linalg` (LAPACK on CPU, cuSOLVER on GPU).

The IR ops have jax.lax.linalg's names, attributes and result order, so each
lowering is one call. The IR's triangle attributes mean "read only this
triangle": cholesky and eigh are called without symmetrizing (the frontend
symmetrizes, as jnp.linalg does), and an upper Cholesky factor is the
transposed lower factor of the transposed matrix.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from .table import lowering


def _t(x):
    return jnp.swapaxes(x, -1, -2)


@lowering("cholesky")
def _cholesky(args, attrs, out, regions):
    (a,) = args
    if attrs["lower"]:
        return (jnp.tril(lax.linalg.cholesky(a, symmetrize_input=False)),)
    return (_t(jnp.tril(lax.linalg.cholesky(_t(a), symmetrize_input=False))),)


@lowering("triangular_solve")
def _triangular_solve(args, attrs, out, regions):
    a, b = args
    return (lax.linalg.triangular_solve(a, b, left_side=attrs["left_side"], lower=attrs["lower"],
                                        transpose_a=attrs["transpose_a"], unit_diagonal=attrs["unit_diagonal"]),)


@lowering("lu")
def _lu(args, attrs, out, regions):
    lu, pivots, perm = lax.linalg.lu(args[0])
    return lu, pivots.astype(jnp.int32), perm.astype(jnp.int32)


@lowering("qr")
def _qr(args, attrs, out, regions):
    return tuple(lax.linalg.qr(args[0], full_matrices=attrs["full_matrices"]))


@lowering("eigh")
def _eigh(args, attrs, out, regions):
    v, w = lax.linalg.eigh(args[0], lower=attrs["lower"], symmetrize_input=False)
    return v, w


@lowering("svd")
def _svd(args, attrs, out, regions):
    res = lax.linalg.svd(args[0], full_matrices=attrs["full_matrices"], compute_uv=attrs["compute_uv"])
    return tuple(res) if attrs["compute_uv"] else (res,)


@lowering("lu_pivots_to_permutation")
def _lu_pivots_to_permutation(args, attrs, out, regions):
    size = attrs["permutation_size"]
    piv = jnp.clip(args[0], 0, max(size - 1, 0))  # the IR clamps; the LAPACK-style kernel would not
    return (lax.linalg.lu_pivots_to_permutation(piv, size).astype(jnp.int32),)


@lowering("eig")
def _eig(args, attrs, out, regions):
    res = lax.linalg.eig(args[0], compute_left_eigenvectors=attrs["compute_left_eigenvectors"],
                         compute_right_eigenvectors=attrs["compute_right_eigenvectors"])
    return tuple(r.astype(t.dtype.np) for r, t in zip(res, out))
