"""chainrule.scipy.special: jax.scipy.special's names (see chainrule.numpy.special, which implements them)."""

from ..numpy.special import (betaln, digamma, entr, erf, erfc, erfinv, expit, gamma, gammaln, kl_div,  # noqa: F401
                             log_expit, log_ndtr, log_softmax, logit, logsumexp, ndtr, ndtri, psi, rel_entr, softmax,
                             xlog1py, xlogy)

__all__ = ["betaln", "digamma", "entr", "erf", "erfc", "erfinv", "expit", "gamma", "gammaln", "kl_div", "log_expit",
           "log_ndtr", "log_softmax", "logit", "logsumexp", "ndtr", "ndtri", "psi", "rel_entr", "softmax", "xlog1py",
           "xlogy"]
