"""chainrule.scipy.linalg: jax.scipy.linalg's names (see chainrule.frontend.scipy_linalg, which implements them)."""

from ..frontend.scipy_linalg import (cho_factor, cho_solve, cholesky, det, eigh, expm, inv, lu, lu_factor,  # noqa: F401
                                     lu_solve, qr, solve, solve_triangular, svd)

__all__ = ["cho_factor", "cho_solve", "cholesky", "det", "eigh", "expm", "inv", "lu", "lu_factor", "lu_solve", "qr",
           "solve", "solve_triangular", "svd"]
