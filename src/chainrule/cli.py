"""The `chainrule` command: a dispatcher of subcommands.

    chainrule opt FILE [--passes fold,cse,fuse | -O N] [--fast-math]
                       [--print-after-all [DIR]] [--time-passes] [-o OUT]

Exit codes: 0 success; 1 a user error (bad input file, unknown pass, ...),
reported as one line `chainrule <cmd>: error: ...` without a traceback;
2 bad usage (argparse's convention).

Adding a subcommand: write `add_arguments(parser)` and `run(args) -> int`,
then call `register_command(name, help, add_arguments, run)` here (each
command's module is imported lazily inside its `run`, so `chainrule --help`
stays fast and a broken optional backend does not break other commands).
Raise `UserError` (or return 1) for problems the user can fix.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Callable


class UserError(Exception):
    """A problem with the user's input: printed as one line, exit code 1."""


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str = ""


COMMANDS: dict[str, Command] = {}


def register_command(name: str, help: str, add_arguments, run, description: str = "") -> Command:
    if name in COMMANDS:
        raise ValueError(f"command {name!r} is registered twice")
    cmd = Command(name, help, add_arguments, run, description or help)
    COMMANDS[name] = cmd
    return cmd


# --- opt ---------------------------------------------------------------------------------

def _opt_arguments(p: argparse.ArgumentParser):
    from .passes import OPT_PIPELINES, PASSES
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = "passes:\n" + "".join(f"  {n:<14} {PASSES[n].description}\n" for n in sorted(PASSES)) + \
        "opt levels:\n" + "".join(f"  -O{k}  {','.join(v) or '(nothing)'}\n" for k, v in OPT_PIPELINES.items())
    p.add_argument("file", metavar="FILE", help="a graph in text form (.crir), or - for stdin")
    p.add_argument("--passes", metavar="PIPELINE",
                   help="comma-separated passes to run, e.g. fold,cse,fuse (overrides -O)")
    p.add_argument("-O", dest="opt_level", type=int, choices=(0, 1, 2, 3), default=None, metavar="N",
                   help="run the default pipeline of opt level N (0-3; default 2 when --passes is not given)")
    p.add_argument("--fast-math", action="store_true",
                   help="allow rewrites that may change NaN, inf or signed-zero results")
    p.add_argument("--print-after-all", nargs="?", const="-", default=None, metavar="DIR",
                   help="print the IR after each pass (to stderr, or as files into DIR)")
    p.add_argument("--time-passes", action="store_true", help="print a table of pass times to stderr")
    p.add_argument("--no-verify", action="store_true", help="do not verify the IR after each pass")
    p.add_argument("-o", "--output", metavar="OUT", default=None, help="write the result here (default stdout)")


def _read_source(path: str) -> str:
    where = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
        else:
            with open(path, "rb") as f:
                data = f.read()
        return data.decode("utf-8")
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{where} is not UTF-8 text ({e.reason} at byte {e.start})") from None


def _opt_run(args: argparse.Namespace) -> int:
    from .ir import ParseError, VerifyError, parse
    from .passes import Instrumentation, optimize, parse_pipeline

    text = _read_source(args.file)
    where = "<stdin>" if args.file == "-" else args.file
    try:
        graph = parse(text)
    except ParseError as e:
        raise UserError(f"{where}:{e.line}:{e.column}: {e.message}") from None
    except RecursionError:
        raise UserError(f"{where}: the graph is nested too deeply to parse") from None
    passes = None
    if args.passes is not None:
        try:
            passes = parse_pipeline(args.passes)
        except ValueError as e:
            raise UserError(str(e)) from None
    level = 2 if args.opt_level is None else args.opt_level
    inst = Instrumentation(verify=not args.no_verify, print_after_all=args.print_after_all,
                           time_passes=args.time_passes)
    try:
        result = optimize(graph, opt_level=level, passes=passes, fast_math=args.fast_math, instrumentation=inst)
    except VerifyError as e:
        raise UserError(str(e).replace("\n", " ")) from None
    except OSError as e:
        raise UserError(f"cannot write: {e}") from None
    out = str(result)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(out)
        except OSError as e:
            raise UserError(f"cannot write {args.output}: {e.strerror or e}") from None
    else:
        sys.stdout.write(out)
    return 0


register_command(
    "opt", "run optimisation passes on a graph in text form and print the result",
    _opt_arguments, _opt_run,
    description="Read a graph in text form (like mlir-opt), run a pass pipeline and print the result.")


# --- compile, run, show, graph (cli_artifact.py; stdlib imports only until a command runs) ----------

from . import cli_artifact as _cli_artifact  # noqa: E402

_cli_artifact.register(register_command, UserError)


# --- bench: benchmarks/ of a chainrule checkout ----------------------------------------------

def _workload_names() -> list[str]:
    """The workloads of benchmarks/workloads.py, read from its source (importing it would import jax)."""
    import os
    import re
    root = _find_benchmarks()
    if root is None:
        return []
    with open(os.path.join(root, "benchmarks", "workloads.py"), encoding="utf-8") as f:
        return re.findall(r'^@workload\("(\w+)"\)', f.read(), re.M)


def _bench_arguments(p: argparse.ArgumentParser):
    names = _workload_names()
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = "example: chainrule bench --only mlp_step dispatch --json bench.json" + (
        "\nworkloads: " + ", ".join(names) if names else "")
    p.add_argument("--quick", action="store_true", help="smaller inputs and fewer runs (a smoke test)")
    p.add_argument("--only", nargs="*", metavar="NAME", help="run only these workloads (listed below)")
    p.add_argument("--rounds", type=int, metavar="N",
                   help="run every workload N times, medians over all rounds (default 3, 1 with --quick)")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.add_argument("--plot", metavar="FILE", help="draw the ratios to JAX (needs matplotlib)")


def _find_benchmarks() -> str | None:
    """The checkout holding benchmarks/: the current directory, or the one chainrule runs from."""
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    for root in (os.getcwd(), os.path.dirname(os.path.dirname(here))):
        if os.path.isfile(os.path.join(root, "benchmarks", "workloads.py")):
            return root
    return None


def _bench_run(args) -> int:
    root = _find_benchmarks()
    if root is None:
        raise UserError("benchmarks/ not found: run `chainrule bench` from a chainrule checkout "
                        "(the benchmarks are not part of the installed package)")
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UserError("--plot needs matplotlib, which is not installed: pip install matplotlib "
                            "(or run without --plot)") from None
    if root not in sys.path:
        sys.path.insert(0, root)
    from benchmarks.__main__ import main as bench_main
    argv = (["--quick"] if args.quick else []) + (["--only", *args.only] if args.only else []) + \
        (["--rounds", str(args.rounds)] if args.rounds is not None else []) + \
        (["--json", args.json] if args.json else []) + (["--plot", args.plot] if args.plot else [])
    try:
        return bench_main(argv)
    except SystemExit as e:  # argparse inside the benchmarks rejected a workload name
        if e.code not in (0, None):
            raise UserError(f"bad benchmark arguments (see chainrule bench --help): {' '.join(argv)}") from None
        return 0


register_command("bench", "run the benchmarks: chainrule, jax.jit and NumPy on the same workloads",
                 _bench_arguments, _bench_run,
                 description="Time chainrule (every backend), jax.jit on CPU and NumPy on the same inputs and "
                             "print medians and ratios to JAX (below 1 is faster).")


# --- dispatcher ----------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = argparse.ArgumentParser(
        prog="chainrule", description="chainrule: a static-graph automatic-differentiation compiler.")
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in COMMANDS.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.description)
        cmd.add_arguments(p)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with code 2 on bad usage
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    cmd = COMMANDS[args.command]
    try:
        return int(cmd.run(args) or 0)
    except UserError as e:
        print(f"chainrule {cmd.name}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"chainrule {cmd.name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
