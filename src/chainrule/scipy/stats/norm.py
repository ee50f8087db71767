"""chainrule.scipy.stats.norm: as jax.scipy.stats.norm (see frontend/scipy_stats.py)."""

from ...frontend.scipy_stats import (norm_logpdf as logpdf, norm_pdf as pdf, norm_cdf as cdf,  # noqa: F401
                                     norm_logcdf as logcdf, norm_sf as sf, norm_logsf as logsf,
                                     norm_ppf as ppf, norm_isf as isf)

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf"]
