"""Tensor parallelism: a 2-layer MLP trained over a 2 x 4 mesh (data x model) of 8 devices.

The weights are split Megatron-style: the first layer by columns (each of the
4 "model" devices holds a quarter of the hidden units), the second by rows,
so the hidden activations never leave their device and one all-reduce
(`psum` over "model") finishes each forward pass. The batch is split over the
2 "data" devices. The step is written two ways:

* explicit SPMD: `cr.shard_map` with a `psum` over "model" and a `pmean` over
  "data", differentiated by chainrule (the transposed collectives appear in
  the backward pass);
* automatic: the plain one-device model under `cr.jit(in_shardings=...,
  out_shardings=...)`, whose shardings XLA's partitioner propagates.

Both are trained a few steps and compared with the same model on one device
(loss and parameters within float32 tolerance); the StableHLO of the step
shows its collectives. Without GPUs it runs on 8 simulated CPU devices (the
flag must be set before JAX is imported, which this script does):

    python examples/tensor_parallel.py
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__" and "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()

import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.numpy as cnp  # noqa: E402
from chainrule.sharding import NamedSharding, P, make_mesh, pmean, psum  # noqa: E402

SIZES = (16, 64, 8)  # inputs, hidden units, outputs
BATCH = 32
MESH_SHAPE = (2, 4)  # data x model
LR = 0.1

# How each value is split: batch over "data"; W1 by columns and W2 by rows over "model".
PARAM_SPECS = (P(None, "model"), P("model"), P("model", None), P())  # w1, b1, w2, b2
DATA_SPECS = (P("data"), P("data"))                                  # x, t


def mlp_loss(w1, b1, w2, b2, x, t):
    """The one-device model: mean squared error of a tanh MLP."""
    h = cnp.tanh(x @ w1 + b1)
    y = h @ w2 + b2
    return cnp.mean((y - t) ** 2)


def sgd(loss):
    def step(w1, b1, w2, b2, x, t):
        value, grads = cr.value_and_grad(loss, argnums=(0, 1, 2, 3))(w1, b1, w2, b2, x, t)
        return value, tuple(p - LR * g for p, g in zip((w1, b1, w2, b2), grads))
    return step


def spmd_loss(mesh):
    """The same loss as explicit SPMD code: each device sees its blocks of the batch and the weights."""
    def local(w1, b1, w2, b2, x, t):
        h = cnp.tanh(x @ w1 + b1)             # [batch/2, hidden/4]: this device's hidden units
        y = psum(h @ w2, "model") + b2        # row-split W2: partial sums, all-reduced over "model"
        return pmean(cnp.mean((y - t) ** 2), "data")  # the mean over the whole batch
    return cr.shard_map(local, mesh=mesh, in_specs=PARAM_SPECS + DATA_SPECS, out_specs=P())


def shardings(mesh):
    ns = [NamedSharding(mesh, s) for s in PARAM_SPECS + DATA_SPECS]
    return tuple(ns), (NamedSharding(mesh, P()), tuple(ns[:4]))


def compiled_steps(mesh, backend="jax"):
    """{name: jitted SGD step}: explicit shard_map, automatic (jit shardings), and one device."""
    ins, outs = shardings(mesh)
    return {
        "shard_map": cr.jit(sgd(spmd_loss(mesh)), backend=backend, in_shardings=ins, out_shardings=outs),
        "jit shardings": cr.jit(sgd(mlp_loss), backend=backend, in_shardings=ins, out_shardings=outs),
        "one device": cr.jit(sgd(mlp_loss), backend=backend),
    }


def data(seed=0, steps=4):
    rng = np.random.default_rng(seed)
    i, h, o = SIZES
    params = (rng.normal(size=(i, h)) / np.sqrt(i), np.zeros(h), rng.normal(size=(h, o)) / np.sqrt(h), np.zeros(o))
    params = tuple(p.astype(np.float32) for p in params)
    w_true = rng.normal(size=(i, o))
    batches = []
    for _ in range(steps):
        x = rng.normal(size=(BATCH, i)).astype(np.float32)
        batches.append((x, np.tanh(x @ w_true).astype(np.float32)))
    return params, batches


def train(step, params, batches, put=None):
    """Run the SGD steps; `put(array, k)` places argument k (default: NumPy arrays as they are)."""
    losses = []
    for x, t in batches:
        args = (*params, x, t)
        if put is not None:
            args = tuple(put(a, k) for k, a in enumerate(args))
        loss, params = step(*args)
        losses.append(float(np.asarray(loss)))
        params = tuple(np.asarray(p) for p in params)
    return losses, params


def worst_difference(a, b):
    (la, pa), (lb, pb) = a, b
    rel = [abs(x - y) / max(abs(y), 1e-6) for x, y in zip(la, lb)]
    rel += [float(np.max(np.abs(x - y)) / (np.max(np.abs(y)) + 1e-6)) for x, y in zip(pa, pb)]
    return max(rel)


COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "collective_permute")


def collectives_in(stablehlo: str) -> dict:
    return {c: stablehlo.count(f"stablehlo.{c}") for c in COLLECTIVES if f"stablehlo.{c}" in stablehlo}


def hlo_collectives(hlo: str) -> dict:
    names = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "collective-permute")
    return {c: hlo.count(f" {c}(") for c in names if f" {c}(" in hlo}


def main() -> int:
    try:
        import jax
    except ImportError:
        sys.exit("this example needs JAX: pip install -e '.[jax]'")
    print(f"{len(jax.devices())} devices: {jax.devices()[0].platform}")
    mesh = make_mesh(MESH_SHAPE, ("data", "model"))
    params, batches = data()
    steps = compiled_steps(mesh)
    results = {name: train(step, params, batches) for name, step in steps.items()}
    base = results["one device"]
    ok = base[0][-1] < base[0][0]
    print(f"one device: loss {base[0][0]:.5f} -> {base[0][-1]:.5f}")
    for name in ("shard_map", "jit shardings"):
        worst = worst_difference(results[name], base)
        exe = steps[name].lower(*params, *batches[0]).compile().executable
        hlo, partitioned = exe.as_stablehlo(), exe.compiled.as_text()
        same = worst < 1e-4
        ok &= same
        print(f"{name}: loss {results[name][0][0]:.5f} -> {results[name][0][-1]:.5f}; largest relative difference "
              f"to one device {worst:.1e} ({'same' if same else 'DIFFERENT'}); collectives in its StableHLO: "
              f"{collectives_in(hlo) or 'none'}; after XLA's partitioner: {hlo_collectives(partitioned)}")
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
