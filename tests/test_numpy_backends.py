"""chainrule.numpy composites compiled by every backend (llvm, jax) against NumPy.

A few wide graphs (many functions per graph, to share one compile each) stand
for the whole chainrule.numpy suite, which runs on any backend with
CHAINRULE_NUMPY_TEST_BACKEND=llvm (or jax).
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule.backends as backends
from linalg_backends import llvm_missing_linalg
from test_numpy_harness import check, rand

BACKENDS = [b for b in ("llvm", "jax") if b in backends.available_backends()]


def _elementwise(xp, x, y):
    return (xp.arcsinh(x) + xp.cbrt(y) * xp.hypot(x, y), xp.logaddexp(x, y) - xp.sinc(x), xp.floor_divide(x, y + 9),
            xp.remainder(x, 0.7), xp.where(x > y, xp.exp2(x), xp.log1p(xp.abs(y))), xp.clip(x, -1, 1) ** 3,
            xp.nan_to_num(xp.log(x)), xp.heaviside(x, 0.5), xp.copysign(y, x), xp.isclose(x, y, atol=0.5))


def _reductions(xp, x, y):
    return (xp.var(x, axis=0), xp.std(y, ddof=1), xp.mean(x * y, axis=1, keepdims=True), xp.argmax(x, axis=1),
            xp.cumsum(x, axis=1), xp.cumprod(y[:, :4], axis=0), xp.median(x, axis=1), xp.quantile(y, 0.3),
            xp.sort(x, axis=0), xp.argsort(y, axis=1, kind="stable") if xp is np else xp.argsort(y, axis=1),
            xp.nanmax(x, axis=0), xp.count_nonzero(x > 0, axis=1), xp.average(x, axis=1, weights=xp.abs(y[0]) + 1))


def _shapes(xp, x, y):
    return (xp.pad(x, ((1, 2), (0, 3)), mode="reflect"), xp.roll(x, 2, axis=1), xp.tile(y[:2], (2, 1)),
            xp.repeat(x, [1, 0, 2], axis=0), xp.triu(x, 1), xp.diagonal(x, 1), xp.kron(x[:2, :2], y[:2, :2]),
            xp.take_along_axis(x, xp.argsort(y, axis=1, kind="stable") if xp is np else xp.argsort(y, axis=1), axis=1),
            x[::-1, 1:5:2], x[[0, 2, 2]], x[np.array([1, 0]), np.array([3, 2])], xp.rot90(x), xp.diff(y, axis=0),
            xp.concatenate([x, y]), xp.stack([x, y], axis=-1))


def _linalg(xp, x, y):
    a = x[:, :3] + 4 * xp.eye(3)
    return (xp.einsum("ij,kj->ik", x, y), xp.einsum("ii->i", a), x @ y.T, xp.linalg.solve(a, y[:, :2]),
            xp.linalg.det(a), xp.linalg.inv(a), xp.linalg.norm(x, axis=1), xp.tensordot(x, y, ([1], [1])),
            xp.convolve(x[0], y[1, :3]), xp.interp(y[0], xp.sort(x[0]), y[1]))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn", [_elementwise, _reductions, _shapes, _linalg], ids=lambda f: f.__name__.strip("_"))
def test_composites_on_backend(fn, backend, rng):
    if fn is _linalg and backend == "llvm" and llvm_missing_linalg():
        pytest.skip(llvm_missing_linalg())
    x, y = rand(rng, (3, 6), np.float64), rand(rng, (3, 6), np.float64)
    check(fn, x, y, rtol=1e-12, atol=1e-12, modes=("jit",), backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_and_ints_on_backend(backend, rng):
    x, i = rand(rng, (4, 5), np.float32), rand(rng, (4, 5), np.int32, -9, 9)
    check(lambda xp, x, i: (xp.tanh(x) * i, i // 3, i % 4, xp.sum(i, axis=0), xp.cumsum(i), xp.maximum(i, 2),
                            xp.sort(i, axis=1), xp.mean(x, axis=1), x.astype(np.int32), (i > 0) & (x < 0)),
          x, i, rtol=2e-6, atol=2e-6, modes=("jit",), backend=backend)


def test_some_backend_is_checked():
    assert "llvm" in BACKENDS, "the llvm backend (llvmlite is a core dependency) is not available"
