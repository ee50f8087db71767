"""chainrule.scipy.stats.bernoulli: as jax.scipy.stats.bernoulli (see frontend/scipy_stats.py)."""

from ...frontend.scipy_stats import bernoulli_logpmf as logpmf, bernoulli_pmf as pmf  # noqa: F401

__all__ = ["logpmf", "pmf"]
