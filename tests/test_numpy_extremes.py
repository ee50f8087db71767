"""chainrule.numpy at the edges of each dtype, on every backend: accuracy of erfc, composites that must
not overflow or underflow early (hypot, cosh, arccosh, ...), and their derivatives against JAX x64.

Oracles: Python's math module (libm, within an ulp or so in float64; exact after rounding to float32)
and jax with x64. XLA's CPU code flushes subnormal results to zero, so results below the smallest
normal number are allowed to be 0 on the jax backend.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.backends as backends
import chainrule.numpy as cnp

BACKENDS = [b for b in ("reference", "llvm", "jax") if b in backends.available_backends()]
F32, F64 = np.float32, np.float64


def _run(fn, backend, *args):
    """fn jitted on `backend` (64-bit inside jax's scoped x64 context)."""
    out = cr.jit(fn, backend=backend)(*args)
    return tuple(np.asarray(o) for o in out) if isinstance(out, tuple) else np.asarray(out)


def ulps(got, want, dtype):
    """|got - want| in units of the last place of want rounded to dtype (0 where both are equal or NaN)."""
    want = np.asarray(want, np.float64)
    got = np.asarray(got, np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        spacing = np.spacing(np.abs(want).astype(dtype)).astype(np.float64)
        err = np.abs(got - want) / spacing
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    return np.where(same, 0.0, err)


def assert_ulps(got, want, dtype, max_ulps, backend, x, what=""):
    want = np.asarray(want, np.float64)
    got = np.asarray(got, np.float64)
    if backend == "jax":  # XLA's CPU backend flushes subnormal results to zero
        got = np.where((got == 0) & (np.abs(want) < np.finfo(dtype).tiny), want, got)
    err = ulps(got, want, dtype)
    i = int(np.nanargmax(err))
    assert err[i] <= max_ulps, f"{what} {np.dtype(dtype).name}: {err[i]:.1f} ulp at x={x[i]!r}: got {got[i]!r}, want {want[i]!r}"


# --- erfc: a complementary formula, not 1 - erf -------------------------------------------------------

def _erfc_grid(dtype):
    hi = 27.3 if dtype == F64 else 10.1
    x = np.concatenate([np.linspace(-6.0, hi, 3001), np.geomspace(1e-30, 0.5, 50), [0.5, 1.0, 2.0, 3.5],
                        np.nextafter(np.array([0.5, 1.0, 2.0, 3.5]), 0)]).astype(dtype)
    return x


@pytest.mark.parametrize("backend", BACKENDS)
def test_erfc_within_a_few_ulp(backend):
    # measured with tools/ulp_special.py (4e5 float32 and 1.3e4 float64 points against mpmath): at most
    # 3.0 ulp in float64 and 4.9 in float32; math.erfc adds its own error of about an ulp in float64
    x64 = np.concatenate([_erfc_grid(F64), [6.0, 10.0, 26.5, 27.4, 30.0, 1e300, np.inf, -np.inf, -30.0, 0.0, -0.0,
                                            np.nan]])
    x32 = np.concatenate([_erfc_grid(F32), np.array([4.0, 9.0, np.inf, -np.inf, np.nan], F32)])
    g64, g32 = _run(lambda a, b: (cnp.special.erfc(a), cnp.special.erfc(b)), backend, x64, x32)
    assert g64.dtype == F64 and g32.dtype == F32
    for x, got, dt, tol in ((x64, g64, F64, 5.0), (x32, g32, F32, 6.0)):
        want = np.array([math.erfc(float(v)) for v in x])
        assert_ulps(got, want, dt, tol, backend, x)
    assert g64[np.flatnonzero(x64 == 6.0)[0]] == pytest.approx(2.1519736712498913e-17, rel=1e-15)  # 1 - erf(6) = 0
    assert g32[np.flatnonzero(x32 == 4.0)[0]] == pytest.approx(1.5417257900280018e-08, rel=3e-7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_erfc_derivative(backend):
    # erfc' = -2/sqrt(pi) exp(-x^2), JAX's rule; the composite's derivative is automatic
    x = np.array([-5.0, -1.0, -0.49, 0.0, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 3.5, 6.0, 20.0, 26.0, 27.6, 50.0,
                  np.inf, -np.inf])
    want = np.array([-2 / math.sqrt(math.pi) * math.exp(-v * v) for v in x])
    np.testing.assert_allclose(_run(cr.vmap(cr.grad(cnp.special.erfc)), backend, x), want, rtol=1e-14, atol=0)


def test_erfc_second_derivative():
    x = np.array([-1.0, 0.3, 0.75, 1.5, 3.0, 6.0, 26.0])
    want = np.array([4 / math.sqrt(math.pi) * v * math.exp(-v * v) for v in x])
    np.testing.assert_allclose(_run(cr.vmap(cr.grad(cr.grad(cnp.special.erfc))), "reference", x), want, rtol=1e-12)


# --- composites at the ends of each dtype --------------------------------------------------------------

def _edges(dtype, subnormals=True):
    fi = np.finfo(dtype)
    big = 1e200 if dtype == F64 else 1e30
    v = [0.0, fi.tiny, fi.max, fi.max / 3, big, 1 / big, 710.0 if dtype == F64 else 89.0, 0.5, 1.0, 1.5, 2.0, 3.0,
         1 + 2 ** -20, 1 - 2 ** -20, 0.25, 0.75, 30.0, 1e8, 1e4, np.inf]
    if subnormals:
        v += [fi.tiny / 4, float(fi.smallest_subnormal)]
    v = np.array(v, dtype)
    return np.concatenate([v, -v, [np.nan]]).astype(dtype)


import scipy.special as _ss  # noqa: E402

UNARY = {  # name -> (chainrule.numpy function, NumPy/SciPy oracle, max ulp)
    "sinh": (cnp.sinh, np.sinh, 3), "cosh": (cnp.cosh, np.cosh, 3), "arcsinh": (cnp.arcsinh, np.arcsinh, 3),
    "arccosh": (cnp.arccosh, np.arccosh, 3), "arctanh": (cnp.arctanh, np.arctanh, 3), "cbrt": (cnp.cbrt, np.cbrt, 2),
    "logit": (cnp.special.logit, _ss.logit, 3), "log_expit": (cnp.special.log_expit, _ss.log_expit, 3),
    "expit": (cnp.special.expit, lambda x: np.where(x < 0, np.exp(x) / (1 + np.exp(x)), 1 / (1 + np.exp(-x))), 3), "entr": (cnp.special.entr, _ss.entr, 3),
}
BINARY = {
    # logaddexp(x, y) = max + log1p(exp(min - max)) cancels when the result is near 0: ulps of max(|x|, |y|)
    "hypot": (cnp.hypot, np.hypot, 2), "logaddexp": (cnp.logaddexp, np.logaddexp, "2 of the inputs"),
    "rel_entr": (cnp.special.rel_entr, _ss.rel_entr, 8), "xlogy": (cnp.special.xlogy, _ss.xlogy, 2),
}


def _oracle(ref, *args):
    with np.errstate(all="ignore"):
        return ref(*(a.astype(F64) for a in args))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("backend", BACKENDS)
def test_composites_at_the_edges(backend):
    # XLA's CPU code treats subnormal inputs as 0 too: none on the jax backend
    xs = {dt: _edges(dt, subnormals=backend != "jax") for dt in (F32, F64)}
    pairs = {dt: tuple(np.meshgrid(xs[dt], xs[dt])) for dt in (F32, F64)}

    def fn(x32, x64, a32, b32, a64, b64):
        return ([f(x32) for f, _, _ in UNARY.values()] + [f(x64) for f, _, _ in UNARY.values()]
                + [f(a32, b32) for f, _, _ in BINARY.values()] + [f(a64, b64) for f, _, _ in BINARY.values()])

    out = cr.jit(fn, backend=backend)(xs[F32], xs[F64], pairs[F32][0].ravel(), pairs[F32][1].ravel(),
                                      pairs[F64][0].ravel(), pairs[F64][1].ravel())
    out = [np.asarray(o) for o in out]
    n = len(UNARY)
    for i, (name, (_, ref, tol)) in enumerate(UNARY.items()):
        for dt, got in ((F32, out[i]), (F64, out[n + i])):
            x = xs[dt]
            want = _oracle(ref, x).astype(dt)
            assert got.dtype == dt, name
            assert_ulps(got, want, dt, tol, backend, x, name)
    m = len(BINARY)
    for i, (name, (_, ref, tol)) in enumerate(BINARY.items()):
        for dt, got in ((F32, out[2 * n + i]), (F64, out[2 * n + m + i])):
            a, b = (p.ravel() for p in pairs[dt])
            want = _oracle(ref, a, b).astype(dt)
            if isinstance(tol, str):
                scale = np.maximum(np.abs(a), np.abs(b))
                bad = np.abs(got.astype(F64) - want) > 2 * np.spacing(scale) + 2 * np.spacing(np.abs(want))
                bad &= ~((got == want) | np.isnan(want) & np.isnan(got))
                assert not bad.any(), (name, dt, a[bad], b[bad], got[bad], want[bad])
                continue
            assert_ulps(got, want, dt, tol, backend, list(zip(a, b)), name)


def test_the_examples_of_the_issue():
    assert cnp.hypot(1e200, 1e200) == pytest.approx(1.4142135623730951e200, rel=1e-15)
    assert cnp.hypot(1e-200, 1e-200) == pytest.approx(1.4142135623730951e-200, rel=1e-15)
    assert cnp.cosh(710.0) == pytest.approx(math.cosh(710.0), rel=1e-15)
    assert cnp.cosh(np.float32(89)) == pytest.approx(math.cosh(89.0), rel=1e-6)
    assert cnp.arccosh(1e200) == pytest.approx(math.acosh(1e200), rel=1e-15)
    assert cnp.ldexp(0.5, 1024) == np.ldexp(0.5, 1024) and cnp.ldexp(64.0, -1080) == np.ldexp(64.0, -1080)
    assert cnp.special.rel_entr(1e300, 1e-300) == pytest.approx(1e300 * math.log(1e300) * 2, rel=1e-15)
    assert cnp.special.logit(0.5 + 2 ** -40) == pytest.approx(_ss.logit(0.5 + 2 ** -40), rel=1e-15)
    assert cnp.arctanh(-1 + 2 ** -40) == pytest.approx(math.atanh(-1 + 2 ** -40), rel=1e-15)
    v = np.array([1e200, 1e200, -1e200])
    assert cnp.linalg.norm(v) == pytest.approx(math.sqrt(3) * 1e200, rel=1e-15)
    assert cnp.linalg.norm(v * 1e-400) == pytest.approx(math.sqrt(3) * 1e-200, rel=1e-15)
    assert float(cnp.linalg.norm(np.float32([3e30, 4e30]))) == pytest.approx(5e30, rel=1e-7)
    x = np.random.default_rng(1).normal(size=(3, 7))
    np.testing.assert_array_equal(cnp.linalg.norm(x, axis=1), np.sqrt(np.sum(x * x, axis=1)))  # same rounding


# --- derivatives at the edges: jax.grad with x64 is the oracle (docs/autodiff.md has the table) --------------

def _jax_cases():
    import jax.numpy as jnp
    import jax.scipy.special as jss
    import jax.nn as jnn
    s = cnp.special
    return {  # name -> (chainrule f, jax f, points)
        "abs": (cnp.abs, jnp.abs, [-1.0, -0.0, 0.0, 1.0]),
        "fabs": (cnp.fabs, jnp.fabs, [-0.0, 0.0]),
        "norm1": (lambda x: cnp.linalg.norm(cnp.stack([x, x + 1.0]), ord=1),
                  lambda x: jnp.linalg.norm(jnp.stack([x, x + 1.0]), ord=1), [0.0, -1.0, 2.0]),
        "sqrt": (cnp.sqrt, jnp.sqrt, [0.0, 1e-300, 2.0]),
        "cbrt": (cnp.cbrt, jnp.cbrt, [-8.0, -0.0, 0.0, 1e-300, 8.0, 1e300]),
        "x**2.5": (lambda x: x ** 2.5, lambda x: x ** 2.5, [0.0, 1.0]),
        "x**3": (lambda x: x ** 3.0, lambda x: x ** 3.0, [0.0, -2.0]),
        "x**0.5": (lambda x: x ** 0.5, lambda x: x ** 0.5, [0.0, 1.0]),
        "maximum": (lambda x: cnp.maximum(x, 1.0), lambda x: jnp.maximum(x, 1.0), [0.0, 1.0, 2.0]),
        "max": (lambda x: cnp.max(cnp.stack([x, 1.0 + 0 * x])), lambda x: jnp.max(jnp.stack([x, 1.0 + 0 * x])),
                [1.0]),
        "fmax": (lambda x: cnp.fmax(x, 1.0), lambda x: jnp.fmax(x, 1.0), [0.0, 1.0, 2.0]),
        "fmin": (lambda x: cnp.fmin(x, 1.0), lambda x: jnp.fmin(x, 1.0), [0.0, 1.0, 2.0]),
        "clip": (lambda x: cnp.clip(x, -1.0, 1.0), lambda x: jnp.clip(x, -1.0, 1.0), [-2.0, -1.0, 0.0, 1.0, 2.0]),
        "relu": (lambda x: cnp.where(x > 0, x, 0.0) + cnp.maximum(x, 0.0),
                 lambda x: jnp.where(x > 0, x, 0.0) + jnp.maximum(x, 0.0), [-1.0, 0.0, 1.0]),
        "sign": (cnp.sign, jnp.sign, [-1.0, 0.0, 1.0]),
        "copysign": (lambda x: cnp.copysign(x, -1.0), lambda x: jnp.copysign(x, -1.0), [0.0, 2.0]),
        "xlogy": (lambda x: s.xlogy(x, 2.0) + s.xlogy(x, 0.0) + s.xlogy(2.0, x + 1.0),
                  lambda x: jss.xlogy(x, 2.0) + jss.xlogy(x, 0.0) + jss.xlogy(2.0, x + 1.0), [0.0, 1.0]),
        "xlog1py": (lambda x: s.xlog1py(x, 2.0) + s.xlog1py(x, -1.0), lambda x: jss.xlog1py(x, 2.0) + jss.xlog1py(x, -1.0),
                    [0.0, 1.0]),
        "entr": (s.entr, jss.entr, [0.0, 1e-300, 0.5, 2.0]),
        "rel_entr": (lambda x: s.rel_entr(x, 2.0) + s.rel_entr(1.0, x + 1e-300),
                     lambda x: jss.rel_entr(x, 2.0) + jss.rel_entr(1.0, x + 1e-300), [0.0, 1.0, 3.0]),
        "kl_div": (lambda x: s.kl_div(x, 2.0) + s.kl_div(1.0, x + 1.0), lambda x: jss.kl_div(x, 2.0) + jss.kl_div(1.0, x + 1.0),
                   [0.0, 1.0]),
        "logit": (s.logit, jss.logit, [0.0, 1e-300, 0.2, 0.5, 0.7, 1.0]),
        "log_expit": (s.log_expit, jnn.log_sigmoid, [-800.0, -3.0, -0.0, 0.0, 3.0, 800.0]),
        "arcsin": (cnp.arcsin, jnp.arcsin, [-1.0, 0.0, 0.5, 1.0]),
        "arccos": (cnp.arccos, jnp.arccos, [-1.0, 0.0, 0.5, 1.0]),
        "arctanh": (cnp.arctanh, jnp.arctanh, [-1.0, -0.999999, -0.0, 0.0, 0.3, 1.0]),
        "arccosh": (cnp.arccosh, jnp.arccosh, [1.0, 1.5, 2.0, 3.0, 1e5, 1e9]),
        "arcsinh": (cnp.arcsinh, jnp.arcsinh, [-1e10, -2.0, -0.0, 0.0, 1e-300, 2.0, 1e10]),
        "sinh": (cnp.sinh, jnp.sinh, [-710.0, -3.0, 0.0, 0.5, 700.0, 710.0]),
        "cosh": (cnp.cosh, jnp.cosh, [-710.0, -3.0, -1e-5, 0.0, 1e-200, 0.5, 1.0, 700.0, 710.0]),
        "hypot": (lambda x: cnp.hypot(x, 0.0) + cnp.hypot(x, x) + cnp.hypot(x, 3.0),
                  lambda x: jnp.hypot(x, 0.0) + jnp.hypot(x, x) + jnp.hypot(x, 3.0), [0.0, 1.0, -4.0]),
        "logaddexp": (lambda x: cnp.logaddexp(x, 0.0), lambda x: jnp.logaddexp(x, 0.0), [-np.inf, -1000.0, 0.0, 1000.0, np.inf]),
        "logaddexp2": (lambda x: cnp.logaddexp2(x, 0.0), lambda x: jnp.logaddexp2(x, 0.0), [-np.inf, 0.0, np.inf]),
        "erfc": (s.erfc, jss.erfc, [-3.0, 0.0, 0.5, 1.0, 10.0, 30.0]),
        "gammaln": (s.gammaln, jss.gammaln, [1e-300, 0.3, -0.4, 2.5]),
        "norm2": (lambda x: cnp.linalg.norm(cnp.stack([x, 2.0 * x])), lambda x: jnp.linalg.norm(jnp.stack([x, 2.0 * x])),
                  [1.0, -3.0]),
    }


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_derivatives_at_the_edges_match_jax(jax_x64):
    jax = pytest.importorskip("jax")
    cases = _jax_cases()
    xs = [np.array(pts, F64) for _, _, pts in cases.values()]
    all_theirs = jax.jit(lambda xs: [jax.vmap(jax.grad(jf))(x) for (_, jf, _), x in zip(cases.values(), xs)])(xs)
    for (name, (f, _, _)), x, theirs in zip(cases.items(), xs, all_theirs):
        ours = np.asarray(cr.vmap(cr.grad(f))(x))
        theirs = np.asarray(theirs)
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=f"{name} at {x}: {ours} vs {theirs}")
        np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=0, err_msg=f"{name} at {x}")


def test_derivatives_where_jax_overflows():
    # chainrule's composites keep the true derivative where JAX's formulas overflow to 0 or nan
    assert cr.grad(cnp.arcsinh)(1e200) == pytest.approx(1e-200, rel=1e-15)
    assert cr.grad(cnp.arccosh)(1e200) == pytest.approx(1e-200, rel=1e-15)
    np.testing.assert_allclose(cr.grad(lambda v: cnp.linalg.norm(v))(np.array([3e200, 4e200])), [0.6, 0.8], rtol=1e-15)
    assert cr.grad(lambda x: cnp.hypot(x, x))(1e200) == pytest.approx(math.sqrt(2), rel=1e-15)
    assert cr.grad(lambda x: cnp.hypot(x, 0.0))(-1e-200) == -1.0
    assert cr.grad(lambda x: cnp.ldexp(x, 3))(0.0) == 8.0  # jnp.ldexp: 1
    # log's derivative is t / x (JAX's rule), finite at subnormal x where 1/x overflows (JAX's CPU code
    # flushes the subnormal itself to 0)
    tiny = 5e-324
    assert cr.grad(cnp.special.entr)(tiny) == pytest.approx(-(math.log(tiny) + 1), rel=1e-15)
    assert cr.grad(lambda x: cnp.special.kl_div(x, 2.0))(tiny) == pytest.approx(math.log(tiny) - math.log(2), rel=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_edge_derivatives_on_backend(backend):
    # the same conventions in compiled code: one graph of several edge derivatives per backend
    s = cnp.special
    fns = [cnp.abs, cnp.cbrt, s.entr, s.logit, cnp.arctanh, cnp.arccosh, cnp.cosh, cnp.sinh, s.erfc,
           lambda x: s.xlogy(x, 2.0), lambda x: cnp.hypot(x, 0.0), lambda x: cnp.logaddexp(x, 0.0),
           lambda x: x ** 2.5, lambda x: x ** 0.5]
    x = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 710.0, -710.0, 30.0, 0.0, 0.0, np.inf, 0.0, 0.0])
    want = [1.0, np.inf, np.inf, np.inf, np.inf, np.inf, math.sinh(710.0), math.cosh(710.0), -0.0, math.log(2.0),
            0.5, 1.0, 0.0, np.inf]
    got = _run(lambda v: cnp.stack([cr.grad(f)(v[i]) for i, f in enumerate(fns)]), backend, x)
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_rewritten_composites_against_finite_differences():
    # ordinary points, both modes (erfc to second order): each piece of erfc, each branch of arccosh, ...
    s = cnp.special
    cases = [(s.erfc, [-2.0, 0.3, 0.7, 1.5, 2.5, 5.0]), (cnp.cosh, [-3.0, 0.2, 709.0]), (cnp.sinh, [-3.0, 0.2, 709.0]),
             (cnp.arccosh, [1.3, 5.0, 2e8]), (cnp.arcsinh, [-3.0, 0.2]), (cnp.arctanh, [-0.7, 0.2, 0.9]),
             (s.logit, [0.1, 0.4, 0.9]), (cnp.cbrt, [-3.0, 0.2]), (lambda x: cnp.hypot(x, 2.0 * x + 1.0), [-3.0, 0.4]),
             (lambda x: s.rel_entr(x, 1.5 - 0.5 * x), [0.3, 0.9]), (lambda x: s.xlogy(x, x + 2.0), [0.5, 2.0])]
    for i, (f, pts) in enumerate(cases):
        cr.check_grads(f, (np.array(pts),), order=2 if i == 0 else 1, rtol=1e-5, atol=1e-5)
