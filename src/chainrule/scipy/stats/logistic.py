"""chainrule.scipy.stats.logistic: as jax.scipy.stats.logistic (see frontend/scipy_stats.py)."""

from ...frontend.scipy_stats import (logistic_logpdf as logpdf, logistic_pdf as pdf, logistic_cdf as cdf,  # noqa: F401
                                     logistic_sf as sf, logistic_ppf as ppf, logistic_isf as isf)

__all__ = ["logpdf", "pdf", "cdf", "sf", "ppf", "isf"]
