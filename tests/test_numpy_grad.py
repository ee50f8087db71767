"""Composite chainrule.numpy functions differentiate through their primitives: gradients against
JAX's on the same function (jax.numpy has the same names) and against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")


def _special(xp):
    if xp is cnp:
        return cnp.special
    if xp is np:
        import scipy.special as s
        return s
    import jax.scipy.special as s
    return s


RNG = np.random.default_rng(7)


def _r(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, size=shape)


def _spd(n):
    a = _r(n, n)
    return a @ a.T + n * np.eye(n)


# name -> (f(xp, *args) -> array, args)
CASES = {
    "sort": (lambda xp, x: xp.sort(x, axis=1), (_r(3, 6),)),
    "median": (lambda xp, x: xp.median(x, axis=0), (_r(5, 3),)),
    "quantile": (lambda xp, x: xp.quantile(x, 0.3, axis=1), (_r(3, 7),)),
    "percentile": (lambda xp, x: xp.percentile(x, np.array([10.0, 75.0])), (_r(8),)),
    "cumsum": (lambda xp, x: xp.cumsum(x, axis=1), (_r(2, 9),)),
    "cumprod": (lambda xp, x: xp.cumprod(x), (_r(7, low=0.5, high=1.5),)),
    "logsumexp": (lambda xp, x: _special(xp).logsumexp(x, axis=1), (_r(3, 4),)),
    "var_std": (lambda xp, x: xp.var(x, axis=0) + xp.std(x, axis=0, ddof=1), (_r(5, 3),)),
    "average": (lambda xp, x, w: xp.average(x, axis=1, weights=w), (_r(3, 4), _r(4, low=0.5, high=2.0))),
    "einsum_matmul": (lambda xp, a, b: xp.einsum("ij,jk->ik", a, b), (_r(2, 3), _r(3, 4))),
    "einsum_diag_batch": (lambda xp, a, b: xp.einsum("bii,bij->bj", a, b), (_r(2, 3, 3), _r(2, 3, 4))),
    "solve": (lambda xp, a, b: xp.linalg.solve(a, b), (_spd(4), _r(4, 2))),
    "inv": (lambda xp, a: xp.linalg.inv(a), (_spd(3) + _r(3, 3),)),
    "det": (lambda xp, a: xp.linalg.det(a), (_r(3, 3) + 2 * np.eye(3),)),
    "slogdet": (lambda xp, a: xp.linalg.slogdet(a)[1], (_r(3, 3) + 2 * np.eye(3),)),
    "cholesky": (lambda xp, a: xp.linalg.cholesky(a @ a.T + 3 * xp.eye(3)), (_r(3, 3),)),
    "qr": (lambda xp, a: xp.linalg.qr(a)[0] + xp.linalg.qr(a)[1], (_r(3, 3) + 2 * np.eye(3),)),
    "svdvals_pinv": (lambda xp, a: xp.linalg.svd(a, compute_uv=False) + xp.linalg.pinv(a)[0], (_r(3, 3) + 2 * np.eye(3),)),
    "eigvalsh": (lambda xp, a: xp.linalg.eigvalsh(a + a.T), (_r(3, 3),)),
    "polyfit": (lambda xp, x, y: xp.polyfit(x, y, 2), (np.linspace(-1.0, 1.0, 7), _r(7))),
    "norms": (lambda xp, x: xp.linalg.norm(x) + xp.linalg.norm(x, 1, axis=0) + xp.linalg.norm(x, np.inf, axis=1)[0],
              (_r(3, 3),)),
    "take_along_axis": (lambda xp, x: xp.take_along_axis(x, np.array([[2, 0, 0], [1, 1, 2]]), axis=1), (_r(2, 3),)),
    "take": (lambda xp, x: xp.take(x, np.array([3, 0, 3, 1]), axis=0), (_r(4, 2),)),
    "pad_modes": (lambda xp, x: xp.pad(x, 2, mode="reflect") .sum() + xp.pad(x, (1, 3), mode="edge")[0, 0]
                  + xp.pad(x, 1, mode="wrap")[1:, :2].sum() + xp.pad(x, 1, mode="symmetric")[-1].sum(),
                  (_r(3, 4),)),
    "roll_tile_repeat": (lambda xp, x: xp.roll(x, 2, axis=1) * xp.tile(x[:, :1], (1, 4)) + xp.repeat(x, 2, axis=0)[1::2],
                         (_r(3, 4),)),
    "kron_cross": (lambda xp, a, b: xp.kron(a, b).sum(axis=0)[:3] + xp.cross(a[0], b[:, 0]), (_r(2, 3), _r(3, 2))),
    "diag_trace_tri": (lambda xp, x: xp.diagonal(x, 1) * xp.trace(x) + xp.triu(x, 1)[0, 1:] + xp.diag(xp.diag(x))[2, 1:],
                       (_r(3, 3),)),
    "interp": (lambda xp, x: xp.interp(x, np.array([-3.0, -1.0, 0.5, 3.0]), np.array([1.0, -2.0, 0.0, 4.0])),
               (_r(6),)),
    "convolve": (lambda xp, a, v: xp.convolve(a, v, mode="same"), (_r(6), _r(3))),
    "diff_gradient_trapezoid": (lambda xp, x: xp.diff(x, n=2) + xp.gradient(x)[1:-1] * xp.trapezoid(x), (_r(6),)),
    "inverse_trig": (lambda xp, x: xp.arcsin(x / 3) + xp.arccos(x / 3) * xp.arctan(x) + xp.arcsinh(x)
                     + xp.arctanh(x / 3) + xp.arccosh(xp.abs(x) + 1.5), (_r(5),)),
    "misc_elementwise": (lambda xp, x, y: xp.hypot(x, y) + xp.logaddexp(x, y) + xp.sinc(x) + xp.cbrt(x + 3)
                         + xp.log2(xp.abs(y) + 1) + xp.expm1(x) * xp.sinh(y) + xp.cosh(x) + xp.tan(y / 2),
                         (_r(5), _r(5))),
    "where_clip_max": (lambda xp, x, y: xp.where(x > 0, x * y, -y) + xp.clip(x, -0.5, 0.5) + xp.maximum(x, y),
                       (_r(6), _r(6))),
    "indexing": (lambda xp, x: x[::-1, 1:3].sum(axis=1) + x[np.array([0, 2, 2]), 0] + x[..., None][1, 2], (_r(3, 4),)),
    "prod_max_min": (lambda xp, x: xp.prod(x, axis=0) + xp.max(x, axis=0) * xp.min(x, axis=0), (_r(4, 3),)),
}


def _loss(f, xp, w):
    def loss(*args):
        return xp.sum(f(xp, *args) * w)
    return loss


# JAX compiles each reference (~0.5 s); these run in CI, the rest under -m slow
JAX_FAST = {"sort", "median", "quantile", "cumsum", "logsumexp", "einsum_diag_batch", "solve", "det", "cholesky",
            "take_along_axis", "interp", "norms"}


def _jax_grad(f, w, args):
    argnums = tuple(range(len(args)))
    with jax.enable_x64(True):
        g = jax.jit(jax.grad(_loss(f, jnp, jnp.asarray(w)), argnums=argnums))(*[jnp.asarray(a) for a in args])
        return [np.asarray(x) for x in g]


# jax.numpy.polyfit differentiates through an SVD-based lstsq whose gradient has NaNs: finite differences only
NOT_VS_JAX = {"polyfit"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in JAX_FAST else pytest.mark.slow)
                                  for n in sorted(CASES) if n not in NOT_VS_JAX])
def test_grad_matches_jax(name):
    f, args = CASES[name]
    out = np.asarray(f(np, *args))
    w = np.random.default_rng(1).standard_normal(out.shape)
    got = cr.grad(_loss(f, cnp, w), argnums=tuple(range(len(args))))(*args)
    for k, (g, wnt) in enumerate(zip(got, _jax_grad(f, w, args))):
        np.testing.assert_allclose(np.asarray(g), wnt, rtol=1e-9, atol=1e-10, err_msg=f"{name}: d/d arg {k}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_grad_matches_finite_differences(name):
    f, args = CASES[name]
    cr.check_grads(lambda *a: f(cnp, *a), args, order=1, modes=("fwd", "rev"))


def test_second_order_through_composites():
    x = _r(5)

    def f(xp, x):
        return xp.sum(xp.cumsum(xp.sort(x)) ** 2) + _special(xp).logsumexp(x)

    got = cr.hessian(lambda x: f(cnp, x))(x)
    with jax.enable_x64(True):
        want = np.asarray(jax.jit(jax.hessian(lambda x: f(jnp, x)))(jnp.asarray(x)))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", sorted(CASES))
def test_vmap_matches_a_loop(name):
    """cr.vmap of each composite against NumPy applied slice by slice."""
    pytest.importorskip("scipy")
    f, args = CASES[name]
    batched = [np.stack([a * (1 + 0.1 * k) for k in range(3)]) for a in args]
    got = cr.vmap(lambda *a: f(cnp, *a))(*batched)
    want = np.stack([np.asarray(f(np, *[b[k] for b in batched])) for k in range(3)])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10, atol=1e-10)
