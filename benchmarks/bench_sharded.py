"""Sharded training steps on 8 simulated CPU devices: chainrule (jax backend) vs the same program in
plain JAX with the same shardings. Both run on XLA, so the ratio measures what chainrule adds.

Rows (each an SGD step of a tanh MLP, value_and_grad and update, parameters kept on the devices):
  * data parallel: batch split over 8 devices, weights replicated (`cr.jit(in_shardings=...)` vs
    `jax.jit(in_shardings=...)`);
  * tensor parallel, jit shardings: 2 x 4 mesh (data x model), Megatron column/row-split weights;
  * tensor parallel, shard_map: the same split written as SPMD code with psum/pmean
    (`cr.shard_map` vs `jax.shard_map`).

JAX fixes its device count at import, so this runs in its own process:

    python -m benchmarks --only sharded          # through the harness (a child process)
    python benchmarks/bench_sharded.py [--quick]  # alone; prints one JSON object per row
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

if __name__ == "__main__":
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


def _models(D, H, O):
    import jax
    import jax.numpy as jnp
    import chainrule as cr
    import chainrule.numpy as cnp
    from chainrule import sharding as sh

    lr = 0.05

    def cr_loss(w1, w2, x, t):
        return cnp.mean((cnp.tanh(x @ w1) @ w2 - t) ** 2)

    def jx_loss(w1, w2, x, t):
        return jnp.mean((jnp.tanh(x @ w1) @ w2 - t) ** 2)

    def cr_spmd(mesh):
        def local(w1, w2, x, t):
            y = sh.psum(cnp.tanh(x @ w1) @ w2, "model")
            return sh.pmean(cnp.mean((y - t) ** 2), "data")
        return sh.shard_map(local, mesh=mesh, in_specs=(sh.P(None, "model"), sh.P("model"), sh.P("data"),
                                                        sh.P("data")), out_specs=sh.P())

    def jx_spmd(mesh):
        P = jax.sharding.PartitionSpec

        def local(w1, w2, x, t):
            y = jax.lax.psum(jnp.tanh(x @ w1) @ w2, "model")
            return jax.lax.pmean(jnp.mean((y - t) ** 2), "data")
        return jax.shard_map(local, mesh=mesh, in_specs=(P(None, "model"), P("model"), P("data"), P("data")),
                             out_specs=P(), check_vma=False)

    def cr_step(loss):
        def step(w1, w2, x, t):
            v, (g1, g2) = cr.value_and_grad(loss, argnums=(0, 1))(w1, w2, x, t)
            return v, w1 - lr * g1, w2 - lr * g2
        return step

    def jx_step(loss):
        def step(w1, w2, x, t):
            v, (g1, g2) = jax.value_and_grad(loss, argnums=(0, 1))(w1, w2, x, t)
            return v, w1 - lr * g1, w2 - lr * g2
        return step

    return cr_loss, jx_loss, cr_spmd, jx_spmd, cr_step, jx_step


def run(quick=False):
    import jax
    import numpy as np
    from jax.sharding import AxisType, NamedSharding, PartitionSpec as P
    import chainrule as cr

    D, H, O, B = (64, 256, 64, 128) if quick else (256, 1024, 256, 512)
    cr_loss, jx_loss, cr_spmd, jx_spmd, cr_step, jx_step = _models(D, H, O)
    rng = np.random.default_rng(0)
    host = [(rng.normal(size=(D, H)) / np.sqrt(D)).astype(np.float32),
            (rng.normal(size=(H, O)) / np.sqrt(H)).astype(np.float32),
            rng.normal(size=(B, D)).astype(np.float32), rng.normal(size=(B, O)).astype(np.float32)]
    dp = jax.make_mesh((8,), ("data",), axis_types=(AxisType.Auto,))
    tp = jax.make_mesh((2, 4), ("data", "model"), axis_types=(AxisType.Auto,) * 2)
    rows = []
    configs = [
        ("data parallel MLP step, 8 devices", dp, (P(), P(), P("data"), P("data")), cr_step(cr_loss),
         jx_step(jx_loss)),
        ("tensor parallel MLP step, 2x4, jit shardings", tp, (P(None, "model"), P("model"), P("data"), P("data")),
         cr_step(cr_loss), jx_step(jx_loss)),
        ("tensor parallel MLP step, 2x4, shard_map", tp, (P(None, "model"), P("model"), P("data"), P("data")),
         cr_step(cr_spmd(tp)), jx_step(jx_spmd(tp))),
    ]
    for name, mesh, specs, crf, jxf in configs:
        ins = tuple(NamedSharding(mesh, s) for s in specs)
        outs = (NamedSharding(mesh, P()), ins[0], ins[1])
        fns = {"chainrule-jax": cr.jit(crf, backend="jax", in_shardings=ins, out_shardings=outs,
                                       return_jax_arrays=True),
               "jax": jax.jit(jxf, in_shardings=ins, out_shardings=outs)}
        args = [jax.device_put(a, s) for a, s in zip(host, ins)]
        results = {k: f(*args) for k, f in fns.items()}
        for k in results:  # the same step: the same numbers
            for a, b in zip(results[k], results["jax"]):
                np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-4, atol=2e-5, err_msg=f"{name} {k}")
        state = {k: list(args) for k in fns}
        samples = {k: [] for k in fns}
        n = 5 if quick else 20
        for _ in range(5 if quick else 15):  # interleaved rounds: load changes touch both alike
            for k, f in fns.items():
                a = state[k]
                t0 = time.perf_counter()
                for _ in range(n):
                    _, w1, w2 = f(*a)
                    a = [w1, w2, a[2], a[3]]
                jax.block_until_ready(a)
                samples[k].append((time.perf_counter() - t0) / n)
                state[k] = a
        for k, s in samples.items():
            rows.append({"workload": name, "system": k, "median_s": statistics.median(s), "runs": len(s) * n})
    return rows


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    for row in run(quick="--quick" in argv):
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
