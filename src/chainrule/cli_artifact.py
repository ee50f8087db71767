"""The `chainrule compile`, `run`, `show` and `graph` subcommands (artifacts and pictures).

    chainrule compile MODULE:FUNCTION --arg f32[8,784] ... [--grad | --value-and-grad] -o f.crx
    chainrule run f.crx --inputs in.npz [--output out.npz]
    chainrule show f.crx
    chainrule keygen -o KEY
    chainrule graph FILE|MODULE:FUNCTION [--arg ...] --format dot|svg|png -o FILE

Registered by cli.py through `register(register_command, UserError)`; heavy
imports happen inside each command's run, so `chainrule --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys

_ARG = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\[\s*([0-9,\s]*)\]\s*$")
UserError = RuntimeError  # replaced by cli.UserError in register()

_EXAMPLES = {
    "compile": """example:
  chainrule compile model.py:loss --arg f32[784,10] --arg f32[8,784] --arg f32[8,10] \\
      --value-and-grad -o loss.crx
  (MODULE may be an importable module name or a path to a .py file; each --arg is one
  positional array argument, DTYPE[DIMS] with DTYPE in bool, i32, i64, f32, f64)""",
    "run": """example:
  chainrule run loss.crx --inputs in.npz --output out.npz
  (in.npz holds one array per input, named arg0, arg1, ... or by the parameter names that
  `chainrule show` lists; results are saved as out0, out1, ... or printed without --output)""",
    "show": """example:
  chainrule show loss.crx          # signature, payloads, target, sizes and the graph
  chainrule show loss.crx --manifest""",
    "keygen": """example:
  chainrule keygen -o release.key        # writes release.key (private, 0600) and release.key.pub
  chainrule compile model.py:loss --arg f32[784,10] --signing-key release.key -o loss.crx
  chainrule run loss.crx --trusted-key release.key.pub --inputs in.npz""",
    "graph": """examples:
  chainrule graph loss.crx --format svg -o loss.svg
  chainrule graph model.py:loss --arg f32[784,10] --arg f32[8,784] --arg f32[8,10] --grad \\
      --format dot -o loss.dot
  (svg and png need Graphviz's `dot`; without it the DOT text is written instead and the
  command exits 1, naming the file and the command that renders it)""",
}


# --- shared helpers -------------------------------------------------------------------------------

def parse_arg_spec(text: str):
    """`f32[8,784]` -> cr.Spec((8, 784), float32)."""
    from .frontend import Spec
    from .ir import ALL_DTYPES, dtype
    m = _ARG.match(text)
    names = ", ".join(d.short for d in ALL_DTYPES)
    if m is None:
        raise UserError(f"bad --arg {text!r}: expected DTYPE[DIMS] such as f32[8,784] or f64[] (dtypes: {names})")
    try:
        dt = dtype(m.group(1))
    except TypeError:
        raise UserError(f"bad --arg {text!r}: unknown dtype {m.group(1)!r} (dtypes: {names})") from None
    dims = [d.strip() for d in m.group(2).split(",") if d.strip()]
    return Spec(tuple(int(d) for d in dims), dt)


def import_target(target: str):
    """The function named by MODULE:FUNCTION (MODULE a module name or a .py path)."""
    module_part, sep, attr = target.rpartition(":")
    if not sep or not module_part or not attr:
        raise UserError(f"bad target {target!r}: expected MODULE:FUNCTION, e.g. model.py:loss or pkg.mod:fn")
    try:
        if module_part.endswith(".py") or os.sep in module_part:
            if not os.path.isfile(module_part):
                raise UserError(f"cannot import {module_part}: no such file")
            name = "_chainrule_target_" + re.sub(r"\W", "_", os.path.splitext(os.path.basename(module_part))[0])
            spec = importlib.util.spec_from_file_location(name, module_part)
            module = importlib.util.module_from_spec(spec)
            sys.path.insert(0, os.path.dirname(os.path.abspath(module_part)))
            try:
                spec.loader.exec_module(module)
            finally:
                sys.path.pop(0)
        else:
            if os.getcwd() not in sys.path and "" not in sys.path:
                sys.path.insert(0, os.getcwd())  # as `python -m` does
            module = importlib.import_module(module_part)
    except UserError:
        raise
    except Exception as e:  # the user's module failed to import: one line, no traceback
        raise UserError(f"cannot import {module_part}: {type(e).__name__}: {e}") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UserError(f"{module_part} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise UserError(f"{target} is not callable")
    return obj


def lower_target(args):
    """Trace MODULE:FUNCTION on the --arg specs (with --grad / --value-and-grad) -> cr.Lowered."""
    import chainrule as cr
    fun = import_target(args.target)
    specs = [parse_arg_spec(a) for a in args.arg or []]
    if args.grad:
        fun = cr.grad(fun, argnums=args.argnums)
    elif args.value_and_grad:
        fun = cr.value_and_grad(fun, argnums=args.argnums)
    try:
        lowered = cr.jit(fun, backend=getattr(args, "backend", None), opt_level=args.opt_level).lower(*specs)
    except Exception as e:  # the user's function failed to trace
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise UserError(f"tracing {args.target} on ({', '.join(args.arg or [])}) failed: "
                        f"{type(e).__name__}: {msg}") from None
    _name_parameters(lowered.graph, fun)
    return lowered


def _name_parameters(graph, fun):
    """Name the graph's unnamed parameters after the function's positional parameters (each --arg
    is one), so `show` lists them and `run` takes them as keys of the inputs file."""
    import inspect
    try:
        params = [p for p in inspect.signature(fun).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return
    if len(params) < len(graph.params):
        return
    taken = {v.name for v in graph.params if v.name}
    for v, p in zip(graph.params, params):
        if v.name is None and p.name.isidentifier() and p.name not in taken:
            v.name = p.name


def _target_arguments(p, verb="compile"):
    p.add_argument("--arg", action="append", metavar="DTYPE[DIMS]",
                   help="one positional array argument, e.g. f32[8,784] or f64[] (repeat, in order)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--grad", action="store_true",
                      help=f"{verb} the gradient of the function (cr.grad, with respect to --argnums) instead")
    mode.add_argument("--value-and-grad", action="store_true", help=f"{verb} cr.value_and_grad of the function")
    p.add_argument("--argnums", type=int, default=0, metavar="I",
                   help="which argument --grad/--value-and-grad differentiate (default 0)")
    p.add_argument("-O", dest="opt_level", type=int, choices=(0, 1, 2, 3), default=None, metavar="N",
                   help="opt level of chainrule's passes and LLVM (0-3, default 2)")


def _help(p, name):
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = _EXAMPLES[name]


def _trusted_key_argument(p):
    p.add_argument("--trusted-key", action="append", metavar="KEY.pub", dest="trusted_keys",
                   help="refuse the artifact unless it is signed by this Ed25519 public key "
                        "(repeat for several; see `chainrule keygen`)")


def load_artifact(path, payload=None, trusted_keys=None):
    import warnings

    from .artifact import ArtifactError, load
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            g = load(path, payload=payload, trusted_keys=trusted_keys)
    except (ArtifactError, ValueError, TypeError, ImportError) as e:
        raise UserError(str(e)) from None
    for w in caught:
        print(f"chainrule: warning: {w.message}", file=sys.stderr)
    return g


# --- compile -------------------------------------------------------------------------------------

def _compile_arguments(p):
    _help(p, "compile")
    p.add_argument("target", metavar="MODULE:FUNCTION", help="the function to compile, e.g. model.py:loss")
    _target_arguments(p)
    p.add_argument("--backend", choices=("llvm", "jax", "reference"), default="llvm",
                   help="the backend that compiles it here (default llvm); the artifact holds every payload")
    p.add_argument("--payloads", default=None, metavar="LIST",
                   help="comma-separated payloads to include: native,stablehlo,graph (default all that build)")
    p.add_argument("--cpu", default="host", metavar="CPU",
                   help="CPU of the native library: host (default, all of this CPU's features) or x86-64, "
                        "x86-64-v2, x86-64-v3, x86-64-v4 for a library that runs on every CPU of that level")
    p.add_argument("--signing-key", metavar="KEY", default=None,
                   help="sign the artifact with this Ed25519 private key (see `chainrule keygen`)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.crx", help="the artifact to write")


def _compile_run(args) -> int:
    import warnings

    lowered = lower_target(args)
    payloads = None
    if args.payloads:
        payloads = [s.strip() for s in args.payloads.split(",") if s.strip()]
        bad = sorted(set(payloads) - {"native", "stablehlo", "graph"})
        if bad:
            raise UserError(f"unknown payload(s) {', '.join(bad)}; expected native, stablehlo, graph")
    from .artifact import export
    try:
        compiled = lowered.compile()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            export(compiled, args.output, payloads=payloads,
                   opt_level=2 if args.opt_level is None else args.opt_level, cpu=args.cpu,
                   signing_key=args.signing_key)
    except (ValueError, TypeError) as e:
        raise UserError(str(e)) from None
    except (NotImplementedError, ImportError, RuntimeError) as e:
        raise UserError(f"cannot compile {args.target}: {type(e).__name__}: {str(e).splitlines()[0]}") from None
    except OSError as e:
        raise UserError(f"cannot write {args.output}: {e.strerror or e}") from None
    for w in caught:
        print(f"chainrule compile: warning: {w.message}", file=sys.stderr)
    size = os.path.getsize(args.output)
    sig = compiled.signature
    print(f"wrote {args.output} ({size} bytes): {compiled.graph.name}({', '.join(sig['inputs'])}) -> "
          f"({', '.join(sig['outputs'])})")
    return 0


# --- run -----------------------------------------------------------------------------------------

def _run_arguments(p):
    _help(p, "run")
    p.add_argument("artifact", metavar="FILE.crx")
    p.add_argument("--inputs", metavar="IN.npz", help="the input arrays (keys arg0.. or parameter names)")
    p.add_argument("--output", "-o", metavar="OUT.npz", help="save the results here instead of printing them")
    p.add_argument("--payload", choices=("native", "stablehlo", "graph"), default=None,
                   help="force a payload (default: the native library when it runs here)")
    _trusted_key_argument(p)


def _read_inputs(g, path):
    import numpy as np
    names = g.input_names
    if path is None:
        if names:
            raise UserError(f"{g.name} takes {len(names)} input(s) ({', '.join(names)}); pass them with --inputs IN.npz")
        return []
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read inputs {path}: {e}") from None
    positional = [f"arg{i}" for i in range(len(names))]
    numpy_positional = [f"arr_{i}" for i in range(len(names))]  # np.savez(path, a, b, ...)
    for keys in (positional, numpy_positional, names):
        if set(data) == set(keys):
            return [data[k] for k in keys]
    raise UserError(f"{path} holds {', '.join(sorted(data)) or 'no arrays'}; {g.name} expects the keys "
                    f"{', '.join(positional) or '(none)'}, {', '.join(numpy_positional) or '(none)'}"
                    + (f" or {', '.join(names)}" if names != positional else ""))


def _run_run(args) -> int:
    import numpy as np
    g = load_artifact(args.artifact, args.payload, args.trusted_keys)
    leaves = _read_inputs(g, args.inputs)
    try:
        outs = g.run_flat(leaves)
    except (TypeError, ValueError) as e:
        raise UserError(f"bad inputs in {args.inputs}: {e}") from None
    if args.output:
        try:
            np.savez(args.output, **{f"out{j}": o for j, o in enumerate(outs)})
        except OSError as e:
            raise UserError(f"cannot write {args.output}: {e.strerror or e}") from None
        print(f"wrote {len(outs)} result(s) to {args.output} (payload: {g.payload})")
        return 0
    for j, (o, t) in enumerate(zip(outs, g.result_types)):
        print(f"out{j}: {t} =")
        print(np.array2string(np.asarray(o), threshold=200, precision=8))
    return 0


# --- show ----------------------------------------------------------------------------------------

def _show_arguments(p):
    _help(p, "show")
    p.add_argument("artifact", metavar="FILE.crx")
    p.add_argument("--manifest", action="store_true", help="print the manifest as JSON instead")
    p.add_argument("--no-ir", action="store_true", help="leave out the graph's text form")
    _trusted_key_argument(p)


def _shape(t) -> str:
    return f"{t['dtype']}[{','.join(map(str, t['shape']))}]"


def _show_run(args) -> int:
    """Everything shown comes from a manifest that passed the same checks as `load` (schema, graph signature)."""
    import json

    from .artifact import ArtifactError
    from .artifact.host import incompatibility
    from .artifact.loader import checked, plan
    from .artifact.treejson import tree_from_json
    try:
        manifest, members, _graph = checked(args.artifact, parse=True, trusted_keys=args.trusted_keys)
    except (ArtifactError, ValueError, TypeError, ImportError) as e:
        raise UserError(str(e)) from None
    if args.manifest:
        print(json.dumps(manifest, indent=2, sort_keys=True))
        return 0
    sig, payloads = manifest["signature"], manifest["payloads"]
    out = [f"artifact  {args.artifact} ({os.path.getsize(args.artifact)} bytes, format {manifest['format_version']}, "
           f"chainrule {manifest.get('chainrule_version')}, created {manifest.get('created')})",
           f"function  @{manifest.get('name')} (compiled with the {manifest.get('backend')} backend)",
           f"signature {_signature_line(args)}",
           "inputs"]
    for i, t in enumerate(sig["inputs"]):
        out.append(f"  arg{i:<3} {t['name']:<16} {_shape(t)}")
    out.append("outputs")
    for j, t in enumerate(sig["outputs"]):
        out.append(f"  out{j:<3} {_shape(t)}")
    out.append(f"pytrees   in {tree_from_json(sig['in_tree'])!r}  out {tree_from_json(sig['out_tree'])!r}")
    out.append(f"checked   the graph's signature equals the manifest's: ({', '.join(map(_shape, sig['inputs']))}) -> "
               f"({', '.join(map(_shape, sig['outputs']))})")
    chosen, reasons = plan(manifest)
    out.append(f"runs here {chosen}" + (f" ({'; '.join(reasons)})" if reasons else "")
               + (" (if the library opens here)" if chosen == "native" else ""))
    out.append("payloads")
    for name, info in sorted(payloads.items()):
        size = len(members[info["member"]])
        line = f"  {name:<10} {info['member']} ({size} bytes)"
        if name == "native":
            why = incompatibility(info)
            line += (f"\n             {info['kind']}, target {info['triple']}, cpu {info['cpu']} "
                     f"({len(info['cpu_flags'])} CPU flags required), opt level {info.get('opt_level')}"
                     f"\n             C symbol {info['symbol']}, workspace {info.get('workspace_size')} bytes, "
                     f"header {info.get('header') or '(none)'}"
                     f"\n             needs {', '.join(info.get('needs') or [])}; GEMM: {info.get('gemm')}"
                     f"\n             runs on this host: {'yes' if why is None else 'no, ' + why}")
        elif name == "stablehlo":
            line += (f"\n             jax {info.get('jax_version')}, platforms "
                     f"{', '.join(info.get('platforms') or [])}")
        out.append(line)
    for name, why in sorted((manifest.get("skipped") or {}).items()):
        out.append(f"  {name:<10} left out: {why}")
    print("\n".join(out))
    if not args.no_ir:
        print("graph")
        print(members[payloads["graph"]["member"]].decode(), end="")
    return 0


# --- keygen --------------------------------------------------------------------------------------

def _keygen_arguments(p):
    _help(p, "keygen")
    p.add_argument("-o", "--output", required=True, metavar="KEY",
                   help="where to write the private key (mode 0600); the public key goes to KEY.pub")


def _keygen_run(args) -> int:
    from .artifact.signing import generate, key_id, public_key
    try:
        priv, pub = generate(args.output)
    except FileExistsError as e:
        raise UserError(f"{e.filename} exists already: keygen never overwrites a key") from None
    except OSError as e:
        raise UserError(f"cannot write {e.filename or args.output}: {e.strerror or e}") from None
    except ImportError as e:
        raise UserError(str(e)) from None
    print(f"wrote the private key {priv} (keep it secret) and the public key {pub} (key id {key_id(public_key(pub))})")
    return 0


def _signature_line(args) -> str:
    from .artifact.container import signer
    key = signer(args.artifact)
    if key is None:
        return "none (the artifact is not signed)"
    if args.trusted_keys:
        return f"Ed25519, key id {key}, verified with a trusted key"
    return f"Ed25519, key id {key}, not checked (pass --trusted-key KEY.pub to check it)"


# --- graph ---------------------------------------------------------------------------------------

def _graph_arguments(p):
    _help(p, "graph")
    p.add_argument("target", metavar="FILE|MODULE:FUNCTION",
                   help="an artifact (.crx), a graph in text form (.crir), or a function to trace")
    _target_arguments(p, "draw")
    p.add_argument("--format", choices=("dot", "svg", "png"), default="dot", help="output format (default dot)")
    p.add_argument("-o", "--output", metavar="FILE", default=None,
                   help="where to write the picture (default: stdout for dot; required for svg and png)")


def _graph_of(args):
    from .ir import ParseError, parse
    t = args.target
    if os.path.isfile(t):
        with open(t, "rb") as f:
            head = f.read(4)
        if head.startswith(b"PK"):
            from .artifact import ArtifactError
            from .artifact.loader import checked
            try:
                return checked(t, parse=True)[2]
            except ArtifactError as e:
                raise UserError(str(e)) from None
        else:
            try:
                with open(t, encoding="utf-8") as f:
                    text = f.read()
            except (OSError, UnicodeDecodeError) as e:
                raise UserError(f"cannot read {t}: {e}") from None
        try:
            return parse(text)
        except ParseError as e:
            raise UserError(f"{t}:{e.line}:{e.column}: {e.message}") from None
        except RecursionError:
            raise UserError(f"{t}: the graph is nested too deeply to parse") from None
    if ":" not in t:
        raise UserError(f"{t}: no such file (expected a .crx or .crir file, or MODULE:FUNCTION)")
    lowered = lower_target(args)
    return lowered.graph if args.opt_level == 0 else lowered.optimized_graph()


def _graph_run(args) -> int:
    graph = _graph_of(args)
    dot_text = graph.to_dot()
    out = args.output
    if args.format == "dot":
        if out in (None, "-"):
            sys.stdout.write(dot_text)
            return 0
        _write(out, dot_text)
        return 0
    if out in (None, "-"):
        raise UserError(f"--format {args.format} needs an output file (-o FILE.{args.format})")
    dot = shutil.which("dot")
    if dot is None:
        dot_path = os.path.splitext(out)[0] + ".dot"
        _write(dot_path, dot_text)
        raise UserError(f"Graphviz `dot` is not installed, so no {args.format} was made; wrote the DOT text to "
                        f"{dot_path} instead. Install Graphviz, or render it elsewhere with: "
                        f"dot -T{args.format} {dot_path} -o {out}")
    proc = subprocess.run([dot, f"-T{args.format}", "-o", out], input=dot_text, capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserError(f"dot failed: {proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else proc.returncode}")
    return 0


def _write(path, text):
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}") from None


# --- registration --------------------------------------------------------------------------------

def register(register_command, user_error):
    """Add the five subcommands to the `chainrule` command (called once by cli.py)."""
    global UserError
    UserError = user_error
    register_command("compile", "trace and compile MODULE:FUNCTION into a .crx artifact",
                     _compile_arguments, _compile_run,
                     description="Trace a Python function on abstract arguments, optimise and compile it, and "
                                 "export it as a .crx artifact (native library, C header, StableHLO, graph).")
    register_command("run", "run a .crx artifact on inputs from an .npz file", _run_arguments, _run_run,
                     description="Load a .crx artifact (checking it first) and run it on the arrays of an .npz file.")
    register_command("show", "describe a .crx artifact: signature, payloads, target, sizes, IR",
                     _show_arguments, _show_run,
                     description="Check a .crx artifact and print its signature, payloads, target, sizes and graph.")
    register_command("keygen", "write an Ed25519 key pair for signing artifacts", _keygen_arguments, _keygen_run,
                     description="Write a new Ed25519 key pair: export with --signing-key KEY, and run or show "
                                 "with --trusted-key KEY.pub to refuse artifacts that someone else made.")
    register_command("graph", "draw a graph (Graphviz dot, svg or png)", _graph_arguments, _graph_run,
                     description="Draw the graph of an artifact, a .crir file or a traced function with Graphviz.")
