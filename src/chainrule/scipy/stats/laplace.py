"""chainrule.scipy.stats.laplace: as jax.scipy.stats.laplace (see frontend/scipy_stats.py)."""

from ...frontend.scipy_stats import laplace_logpdf as logpdf, laplace_pdf as pdf, laplace_cdf as cdf  # noqa: F401

__all__ = ["logpdf", "pdf", "cdf"]
