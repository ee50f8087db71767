"""chainrule.scipy: jax.scipy's names for what chainrule computes (re-exports only).

`chainrule.scipy.special` (the special functions of chainrule.numpy.special)
and `chainrule.scipy.stats` (norm, multivariate_normal, t, gamma, beta,
expon, uniform, laplace, logistic, bernoulli, poisson), with jax.scipy's
signatures, on tensors and arrays.
"""

from . import special, stats  # noqa: F401
