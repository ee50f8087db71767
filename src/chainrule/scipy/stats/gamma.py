"""chainrule.scipy.stats.gamma: as jax.scipy.stats.gamma (see frontend/scipy_stats.py)."""

from ...frontend.scipy_stats import gamma_logpdf as logpdf, gamma_pdf as pdf  # noqa: F401

__all__ = ["logpdf", "pdf"]
