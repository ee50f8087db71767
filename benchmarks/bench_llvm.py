"""chainrule's llvm backend against jax.jit (CPU) and NumPy on the same inputs, in one process.

    python benchmarks/bench_llvm.py [--quick] [--json out.json]

Prints medians and the ratio chainrule/JAX for: value_and_grad of
sum(tanh(x)*exp(-x*x)+0.5*x) (float32, float64, 2**22), an MLP 784-512-512-10
value_and_grad step (batch 256, float32), the first call of that step (empty
cache, and with a warm disk cache in a fresh process), and the per-call
overhead of a scalar function. Every chainrule result is checked against the
reference backend on the same inputs first.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))

from chainrule.backends import llvm  # noqa: E402
from chainrule.backends.llvm import cache as llcache  # noqa: E402
from chainrule.backends.reference import evaluate  # noqa: E402
from chainrule.passes.testing import mlp_loss_graph  # noqa: E402
from chainrule.ir import GraphBuilder, TensorType  # noqa: E402


def median_time(fn, repeat=20, min_time=0.2):
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < repeat or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) > 10000:
            break
    return statistics.median(times)


def paired_times(fa, fb, repeat=20, min_time=0.3):
    """Medians of fa and fb timed alternately, so both see the same machine load."""
    fa()
    fb()
    ta, tb = [], []
    start = time.perf_counter()
    while len(ta) < repeat or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fa()
        t1 = time.perf_counter()
        fb()
        t2 = time.perf_counter()
        ta.append(t1 - t0)
        tb.append(t2 - t1)
        if len(ta) > 20000:
            break
    return statistics.median(ta), statistics.median(tb)


def prepare(g, wrt=None):
    """value_and_grad graph (autodiff pass) then the optimizer with fusion, when they exist."""
    try:
        from chainrule.passes.autodiff import vjp_graph
    except ImportError:  # pragma: no cover
        raise SystemExit("the autodiff pass is needed for these benchmarks")
    try:
        vg = vjp_graph(g, wrt=wrt, seed_ones=True)
    except Exception as e:  # the autodiff pass is under development: fall back to every gradient
        print(f"  (vjp_graph with wrt={wrt} failed: {type(e).__name__}; computing every gradient)", file=sys.stderr)
        vg = vjp_graph(g, seed_ones=True)
    try:
        from chainrule.passes import optimize
        vg = optimize(vg, opt_level=2)
    except Exception as e:  # pragma: no cover - optimizer optional
        print(f"  (optimizer unavailable: {e})")
    return vg


def elementwise_graph(dt, n):
    b = GraphBuilder("ew")
    x = b.param(TensorType((n,), dt), "x")
    xx = b.op("multiply", x, x)
    e = b.op("exponential", b.op("negate", xx))
    half = b.op("broadcast_in_dim", b.constant(np.array(0.5, dt)), shape=(n,), broadcast_dimensions=())
    y = b.op("add", b.op("multiply", b.op("tanh", x), e), b.op("multiply", half, x))
    return b.build([b.op("reduce", y, kind="sum", dimensions=(0,))])


def mlp_graph(batch=256, sizes=(784, 512, 512, 10)):
    return mlp_loss_graph(batch, sizes, "float32", mean=True), sizes


def mlp_inputs(sizes, batch=256, seed=0):
    rng = np.random.default_rng(seed)
    args = []
    for i in range(len(sizes) - 1):
        args.append((rng.standard_normal((sizes[i], sizes[i + 1])) / np.sqrt(sizes[i])).astype(np.float32))
        args.append(np.zeros(sizes[i + 1], np.float32))
    args.append(rng.standard_normal((batch, sizes[0])).astype(np.float32))
    args.append(np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], batch)])
    return args


def check(name, got, want, rtol):
    for k, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * max(1.0, float(np.max(np.abs(w))) if w.size else 1.0),
                                   err_msg=f"{name} result {k}")


def bench_elementwise(rows, quick):
    import jax
    import jax.numpy as jnp
    n = 1 << (18 if quick else 22)
    for dt in ("float32", "float64"):
        jax.config.update("jax_enable_x64", dt == "float64")
        x = np.random.default_rng(0).uniform(-3, 3, n).astype(dt)
        g = prepare(elementwise_graph(dt, n))
        ex = llvm.compile(g)
        got = ex(x)
        check(f"ew {dt}", got, evaluate(g, [x]), 1e-4 if dt == "float32" else 1e-10)

        def f(v):
            return jnp.sum(jnp.tanh(v) * jnp.exp(-v * v) + 0.5 * v)
        jf = jax.jit(jax.value_and_grad(f))
        jx = jnp.asarray(x)
        jf(jx)[1].block_until_ready()
        np.testing.assert_allclose(np.asarray(jf(jx)[1]), got[1], rtol=1e-4, atol=1e-5)
        t_cr, t_jax = paired_times(lambda: ex(x), lambda: jf(jx)[1].block_until_ready())

        def numpy_vg():
            t = np.tanh(x)
            e = np.exp(-x * x)
            val = np.sum(t * e + 0.5 * x)
            return val, (1 - t * t) * e + t * e * (-2 * x) + 0.5
        t_np = median_time(numpy_vg, repeat=5)
        rows.append((f"value_and_grad ew {dt} 2^{n.bit_length() - 1}", t_cr, t_jax, t_np, 0.6))
    jax.config.update("jax_enable_x64", False)


def bench_mlp(rows, quick):
    import jax
    import jax.numpy as jnp
    g0, sizes = mlp_graph()
    args = mlp_inputs(sizes)
    t0 = time.perf_counter()
    g = prepare(g0, wrt=list(range(6)))  # gradients of the weights only, as JAX computes
    ex = llvm.compile(g, cache=False)
    first_cr = time.perf_counter() - t0
    ex(*args)
    first_cr = time.perf_counter() - t0
    got = ex(*args)
    check("mlp", got, evaluate(g, args), 2e-3)

    def loss(params, x, y):
        h = x
        for i in range(3):
            h = h @ params[2 * i] + params[2 * i + 1]
            if i < 2:
                h = jnp.tanh(h)
        m = jnp.max(h, axis=1, keepdims=True)
        sh = h - m
        return jnp.sum(jnp.log(jnp.sum(jnp.exp(sh), axis=1)) - jnp.sum(y * sh, axis=1)) / x.shape[0]
    jargs = [jnp.asarray(a) for a in args]
    t0 = time.perf_counter()
    jf = jax.jit(jax.value_and_grad(loss))
    out = jf(jargs[:6], jargs[6], jargs[7])
    jax.block_until_ready(out)
    first_jax = time.perf_counter() - t0
    np.testing.assert_allclose(float(out[0]), float(got[0]), rtol=1e-4)
    for k in range(6):
        np.testing.assert_allclose(np.asarray(out[1][k]), got[1 + k], rtol=2e-3, atol=2e-5)  # weights first
    t_cr, t_jax = paired_times(lambda: ex(*args), lambda: jax.block_until_ready(jf(jargs[:6], jargs[6], jargs[7])),
                               repeat=10 if quick else 30)
    rows.append(("MLP value_and_grad step f32 b256", t_cr, t_jax, None, 1.0))
    rows.append(("MLP first call (empty cache)", first_cr, first_jax, None, 0.5))
    # warm disk cache, fresh process: graph build + autodiff + optimize + cache load + first run
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, CHAINRULE_CACHE_DIR=d)
        code = ("import sys, time; sys.path.insert(0, %r); import bench_llvm as B; "
                "from chainrule.backends import llvm; a = B.mlp_inputs(B.mlp_graph()[1]); t0 = time.perf_counter(); "
                "g0, s = B.mlp_graph(); g = B.prepare(g0, list(range(6))); ex = llvm.compile(g); ex(*a); "
                "print(time.perf_counter() - t0, ex.stats['source'])") % os.path.dirname(os.path.abspath(__file__))
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        warm, source = out.stdout.split()
        assert source == "disk", source
        rows.append(("MLP first call (warm disk cache, new process)", float(warm), None, None, None))


def bench_scalar_call(rows):
    import jax
    b = GraphBuilder("scalar")
    x = b.param(TensorType((), "float32"), "x")
    g = b.build([b.op("add", b.op("multiply", x, x), x)])
    ex = llvm.compile(g)
    a = np.float32(1.5)
    arr = np.array(1.5, np.float32)
    check("scalar", ex(arr), evaluate(g, [arr]), 0)
    jf = jax.jit(lambda v: v * v + v)
    ja = jax.numpy.asarray(arr)
    jf(ja).block_until_ready()
    t_cr, t_jax = paired_times(lambda: ex(arr), lambda: jf(ja), repeat=5000)
    rows.append(("scalar function call overhead", t_cr, t_jax, None, 0.5))
    del a


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    ap.add_argument("--json", help="write the table as JSON here")
    ap.add_argument("--only", choices=["ew", "mlp", "scalar"], action="append")
    opts = ap.parse_args(argv)
    os.environ.setdefault("CHAINRULE_CACHE_DIR", tempfile.mkdtemp(prefix="chainrule-bench-"))
    llcache.clear_memory()
    rows = []
    only = set(opts.only or ["ew", "mlp", "scalar"])
    if "ew" in only:
        bench_elementwise(rows, opts.quick)
    if "mlp" in only:
        bench_mlp(rows, opts.quick)
    if "scalar" in only:
        bench_scalar_call(rows)
    print(f"{'workload':48s} {'chainrule':>11s} {'jax':>11s} {'numpy':>11s} {'cr/jax':>7s} {'target':>7s}")
    out = []
    for name, t_cr, t_jax, t_np, target in rows:
        ratio = t_cr / t_jax if t_jax else None

        def fmt(t):
            return f"{t * 1e3:9.3f}ms" if t is not None else f"{'-':>11s}"
        print(f"{name:48s} {fmt(t_cr)} {fmt(t_jax)} {fmt(t_np)} "
              f"{(f'{ratio:7.2f}' if ratio is not None else '      -')} {(f'<={target}' if target else '     -'):>7s}")
        out.append({"workload": name, "chainrule_s": t_cr, "jax_s": t_jax, "numpy_s": t_np,
                    "ratio": ratio, "target": target})
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
