"""chainrule.scipy (special, stats) against jax.scipy in float64: values on every backend, gradients."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.backends as backends
import chainrule.numpy as cnp
import chainrule.scipy.special as csp
import chainrule.scipy.stats as cst
from chainrule.frontend.scipy_stats import DISTRIBUTIONS
from linalg_backends import llvm_missing_linalg
from test_numpy_harness import check

jax = pytest.importorskip("jax")
jst = pytest.importorskip("jax.scipy.stats")

COMPILED = [b for b in ("llvm", "jax") if b in backends.available_backends()]

_rng = np.random.default_rng(0)
X = _rng.uniform(-3, 3, 7)
U = _rng.uniform(0.01, 0.99, 7)
ARGS = {"norm": (X, 0.3, 1.7), "t": (X, 3.5, 0.2, 1.3), "gamma": (np.abs(X), 2.5, -0.1, 1.2), "beta": (U, 2.2, 3.1),
        "expon": (X, -1.0, 2.0), "uniform": (X, -1.0, 3.0), "laplace": (X, 0.5, 1.5), "logistic": (X, 0.5, 1.5),
        "bernoulli": (np.array([0.0, 1, 1, 0, 2, -1, 1]), U), "poisson": (np.array([0.0, 1, 3, 7, 2.5, -1, 4]), 2.7)}
CASES = [(d, f) for d, fs in DISTRIBUTIONS.items() if d != "multivariate_normal" for f in fs]


def _args(dist, fn):
    a = ARGS[dist]
    return (U,) + a[1:] if fn in ("ppf", "isf") else a


@pytest.mark.parametrize("dist", [d for d in DISTRIBUTIONS if d != "multivariate_normal"])
def test_distribution_matches_jax(dist):
    fns = DISTRIBUTIONS[dist]
    arrays = [_args(dist, fn)[0] for fn in fns]  # the first argument is traced, the rest stay Python values
    with jax.enable_x64(True):
        want = tuple(np.asarray(getattr(getattr(jst, dist), fn)(a, *_args(dist, fn)[1:])) for fn, a in zip(fns, arrays))
    run = lambda xp, *a: tuple(getattr(getattr(cst, dist), fn)(v, *_args(dist, fn)[1:]) for fn, v in zip(fns, a))
    check(run, *arrays, want=want, rtol=1e-12, atol=1e-300)
    for b in COMPILED:
        check(run, *arrays, want=want, rtol=1e-12, atol=1e-300, modes=("jit",), backend=b)


def test_multivariate_normal_matches_jax(rng):
    m = rng.normal(size=3)
    a = rng.normal(size=(3, 3))
    s = a @ a.T + np.eye(3)
    x = rng.normal(size=(4, 3))
    batch_cov = np.stack([s, 2 * s, s + np.eye(3), s])
    cases = [(x, m, s), (x[0], m, s), (x, m, 2.0), (1.3, 0.2, 0.7), (x, m, batch_cov)]
    with jax.enable_x64(True):
        want = [np.asarray(jst.multivariate_normal.logpdf(*c)) for c in cases] + [np.asarray(jst.multivariate_normal.pdf(x, m, s))]
    run = lambda xp, x, m, s, bc: tuple(cst.multivariate_normal.logpdf(*c) for c in
                                        [(x, m, s), (x[0], m, s), (x, m, 2.0), (1.3, 0.2, 0.7), (x, m, bc)]) + \
        (cst.multivariate_normal.pdf(x, m, s),)
    check(run, x, m, s, batch_cov, want=tuple(want), rtol=1e-12, atol=1e-300)
    for b in COMPILED:
        if b == "llvm" and llvm_missing_linalg():  # logpdf factors cov with the cholesky primitive
            continue
        check(run, x, m, s, batch_cov, want=tuple(want), rtol=1e-12, atol=1e-300, modes=("jit",), backend=b)
    with pytest.raises(ValueError, match="incompatible"):
        cst.multivariate_normal.logpdf(x, m, np.eye(2))


GRAD_CASES = {"norm.logpdf": (X, 0.3, 1.7), "norm.logcdf": (X, 0.3, 1.7), "norm.ppf": (U, 0.3, 1.7),
              "t.logpdf": (X, 3.5, 0.2, 1.3), "gamma.logpdf": (np.abs(X) + 0.1, 2.5, -0.1, 1.2),
              "beta.logpdf": (U, 2.2, 3.1, -0.01, 1.02), "expon.logpdf": (np.abs(X), -1.0, 2.0),
              "laplace.logpdf": (X + 0.01, 0.5, 1.5), "logistic.logpdf": (X, 0.5, 1.5), "logistic.cdf": (X, 0.5, 1.5),
              "bernoulli.logpmf": (np.array([0.0, 1.0, 1.0]), U[:3]), "poisson.logpmf": (np.array([0.0, 1.0, 3.0]), 2.7)}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradients_match_jax(name):
    dist, fn = name.split(".")
    args = GRAD_CASES[name]
    argnums = tuple(range(1 if dist in ("bernoulli", "poisson") else 0, len(args)))
    args = tuple(np.asarray(a, np.float64) for a in args)
    f = lambda mod, sum_: (lambda *a: sum_(getattr(getattr(mod, dist), fn)(*a)))
    got = cr.grad(f(cst, cnp.sum), argnums=argnums)(*args)
    with jax.enable_x64(True):
        want = jax.grad(f(jst, jax.numpy.sum), argnums=argnums)(*args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(w), rtol=1e-10, atol=1e-12, err_msg=name)


def test_multivariate_normal_gradient_matches_jax(rng):
    m, x = rng.normal(size=3), rng.normal(size=(4, 3))
    a = rng.normal(size=(3, 3))
    s = a @ a.T + np.eye(3)
    f = lambda mod, sum_: (lambda x, m, s: sum_(mod.multivariate_normal.logpdf(x, m, s)))
    got = cr.grad(f(cst, cnp.sum), argnums=(0, 1, 2))(x, m, s)
    with jax.enable_x64(True):
        want = jax.grad(f(jst, jax.numpy.sum), argnums=(0, 1, 2))(x, m, s)
    for g, w in zip(got[:2], want[:2]):
        np.testing.assert_allclose(g, np.asarray(w), rtol=1e-10)
    # d/dS: JAX's Cholesky gradient is symmetrized, ours flows through the lower triangle; compare symmetrized
    sym = lambda g: (np.asarray(g) + np.asarray(g).T) / 2
    np.testing.assert_allclose(sym(got[2]), sym(want[2]), rtol=1e-10)


def test_float32_stays_float32():
    x = np.linspace(-2, 2, 5, dtype=np.float32)
    for dist in ("norm", "t", "laplace", "logistic", "expon", "uniform"):
        args = ARGS[dist][1:]
        assert cst.__dict__[dist].logpdf(x, *args).dtype == np.float32, dist
    assert cst.norm.ppf(np.float32(0.3)).dtype == np.float32
    assert cst.poisson.logpmf(np.arange(3), 2.0).dtype == np.float64  # ints promote to float64


def test_special_reexports():
    import chainrule.scipy as cs
    for name in csp.__all__:
        assert getattr(csp, name) is getattr(cnp.special, name), name
    assert cs.special is csp and cs.stats is cst
    np.testing.assert_allclose(csp.logsumexp(np.array([1.0, 2.0]), b=np.array([1.0, -1.0]), return_sign=True)[1], -1.0)


def test_cr_scipy_is_reachable_as_an_attribute():
    import chainrule as cr
    import chainrule.scipy.stats as stats
    assert cr.scipy.stats is stats and cr.scipy.special.erf is cr.numpy.special.erf
