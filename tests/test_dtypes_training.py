"""Mixed-precision training: the bfloat16 MLP step of benchmarks/workloads.py (bfloat16 activations and
weights, float32 accumulation and master weights) follows float32 training's loss curve, on llvm
and against the same step under jax.jit.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import chainrule as cr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.workloads import mlp_bf16_loss, mlp_loss, mlp_params, sgd_step  # noqa: E402


def _data(n=128, d=32, k=10, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, d)).astype(np.float32) * 2
    labels = rng.integers(0, k, n)
    x = (centers[labels] + rng.standard_normal((n, d))).astype(np.float32)
    return x, np.eye(k, dtype=np.float32)[labels]


def _curve(step, params, x, y, steps):
    losses = []
    for _ in range(steps):
        loss, params = step(params, x, y)
        losses.append(float(loss))
    return np.array(losses), params


def test_bf16_training_follows_float32():
    x, y = _data()
    params = mlp_params(np.random.default_rng(1), sizes=(32, 64, 64, 10))
    f32, _ = _curve(cr.jit(sgd_step(mlp_loss, lr=0.2)), params, x, y, 40)
    bf16, new = _curve(cr.jit(sgd_step(mlp_bf16_loss, lr=0.2)), params, x, y, 40)
    assert all(w.dtype == np.float32 for pair in new for w in pair)  # the master weights stay float32
    assert f32[-1] < 0.5 * f32[0]  # it learns
    # bfloat16 keeps 8 bits: each loss within 1% of float32's (measured: 0.12% at most)
    np.testing.assert_allclose(bf16, f32, rtol=0.01, atol=1e-3)


def test_bf16_step_matches_jax():
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    from jax.scipy.special import logsumexp
    x, y = _data(n=64)
    params = mlp_params(np.random.default_rng(2), sizes=(32, 48, 10))
    ours, p1 = _curve(cr.jit(sgd_step(mlp_bf16_loss)), params, x, y, 5)
    jstep = jax.jit(sgd_step(mlp_bf16_loss, value_and_grad=jax.value_and_grad, xp=jnp, logsumexp=logsumexp))
    theirs, p2 = _curve(jstep, params, x, y, 5)
    np.testing.assert_allclose(ours, theirs, rtol=2e-2, atol=1e-3)
    for (a, b), (c, d) in zip(p1, p2):
        np.testing.assert_allclose(a, np.asarray(c), rtol=2e-2, atol=2e-3)
        np.testing.assert_allclose(b, np.asarray(d), rtol=2e-2, atol=2e-3)
