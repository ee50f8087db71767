"""How the passes scale: time per pass on graphs of 1,000, 10,000 and 100,000 nodes.

Graphs: a long chain of elementwise ops and a wide graph of many short
branches (chainrule.passes.testing), and the gradient of each when
`chainrule.passes.autodiff.vjp_graph` exists. Prints CPU seconds per pass
(best of --repeat runs; CPU time, since the machine is shared) for the -O2
pipeline plus canonicalize, the growth from each size to the next (10x
nodes should cost at most ~12x), and writes the table as JSON.

    python benchmarks/bench_passes.py [--sizes 1000,10000,100000] [--repeat 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from chainrule.passes import OPT_PIPELINES, PASSES, PassContext
from chainrule.passes.manager import run_pass  # runs a pass as optimize does (GC paused)
from chainrule.passes.testing import chain_graph, wide_graph

try:  # written concurrently; the gradient graphs are skipped when it is missing
    from chainrule.passes.autodiff import vjp_graph
except ImportError:  # pragma: no cover
    vjp_graph = None

PASS_NAMES = ("dce", "fold", "cse", "simplify", "canonicalize", "fuse")


def workloads(sizes):
    for name, make in (("chain", chain_graph), ("wide", wide_graph)):
        for n in sizes:
            g = make(n)
            yield name, n, g
            if vjp_graph is not None:
                yield f"grad({name})", n, vjp_graph(g, seed_ones=True)


def time_passes(graph, repeat):
    """CPU seconds of each pass (each run on the graph the -O2 pipeline hands it), and the pipeline."""
    out = {}
    g = graph
    inputs = {}
    for name in OPT_PIPELINES[2]:
        inputs.setdefault(name, g)
        g = PASSES[name](g)
    inputs.setdefault("canonicalize", graph)
    for name in PASS_NAMES:
        best = float("inf")
        for _ in range(repeat):
            t = time.process_time()
            run_pass(PASSES[name], inputs[name], PassContext())
            best = min(best, time.process_time() - t)
        out[name] = best
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        g = graph
        for name in OPT_PIPELINES[2]:
            g = run_pass(PASSES[name], g, PassContext())
        best = min(best, time.process_time() - t)
    out["-O2 total"] = best
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000", help="comma-separated node counts")
    ap.add_argument("--repeat", type=int, default=2, help="runs per measurement (best is kept)")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    cols = list(PASS_NAMES) + ["-O2 total"]
    rows = []
    print(f"{'graph':<12} {'nodes':>8} " + " ".join(f"{c:>12}" for c in cols) + "   (CPU ms)")
    for name, n, g in workloads(sizes):
        t = time_passes(g, args.repeat)
        rows.append({"graph": name, "size": n, "nodes": g.num_nodes(), "seconds": t})
        print(f"{name:<12} {g.num_nodes():>8} " + " ".join(f"{t[c] * 1e3:12.1f}" for c in cols), flush=True)
    print("\ngrowth of the -O2 pipeline from one size to the next (nodes ratio -> time ratio):")
    worst = 0.0
    by_graph = {}
    for r in rows:
        by_graph.setdefault(r["graph"], []).append(r)
    for name, rs in by_graph.items():
        for a, b in zip(rs, rs[1:]):
            nr = b["nodes"] / a["nodes"]
            tr = b["seconds"]["-O2 total"] / max(a["seconds"]["-O2 total"], 1e-9)
            worst = max(worst, tr / nr)
            print(f"  {name:<12} {a['nodes']:>8} -> {b['nodes']:>8}: x{nr:5.1f} nodes, x{tr:5.1f} time")
    print(f"worst time growth per node growth: {worst:.2f} (1.0 is linear; the budget is 1.2)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "worst_growth": worst}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
