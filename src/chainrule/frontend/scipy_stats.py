"""The distributions of jax.scipy.stats, on tensors and arrays (public as chainrule.scipy.stats.<name>).

Each function has jax.scipy.stats's signature (x or k first, then shape
parameters, then loc and scale) and meaning: arguments broadcast, are
promoted to a common floating dtype (Python scalars weak), and values
outside the support give -inf log-density (NaN for invalid parameters where
JAX gives NaN). All are composites of chainrule.numpy and the special
functions, so they differentiate to any order; the multivariate normal uses
the Cholesky primitive through chainrule.numpy.linalg.
"""

from __future__ import annotations

import numpy as np

from . import lax
from .core import type_of
from .numpy import special
from .numpy.linalg import cholesky, solve
from .numpy.matrices import diagonal
from .numpy.reductions import sum as _sum
from .numpy.special_normal import log_ndtr, ndtr, ndtri
from .numpy.transcendental import exp, expm1, log, log1p, logaddexp
from .numpy.ufuncs import (abs as _abs, add, divide, greater, less, less_equal, logical_or, multiply, negative,
                           not_equal, rint, square, subtract, where)

_LOG_2PI = float(np.log(2 * np.pi))


def _promote(*args):
    """jax's promote_args_inexact: one floating dtype for all (Python scalars weak, ints to the default float)."""
    dt = lax.result_type(*args)
    if not dt.is_float:
        dt = lax.default_float_type()  # float64 unless cr.config says otherwise
    return [lax.convert(a, dt) for a in args]


def _c(x, v):
    return np.asarray(v, type_of(x).dtype.np)


# --- norm ----------------------------------------------------------------------------------------------

def norm_logpdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    z = divide(subtract(x, loc), scale)
    return subtract(multiply(_c(z, -0.5), add(square(z), _c(z, _LOG_2PI))), log(scale))


def norm_pdf(x, loc=0, scale=1):
    return exp(norm_logpdf(x, loc, scale))


def norm_cdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    return ndtr(divide(subtract(x, loc), scale))


def norm_logcdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    return log_ndtr(divide(subtract(x, loc), scale))


def norm_sf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    return ndtr(divide(subtract(loc, x), scale))


def norm_logsf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    return log_ndtr(divide(subtract(loc, x), scale))


def norm_ppf(q, loc=0, scale=1):
    q, loc, scale = _promote(q, loc, scale)
    return add(multiply(ndtri(q), scale), loc)


def norm_isf(q, loc=0, scale=1):
    q, loc, scale = _promote(q, loc, scale)
    return subtract(loc, multiply(ndtri(q), scale))


# --- multivariate_normal -----------------------------------------------------------------------------------

def multivariate_normal_logpdf(x, mean, cov, allow_singular=None):
    """log N(x; mean, cov) for x (..., n), mean (..., n) and cov (n, n) or (..., n, n) (or scalars, as JAX)."""
    if allow_singular is not None:
        raise NotImplementedError("allow_singular is not supported (as in JAX)")
    x, mean, cov = _promote(x, mean, cov)
    if type_of(mean).ndim == 0:
        return subtract(multiply(_c(x, -0.5), divide(square(subtract(x, mean)), cov)),
                        multiply(_c(x, 0.5), add(_c(x, _LOG_2PI), log(cov))))
    n = type_of(mean).shape[-1]
    y = subtract(x, mean)
    if type_of(cov).ndim == 0:
        return subtract(multiply(_c(y, -0.5), divide(_sum(square(y), axis=-1), cov)),
                        multiply(_c(y, n / 2), add(_c(y, _LOG_2PI), log(cov))))
    if type_of(cov).ndim < 2 or type_of(cov).shape[-2:] != (n, n):
        raise ValueError("multivariate_normal.logpdf got incompatible shapes")
    chol = cholesky(cov)
    batch = lax.broadcast_shapes(type_of(y).shape[:-1], type_of(chol).shape[:-2])
    w = solve(lax.broadcast_to(chol, batch + (n, n)), lax.reshape(lax.broadcast_to(y, batch + (n,)), batch + (n, 1)))
    maha = _sum(square(lax.reshape(w, batch + (n,))), axis=-1)
    half_logdet = _sum(log(diagonal(chol, 0, -2, -1)), axis=-1)
    return subtract(subtract(multiply(_c(maha, -0.5), maha), _c(maha, n / 2 * _LOG_2PI)), half_logdet)


def multivariate_normal_pdf(x, mean, cov):
    return exp(multivariate_normal_logpdf(x, mean, cov))


# --- t ---------------------------------------------------------------------------------------------------

def t_logpdf(x, df, loc=0, scale=1):
    x, df, loc, scale = _promote(x, df, loc, scale)
    z = divide(subtract(x, loc), scale)
    half = _c(z, 0.5)
    norm = subtract(special.gammaln(multiply(half, add(df, _c(df, 1)))), special.gammaln(multiply(half, df)))
    norm = subtract(norm, add(multiply(half, log(multiply(df, _c(df, np.pi)))), log(scale)))
    return subtract(norm, multiply(multiply(half, add(df, _c(df, 1))), log1p(divide(square(z), df))))


def t_pdf(x, df, loc=0, scale=1):
    return exp(t_logpdf(x, df, loc, scale))


# --- gamma, beta ------------------------------------------------------------------------------------------

def gamma_logpdf(x, a, loc=0, scale=1):
    x, a, loc, scale = _promote(x, a, loc, scale)
    y = divide(subtract(x, loc), scale)
    lp = subtract(subtract(special.xlogy(subtract(a, _c(a, 1)), y), y), add(special.gammaln(a), log(scale)))
    return where(less(x, loc), _c(lp, -np.inf), lp)


def gamma_pdf(x, a, loc=0, scale=1):
    return exp(gamma_logpdf(x, a, loc, scale))


def beta_logpdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = _promote(x, a, b, loc, scale)
    y = divide(subtract(x, loc), scale)
    one = _c(y, 1)
    lin = add(special.xlogy(subtract(a, one), y), special.xlog1py(subtract(b, one), negative(y)))
    lp = subtract(subtract(lin, special.betaln(a, b)), log(scale))
    lp = where(logical_or(greater(x, add(loc, scale)), less(x, loc)), _c(lp, -np.inf), lp)
    bad = logical_or(logical_or(less_equal(a, _c(a, 0)), less_equal(b, _c(b, 0))), less_equal(scale, _c(scale, 0)))
    return where(bad, _c(lp, np.nan), lp)


def beta_pdf(x, a, b, loc=0, scale=1):
    return exp(beta_logpdf(x, a, b, loc, scale))


# --- expon, uniform, laplace, logistic --------------------------------------------------------------------

def expon_logpdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    y = divide(subtract(x, loc), scale)
    lp = subtract(negative(y), log(scale))
    return where(less(y, _c(y, 0)), _c(lp, -np.inf), lp)


def expon_pdf(x, loc=0, scale=1):
    return exp(expon_logpdf(x, loc, scale))


def _expon_y(x, loc, scale):
    x, loc, scale = _promote(x, loc, scale)
    y = divide(subtract(x, loc), scale)
    return where(less(y, _c(y, 0)), _c(y, 0), y)


def expon_cdf(x, loc=0, scale=1):
    return negative(expm1(negative(_expon_y(x, loc, scale))))


def expon_logcdf(x, loc=0, scale=1):
    return log(negative(expm1(negative(_expon_y(x, loc, scale)))))


def expon_sf(x, loc=0, scale=1):
    return exp(negative(_expon_y(x, loc, scale)))


def expon_logsf(x, loc=0, scale=1):
    return negative(_expon_y(x, loc, scale))


def expon_ppf(q, loc=0, scale=1):
    q, loc, scale = _promote(q, loc, scale)
    return add(multiply(negative(log1p(negative(q))), scale), loc)


def uniform_logpdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    lp = lax.broadcast_to(negative(log(scale)), lax.broadcast_shapes(type_of(x).shape, type_of(loc).shape,
                                                                      type_of(scale).shape))
    return where(logical_or(less(x, loc), greater(x, add(loc, scale))), _c(lp, -np.inf), lp)


def uniform_pdf(x, loc=0, scale=1):
    return exp(uniform_logpdf(x, loc, scale))


def uniform_cdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    y = divide(subtract(x, loc), scale)
    return lax.elementwise("clamp", _c(y, 0), y, _c(y, 1))


def uniform_ppf(q, loc=0, scale=1):
    q, loc, scale = _promote(q, loc, scale)
    r = add(loc, multiply(q, scale))
    return where(logical_or(less(q, _c(q, 0)), greater(q, _c(q, 1))), _c(r, np.nan), r)


def laplace_logpdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    return subtract(negative(divide(_abs(subtract(x, loc)), scale)), log(multiply(_c(scale, 2), scale)))


def laplace_pdf(x, loc=0, scale=1):
    return exp(laplace_logpdf(x, loc, scale))


def laplace_cdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    z = divide(subtract(x, loc), scale)
    half = _c(z, 0.5)
    lo = where(less_equal(z, _c(z, 0)), z, _c(z, 0))  # each branch finite, whichever is selected
    hi = where(less_equal(z, _c(z, 0)), _c(z, 0), z)
    return where(less_equal(z, _c(z, 0)), multiply(half, exp(lo)), subtract(_c(z, 1), multiply(half, exp(negative(hi)))))


def logistic_logpdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    half = multiply(_c(x, 0.5), divide(subtract(x, loc), scale))
    return subtract(multiply(_c(half, -2), logaddexp(half, negative(half))), log(scale))


def logistic_pdf(x, loc=0, scale=1):
    return exp(logistic_logpdf(x, loc, scale))


def logistic_cdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    return special.expit(divide(subtract(x, loc), scale))


def logistic_sf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    return special.expit(divide(subtract(loc, x), scale))


def logistic_ppf(q, loc=0, scale=1):
    q, loc, scale = _promote(q, loc, scale)
    return add(multiply(special.logit(q), scale), loc)


def logistic_isf(q, loc=0, scale=1):
    q, loc, scale = _promote(q, loc, scale)
    return subtract(loc, multiply(special.logit(q), scale))


# --- bernoulli, poisson ------------------------------------------------------------------------------------

def bernoulli_logpmf(k, p, loc=0):
    k, p, loc = _promote(k, p, loc)
    x = subtract(k, loc)
    lp = add(special.xlogy(x, p), special.xlog1py(subtract(_c(x, 1), x), negative(p)))
    return where(logical_or(less(x, _c(x, 0)), greater(x, _c(x, 1))), _c(lp, -np.inf), lp)


def bernoulli_pmf(k, p, loc=0):
    return exp(bernoulli_logpmf(k, p, loc))


def poisson_logpmf(k, mu, loc=0):
    k, mu, loc = _promote(k, mu, loc)
    x = subtract(k, loc)
    lp = subtract(subtract(special.xlogy(x, mu), special.gammaln(add(x, _c(x, 1)))), mu)
    return where(logical_or(less(x, _c(x, 0)), not_equal(rint(k), k)), _c(lp, -np.inf), lp)


def poisson_pmf(k, mu, loc=0):
    return exp(poisson_logpmf(k, mu, loc))


DISTRIBUTIONS = {
    "norm": ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf"),
    "multivariate_normal": ("logpdf", "pdf"),
    "t": ("logpdf", "pdf"),
    "gamma": ("logpdf", "pdf"),
    "beta": ("logpdf", "pdf"),
    "expon": ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf"),
    "uniform": ("logpdf", "pdf", "cdf", "ppf"),
    "laplace": ("logpdf", "pdf", "cdf"),
    "logistic": ("logpdf", "pdf", "cdf", "sf", "ppf", "isf"),
    "bernoulli": ("logpmf", "pmf"),
    "poisson": ("logpmf", "pmf"),
}
