"""The functions a JAX/NumPy user reaches for (issue 16 item 8), against NumPy and JAX.

einsum's interleaved form, reshape(order="F"), sort/argsort(descending=True), r_/c_,
logsumexp(return_sign=True), erfinv and the normal-distribution helpers, the static-shape
forms of nonzero/argwhere/where/bincount/histogram, the quantile methods and the
.at[] updates JAX has. Each runs eagerly, under cr.jit and define-then-run (the harness),
and on the compiled backends (llvm, jax) where they are available.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.backends as backends
import chainrule.numpy as cnp
from test_numpy_harness import check, rand

BACKENDS = ["reference"] + [b for b in ("llvm", "jax") if b in backends.available_backends()]


def on_backends(fn, *args, want=None, rtol=None, atol=None):
    """The harness in every mode on the reference backend, then jit on the compiled ones."""
    check(fn, *args, want=want, rtol=rtol, atol=atol)
    for b in BACKENDS[1:]:
        check(fn, *args, want=want, rtol=rtol, atol=atol, modes=("jit",), backend=b)


# --- einsum, reshape, sort ------------------------------------------------------------------------------

def test_einsum_interleaved(rng):
    a, b = rand(rng, (2, 3, 4)), rand(rng, (4, 5))
    on_backends(lambda xp, a, b: (xp.einsum(a, [0, 1, 2], b, [2, 3], [0, 3, 1]), xp.einsum(a, [0, 1, 2], b, [2, 3]),
                                  xp.einsum(a, [Ellipsis, 2], [Ellipsis]), xp.einsum(b, [30, 1])), a, b)
    with pytest.raises(ValueError, match="sublist"):
        cnp.einsum(a, [0, 1, 60])


@pytest.mark.parametrize("dtype", (np.float32, np.int32))
def test_reshape_order_f(dtype, rng):
    x = rand(rng, (2, 3, 4), dtype)
    on_backends(lambda xp, x: (xp.reshape(x, (4, 6), order="F"), x.reshape(3, -1, order="F"),
                               x.reshape((24,), order="F"), xp.reshape(x[0], 12, order="F"), x.reshape(4, 6, order="C")), x)
    g = cr.grad(lambda x: cnp.sum(cnp.reshape(x, (4, 6), order="F") * np.arange(24.0).reshape(4, 6)))(np.ones((2, 3, 4)))
    np.testing.assert_array_equal(g, np.arange(24.0).reshape(4, 6).reshape((2, 3, 4), order="F"))


def test_sort_descending_matches_jax(rng):
    jax = pytest.importorskip("jax")
    x = rng.integers(0, 4, (3, 9)).astype(np.float64)
    x[0, 2] = np.nan
    for axis in (-1, 0, None):
        with jax.enable_x64(True):
            want = (np.asarray(jax.numpy.sort(x, axis=axis, descending=True)),
                    np.asarray(jax.numpy.argsort(x, axis=axis, descending=True)))
        on_backends(lambda xp, x: (cnp.sort(x, axis=axis, descending=True),
                                   cnp.argsort(x, axis=axis, descending=True)), x, want=want)
    g = cr.grad(lambda v: cnp.sum(cnp.sort(v, descending=True) * np.arange(4.0)))(np.array([2.0, 5.0, 1.0, 3.0]))
    np.testing.assert_array_equal(g, [2.0, 0.0, 3.0, 1.0])


# --- r_ / c_ ---------------------------------------------------------------------------------------------

R_CASES = [lambda xp, a: xp.r_[1:4, 0, 5.5, a[0]], lambda xp, a: xp.c_[a[0], a[1]], lambda xp, a: xp.c_[a, a],
           lambda xp, a: xp.r_["1,2,0", [1, 2], a], lambda xp, a: xp.r_["-1", a, a], lambda xp, a: xp.r_[0:1:5j, a[1]],
           lambda xp, a: xp.r_["0,2", a[0], a[1]], lambda xp, a: xp.c_[1:3, a[:, 0]],
           lambda xp, a: xp.r_[-1:1:6j, [0] * 3, 5, 6], lambda xp, a: xp.r_["0,3,1", a, a]]


@pytest.mark.parametrize("case", range(len(R_CASES)))
def test_r_c(case, rng):
    on_backends(R_CASES[case], rand(rng, (2, 3)))


def test_r_c_dtypes_and_errors():
    check(lambda xp, i: (xp.r_[i, 3], xp.r_[i, 2.5], xp.c_[i, i]), np.array([1, 2], np.int32))
    with pytest.raises(NotImplementedError, match="matrix"):
        cnp.r_["r", [1, 2]]
    with pytest.raises(ValueError, match="first"):
        cnp.r_[[1], "0"]
    g = cr.grad(lambda v: cnp.sum(cnp.r_[v, 2.0 * v, 0:2] ** 2))(np.array([1.0, 3.0]))
    np.testing.assert_allclose(g, 10 * np.array([1.0, 3.0]))
