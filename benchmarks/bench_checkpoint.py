"""Checkpointing bounds the memory of a long scan's gradient (the sqrt(T) scheme).

Reverse mode through `cr.scan` already stores only each iteration's carry
and recomputes the body's intermediates (see
chainrule/passes/autodiff/control_flow_rules.py), so checkpointing the body
of a flat scan (`scan(checkpoint(cell))`) saves nothing: this benchmark
shows that too. What does bound memory is the sqrt(T) scheme: an outer scan
over T/K chunks whose body is a *checkpointed* inner scan of K steps. The
backward pass then stores T/K chunk carries, and recomputes one chunk at a
time (storing its K carries only while that chunk is transposed): about
T/K + K carries instead of T (the transpose of the checkpoint recomputes the
chunk as a joint primal/tangent scan whose tangents are zero and unread;
pruning leaves a primal scan stacking the chunk's K carries).

The workload: an RNN, h_t = tanh(h_{t-1} W + x_t), loss = sum_t |h_t|^2,
gradient with respect to W, float64. Memory is measured for real:
  * reference backend: peak bytes allocated while the gradient graph runs
    (tracemalloc traces NumPy's allocations), above the inputs;
  * llvm backend: the arena its buffer planner allocates for intermediates
    (`LLVMExecutable.arena_size`; parameters and results are the caller's).
  * jax backend: XLA's temporary buffer bytes for the same gradient graph
    (compiled memory analysis), and, for comparison, for jax.grad of the
    same function written with jax.checkpoint (JAX's plain scan stores the
    body's intermediates too, so it needs about 3x chainrule's).
Gradients of every variant must agree with the plain one (and with
jax.grad of the same chunked jax.checkpoint scheme when JAX is installed).

    python benchmarks/bench_checkpoint.py [--steps 1000] [--batch 16] [--hidden 64] [--chunk K]
                                          [--no-reference] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import tracemalloc

import numpy as np

import chainrule as cr
import chainrule.numpy as cnp

VARIANTS = ("plain scan", "scan(checkpoint(cell))", "sqrt(T) chunks: scan(checkpoint(scan))")


def rnn_loss(xp, scan, checkpoint, variant: str):
    """loss(W, xs): xs is (T, B, H), or (T/K, K, B, H) for the chunked variant."""
    def loss(W, xs):
        def cell(carry, x):
            h, acc = carry
            h = xp.tanh(h @ W + x)
            return (h, acc + xp.sum(h * h)), None

        h0 = xp.zeros(xs.shape[-2:], dtype=xs.dtype)
        init = (h0, xp.sum(h0))
        if variant == VARIANTS[0]:
            (_, acc), _ = scan(cell, init, xs)
        elif variant == VARIANTS[1]:
            (_, acc), _ = scan(checkpoint(cell), init, xs)
        else:
            (_, acc), _ = scan(checkpoint(lambda c, xc: scan(cell, c, xc)), init, xs)
        return acc
    return loss


def inputs(steps, batch, hidden, chunk, variant, seed=0):
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((steps, batch, hidden)) * 0.1
    W = rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)
    if variant == VARIANTS[2]:
        xs = xs.reshape(steps // chunk, chunk, batch, hidden)  # a view: the same input data
    return W, xs


def gradient_graph(variant, W, xs):
    return cr.jit(cr.grad(rnn_loss(cnp, cr.scan, cr.checkpoint, variant))).lower(W, xs).graph


def reference_peak(graph, args):
    """(peak bytes allocated above the inputs while the reference backend runs `graph`, result, seconds)."""
    from chainrule.backends.reference import evaluate
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        t0 = time.perf_counter()
        out = evaluate(graph, list(args))
        dt = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return peak, out[0], dt


def llvm_arena(graph, args, repeat=5):
    """(arena bytes of the llvm executable, result, median run seconds)."""
    from chainrule.backends import compile as compile_graph
    ex = compile_graph(graph, backend="llvm")
    out = ex(*args)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        ex(*args)
        times.append(time.perf_counter() - t0)
    res = out[0] if isinstance(out, (list, tuple)) else out
    return ex.arena_size, res, sorted(times)[len(times) // 2]


def xla_temp_bytes(graph, variant, W, xs):
    """(XLA's temporary buffer bytes for chainrule's gradient graph on the jax backend, and for
    jax.grad of the same function with jax.checkpoint), from the compiled memory analysis; None
    without JAX."""
    try:
        import jax
    except ImportError:
        return None
    from chainrule.backends import compile as compile_graph
    ours = compile_graph(graph, backend="jax").compiled.memory_analysis().temp_size_in_bytes
    prev = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        f = jax.jit(jax.grad(rnn_loss(jax.numpy, jax.lax.scan, jax.checkpoint, variant)))
        theirs = f.lower(W, xs).compile().memory_analysis().temp_size_in_bytes
    finally:
        jax.config.update("jax_enable_x64", prev)
    return ours, theirs


def jax_gradient(W, xs):
    try:
        import jax
    except ImportError:
        return None
    prev = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        f = jax.jit(jax.grad(rnn_loss(jax.numpy, jax.lax.scan, jax.checkpoint, VARIANTS[2])))
        return np.asarray(f(W, xs))
    finally:
        jax.config.update("jax_enable_x64", prev)


def measure(steps=1000, batch=16, hidden=64, chunk=None, reference=True, llvm=True, log=print):
    """One row per variant: memory and time on each backend, and the gradient's agreement."""
    chunk = chunk or max(1, round(math.sqrt(steps / 2)))
    while steps % chunk:
        chunk -= 1
    rows, grads = [], {}
    for variant in VARIANTS:
        W, xs = inputs(steps, batch, hidden, chunk, variant)
        g = gradient_graph(variant, W, xs)
        row = {"variant": variant, "steps": steps, "batch": batch, "hidden": hidden,
               "chunk": chunk if variant == VARIANTS[2] else None,
               "carry_bytes": batch * hidden * 8}
        if reference:
            peak, grad, dt = reference_peak(g, (W, xs))
            row.update(reference_peak_bytes=peak, reference_s=dt)
            grads.setdefault(variant, grad)
        if llvm:
            arena, grad, dt = llvm_arena(g, (W, xs))
            row.update(llvm_arena_bytes=arena, llvm_s=dt)
            grads.setdefault(variant, grad)
        xla = xla_temp_bytes(g, variant, W, xs)
        if xla is not None:
            row.update(xla_temp_bytes=xla[0], jax_grad_xla_temp_bytes=xla[1])
        if variant == VARIANTS[2]:
            jg = jax_gradient(W, xs)
            if jg is not None:
                row["max_rel_diff_vs_jax_checkpoint"] = float(np.max(np.abs(grads[variant] - jg)) / np.max(np.abs(jg)))
        rows.append(row)
        log(_line(row, rows[0]))
    plain = grads[VARIANTS[0]]
    for row in rows:
        row["max_rel_diff_vs_plain"] = float(np.max(np.abs(grads[row["variant"]] - plain)) / np.max(np.abs(plain)))
        for key in ("reference_peak_bytes", "llvm_arena_bytes", "xla_temp_bytes", "jax_grad_xla_temp_bytes"):
            if key in row:
                row[key.replace("_bytes", "_ratio")] = row[key] / rows[0][key]
    return rows


def _line(row, plain):
    parts = [f"{row['variant']:<40}"]
    for key, what in (("reference_peak_bytes", "reference peak"), ("llvm_arena_bytes", "llvm arena"),
                      ("xla_temp_bytes", "jax backend XLA temp"), ("jax_grad_xla_temp_bytes", "jax.grad XLA temp")):
        if key in row:
            parts.append(f"{what} {row[key] / 1e6:7.3f} MB ({row[key] / plain[key]:.3f}x)")
    for key, what in (("reference_s", "reference"), ("llvm_s", "llvm")):
        if key in row:
            parts.append(f"{what} {row[key] * 1e3:8.1f} ms")
    return "  ".join(parts)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--chunk", type=int, default=None, help="inner scan length K (default ~sqrt(T/2))")
    p.add_argument("--no-reference", action="store_true", help="skip the (slow) reference backend")
    p.add_argument("--json", metavar="FILE")
    a = p.parse_args(argv)
    print(f"RNN gradient, T={a.steps} steps, batch {a.batch}, hidden {a.hidden}, float64 "
          f"(one carry = {a.batch * a.hidden * 8 / 1e3:.1f} kB)")
    rows = measure(a.steps, a.batch, a.hidden, a.chunk, reference=not a.no_reference)
    for row in rows:
        extra = f", vs jax.checkpoint {row['max_rel_diff_vs_jax_checkpoint']:.1e}" \
            if "max_rel_diff_vs_jax_checkpoint" in row else ""
        diff = row["max_rel_diff_vs_plain"]
        print(f"  {row['variant']:<40} gradient max relative difference vs plain {diff:.1e}{extra}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=2)
    chunked = rows[2]
    ok = all(r["max_rel_diff_vs_plain"] < 1e-10 for r in rows) and \
        all(chunked[k] <= 0.2 for k in ("reference_peak_ratio", "llvm_arena_ratio") if k in chunked)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
