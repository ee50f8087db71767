"""Compile a function, export it as a .crx artifact, and call it from a fresh Python process and from C.

    python examples/export_and_c/export_and_c.py [--out DIR]

1. `model` (the value and gradient of a small two-layer network's loss) is traced,
   optimised and compiled once, then exported to DIR/model.crx.
2. A fresh Python process loads the artifact with `cr.load` (no tracing, no LLVM
   compilation: it opens the native library) and calls it.
3. When a C compiler and make are installed, examples/c/ is built against the artifact's
   header and library and run; its results must match Python's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import numpy as np

import chainrule as cr
import chainrule.numpy as cnp

HERE = os.path.dirname(os.path.abspath(__file__))
C_DIR = os.path.join(os.path.dirname(HERE), "c")
SHAPES = [(6, 16), (16,), (16, 3), (8, 6), (8, 3)]  # w1, b1, w2, x, y


def loss(w1, b1, w2, x, y):
    h = cnp.tanh(x @ w1 + b1)
    return cnp.mean((h @ w2 - y) ** 2)


def model(w1, b1, w2, x, y):
    """(loss, gradients with respect to w1, b1 and w2): what a training step needs."""
    return cr.value_and_grad(loss, argnums=(0, 1, 2))(w1, b1, w2, x, y)


def inputs():
    """The pattern main.c fills its inputs with: input k, element i = 0.5 * sin(0.1 * i + k)."""
    return [(0.5 * np.sin(0.1 * np.arange(np.prod(s)) + k)).astype(np.float32).reshape(s)
            for k, s in enumerate(SHAPES)]


def export(path):
    specs = [cr.Spec(s, "float32") for s in SHAPES]
    compiled = cr.jit(model, backend="llvm").lower(*specs).compile()
    compiled.export(path)
    return compiled


FRESH = textwrap.dedent("""
    import sys, time
    import numpy as np
    import chainrule as cr
    sys.path.insert(0, sys.argv[3])
    from export_and_c import inputs
    t0 = time.perf_counter()
    f = cr.load(sys.argv[1])
    value, grads = f(*inputs())
    t1 = time.perf_counter()
    np.savez(sys.argv[2], value, *grads)
    print(f"fresh process: cr.load + first call {1e3 * (t1 - t0):.1f} ms, payload {f.payload}, "
          f"llvmlite imported: {'llvmlite' in sys.modules}")
""")


def flat_results(results):
    value, grads = results
    return [np.asarray(value)] + [np.asarray(g) for g in grads]


def run_c(artifact, build):
    """Build examples/c against the artifact and run it; returns its outputs, or None without cc/make."""
    if not (shutil.which(os.environ.get("CC", "cc")) and shutil.which("make")):
        print("C: skipped (no C compiler or make)")
        return None
    subprocess.run(["make", "-s", "-C", C_DIR, f"ARTIFACT={artifact}", f"BUILD={build}", f"PYTHON={sys.executable}"],
                   check=True)
    out = subprocess.run([os.path.join(build, "main")], check=True, capture_output=True, text=True).stdout
    results, lines = [], out.split()
    i = 0
    while i < len(lines):
        n = int(lines[i + 1])
        results.append(np.array([float(v) for v in lines[i + 2:i + 2 + n]]))
        i += 2 + n
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None, help="directory for model.crx and the C build (default: a temporary one)")
    args = p.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="chainrule-export-")
    os.makedirs(out, exist_ok=True)
    artifact = os.path.join(out, "model.crx")
    compiled = export(artifact)
    print(f"exported {artifact} ({os.path.getsize(artifact)} bytes)")
    want = flat_results(compiled(*inputs()))

    npz = os.path.join(out, "fresh.npz")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.dirname(cr.__file__))]
                                                      + os.environ.get("PYTHONPATH", "").split(os.pathsep)))
    proc = subprocess.run([sys.executable, "-c", FRESH, artifact, npz, HERE], check=True, capture_output=True,
                          text=True, env=env)
    print(proc.stdout.strip())
    fresh = np.load(npz)
    for k, w in enumerate(want):
        np.testing.assert_array_equal(fresh[f"arr_{k}"], w)  # the same machine code: bit for bit
    print("fresh process: results identical to the compiled function")

    c = run_c(artifact, os.path.join(out, "c"))
    if c is not None:
        # the C entry point uses the library's built-in GEMM, Python uses OpenBLAS: equal to rounding
        worst = max(float(np.max(np.abs(a - b.ravel()))) for a, b in zip(c, want))
        assert len(c) == len(want) and worst < 1e-5, worst
        print(f"C: {len(c)} outputs match Python (largest difference {worst:.2g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
