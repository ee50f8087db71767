"""Derivatives of the linear-algebra ops and of chainrule.numpy.linalg / chainrule.scipy.linalg against
JAX on the same functions, in float64: first order (grad), and second order (the JVP of the gradient)
where JAX has it; the degenerate SVD case of issue 17; finite differences for the primitive rules."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
import chainrule.scipy.linalg as csl
from chainrule.frontend.core import bind

jax = pytest.importorskip("jax")
jnp = jax.numpy
jsl = pytest.importorskip("jax.scipy.linalg")
lax = jax.lax

pytestmark = pytest.mark.usefixtures("jax_x64")

TOL = dict(rtol=1e-8, atol=1e-10)
slow = pytest.mark.slow  # each JAX oracle costs an XLA compile of seconds here: the default run keeps a core set


def _t(x):
    return np.swapaxes(x, -1, -2)


def _mats(seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((2, 4, 4))
    spd = a @ _t(a) + 4 * np.eye(4)
    gen = rng.standard_normal((2, 4, 4)) + 3 * np.eye(4)
    tall = rng.standard_normal((2, 5, 3))
    return rng, spd, gen, tall


def _weights(rng, like):
    return rng.standard_normal(np.shape(like))


def _check(f_cr, f_jax, args, second=True, tol=TOL, symmetric=False):
    """grad of f (a scalar function of the args) against JAX; with `second`, the JVP of the gradient too
    (along symmetric directions when `symmetric`: the domain of eigh's rule)."""
    argnums = tuple(range(len(args)))
    rng = np.random.default_rng(7)
    dirs = tuple(rng.standard_normal(np.shape(a)) for a in args)
    dirs = tuple(_sym_dir(d) if symmetric and d.ndim >= 2 and d.shape[-1] == d.shape[-2] else d for d in dirs)

    @jax.jit  # one XLA compile per case for both orders (JAX's op-by-op dispatch of lu alone takes seconds)
    def oracle(args, dirs):
        grad = jax.grad(f_jax, argnums=argnums)
        return grad(*args), (jax.jvp(lambda *a: grad(*a), args, dirs)[1] if second else None)
    g2, h2 = oracle(args, dirs)
    g1 = cr.grad(f_cr, argnums=argnums)(*args)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, **tol)
    if second:
        _, h1 = cr.jvp(cr.grad(f_cr, argnums=argnums), args, dirs)
        for a, b in zip(h1, h2):
            np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-8)


def _sym_dir(d):
    return (d + _t(d)) / 2


# --- the primitives, bound directly, against jax.lax.linalg --------------------------------------------

@pytest.mark.parametrize("lower", [True, pytest.param(False, marks=slow)])
def test_cholesky_primitive(lower):
    rng, spd, _, _ = _mats()
    w = _weights(rng, spd)

    def f(xp, chol):
        return lambda a: xp.sum(w * chol(a))
    mine = f(cnp, lambda a: bind("cholesky", a, lower=lower))
    if lower:
        theirs = f(jnp, lambda a: lax.linalg.cholesky(a, symmetrize_input=False))
    else:
        theirs = f(jnp, lambda a: jnp.swapaxes(lax.linalg.cholesky(jnp.swapaxes(a, -1, -2), symmetrize_input=False),
                                               -1, -2))
    _check(mine, theirs, (spd,))


@pytest.mark.parametrize("left_side, lower, transpose_a, unit_diagonal",
                         [(True, False, True, True), (False, True, False, False),
                          pytest.param(True, True, False, False, marks=slow),
                          pytest.param(False, False, True, True, marks=slow)])
def test_triangular_solve_primitive(left_side, lower, transpose_a, unit_diagonal):
    rng, _, gen, _ = _mats()
    b = rng.standard_normal((2, 4, 3) if left_side else (2, 3, 4))
    w = _weights(rng, b)
    kw = dict(left_side=left_side, lower=lower, transpose_a=transpose_a, unit_diagonal=unit_diagonal)
    _check(lambda a, b: cnp.sum(w * bind("triangular_solve", a, b, **kw)),
           lambda a, b: jnp.sum(w * lax.linalg.triangular_solve(a, b, **kw)), (gen, b))


@pytest.mark.parametrize("shape", [(2, 4, 4), pytest.param((5, 3), marks=slow), pytest.param((3, 5), marks=slow)])
def test_lu_primitive(shape):
    rng = np.random.default_rng(1)
    a = rng.standard_normal(shape)
    w = _weights(rng, a)
    _check(lambda a: cnp.sum(w * bind("lu", a)[0]), lambda a: jnp.sum(w * lax.linalg.lu(a)[0]), (a,))


@pytest.mark.parametrize("shape, full", [((2, 5, 3), False), ((4, 4), True), pytest.param((4, 4), False, marks=slow)])
def test_qr_primitive(shape, full):
    rng = np.random.default_rng(2)
    a = rng.standard_normal(shape)
    wq, wr = rng.standard_normal(shape[:-1] + (shape[-2] if full else shape[-1],)), rng.standard_normal(
        shape[:-2] + ((shape[-2],) if full else (shape[-1],)) + shape[-1:])

    def f(xp, qr):
        def g(a):
            q, r = qr(a)
            return xp.sum(wq * q) + xp.sum(wr * r)
        return g
    _check(f(cnp, lambda a: bind("qr", a, full_matrices=full)), f(jnp, lambda a: lax.linalg.qr(a, full_matrices=full)),
           (a,))


def test_qr_derivative_of_wide_matrices_is_refused_as_in_jax():
    with pytest.raises(Exception, match="m >= n"):
        cr.grad(lambda a: cnp.sum(bind("qr", a, full_matrices=False)[1]))(np.ones((2, 3)))


def test_eigh_primitive_distinct_eigenvalues():
    rng, spd, _, _ = _mats(3)
    ww, wv = rng.standard_normal((2, 4)), rng.standard_normal((2, 4, 4))

    def f(xp, eigh):
        def g(a):
            v, w = eigh(a)
            return xp.sum(ww * w) + xp.sum(wv * v * v)  # v * v: independent of each eigenvector's sign
        return g
    _check(f(cnp, lambda a: bind("eigh", a)), f(jnp, lambda a: lax.linalg.eigh(a, symmetrize_input=False)), (spd,),
           symmetric=True)


@pytest.mark.parametrize("shape", [(5, 3), pytest.param((2, 4, 4), marks=slow), pytest.param((3, 5), marks=slow)])
def test_svd_primitive(shape):
    rng = np.random.default_rng(4)
    a = rng.standard_normal(shape)
    k = min(shape[-2:])
    wu = rng.standard_normal(shape[:-1] + (k,))
    ws = rng.standard_normal(shape[:-2] + (k,))
    wv = rng.standard_normal(shape[:-2] + (k, shape[-1]))

    def f(xp, svd):
        def g(a):
            u, s, vh = svd(a)
            return xp.sum(wu * u * u) + xp.sum(ws * s) + xp.sum(wv * vh * vh)
        return g
    _check(f(cnp, lambda a: bind("svd", a, full_matrices=False)),
           f(jnp, lambda a: lax.linalg.svd(a, full_matrices=False)), (a,))
    _check(lambda a: cnp.sum(ws * bind("svd", a, compute_uv=False)),
           lambda a: jnp.sum(ws * lax.linalg.svd(a, compute_uv=False)), (a,))


def test_svd_of_repeated_singular_values_issue_17():
    """sum(s) of eye(3) + 0.1 (singular values 1.3, 1, 1): JAX's gradient is the identity, and so is ours."""
    a = np.eye(3) + 0.1
    g = cr.grad(lambda a: cnp.sum(cnp.linalg.svd(a, compute_uv=False)))(a)
    want = jax.grad(lambda a: jnp.sum(jnp.linalg.svd(a, compute_uv=False)))(a)
    np.testing.assert_allclose(g, want, atol=1e-12)
    np.testing.assert_allclose(g, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(cr.jit(cr.grad(lambda a: cnp.sum(cnp.linalg.svdvals(a))), backend="jax")(a), np.eye(3),
                               atol=1e-12)


def test_primitive_rules_against_finite_differences():
    rng, spd, gen, _ = _mats(5)
    d = rng.standard_normal(gen.shape)
    cases = [
        (lambda a: bind("cholesky", a), spd, _sym_dir(d)),
        (lambda a: bind("lu", a)[0], gen, d),
        (lambda a: bind("triangular_solve", a, gen, left_side=True, lower=True), gen, d),
        (lambda a: bind("qr", a)[1], gen, d),
        (lambda a: bind("eigh", a)[1], spd, _sym_dir(d)),
        (lambda a: bind("svd", a, compute_uv=False), gen, d),
    ]
    h = 1e-6
    for fn, x, dx in cases:
        _, t = cr.jvp(fn, (x,), (dx,))
        fd = (np.asarray(fn(x + h * dx)) - np.asarray(fn(x - h * dx))) / (2 * h)
        np.testing.assert_allclose(t, fd, rtol=1e-5, atol=1e-6)


# --- chainrule.numpy.linalg against jax.numpy.linalg -------------------------------------------------------

def _frontend_cases():
    rng, spd, gen, tall = _mats(6)
    b = rng.standard_normal((2, 4, 2))
    v = rng.standard_normal(4)
    w4 = rng.standard_normal((2, 4, 4))
    return {
        "solve": (lambda xp: lambda a, b: xp.sum(xp.linalg.solve(a, b) * b), (gen, b)),
        "solve_vector": (lambda xp: lambda a, v: xp.sum(xp.linalg.solve(a[0], v) ** 2), (gen, v)),
        "inv": (lambda xp: lambda a: xp.sum(w4 * xp.linalg.inv(a)), (gen,)),
        "det": (lambda xp: lambda a: xp.sum(xp.linalg.det(a)), (gen,)),
        "slogdet": (lambda xp: lambda a: xp.sum(xp.linalg.slogdet(a)[1]), (gen,)),
        "cholesky": (lambda xp: lambda a: xp.sum(w4 * xp.linalg.cholesky(a)), (spd,)),
        "cholesky_upper": (lambda xp: lambda a: xp.sum(w4 * xp.linalg.cholesky(a, upper=True)), (spd,)),
        "eigh": (lambda xp: lambda a: xp.sum(xp.linalg.eigh(a)[0] * v) + xp.sum(xp.linalg.eigh(a)[1] ** 2 * w4),
                 (spd,)),
        "eigvalsh_U": (lambda xp: lambda a: xp.sum(xp.linalg.eigvalsh(a, UPLO="U") ** 2), (spd,)),
        "qr": (lambda xp: lambda a: xp.sum(xp.linalg.qr(a)[0] * tall) + xp.sum(xp.linalg.qr(a, mode="r")),
               (tall,)),
        "svdvals": (lambda xp: lambda a: xp.sum(xp.linalg.svd(a, compute_uv=False) ** 3), (tall,)),
        "pinv": (lambda xp: lambda a: xp.sum(xp.linalg.pinv(a) * _t(tall)), (tall,)),
        "lstsq": (lambda xp: lambda a, y: xp.sum(xp.linalg.lstsq(a[0], y)[0] ** 2), (tall, tall[1, :, 0])),
        "norms": (lambda xp: lambda a: xp.sum(xp.linalg.norm(a, 2, axis=(-2, -1)) + xp.linalg.norm(a, "nuc", axis=(-2, -1))
                                             + xp.linalg.norm(a, -2, axis=(-2, -1))), (gen,)),
        "cond": (lambda xp: lambda a: xp.sum(xp.linalg.cond(a)) + xp.linalg.cond(a[0], 1), (gen,)),
        "matrix_power": (lambda xp: lambda a: xp.sum(w4 * xp.linalg.matrix_power(a, -3)), (gen,)),
        "tensorsolve": (lambda xp: lambda a, v: xp.sum(xp.linalg.tensorsolve(a[0], v) ** 2), (gen, v)),
    }


_FRONTEND_CORE = {"solve", "eigh"}
_SYMMETRIC = {"cholesky", "cholesky_upper", "eigh", "eigvalsh_U"}  # functions of the symmetric part


@pytest.mark.parametrize("name", sorted(_frontend_cases()))
def test_numpy_linalg_against_finite_differences(name):
    make, args = _frontend_cases()[name]
    f = make(cnp)
    if name in _SYMMETRIC:  # their derivative is that of the symmetric part, as JAX's: test along it
        f = (lambda g: lambda a: g((a + cnp.swapaxes(a, -1, -2)) / 2))(f)
    cr.check_grads(f, args, order=1 if name in ("cond", "norms") else 2)


@pytest.mark.parametrize("name", [n if n in _FRONTEND_CORE else pytest.param(n, marks=slow)
                                  for n in sorted(_frontend_cases())])
def test_numpy_linalg_against_jax(name):
    make, args = _frontend_cases()[name]
    second = name not in ("cond", "norms")  # their second derivatives pass through max/min: compared at first order
    _check(make(cnp), make(jnp), args, second=second)


def test_values_agree_with_numpy():
    _, spd, gen, tall = _mats(8)
    for fn in (lambda xp: xp.linalg.det(gen), lambda xp: xp.linalg.inv(gen), lambda xp: xp.linalg.slogdet(gen)[1],
               lambda xp: xp.linalg.cholesky(spd), lambda xp: xp.linalg.eigvalsh(spd), lambda xp: xp.linalg.pinv(tall),
               lambda xp: xp.linalg.svd(tall, compute_uv=False), lambda xp: xp.linalg.matrix_rank(tall),
               lambda xp: xp.linalg.norm(gen, 2, axis=(-2, -1)), lambda xp: xp.linalg.cond(gen)):
        np.testing.assert_allclose(fn(cnp), fn(np), rtol=1e-10, atol=1e-12)


# --- chainrule.scipy.linalg against jax.scipy.linalg -------------------------------------------------------

def _scipy_cases():
    rng, spd, gen, _ = _mats(9)
    b = rng.standard_normal((4, 2))
    w = rng.standard_normal((4, 4))
    return {
        "cholesky": (lambda sl, xp: lambda a: xp.sum(w * sl.cholesky(a[0])), (spd,)),
        "cho_solve": (lambda sl, xp: lambda a, b: xp.sum(sl.cho_solve(sl.cho_factor(a[0], lower=True), b) * b),
                      (spd, b)),
        "solve_pos": (lambda sl, xp: lambda a, b: xp.sum(sl.solve(a[0], b, assume_a="pos") ** 2), (spd, b)),
        "solve_triangular": (lambda sl, xp: lambda a, b: xp.sum(sl.solve_triangular(a[0], b, trans=1, lower=True) ** 2),
                             (gen, b)),
        "lu": (lambda sl, xp: lambda a: sum(xp.sum(x * w) for x in sl.lu(a[0])), (gen,)),
        "lu_solve": (lambda sl, xp: lambda a, b: xp.sum(sl.lu_solve(sl.lu_factor(a[0]), b, trans=1) ** 2), (gen, b)),
        "eigh": (lambda sl, xp: lambda a: xp.sum(sl.eigh(a[0])[0] ** 3), (spd,)),
        "expm": (lambda sl, xp: lambda a: xp.sum(w * sl.expm(a[0] / 3)), (gen,)),
        "expm_scaled": (lambda sl, xp: lambda a: xp.sum(w * sl.expm(2 * a[0])), (gen,)),
    }


_SCIPY_CORE = {"lu_solve"}


@pytest.mark.parametrize("name", sorted(_scipy_cases()))
def test_scipy_linalg_against_finite_differences(name):
    make, args = _scipy_cases()[name]
    f = make(csl, cnp)
    if name in ("cho_solve", "solve_pos", "eigh", "cholesky"):
        f = (lambda g: lambda a, *rest: g((a + cnp.swapaxes(a, -1, -2)) / 2, *rest))(f)
    cr.check_grads(f, args, order=2)


@pytest.mark.parametrize("name", [n if n in _SCIPY_CORE else pytest.param(n, marks=slow)
                                  for n in sorted(_scipy_cases())])
def test_scipy_linalg_against_jax(name):
    make, args = _scipy_cases()[name]
    mine, theirs = make(csl, cnp), make(jsl, jnp)
    np.testing.assert_allclose(mine(*args), theirs(*args), rtol=1e-10)
    # solve(assume_a="pos") differentiates as JAX's custom_linear_solve to first order, and to second order
    # along symmetric directions (see chainrule.frontend.scipy_linalg)
    _check(mine, theirs, args, second=name != "expm_scaled", tol=dict(rtol=1e-7, atol=1e-9),
           symmetric=name == "solve_pos")
