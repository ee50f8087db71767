"""chainrule.scipy.stats.uniform: as jax.scipy.stats.uniform (see frontend/scipy_stats.py)."""

from ...frontend.scipy_stats import (uniform_logpdf as logpdf, uniform_pdf as pdf, uniform_cdf as cdf,  # noqa: F401
                                     uniform_ppf as ppf)

__all__ = ["logpdf", "pdf", "cdf", "ppf"]
