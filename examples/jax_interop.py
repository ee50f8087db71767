"""Import a JAX function into chainrule, compile it natively, check it against JAX.

`cr.from_jax(fun, *specs)` traces a JAX function to a jaxpr and rebuilds it
as a chainrule Graph (the same IR that chainrule's own tracing makes). From
there it is an ordinary graph: chainrule's passes optimise it, the LLVM
backend compiles it to native code with no JAX at run time, and chainrule's
own autodiff pass differentiates it. The numbers are compared with
`jax.jit` and `jax.grad` of the original function.

The function here is a small self-attention block (layer norm, softmax
attention, a GELU feed-forward layer, residual connections).

    pip install -e ".[jax]"
    python examples/jax_interop.py [--out DIR]

Last, the compiled function is exported to a `.crx` file and loaded back.
"""

from __future__ import annotations

import argparse
import os
import time

import sys

import numpy as np

try:
    import jax
    import jax.numpy as jnp
except ImportError:
    sys.exit("this example needs JAX: pip install -e '.[jax]'")

import chainrule as cr
from chainrule import backends
from chainrule.passes.autodiff import vjp_graph

SEQ, DIM, HIDDEN = 16, 32, 64


def layer_norm(x, eps=1e-5):
    mu = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean((x - mu) ** 2, axis=-1, keepdims=True)
    return (x - mu) / jnp.sqrt(var + eps)


def block(params, x):
    """One pre-norm transformer block on x: [SEQ, DIM]; a plain JAX function."""
    h = layer_norm(x)
    q, k, v = h @ params["wq"], h @ params["wk"], h @ params["wv"]
    att = jax.nn.softmax(q @ k.T / np.sqrt(DIM), axis=-1)
    x = x + att @ v
    h = layer_norm(x)
    return x + jax.nn.gelu(h @ params["w1"]) @ params["w2"]


def block_loss(params, x):
    return jnp.sum(block(params, x) ** 2) / x.size


def make_params(rng):
    def w(m, n):
        return (rng.normal(size=(m, n)) / np.sqrt(m)).astype(np.float32)
    return {"wq": w(DIM, DIM), "wk": w(DIM, DIM), "wv": w(DIM, DIM), "w1": w(DIM, HIDDEN), "w2": w(HIDDEN, DIM)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default=None, choices=list(backends.KNOWN_BACKENDS))
    ap.add_argument("--out", default=".", help="folder for the exported artifact (default: the current one)")
    args = ap.parse_args(argv)
    backend = args.backend or ("llvm" if "llvm" in backends.available_backends() else backends.DEFAULT_BACKEND)

    rng = np.random.default_rng(0)
    params = make_params(rng)
    x = rng.normal(size=(SEQ, DIM)).astype(np.float32)
    specs = (jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), params),
             jax.ShapeDtypeStruct(x.shape, x.dtype))

    # 1. Import: a JAX function becomes a chainrule Graph. Parameters are the flattened
    #    leaves of the specs (dict keys sorted, as JAX flattens them): here w1, w2, wk, wq, wv, x.
    graph = cr.from_jax(block, *specs)
    print(f"imported {graph.name}: {len(graph.nodes)} nodes; parameters "
          + ", ".join(f"{p.name}: {p.type}" for p in graph.params))
    flat_args = jax.tree_util.tree_leaves((params, x))

    # 2. Compile the graph natively and compare with jax.jit on the same inputs.
    t0 = time.perf_counter()
    native = cr.jit(graph, backend=backend)
    (out,) = native(*flat_args)
    print(f"compiled on {backend} and ran in {time.perf_counter() - t0:.2f} s")
    expected = np.asarray(jax.jit(block)(params, x))
    err = float(np.max(np.abs(out - expected)))
    print(f"forward: max abs difference from jax.jit {err:.2e} (float32; outputs of size ~{np.abs(expected).max():.1f})")
    assert err < 1e-4, err

    # 3. Differentiate the imported graph with chainrule's autodiff pass (not JAX's) and
    #    compare with jax.grad. wrt lists the parameters to differentiate: all but x.
    loss_graph = cr.from_jax(block_loss, *specs)
    n_weights = len(loss_graph.params) - 1
    grad_graph = vjp_graph(loss_graph, wrt=list(range(n_weights)), seed_ones=True)
    value, *grads = cr.jit(grad_graph, backend=backend)(*flat_args)
    jax_value, jax_grads = jax.jit(jax.value_and_grad(block_loss))(params, x)
    jax_grads = jax.tree_util.tree_leaves(jax_grads)
    grad_err = max(float(np.max(np.abs(g - np.asarray(j)))) for g, j in zip(grads, jax_grads))
    print(f"loss {float(value):.6f} (jax {float(jax_value):.6f}); "
          f"gradients of {n_weights} weights: max abs difference from jax.grad {grad_err:.2e}")
    assert abs(float(value) - float(jax_value)) < 1e-4 and grad_err < 1e-4, grad_err

    # 4. Timing, warm: the native graph against jax.jit, both on this CPU.
    jitted = jax.jit(block)
    jitted(params, x).block_until_ready()
    for name, run in (("chainrule " + backend, lambda: native(*flat_args)),
                      ("jax.jit", lambda: jitted(params, x).block_until_ready())):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(20):
                run()
            times.append((time.perf_counter() - t0) / 20)
        print(f"  {name:16s} {1e6 * float(np.median(times)):8.1f} us per call")

    # 5. Export as an artifact and load it back, as a fresh process would.
    compiled = cr.jit(graph, backend=backend).lower().compile()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "block.crx")
    compiled.export(path)
    loaded = cr.load(path)
    again = loaded(*flat_args)
    again = again[0] if isinstance(again, (list, tuple)) else again
    print(f"exported {path} and loaded it back: max abs difference {float(np.max(np.abs(again - out))):.1e}")
    return err, grad_err


if __name__ == "__main__":
    main()
