"""from_jax rules of jax.lax.linalg's primitives: one chainrule op each (see chainrule.ir.linalg_ops).

The ops have the primitives' names and attributes; JAX's `svd` returns
(s, u, vt) where the op returns (u, s, vh), and forms the ops do not express
(pivoted QR, partial or unsorted eigendecompositions) raise
UnsupportedPrimitiveError naming the parameter.
"""

from __future__ import annotations

from .jax_primitives import UnsupportedPrimitiveError, prim


def _unsupported(eqn, what):
    raise UnsupportedPrimitiveError(f"from_jax: {eqn.primitive.name} with {what} is not supported")


@prim("cholesky")
def _cholesky(ctx, eqn, ins):
    return [ctx.op("cholesky", ins[0], lower=True)]


@prim("triangular_solve")
def _triangular_solve(ctx, eqn, ins):
    p = eqn.params
    return [ctx.op("triangular_solve", ins[0], ins[1], left_side=bool(p["left_side"]), lower=bool(p["lower"]),
                   transpose_a=bool(p["transpose_a"]), unit_diagonal=bool(p["unit_diagonal"]))]


@prim("lu")
def _lu(ctx, eqn, ins):
    return list(ctx.op("lu", ins[0]))


@prim("lu_pivots_to_permutation")
def _lu_pivots_to_permutation(ctx, eqn, ins):
    return [ctx.op("lu_pivots_to_permutation", ctx.convert(ins[0], "int32"),
                   permutation_size=int(eqn.params["permutation_size"]))]


@prim("qr")
def _qr(ctx, eqn, ins):
    if eqn.params.get("pivoting"):
        _unsupported(eqn, "pivoting=True")
    return list(ctx.op("qr", ins[0], full_matrices=bool(eqn.params["full_matrices"])))


def _whole(eqn, n):
    subset = eqn.params.get("subset_by_index")
    if subset is not None and tuple(subset) != (0, n):
        _unsupported(eqn, f"subset_by_index={subset}")


@prim("eigh")
def _eigh(ctx, eqn, ins):
    _whole(eqn, ins[0].shape[-1])
    if not eqn.params.get("sort_eigenvalues", True):
        _unsupported(eqn, "sort_eigenvalues=False")
    return list(ctx.op("eigh", ins[0], lower=bool(eqn.params["lower"])))


@prim("svd")
def _svd(ctx, eqn, ins):
    _whole(eqn, min(ins[0].shape[-2:]))
    if not eqn.params["compute_uv"]:
        return [ctx.op("svd", ins[0], full_matrices=False, compute_uv=False)]
    u, s, vh = ctx.op("svd", ins[0], full_matrices=bool(eqn.params["full_matrices"]), compute_uv=True)
    return [s, u, vh]


@prim("custom_linear_solve")
def _custom_linear_solve(ctx, eqn, ins):
    """jnp.linalg.solve and jax.scipy.linalg.solve wrap their solve in custom_linear_solve (for its
    derivative): import the solve itself; its ops (lu, triangular_solve, ...) carry the derivative."""
    from .jax_import import inline_jaxpr
    lengths, jaxprs = eqn.params["const_lengths"], eqn.params["jaxprs"]
    start = lengths.matvec + lengths.vecmat
    consts = ins[start:start + lengths.solve]
    rhs = ins[lengths.matvec + lengths.vecmat + lengths.solve + lengths.transpose_solve:]
    return inline_jaxpr(ctx, jaxprs.solve.jaxpr, jaxprs.solve.consts, list(consts) + list(rhs))


@prim("eig")
def _eig(ctx, eqn, ins):
    res = ctx.op("eig", ins[0], compute_left_eigenvectors=bool(eqn.params["compute_left_eigenvectors"]),
                 compute_right_eigenvectors=bool(eqn.params["compute_right_eigenvectors"]))
    return list(res) if isinstance(res, (tuple, list)) else [res]
