"""`python -m benchmarks [--quick] [--rounds N] [--only NAME ...] [--json FILE] [--plot FILE.png]`"""

from __future__ import annotations

import argparse
import sys
import traceback

from .harness import Harness, machine


def main(argv=None) -> int:
    from .workloads import WORKLOADS
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--quick", action="store_true", help="smaller inputs and fewer runs (a smoke test)")
    p.add_argument("--only", nargs="*", choices=sorted(WORKLOADS), help="run only these workloads")
    p.add_argument("--rounds", type=int, default=None, metavar="N",
                   help="run every workload N times and report medians over all rounds, so the systems "
                        "are sampled alternately (default 3, 1 with --quick)")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.add_argument("--plot", metavar="FILE", help="draw the ratios to JAX (needs matplotlib)")
    args = p.parse_args(argv)
    if args.plot:
        try:  # say so now, not after the whole run
            import matplotlib  # noqa: F401
        except ImportError:
            p.error("--plot needs matplotlib, which is not installed: pip install matplotlib")
    h = Harness(quick=args.quick)
    print(f"machine: {machine()}", flush=True)
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    if rounds < 1:
        p.error(f"--rounds must be at least 1, got {rounds}")
    broken = set()
    for r in range(rounds):
        for name in args.only or list(WORKLOADS):
            if name in broken:
                continue
            print(f"running {name} (round {r + 1} of {rounds}) ...", file=sys.stderr, flush=True)
            try:
                WORKLOADS[name](h)
            except Exception as e:  # a broken workload is reported, the others still run
                traceback.print_exc()
                h.failures.append(f"{name}: failed with {type(e).__name__}: {e}")
                broken.add(name)
    print(h.table())
    if args.json:
        h.write_json(args.json)
    if args.plot:
        from .plot import plot
        plot(h, args.plot)
    return 1 if h.failures else 0


if __name__ == "__main__":
    sys.exit(main())
