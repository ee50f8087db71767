"""chainrule.scipy.stats.poisson: as jax.scipy.stats.poisson (see frontend/scipy_stats.py)."""

from ...frontend.scipy_stats import poisson_logpmf as logpmf, poisson_pmf as pmf  # noqa: F401

__all__ = ["logpmf", "pmf"]
