"""chainrule.scipy.stats: jax.scipy.stats's distributions, one module each (re-exports only)."""

from . import (bernoulli, beta, expon, gamma, laplace, logistic, multivariate_normal, norm, poisson, t,  # noqa: F401
               uniform)
from ...frontend.located import locate_namespace as _locate_namespace

for _m in (bernoulli, beta, expon, gamma, laplace, logistic, multivariate_normal, norm, poisson, t, uniform):
    _locate_namespace(_m.__dict__)
