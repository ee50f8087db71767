"""The transformer workload: a value_and_grad training step of two pre-LayerNorm transformer blocks.

d_model 128, 4 heads of 32, causal self-attention (`nn.dot_product_attention`), a GELU feed-forward
layer of 512, on a batch of 16 sequences of 128 tokens in float32, with a mean-squared-error loss;
and the first call (trace + compile + run) of the same step in a fresh process with an empty
compile cache, against jax.jit's. The model is one function written against (xp, nn), run with
(chainrule.numpy, chainrule.nn) and (jax.numpy, jax.nn).
"""

from __future__ import annotations

import numpy as np

from .first_call import first_call_row

B, T, D, H, F, LAYERS = 16, 128, 128, 4, 512, 2


def transformer_data(dtype=np.float32, batch=B):
    rng = np.random.default_rng(0)

    def w(*shape):
        return (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(dtype)
    params = [{"wq": w(D, D), "wk": w(D, D), "wv": w(D, D), "wo": w(D, D),
               "w1": w(D, F), "b1": np.zeros(F, dtype), "w2": w(F, D), "b2": np.zeros(D, dtype),
               "g1": np.ones(D, dtype), "g2": np.ones(D, dtype)} for _ in range(LAYERS)]
    x = rng.standard_normal((batch, T, D)).astype(dtype)
    y = rng.standard_normal((batch, T, D)).astype(dtype)
    return params, x, y


def _layer_norm(xp, x, g, eps=1e-5):
    m = xp.mean(x, axis=-1, keepdims=True)
    c = x - m
    v = xp.mean(c * c, axis=-1, keepdims=True)
    return c / xp.sqrt(v + eps) * g


def transformer_loss(params, x, y, xp, nn):
    b, t, d = x.shape
    for p in params:
        h = _layer_norm(xp, x, p["g1"])
        q, k, v = ((h @ p[n]).reshape(b, t, H, d // H) for n in ("wq", "wk", "wv"))
        a = nn.dot_product_attention(q, k, v, is_causal=True).reshape(b, t, d)
        x = x + a @ p["wo"]
        h = _layer_norm(xp, x, p["g2"])
        x = x + nn.gelu(h @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
    return xp.mean((x - y) ** 2)


def chainrule_loss(params, x, y):
    import chainrule as cr
    import chainrule.numpy as cnp
    return transformer_loss(params, x, y, cnp, cr.nn)


def jax_loss(params, x, y):
    import jax
    import jax.numpy as jnp
    return transformer_loss(params, x, y, jnp, jax.nn)


def _flat(res):
    loss, g = res
    return [loss] + [layer[k] for layer in g for k in sorted(layer)]


NAME = f"transformer {LAYERS}x(d{D} h{H} ff{F}) vg step f32 b{B} t{T}"


def transformer_step(h, backends, jax):
    import chainrule as cr
    params, x, y = transformer_data()
    want = None
    if jax is not None:
        jf = jax.jit(jax.value_and_grad(jax_loss))
        pj = jax.device_put(params)
        want = _flat(jf(pj, x, y))
    for b in backends:
        if b == "reference":  # a NumPy interpreter is not what this row measures
            continue
        f = cr.jit(cr.value_and_grad(chainrule_loss), backend=b)
        got = _flat(f(params, x, y))
        if want is None:
            want = got
        h.check(NAME, f"chainrule-{b}", got, want, rtol=2e-3, atol=2e-5)
        h.time(NAME, f"chainrule-{b}", lambda: f(params, x, y))
    if jax is not None:
        h.time(NAME, "jax", lambda: jax.block_until_ready(jf(pj, x, y)))


def transformer_first_call(h, backends, jax, run_child):
    first_call_row(h, backends, jax, run_child, "first call transformer vg step, empty cache", "transformer",
                   "transformer_data")