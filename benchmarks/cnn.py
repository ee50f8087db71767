"""The CNN workload: a value_and_grad training step of a small convolutional network.

Two 3x3 convolutions (32 and 64 channels, SAME padding, NHWC) with relu, a 2x2
max pool, a dense head and softmax cross-entropy, on a batch of 64 28x28
images in float32; and the first call (trace + compile + run) of the same step
in a fresh process with an empty compile cache, against jax.jit's.
"""

from __future__ import annotations

import numpy as np

from .first_call import first_call_row

DN = ("NHWC", "HWIO", "NHWC")


def cnn_params(rng, dtype=np.float32):
    def he(shape, fan_in):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)
    return {"w1": he((3, 3, 1, 32), 9), "b1": np.zeros(32, dtype),
            "w2": he((3, 3, 32, 64), 9 * 32), "b2": np.zeros(64, dtype),
            "w3": he((14 * 14 * 64, 10), 14 * 14 * 64), "b3": np.zeros(10, dtype)}


def cnn_data(batch=64, dtype=np.float32):
    rng = np.random.default_rng(0)
    params = cnn_params(rng, dtype)
    x = rng.standard_normal((batch, 28, 28, 1)).astype(dtype)
    y = np.eye(10, dtype=dtype)[rng.integers(0, 10, batch)]
    return params, x, y


def cnn_loss(params, x, y, lax, xp, logsumexp):
    """The same function for chainrule (lax=cr.lax, xp=cnp) and JAX (jax.lax, jnp)."""
    h = lax.conv_general_dilated(x, params["w1"], (1, 1), "SAME", dimension_numbers=DN) + params["b1"]
    h = xp.maximum(h, 0.0)
    h = lax.conv_general_dilated(h, params["w2"], (1, 1), "SAME", dimension_numbers=DN) + params["b2"]
    h = xp.maximum(h, 0.0)
    h = lax.reduce_window(h, -np.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    logits = h.reshape(h.shape[0], -1) @ params["w3"] + params["b3"]
    lse = logsumexp(logits, axis=1, keepdims=True)
    return -xp.mean(xp.sum((logits - lse) * y, axis=1))


def chainrule_loss(params, x, y):
    import chainrule.numpy as cnp
    from chainrule.frontend import lax_conv
    return cnn_loss(params, x, y, _CrLax(lax_conv), cnp, cnp.special.logsumexp)


class _CrLax:
    """The lax functions the model uses, from chainrule (cr.lax once it exists)."""

    def __init__(self, mod):
        import chainrule.numpy as cnp
        self.conv_general_dilated = mod.conv_general_dilated
        self.reduce_window = mod.reduce_window
        self.max = cnp.maximum


def jax_loss(params, x, y):
    import jax.numpy as jnp
    from jax import lax
    from jax.scipy.special import logsumexp
    return cnn_loss(params, x, y, lax, jnp, logsumexp)


_ORACLE: dict = {}


def _flat(res):
    loss, g = res
    return [loss] + [g[k] for k in sorted(g)]


def cnn_step(h, backends, jax, run_child):
    import chainrule as cr
    params, x, y = cnn_data()
    name = "CNN conv32-conv64-maxpool-dense vg step f32 b64"
    if "want" not in _ORACLE:   # the reference backend's result, computed once for all rounds
        _ORACLE["want"] = _flat(cr.jit(cr.value_and_grad(chainrule_loss), backend="reference")(params, x, y))
    want = _ORACLE["want"]
    for b in backends:
        if b == "reference":   # the oracle above; a NumPy interpreter is not what this row measures
            continue
        f = cr.jit(cr.value_and_grad(chainrule_loss), backend=b)
        h.check(name, f"chainrule-{b}", _flat(f(params, x, y)), want, rtol=2e-3, atol=2e-5)
        h.time(name, f"chainrule-{b}", lambda: f(params, x, y))
    if jax is not None:
        jf = jax.jit(jax.value_and_grad(jax_loss))
        pj = jax.device_put(params)
        h.check(name, "jax", _flat(jf(pj, x, y)), want, rtol=2e-3, atol=2e-5)
        h.time(name, "jax", lambda: jax.block_until_ready(jf(pj, x, y)))


def cnn_first_call(h, backends, jax, run_child):
    first_call_row(h, backends, jax, run_child, "first call CNN vg step, empty cache", "cnn", "cnn_data")