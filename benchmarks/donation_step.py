"""Training step (MLP value_and_grad + SGD returning new params): donated parameters vs not, interleaved.

    PYTHONPATH=src python benchmarks/donation_step.py llvm 256 512     # backend, input width, hidden width
"""
import sys, time, numpy as np, chainrule as cr, chainrule.numpy as cnp
backend = sys.argv[1]; D, H = int(sys.argv[2]), int(sys.argv[3]); B = 64
rng = np.random.default_rng(0)
def init():
    r = np.random.default_rng(1)
    return {"w1": r.standard_normal((D, H)).astype(np.float32) * 0.02, "b1": np.zeros(H, np.float32),
            "w2": r.standard_normal((H, 10)).astype(np.float32) * 0.02, "b2": np.zeros(10, np.float32)}
x = rng.standard_normal((B, D)).astype(np.float32); y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, B)]
def loss(p, x, y):
    h = cnp.tanh(x @ p["w1"] + p["b1"]); lo = h @ p["w2"] + p["b2"]
    return -cnp.mean(cnp.sum((lo - cnp.special.logsumexp(lo, axis=1, keepdims=True)) * y, axis=1))
def step(p, x, y):
    l, g = cr.value_and_grad(loss)(p, x, y)
    return l, {k: p[k] - 0.1 * g[k] for k in p}
fs = {False: cr.jit(step, backend=backend), True: cr.jit(step, backend=backend, donate_argnums=0)}
ps = {d: init() for d in fs}
for d in fs:
    for _ in range(3): _, ps[d] = fs[d](ps[d], x, y)
best = {False: [], True: []}
n = 10
for _ in range(15):
    for d in (False, True):
        f, p = fs[d], ps[d]
        t0 = time.perf_counter()
        for _ in range(n): _, p = f(p, x, y)
        best[d].append((time.perf_counter() - t0) / n); ps[d] = p
a, b = np.median(best[False]), np.median(best[True])
print(f"{backend} D={D} H={H} B={B}: median not donated {a*1e6:.0f} us/step, donated {b*1e6:.0f} us/step, "
      f"ratio {b/a:.3f} (min {min(best[False])*1e6:.0f} / {min(best[True])*1e6:.0f})")
