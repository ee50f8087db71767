"""The workloads of `python -m benchmarks`, each timing chainrule, JAX and NumPy on the same inputs.

Every workload checks each system's result against a reference (NumPy, or
chainrule's reference backend) and records a mismatch instead of a time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.backends import available_backends

WORKLOADS = {}


def workload(name):
    def deco(fn):
        WORKLOADS[name] = fn
        return fn
    return deco


def _jax():
    try:
        import jax
        return jax
    except ImportError:
        return None


def _backends(h, big=True):
    """chainrule's installed backends (chainrule-jax is chainrule's graph lowered to jax.lax)."""
    out = list(available_backends())
    if big and "reference" in out and h.quick:
        out.remove("reference")
    return out


# --- 1. fused elementwise value_and_grad ---------------------------------------------------

def _elementwise(x):
    return cnp.sum(cnp.tanh(x) * cnp.exp(-x * x) + 0.5 * x)


def _elementwise_numpy(x):
    t = np.tanh(x)
    e = np.exp(-x * x)
    val = np.sum(t * e + 0.5 * x)
    grad = (1 - t * t) * e + t * e * (-2 * x) + 0.5
    return val, grad


@workload("elementwise_value_and_grad")
def elementwise(h):
    n = 2 ** 18 if h.quick else 2 ** 22
    for dt in (np.float32, np.float64):
        name = f"elementwise vg {np.dtype(dt).name} 2^{int(np.log2(n))}"
        x = np.random.default_rng(0).uniform(-2, 2, n).astype(dt)
        want = _elementwise_numpy(x)
        tol = 1e-3 if dt == np.float32 else 1e-9
        for b in _backends(h):
            f = cr.jit(cr.value_and_grad(_elementwise), backend=b)
            h.check(name, f"chainrule-{b}", f(x), want, rtol=tol, atol=tol * n ** 0.5 if False else tol)
            h.time(name, f"chainrule-{b}", lambda: f(x))
        jax = _jax()
        if jax is not None:
            import jax.numpy as jnp
            with _x64(jax, dt == np.float64):
                jf = jax.jit(jax.value_and_grad(lambda v: jnp.sum(jnp.tanh(v) * jnp.exp(-v * v) + 0.5 * v)))
                xj = jax.device_put(x)
                h.check(name, "jax", jf(xj), want, rtol=tol, atol=tol)
                h.time(name, "jax", lambda: jax.block_until_ready(jf(xj)))
        h.time(name, "numpy", lambda: _elementwise_numpy(x))


class _x64:
    def __init__(self, jax, on):
        self.jax, self.on = jax, on

    def __enter__(self):
        self.prev = self.jax.config.jax_enable_x64
        self.jax.config.update("jax_enable_x64", self.on or self.prev)

    def __exit__(self, *a):
        self.jax.config.update("jax_enable_x64", self.prev)


# --- 2. MLP training step ------------------------------------------------------------------

def mlp_params(rng, sizes=(784, 512, 512, 10), dtype=np.float32):
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        params.append((rng.standard_normal((a, b)).astype(dtype) / np.sqrt(a).astype(dtype), np.zeros(b, dtype)))
    return params


def mlp_loss(params, x, y, xp=cnp, logsumexp=None):
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i < len(params) - 1:
            h = xp.tanh(h)
    lse = (logsumexp or cnp.special.logsumexp)(h, axis=1, keepdims=True)
    return -xp.mean(xp.sum((h - lse) * y, axis=1))


def mlp_numpy(params, x, y):
    hs = [x]
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i < len(params) - 1:
            h = np.tanh(h)
        hs.append(h)
    m = h.max(axis=1, keepdims=True)
    lse = m + np.log(np.exp(h - m).sum(axis=1, keepdims=True))
    loss = -np.mean(np.sum((h - lse) * y, axis=1))
    g = (np.exp(h - lse) - y) / x.shape[0]
    grads = [None] * len(params)
    for i in reversed(range(len(params))):
        w, b = params[i]
        grads[i] = (hs[i].T @ g, g.sum(axis=0))
        if i:
            g = (g @ w.T) * (1 - hs[i] * hs[i])
    return loss, grads


def mlp_data(batch=256, dtype=np.float32):
    rng = np.random.default_rng(0)
    params = mlp_params(rng, dtype=dtype)
    x = rng.standard_normal((batch, 784)).astype(dtype)
    y = np.eye(10, dtype=dtype)[rng.integers(0, 10, batch)]
    return params, x, y


def _flat_grads(res):
    """(loss, [(w, b), ...]) as one list: a value_and_grad's result, or an SGD step's new parameters."""
    loss, pairs = res
    return [loss] + [a for pair in pairs for a in pair]


@workload("mlp_step")
def mlp_step(h):
    params, x, y = mlp_data()
    name = "MLP 784-512-512-10 vg step f32 b256"
    want = _flat_grads(mlp_numpy(params, x, y))
    for b in _backends(h, big=False):
        f = cr.jit(cr.value_and_grad(mlp_loss), backend=b)
        h.check(name, f"chainrule-{b}", _flat_grads(f(params, x, y)), want, rtol=2e-3, atol=2e-5)
        h.time(name, f"chainrule-{b}", lambda: f(params, x, y))
    jax = _jax()
    if jax is not None:
        import jax.numpy as jnp
        from jax.scipy.special import logsumexp
        jf = jax.jit(jax.value_and_grad(lambda p, a, b: mlp_loss(p, a, b, jnp, logsumexp)))
        pj = jax.device_put(params)
        h.check(name, "jax", _flat_grads(jf(pj, x, y)), want, rtol=2e-3, atol=2e-5)
        h.time(name, "jax", lambda: jax.block_until_ready(jf(pj, x, y)))
    h.time(name, "numpy", lambda: mlp_numpy(params, x, y))


# --- 2b. mixed precision: bfloat16 compute, float32 master weights ----------------------------

def mlp_bf16_loss(params, x, y, xp=cnp, logsumexp=None):
    """The MLP with bfloat16 activations and weights, matmuls accumulating in float32
    (`preferred_element_type`), and the loss in float32; `params` are the float32 master weights."""
    bf16 = xp.bfloat16
    h = x.astype(bf16)
    for i, (w, b) in enumerate(params):
        z = xp.matmul(h, w.astype(bf16), preferred_element_type=xp.float32) + b
        h = xp.tanh(z.astype(bf16)) if i < len(params) - 1 else z
    lse = (logsumexp or cnp.special.logsumexp)(h, axis=1, keepdims=True)
    return -xp.mean(xp.sum((h - lse) * y, axis=1))


def sgd_step(loss_fn, lr=0.1, value_and_grad=cr.value_and_grad, xp=cnp, logsumexp=None):
    """One SGD step on float32 master weights: (params, x, y) -> (loss, new params)."""
    def step(params, x, y):
        loss, grads = value_and_grad(lambda p: loss_fn(p, x, y, xp, logsumexp))(params)
        return loss, [(w - lr * gw, b - lr * gb) for (w, b), (gw, gb) in zip(params, grads)]
    return step


@workload("mlp_bf16_step")
def mlp_bf16_step(h):
    params, x, y = mlp_data()
    name = "MLP 784-512-512-10 SGD step bf16 compute, f32 master b256"
    ref = cr.jit(sgd_step(mlp_bf16_loss), backend="reference")
    want = _flat_grads(ref(params, x, y))
    for b in _backends(h, big=False):
        f = cr.jit(sgd_step(mlp_bf16_loss), backend=b)
        h.check(name, f"chainrule-{b}", _flat_grads(f(params, x, y)), want, rtol=2e-2, atol=2e-3)
        h.time(name, f"chainrule-{b}", lambda: f(params, x, y))
    jax = _jax()
    if jax is not None:
        import jax.numpy as jnp
        from jax.scipy.special import logsumexp
        jf = jax.jit(sgd_step(mlp_bf16_loss, value_and_grad=jax.value_and_grad, xp=jnp, logsumexp=logsumexp))
        pj = jax.device_put(params)
        h.check(name, "jax", _flat_grads(jf(pj, x, y)), want, rtol=2e-2, atol=2e-3)
        h.time(name, "jax", lambda: jax.block_until_ready(jf(pj, x, y)))


# --- 3. Newton's method on logistic regression -----------------------------------------------

def logreg_loss(w, X, y, xp=cnp):
    z = X @ w
    return xp.mean(xp.logaddexp(0.0, z) - y * z) + 0.5e-3 * xp.sum(w * w)


@workload("newton_logreg")
def newton(h):
    rng = np.random.default_rng(0)
    n, d = 2000, 20
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-X @ w_true))).astype(np.float64)
    w0 = np.zeros(d)
    name = f"Newton step logreg n={n} d={d} f64"

    def np_step(w):
        z = X @ w
        p = 1 / (1 + np.exp(-z))
        g = X.T @ (p - y) / n + 1e-3 * w
        H = (X.T * (p * (1 - p))) @ X / n + 1e-3 * np.eye(d)
        return w - np.linalg.solve(H, g)

    want = np_step(w0)

    def cr_step(w, X, y):  # gradient, Hessian and the solve in one compiled function
        return w - cnp.linalg.solve(cr.hessian(logreg_loss)(w, X, y), cr.grad(logreg_loss)(w, X, y))
    for b in _backends(h, big=False):
        step = cr.jit(cr_step, backend=b)
        h.check(name, f"chainrule-{b}", step(w0, X, y), want, rtol=1e-6, atol=1e-8)
        h.time(name, f"chainrule-{b}", lambda: step(w0, X, y))
    jax = _jax()
    if jax is not None:
        import jax.numpy as jnp
        with _x64(jax, True):
            jl = lambda w, X, y: logreg_loss(w, X, y, jnp)  # noqa: E731
            jg, jh = jax.jit(jax.grad(jl)), jax.jit(jax.hessian(jl))
            jstep = lambda w: w - np.linalg.solve(np.asarray(jh(w, X, y)), np.asarray(jg(w, X, y)))  # noqa: E731
            h.check(name, "jax", jstep(w0), want, rtol=1e-6, atol=1e-8)
            h.time(name, "jax", lambda: jstep(w0))
    h.time(name, "numpy", lambda: np_step(w0))


# --- 4. a 1,000-step scan RNN gradient ---------------------------------------------------------

@workload("scan_rnn_grad")
def scan_rnn(h):
    if not hasattr(cr, "scan"):
        h.record("scan RNN grad 1000 steps", "chainrule", float("nan"), "cr.scan not available yet")
        return
    rng = np.random.default_rng(0)
    T, B, H = 1000, 8, 32
    xs = rng.standard_normal((T, B, H)).astype(np.float32) * 0.1
    W = (rng.standard_normal((H, H)) / np.sqrt(H)).astype(np.float32)
    h0 = np.zeros((B, H), np.float32)
    name = f"scan RNN grad T={T} B={B} H={H} f32"

    def loss(W, xs, xp, scan):
        def cell(c, x):
            c = xp.tanh(c @ W + x)
            return c, xp.sum(c * c)
        _, ys = scan(cell, h0, xs)
        return xp.sum(ys)

    for b in _backends(h, big=False):
        g = cr.jit(cr.grad(lambda W, xs: loss(W, xs, cnp, cr.scan)), backend=b)
        res = g(W, xs)
        h.time(name, f"chainrule-{b}", lambda: g(W, xs))
        ref = res
    jax = _jax()
    if jax is not None:
        import jax.numpy as jnp
        jg = jax.jit(jax.grad(lambda W, xs: loss(W, xs, jnp, jax.lax.scan)))
        want = np.asarray(jg(W, xs))
        h.check(name, "chainrule", ref, want, rtol=1e-3, atol=1e-4)
        h.time(name, "jax", lambda: jax.block_until_ready(jg(W, xs)))


# --- 4b. checkpointing bounds the memory of a 1,000-step scan gradient ---------------------------

@workload("checkpoint_memory")
def checkpoint_memory(h):
    """Plain scan vs the sqrt(T) scheme (scan over chunks of a checkpointed inner scan): time, and the
    llvm arena (planned intermediate bytes) in the note. benchmarks/bench_checkpoint.py has the details."""
    from chainrule.backends import compile as compile_graph
    from .bench_checkpoint import VARIANTS, gradient_graph, inputs, rnn_loss
    T, B, H, K = (200, 8, 32, 10) if h.quick else (1000, 16, 64, 20)
    want = None
    for variant in (VARIANTS[0], VARIANTS[2]):
        name = f"checkpoint: RNN grad T={T} {variant.split(':')[0]}"
        W, xs = inputs(T, B, H, K, variant)
        g = gradient_graph(variant, W, xs)
        for b in _backends(h):
            ex = compile_graph(g, backend=b)
            res = ex(W, xs)[0]
            want = res if want is None else want
            h.check(name, f"chainrule-{b}", res, want, rtol=1e-10, atol=1e-12)
            note = f"arena {ex.arena_size / 1e6:.2f} MB" if hasattr(ex, "arena_size") else ""
            h.time(name, f"chainrule-{b}", lambda: ex(W, xs), note=note)
        jax = _jax()
        if jax is not None:
            with _x64(jax, True):
                jf = jax.jit(jax.grad(rnn_loss(jax.numpy, jax.lax.scan, jax.checkpoint, variant)))
                h.check(name, "jax", jf(W, xs), want, rtol=1e-10, atol=1e-12)
                h.time(name, "jax", lambda: jax.block_until_ready(jf(W, xs)))


# --- 5. dispatch of a tiny function ----------------------------------------------------------

@workload("dispatch")
def dispatch(h):
    name = "dispatch: jitted scalar function"
    x = np.float32(1.5)
    for b in _backends(h, big=False):
        f = cr.jit(lambda v: v * 2.0 + 1.0, backend=b)
        f(x)
        h.time(name, f"chainrule-{b}", lambda: f(x), min_time=0.3)
    jax = _jax()
    if jax is not None:
        jf = jax.jit(lambda v: v * 2.0 + 1.0)
        jf(x)
        h.time(name, "jax", lambda: jf(x), min_time=0.3)


# --- 6. first-call latency ---------------------------------------------------------------------

_FIRST_CALL = textwrap.dedent("""
    import os, sys, time
    t0 = time.perf_counter()
    sys.path.insert(0, {root!r})
    from benchmarks.workloads import mlp_data, mlp_loss
    import chainrule as cr
    import chainrule.backends.{backend}  # the backend's import, like jaxlib's in `import jax`, is not timed
    params, x, y = mlp_data()
    f = cr.jit(cr.value_and_grad(mlp_loss), backend={backend!r})
    t1 = time.perf_counter()
    f(params, x, y)
    print(time.perf_counter() - t1)
""")

_FIRST_CALL_JAX = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from benchmarks.workloads import mlp_data, mlp_loss
    import jax, jax.numpy as jnp
    from jax.scipy.special import logsumexp
    params, x, y = mlp_data()
    jf = jax.jit(jax.value_and_grad(lambda p, a, b: mlp_loss(p, a, b, jnp, logsumexp)))
    t1 = time.perf_counter()
    jax.block_until_ready(jf(params, x, y))
    print(time.perf_counter() - t1)
""")


def _run_child(code, env):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    child_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as installed
    out = subprocess.run([sys.executable, "-c", code.format(root=root, **env.pop("_fmt", {}))],
                         capture_output=True, text=True, env={**child_env, **env}, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return float(out.stdout.strip().splitlines()[-1])


@workload("first_call")
def first_call(h):
    name_empty = "first call MLP vg step, empty cache"
    name_warm = "first call MLP vg step, warm disk cache"
    for b in _backends(h, big=False):
        if b != "llvm":  # the disk cache and this target are the LLVM backend's
            continue
        with tempfile.TemporaryDirectory() as d:
            env = {"CHAINRULE_CACHE_DIR": d}
            h.record(name_empty, f"chainrule-{b}", _run_child(_FIRST_CALL, {**env, "_fmt": {"backend": b}}))
            h.record(name_warm, f"chainrule-{b}", _run_child(_FIRST_CALL, {**env, "_fmt": {"backend": b}}))
    if _jax() is not None:
        h.record(name_empty, "jax", _run_child(_FIRST_CALL_JAX, {}))


# --- sort: the sort op (a radix sort on llvm, lax.sort on jax) against np.sort and jax.jit(jnp.sort) ------

@workload("sort")
def sort(h):
    """sort and argsort of 2^20 floats (NumPy's default sort; its stable argsort, as chainrule's), and
    the first call (trace + compile + run, compile caches off) of cnp.sort at n = 16 and 2^20."""
    n = 2 ** 16 if h.quick else 2 ** 20
    rng = np.random.default_rng(0)
    jax = _jax()
    for dt in (np.float32, np.float64):
        x = rng.standard_normal(n).astype(dt)
        tag = f"{np.dtype(dt).name} 2^{int(np.log2(n))}"
        for what, fn, np_fn, want in (
                ("sort", cnp.sort, np.sort, np.sort(x)),
                ("argsort", cnp.argsort, lambda v: np.argsort(v, kind="stable"), np.argsort(x, kind="stable"))):
            name = f"{what} {tag}"
            for b in _backends(h):
                f = cr.jit(fn, backend=b)
                h.check(name, f"chainrule-{b}", f(x), want, rtol=0, atol=0)
                h.time(name, f"chainrule-{b}", lambda: f(x))
            if jax is not None:
                import jax.numpy as jnp
                with _x64(jax, dt == np.float64):
                    jf = jax.jit(jnp.sort if what == "sort" else jnp.argsort)
                    xj = jax.device_put(x)
                    h.check(name, "jax", jf(xj), want, rtol=0, atol=0)
                    h.time(name, "jax", lambda: jax.block_until_ready(jf(xj)))
            h.time(name, "numpy", lambda: np_fn(x))
    import time
    from chainrule.backends.llvm import cache
    for size in (16, 1024, n):
        x = rng.standard_normal(size)
        name = f"first call cnp.sort float64 n={size}"
        with tempfile.TemporaryDirectory() as d:
            old = os.environ.get("CHAINRULE_CACHE_DIR")
            os.environ["CHAINRULE_CACHE_DIR"] = d
            try:
                cache.clear_memory()
                t0 = time.perf_counter()
                cr.jit(lambda v: cnp.sort(v) * 2.0)(x)
                h.record(name, "chainrule-llvm", time.perf_counter() - t0)
            finally:
                if old is None:
                    os.environ.pop("CHAINRULE_CACHE_DIR")
                else:
                    os.environ["CHAINRULE_CACHE_DIR"] = old
        if jax is not None:
            import jax.numpy as jnp
            with _x64(jax, True):
                t0 = time.perf_counter()
                jax.block_until_ready(jax.jit(lambda v: jnp.sort(v) * 2.0)(x))
                h.record(name, "jax", time.perf_counter() - t0)


# --- 7. loading an exported artifact --------------------------------------------------------------

_ARTIFACT_LOAD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from benchmarks.workloads import mlp_data
    import chainrule as cr
    params, x, y = mlp_data()
    t1 = time.perf_counter()
    f = cr.load({path!r})
    f(params, x, y)
    print(time.perf_counter() - t1)
""")

_ARTIFACT_LOAD_JAX = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from benchmarks.workloads import mlp_data
    import jax
    params, x, y = mlp_data()
    t1 = time.perf_counter()
    with open({path!r}, "rb") as fh:
        exported = jax.export.deserialize(bytearray(fh.read()))
    jax.block_until_ready(exported.call(params, x, y))
    print(time.perf_counter() - t1)
""")


@workload("artifact_load")
def artifact_load(h):
    """cr.load + the first MLP value_and_grad step in a fresh process (imports excluded), against
    jax.export's deserialize + first call (which compiles the StableHLO with XLA)."""
    name = "load artifact + first MLP vg step (fresh process)"
    params, x, y = mlp_data()
    runs = 2 if h.quick else 5
    with tempfile.TemporaryDirectory() as d:
        if "llvm" in _backends(h, big=False):
            path = os.path.join(d, "mlp.crx")
            cr.export(cr.jit(cr.value_and_grad(mlp_loss), backend="llvm").lower(params, x, y).compile(), path,
                      payloads=["native"])
            times = [_run_child(_ARTIFACT_LOAD, {"_fmt": {"path": path}}) for _ in range(runs)]
            h.record(name, "chainrule-llvm", sorted(times)[len(times) // 2], note=f"median of {runs} processes")
        jax = _jax()
        if jax is not None:
            import jax.numpy as jnp
            from jax.scipy.special import logsumexp
            jf = jax.jit(jax.value_and_grad(lambda p, a, b: mlp_loss(p, a, b, jnp, logsumexp)))
            path = os.path.join(d, "mlp.jax")
            with open(path, "wb") as fh:
                fh.write(jax.export.export(jf)(params, x, y).serialize())
            times = [_run_child(_ARTIFACT_LOAD_JAX, {"_fmt": {"path": path}}) for _ in range(runs)]
            h.record(name, "jax", sorted(times)[len(times) // 2], note=f"jax.export; median of {runs} processes")


# --- lowering graphs of 1k / 10k / 100k nodes ---------------------------------------------------

@workload("lowering")
def lowering(h):
    """The -O2 pipeline on long chains and their gradients (chainrule only: a compiler-internal cost).

    Per-pass times and the growth per 10x are in `python benchmarks/bench_passes.py`."""
    import time as _time

    from chainrule.passes import optimize
    from chainrule.passes.autodiff import vjp_graph
    from chainrule.passes.testing import chain_graph
    sizes = (1000, 10000) if h.quick else (1000, 10000, 100000)
    for n in sizes:
        g = chain_graph(n)
        for label, graph in ((f"lowering -O2: chain of {n} nodes", g),
                             (f"lowering -O2: gradient of a {n}-node chain", vjp_graph(g, seed_ones=True))):
            t0 = _time.process_time()
            optimize(graph, opt_level=2)
            h.record(label, "chainrule", _time.process_time() - t0, f"{graph.num_nodes()} nodes, CPU time")


# --- PyTensor (optional: pip install -e ".[bench]") -----------------------------------------------

def _pytensor():
    try:
        import pytensor
        import pytensor.tensor as pt
        return pytensor, pt
    except ImportError:
        return None


@workload("pytensor")
def pytensor_rows(h):
    """PyTensor (C backend) on the elementwise value_and_grad and the MLP step, when installed.

    Its rows carry the workload names of the other systems, so the table puts them side by side."""
    mods = _pytensor()
    if mods is None:
        h.record("pytensor", "pytensor", float("nan"), "not installed: pip install -e '.[bench]'")
        return
    pytensor, pt = mods
    n = 2 ** 18 if h.quick else 2 ** 22
    for dt in (np.float32, np.float64):
        name = f"elementwise vg {np.dtype(dt).name} 2^{int(np.log2(n))}"
        x = np.random.default_rng(0).uniform(-2, 2, n).astype(dt)
        v = pt.vector("x", dtype=np.dtype(dt).name)
        loss = pt.sum(pt.tanh(v) * pt.exp(-v * v) + 0.5 * v)
        fn = pytensor.function([v], [loss, pytensor.grad(loss, v)])
        tol = 1e-3 if dt == np.float32 else 1e-9
        h.check(name, "pytensor", fn(x), _elementwise_numpy(x), rtol=tol, atol=tol)
        h.time(name, "pytensor", lambda: fn(x))
    params, x, y = mlp_data()
    name = "MLP 784-512-512-10 vg step f32 b256"
    ins = [pt.matrix("x", dtype="float32"), pt.matrix("y", dtype="float32")]
    ps = []
    for i, (w, b) in enumerate(params):
        ps += [pt.matrix(f"w{i}", dtype="float32"), pt.vector(f"b{i}", dtype="float32")]
    hid = ins[0]
    for i in range(len(params)):
        hid = pt.dot(hid, ps[2 * i]) + ps[2 * i + 1]
        if i < len(params) - 1:
            hid = pt.tanh(hid)
    m = pt.max(hid, axis=1, keepdims=True)
    lse = m + pt.log(pt.sum(pt.exp(hid - m), axis=1, keepdims=True))
    loss = -pt.mean(pt.sum((hid - lse) * ins[1], axis=1))
    fn = pytensor.function(ins + ps, [loss] + pytensor.grad(loss, ps))
    flat = [a for pair in params for a in pair]
    h.check(name, "pytensor", fn(x, y, *flat), _flat_grads(mlp_numpy(params, x, y)), rtol=2e-3, atol=2e-5)
    h.time(name, "pytensor", lambda: fn(x, y, *flat))


# --- 10. sharded training steps on 8 simulated devices (a child process: JAX fixes its device count) --

@workload("sharded")
def sharded(h):
    """Data- and tensor-parallel MLP steps, chainrule's jax backend vs plain JAX with the same shardings
    (benchmarks/bench_sharded.py, run in a child process with 8 simulated CPU devices)."""
    import json
    if _jax() is None:
        return
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(root, "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out = subprocess.run([sys.executable, os.path.join(root, "benchmarks", "bench_sharded.py")] +
                         (["--quick"] if h.quick else []), capture_output=True, text=True, env=env, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            h.record(row["workload"], row["system"], row["median_s"], note="8 simulated CPU devices")
# --- CNN: convolutions, relu, max pooling (benchmarks/cnn.py) ------------------------------------

@workload("cnn_step")
def cnn_step(h):
    from .cnn import cnn_step as run
    run(h, _backends(h, big=False), _jax(), None)


@workload("cnn_first_call")
def cnn_first_call(h):
    from .cnn import cnn_first_call as run
    run(h, _backends(h, big=False), _jax(), _run_child)


# --- transformer: attention, layer norm, GELU feed-forward (benchmarks/transformer.py) ---------------

@workload("transformer_step")
def transformer_step(h):
    from .transformer import transformer_step as run
    run(h, _backends(h, big=False), _jax())


@workload("transformer_first_call")
def transformer_first_call(h):
    from .transformer import transformer_first_call as run
    run(h, _backends(h, big=False), _jax(), _run_child)
from . import linalg_workloads as _linalg_workloads  # noqa: E402,F401  (registers linalg, linalg_compile)
from . import fft_workloads as _fft_workloads  # noqa: E402,F401  (registers "fft")
