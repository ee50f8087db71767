"""chainrule.scipy.stats.expon: as jax.scipy.stats.expon (see frontend/scipy_stats.py)."""

from ...frontend.scipy_stats import (expon_logpdf as logpdf, expon_pdf as pdf, expon_cdf as cdf,  # noqa: F401
                                     expon_logcdf as logcdf, expon_sf as sf, expon_logsf as logsf,
                                     expon_ppf as ppf)

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf"]
