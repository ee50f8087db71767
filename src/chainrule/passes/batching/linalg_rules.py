"""Batching rules of the linear-algebra ops: they are batched over leading dimensions already.

The vmapped dimension moves to the front of every operand (an unbatched `a`
or `b` of triangular_solve is broadcast along it), the op runs once on the
larger batch, and every result has the batch dimension first, as
jax.lax.linalg's batching rules do.
"""

from __future__ import annotations

from .table import batching_rule


@batching_rule("cholesky", "triangular_solve", "lu", "qr", "eigh", "eig", "svd", "lu_pivots_to_permutation")
def _linalg(ctx, node, args):
    vals = [ctx.materialize(v, b, 0) for v, b in args]
    res = ctx.emit(node.op, vals, node.attrs).results
    return [(r, 0) for r in res]
