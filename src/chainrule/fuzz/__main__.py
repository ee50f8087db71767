"""`python -m chainrule.fuzz --minutes N [--backends reference,llvm,jax] [--seed S]`

Runs random graphs on every available backend, before and after each opt
level, compares with the reference backend, prints each failure shrunk to a
minimal graph, and ends with `programs: N, mismatches: M, crashes: K`.
Exits with status 1 when anything mismatched or crashed.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from ..backends import KNOWN_BACKENDS, available_backends
from .generator import GenConfig
from .runner import default_opt_levels, fuzz


def _levels(text: str):
    if text == "all":
        return None
    if text in ("none", ""):
        return ()
    try:
        return tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--opt-levels {text!r}: expected 'all', 'none' or e.g. '0,2'") from None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m chainrule.fuzz", description=__doc__.split("\n\n")[1])
    ap.add_argument("--minutes", type=float, default=1.0, help="how long to run (default 1)")
    ap.add_argument("--programs", type=int, default=None, help="stop after this many programs")
    ap.add_argument("--backends", default=None,
                    help=f"comma-separated backends (default: all available of {', '.join(KNOWN_BACKENDS)})")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--opt-levels", type=_levels, default=None, help="'all' (default), 'none', or e.g. '0,2'")
    ap.add_argument("--max-nodes", type=int, default=10, help="nodes per random graph (default 10)")
    ap.add_argument("--no-shrink", action="store_true", help="report failures without shrinking them")
    ap.add_argument("--ignore-zero-sign", action="store_true", help="count -0.0 and 0.0 as equal")
    ap.add_argument("--no-subnormals", action="store_true",
                    help="no subnormal inputs or constants, and subnormal results compare as zeros "
                         "(for backends that flush them, as XLA on CPU does)")
    ap.add_argument("--max-reports", type=int, default=10, help="full reports printed before one-liners")
    args = ap.parse_args(argv)

    avail = available_backends()
    if args.backends:
        wanted = [b.strip() for b in args.backends.split(",") if b.strip()]
        unknown = [b for b in wanted if b not in KNOWN_BACKENDS]
        if unknown:
            ap.error(f"unknown backend(s) {', '.join(unknown)}; expected some of {', '.join(KNOWN_BACKENDS)}")
        missing = [b for b in wanted if b not in avail]
        for b in missing:
            print(f"backend {b} is not available here: skipped", file=sys.stderr)
        backends = [b for b in wanted if b in avail]
    else:
        backends = avail
    if "reference" not in backends:
        backends = ["reference", *backends]
    levels = args.opt_levels
    print(f"backends: {', '.join(backends)}; opt levels: "
          f"{', '.join(map(str, default_opt_levels() if levels is None else levels)) or 'none'}; seed {args.seed}",
          flush=True)
    warnings.simplefilter("ignore")
    stats = fuzz(seconds=args.minutes * 60, programs=args.programs, seed=args.seed, backends=backends,
                 opt_levels=levels, config=GenConfig(max_nodes=args.max_nodes, subnormals=not args.no_subnormals), do_shrink=not args.no_shrink,
                 zero_sign=not args.ignore_zero_sign, max_reports=args.max_reports,
                 out=lambda s: print(s, flush=True), subnormals=not args.no_subnormals)
    print(f"unsupported target runs: {stats.unsupported}")
    print(stats.summary())
    return 1 if stats.mismatches or stats.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
