"""Define-then-run: build a graph from placeholders, differentiate it, look at it.

1. Placeholders are symbolic tensors. `chainrule.numpy` functions and
   operators on them record graph nodes instead of computing.
2. `cr.gradients(y, xs)` appends the reverse-mode derivative to the graph
   (the autodiff pass: linearize, then transpose).
3. `cr.function(inputs, outputs)` optimises the graph and compiles it.
4. The graph is printed before and after the optimisation passes, and after
   a hand-picked pipeline with the time of each pass.
5. The graph is drawn with Graphviz: rendered to SVG when `dot` is
   installed, else written as a .dot file with the command that renders it.

    python examples/define_then_run.py [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

import numpy as np

import chainrule as cr
import chainrule.numpy as cnp
from chainrule import backends
from chainrule.passes import Instrumentation, optimize


def section(title):
    print(f"\n== {title} " + "=" * max(0, 66 - len(title)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=".", help="folder for the Graphviz files (default: the current one)")
    ap.add_argument("--backend", default=None, choices=list(backends.KNOWN_BACKENDS))
    args = ap.parse_args(argv)
    try:
        backend = backends.pick(args.backend)
    except backends.BackendUnavailableError as e:
        sys.exit(str(e))

    # 1. A graph: a one-layer tanh model with a squared error, from placeholders.
    x = cr.placeholder((8, 3), "float64", name="x")
    t = cr.placeholder((8,), "float64", name="t")
    w = cr.placeholder((3,), "float64", name="w")
    b = cr.placeholder((), "float64", name="b")
    pred = cnp.tanh(x @ w + b)
    loss = cnp.mean((pred - t) ** 2)

    # 2. Its gradient with respect to w and b: more nodes in the same graph.
    dw, db = cr.gradients(loss, [w, b])

    # 3. One compiled function computes the loss and both gradients.
    f = cr.function([x, t, w, b], [loss, dw, db], backend=backend, name="loss_and_grads")
    rng = np.random.default_rng(0)
    xv, tv, wv, bv = rng.normal(size=(8, 3)), rng.normal(size=8), rng.normal(size=3), 0.1
    value, gw, gb = f(xv, tv, wv, bv)
    section(f"values (backend {backend})")
    print("loss   ", value)
    print("d/dw   ", gw)
    print("d/db   ", gb)

    # The same derivative by hand, as a check: d/dw mean((tanh(xw+b)-t)^2) = 2/n x^T ((p-t)(1-p^2)).
    p = np.tanh(xv @ wv + bv)
    r = 2 / len(tv) * (p - tv) * (1 - p ** 2)
    print("by hand", xv.T @ r, r.sum())
    assert np.allclose(gw, xv.T @ r) and np.allclose(gb, r.sum())

    # 4. The graph as built (forward part and derivative) and after the passes.
    section("the graph as built: the forward part, then the derivative")
    print(f.source_graph)
    section("after the default pipeline (-O2: dce, fold, cse, simplify, fuse)")
    print(f.graph)
    print(f"{len(f.source_graph.nodes)} nodes before, {len(f.graph.nodes)} after")

    # The same through tracing: cr.jit(fun).lower(...) gives the graph without running it.
    def loss_fn(w, b, x, t):
        return cnp.mean((cnp.tanh(x @ w + b) - t) ** 2)

    lowered = cr.jit(cr.grad(loss_fn, argnums=(0, 1))).lower(cr.Spec((3,), "float64"), cr.Spec((), "float64"),
                                                              cr.Spec((8, 3), "float64"), cr.Spec((8,), "float64"))
    section("traced: cr.jit(cr.grad(loss_fn)).lower(...).as_text()")
    print(lowered.as_text())
    section("the same, .optimized_graph() (what .compile() hands the backend)")
    print(lowered.optimized_graph())
    section("a pipeline of our own, timed: dce,fold,cse,simplify (no fusion)")
    inst = Instrumentation(time_passes=True, verify=True, stream=sys.stdout)  # verify after each pass too
    print(optimize(lowered.graph, passes="dce,fold,cse,simplify", instrumentation=inst))
    optimized = lowered.optimized_graph()
    assert str(cr.parse(str(optimized))) == str(optimized)  # the text form parses back exactly

    # 5. A picture of the optimised graph.
    section("Graphviz")
    os.makedirs(args.out, exist_ok=True)
    dot_path = os.path.join(args.out, "loss_and_grads.dot")
    with open(dot_path, "w") as fh:
        fh.write(f.graph.to_dot())
    svg_path = os.path.splitext(dot_path)[0] + ".svg"
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tsvg", dot_path, "-o", svg_path], check=True)
        print(f"wrote {svg_path} (and {dot_path})")
    else:
        print(f"wrote {dot_path}; Graphviz is not installed here. Render it with:")
        print(f"    dot -Tsvg {dot_path} -o {svg_path}")
        print("(Graphviz: apt install graphviz, brew install graphviz, or https://graphviz.org)")


if __name__ == "__main__":
    main()
