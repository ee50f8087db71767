"""chainrule.numpy.special: scipy.special's names on tensors and arrays (re-exports only).

The implementation is frontend/numpy/special.py (logsumexp, softmax, erf/erfc,
the gamma family, the entropy helpers) and frontend/numpy/special_normal.py
(erfinv, ndtr, log_ndtr, ndtri).
"""

from ..frontend.numpy.special import (betaln, digamma, entr, erf, erfc, expit, gamma, gammaln, kl_div,  # noqa: F401
                                      log_expit, log_softmax, logit, logsumexp, psi, rel_entr, softmax, xlog1py,
                                      xlogy)
from ..frontend.numpy.special_normal import erfinv, log_ndtr, ndtr, ndtri  # noqa: F401

__all__ = ["betaln", "digamma", "entr", "erf", "erfc", "erfinv", "expit", "gamma", "gammaln", "kl_div", "log_expit",
           "log_ndtr", "log_softmax", "logit", "logsumexp", "ndtr", "ndtri", "psi", "rel_entr", "softmax", "xlog1py",
           "xlogy"]
