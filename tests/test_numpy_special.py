"""chainrule.numpy.special against scipy.special (the oracle), eagerly, in jit and define-then-run."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from test_numpy_harness import check, rand

ss = pytest.importorskip("scipy.special")


def _grid(dtype):
    x = np.concatenate([np.linspace(0.01, 30, 60), np.linspace(-5.55, -0.05, 25), [1.0, 2.0, 0.5, 1e-8, 170.0],
                        [0.0, -0.0, -1.0, -4.0]])  # the last ones are poles
    return x.astype(dtype)


@pytest.mark.parametrize("name", ["gammaln", "digamma", "gamma", "psi"])
@pytest.mark.parametrize("dtype", (np.float32, np.float64))
def test_gamma_family(name, dtype):
    x = _grid(dtype)
    if name == "gamma":
        x = x[x < 30]
    want = getattr(ss, name)(x.astype(np.float64)).astype(dtype)
    tol = dict(rtol=3e-5, atol=3e-5) if dtype == np.float32 else dict(rtol=5e-14, atol=5e-14)
    check(lambda xp, x: getattr(cnp.special, name)(x), x, want=want, **tol)


def test_gammaln_matches_math_lgamma_on_ints():
    x = np.arange(1, 60, dtype=np.float64)
    want = np.array([math.lgamma(v) for v in x])
    check(lambda xp, x: cnp.special.gammaln(x), x, want=want, rtol=1e-14, atol=1e-14)
    check(lambda xp, x: cnp.special.gammaln(x), np.arange(1, 8, dtype=np.int32), want=want[:7], rtol=1e-14,
          atol=1e-14)


def test_betaln(rng):
    a, b = rand(rng, (6,), np.float64, 0.1, 20), rand(rng, (6,), np.float64, 0.1, 20)
    check(lambda xp, a, b: cnp.special.betaln(a, b), a, b, want=ss.betaln(a, b), rtol=1e-12, atol=1e-12)


XS = np.array([0.0, 0.5, 2.0, -1.0, np.nan, 0.0, 3.0, 1e-300])
YS = np.array([0.0, 1.5, 0.0, 2.0, 1.0, np.nan, -1.0, 1e-300])


@pytest.mark.parametrize("name", ["xlogy", "xlog1py", "rel_entr", "kl_div"])
def test_information_pairs(name):
    with np.errstate(all="ignore"):
        want = getattr(ss, name)(XS, YS)
    check(lambda xp, x, y: getattr(cnp.special, name)(x, y), XS, YS, want=want, rtol=1e-15)


@pytest.mark.parametrize("name", ["entr", "log_expit", "expit", "logit", "erf", "erfc"])
def test_unary_special(name):
    x = np.array([-800.0, -3.0, -1.0, -0.0, 0.0, 0.25, 0.5, 3.0, 800.0, np.nan])
    if name == "logit":
        x = np.array([0.0, 1e-10, 0.25, 0.5, 0.9, 1.0, np.nan])
    with np.errstate(all="ignore"):
        want = getattr(ss, name)(x)
    tol = dict(rtol=1e-14, atol=1e-300) if name != "erfc" else dict(rtol=1e-14, atol=1e-16)
    check(lambda xp, x: getattr(cnp.special, name)(x), x, want=want, **tol)


@pytest.mark.parametrize("name", ["gammaln", "digamma"])
def test_gamma_family_gradients(name):
    jax = pytest.importorskip("jax")
    import jax.scipy.special as jss
    x = np.array([0.3, 1.7, 4.2, 11.0, -0.4])
    got = cr.grad(lambda v: cnp.sum(getattr(cnp.special, name)(v)))(x)
    with jax.enable_x64(True):
        want = np.asarray(jax.jit(jax.grad(lambda v: getattr(jss, name)(v).sum()))(x))
    np.testing.assert_allclose(got, want, rtol=1e-9)
