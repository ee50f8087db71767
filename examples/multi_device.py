"""Data-parallel training of a small MLP over 8 devices with the JAX backend.

The training step (loss and gradients) is one chainrule graph, made two ways:
by chainrule's own reverse mode (`cr.value_and_grad` traced to a graph) and
by importing `jax.value_and_grad` of the same loss with `from_jax`. One call,
`data_parallel(step, batch_argnums=(4, 5))`, compiles it so that the batch
is split over every device, the weights are replicated, and XLA inserts the
all-reduce that the mean over the batch needs. Each step is checked against
the same graph on one device.

Without GPUs, run it on 8 simulated CPU devices (the flag must be set before
JAX is imported, which this script does unless XLA_FLAGS is already set):

    python examples/multi_device.py            # 8 CPU devices
    CHAINRULE_DEVICES=4 python examples/multi_device.py
"""

from __future__ import annotations

import os
import sys

N_DEVICES = int(os.environ.get("CHAINRULE_DEVICES", "8"))
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" --xla_force_host_platform_device_count={N_DEVICES}").strip()

try:
    import jax  # noqa: E402
    import jax.numpy as jnp  # noqa: E402
except ImportError:
    sys.exit("this example needs JAX: pip install -e '.[jax]'")
import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.numpy as cnp  # noqa: E402
from chainrule.backends.jax import compile, data_parallel  # noqa: E402
from chainrule.interop import from_jax  # noqa: E402

SIZES = (16, 32, 4)  # inputs, hidden units, classes
BATCH = 64


def jax_loss(w1, b1, w2, b2, x, y):
    h = jnp.tanh(x @ w1 + b1)
    logits = h @ w2 + b2
    return -jnp.mean(jnp.sum(jax.nn.log_softmax(logits) * y, axis=-1))


def specs(dtype="float32"):
    i, h, o = SIZES
    return [((i, h), dtype), ((h,), dtype), ((h, o), dtype), ((o,), dtype), ((BATCH, i), dtype), ((BATCH, o), dtype)]


def step_from_chainrule():
    """The step graph from chainrule's own autodiff."""
    def loss(w1, b1, w2, b2, x, y):
        h = cnp.tanh(x @ w1 + b1)
        logits = h @ w2 + b2
        m = cnp.max(logits, axis=-1, keepdims=True)
        lse = cnp.log(cnp.sum(cnp.exp(logits - m), axis=-1, keepdims=True)) + m
        return -cnp.mean(cnp.sum((logits - lse) * y, axis=-1))

    return cr.trace(cr.value_and_grad(loss, argnums=(0, 1, 2, 3)), *[cr.Spec(s, d) for s, d in specs()])


def step_from_jax():
    return from_jax(jax.value_and_grad(jax_loss, argnums=(0, 1, 2, 3)),
                    *[jax.ShapeDtypeStruct(s, np.dtype(d)) for s, d in specs()], name="mlp_step")


def init(rng):
    i, h, o = SIZES
    params = [rng.normal(size=(i, h)) / np.sqrt(i), np.zeros(h), rng.normal(size=(h, o)) / np.sqrt(h), np.zeros(o)]
    return [p.astype(np.float32) for p in params]


def train(step_graph, steps=5, lr=0.5, tol=1e-5):
    """SGD on random data: every step sharded over all devices and on one device; returns
    (losses, largest normwise relative difference between the two, devices used, whether the
    compiled program all-reduces)."""
    rng = np.random.default_rng(0)
    sharded = data_parallel(step_graph, batch_argnums=(4, 5))
    single = compile(step_graph, device=jax.devices()[0])
    w_true = rng.normal(size=(SIZES[0], SIZES[2]))
    params, worst, losses = init(rng), 0.0, []
    for _ in range(steps):
        x = rng.normal(size=(BATCH, SIZES[0])).astype(np.float32)
        y = np.eye(SIZES[2], dtype=np.float32)[np.argmax(x @ w_true, axis=1)]
        out = sharded(*params, x, y)
        ref = single(*params, x, y)
        for a, b in zip(out, ref):
            # normwise: the batch sums are added in another order, so entries near zero differ relatively
            worst = max(worst, float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + tol)))
        losses.append(float(out[0]))
        params = [p - lr * g for p, g in zip(params, out[1:])]
    hlo = sharded.compiled.as_text()
    devices = len(sharded.in_shardings[4].device_set)
    return losses, worst, devices, "all-reduce" in hlo


def main() -> int:
    print(f"{len(jax.devices())} devices: {jax.devices()[0].platform}")
    ok = True
    for source, graph in (("chainrule autodiff", step_from_chainrule()), ("from_jax", step_from_jax())):
        losses, worst, devices, all_reduce = train(graph)
        same = worst < 1e-5
        ok &= same and devices == len(jax.devices()) and losses[-1] < losses[0]
        print(f"{source}: batch split over {devices} devices, all-reduce in the program: {all_reduce}; "
              f"loss {losses[0]:.4f} -> {losses[-1]:.4f}; largest relative difference to one device {worst:.1e} "
              f"({'same' if same else 'DIFFERENT'})")
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
