"""chainrule.scipy.stats.t: as jax.scipy.stats.t (see frontend/scipy_stats.py)."""

from ...frontend.scipy_stats import t_logpdf as logpdf, t_pdf as pdf  # noqa: F401

__all__ = ["logpdf", "pdf"]
