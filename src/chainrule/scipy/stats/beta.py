"""chainrule.scipy.stats.beta: as jax.scipy.stats.beta (see frontend/scipy_stats.py)."""

from ...frontend.scipy_stats import beta_logpdf as logpdf, beta_pdf as pdf  # noqa: F401

__all__ = ["logpdf", "pdf"]
