"""chainrule.scipy.stats.multivariate_normal: as jax.scipy.stats.multivariate_normal (see frontend/scipy_stats.py)."""

from ...frontend.scipy_stats import multivariate_normal_logpdf as logpdf, multivariate_normal_pdf as pdf  # noqa: F401

__all__ = ["logpdf", "pdf"]
