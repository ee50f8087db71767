"""chainrule.scipy: jax.scipy's names for what chainrule computes (re-exports only).

`chainrule.scipy.special` (the special functions of chainrule.numpy.special),
`chainrule.scipy.linalg` (cholesky, cho_factor/cho_solve, solve_triangular,
lu, lu_factor/lu_solve, qr, eigh, svd, solve, det, inv, expm) and
`chainrule.scipy.stats` (norm, multivariate_normal, t, gamma, beta, expon,
uniform, laplace, logistic, bernoulli, poisson), with jax.scipy's
signatures, on tensors and arrays.
"""

from . import linalg, special, stats  # noqa: F401
