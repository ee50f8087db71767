"""Run random graphs on every backend and opt level, compare with the reference, shrink failures.

A *target* is a backend plus an opt level (`None`: the graph as generated;
`L`: after `chainrule.passes.optimize(graph, opt_level=L)`). The oracle is
the reference backend on the unoptimized graph. A target that raises
`NotImplementedError` (an op it does not support yet) counts as
"unsupported", not as a failure; any other exception is a crash.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Callable

import ml_dtypes
import numpy as np

from ..backends import available_backends, get_backend
from ..backends.reference import evaluate_op
from ..ir import Graph, GraphBuilder, parse, verify
from .compare import describe_difference, is_float_array
from .generator import GenConfig, flush_subnormals, generate_graph, inexact_values, random_inputs

# Options each backend is compiled with while fuzzing (no disk cache: thousands of one-off graphs).
BACKEND_OPTIONS = {"llvm": {"cache": False}}


@dataclass(frozen=True)
class Target:
    backend: str
    opt_level: int | None = None

    def __str__(self):
        return self.backend if self.opt_level is None else f"{self.backend}@O{self.opt_level}"


@dataclass
class Finding:
    kind: str  # "mismatch" or "crash"
    target: Target
    detail: str
    graph: Graph
    inputs: list
    program: int = -1

    def report(self) -> str:
        lines = [f"=== {self.kind} on {self.target} (program {self.program})", self.detail,
                 f"minimal graph ({self.graph.num_nodes()} nodes):", str(self.graph).rstrip(), "inputs:"]
        for p, a in zip(self.graph.params, self.inputs):
            lines.append(f"  %{p.name}: {p.type} = {np.array2string(np.asarray(a), threshold=64, separator=', ')}")
        return "\n".join(lines)


TEXT = Target("text")  # the printer and parser: str(parse(str(g))) == str(g)


def text_failure(graph: Graph) -> tuple[str, str] | None:
    """Print and parse `graph`: the text must reprint the same and keep every op and attribute."""
    text = str(graph)
    try:
        back = parse(text)
    except Exception as e:
        return "crash", f"the text form does not parse back: {type(e).__name__}: {e}"
    again = str(back)
    if again != text:
        return "mismatch", f"the text form does not round-trip; reprinted:\n{again}"
    for k, (a, b) in enumerate(zip(graph.walk(), back.walk())):
        if a.op is not b.op or a.attrs != b.attrs:
            return "mismatch", f"node {k} ({a.op.name}) changed in the text round trip: {a.attrs!r} became {b.attrs!r}"
    return None


class Unsupported(Exception):
    """A target cannot run this graph yet (it raised NotImplementedError)."""


def _optimizer():
    try:
        from ..passes import OPT_PIPELINES, optimize
    except ImportError:
        return None, ()
    return optimize, tuple(sorted(OPT_PIPELINES))


def default_opt_levels() -> tuple[int, ...]:
    return _optimizer()[1]


def evaluate_all(graph: Graph, inputs) -> dict[int, np.ndarray]:
    """Every value of `graph` (by id) on the reference backend; stops quietly at a failing node."""
    env = {id(p): a for p, a in zip(graph.params, inputs)}
    with np.errstate(all="ignore"):
        for node in graph.nodes:
            try:
                outs = evaluate_op(node.op, [env[id(v)] for v in node.operands], node.attrs,
                                   [r.type for r in node.results], node.regions)
            except Exception:
                break
            env.update((id(r), o) for r, o in zip(node.results, outs))
    return env


# Backends whose CPU runtime flushes subnormal floats to zero on input and output (XLA).
FLUSHING_BACKENDS = frozenset({"jax"})


def touches_subnormals(graph: Graph, inputs) -> bool:
    """Whether an input or a top-level op result of the reference run holds a subnormal float."""
    from ..backends.reference import evaluate_op

    def sub(a):
        a = np.asarray(a)
        if not is_float_array(a) or a.size == 0:
            return False
        tiny = float(ml_dtypes.finfo(a.dtype).smallest_normal)
        with np.errstate(invalid="ignore"):
            return bool(np.any((a != 0) & (np.abs(a) < tiny)))

    if any(sub(x) for x in inputs):
        return True
    env = {id(p): np.asarray(x) for p, x in zip(graph.params, inputs)}
    with np.errstate(all="ignore"):
        for node in graph.nodes:
            outs = evaluate_op(node.op, [env[id(v)] for v in node.operands], node.attrs,
                               [r.type for r in node.results], node.regions)
            if any(sub(o) for o in outs):
                return True
            env.update((id(r), o) for r, o in zip(node.results, outs))
    return False


class Checker:
    """Runs one graph on the targets and says which disagree with the reference."""

    def __init__(self, backends=None, opt_levels=None, zero_sign: bool = True, modules: dict | None = None,
                 flush_subnormals: bool = False):
        """`modules` adds or replaces backends by name: objects with `compile(graph) -> callable`
        (tests use it to check that a broken backend is caught). `flush_subnormals` compares
        subnormal results as zeros of the same sign (XLA on CPU flushes them)."""
        self.flush_subnormals = flush_subnormals
        modules = dict(modules or {})
        self.backends = list(backends) if backends is not None else available_backends()
        self.backends += [m for m in modules if m not in self.backends]
        self.optimize, levels = _optimizer()
        self.opt_levels = tuple(levels if opt_levels is None else opt_levels) if self.optimize else ()
        self.zero_sign = zero_sign
        self.targets = [Target(b, lvl) for b in self.backends for lvl in (None, *self.opt_levels)]
        self._modules = {b: modules[b] if b in modules else get_backend(b) for b in self.backends}

    # -- running --
    def oracle(self, graph: Graph, inputs) -> list[np.ndarray]:
        with np.errstate(all="ignore"):
            return [np.asarray(r) for r in self._modules.get("reference", get_backend("reference")).compile(graph)(*inputs)]

    def optimized(self, graph: Graph, level: int | None, cache: dict | None = None) -> Graph:
        if level is None:
            return graph
        if cache is not None and level in cache:
            return cache[level]
        try:
            g = self.optimize(graph, opt_level=level)
        except NotImplementedError as e:
            raise Unsupported(f"optimize O{level}: {e}") from None
        except Exception as e:
            raise RuntimeError(f"optimize(opt_level={level}) raised {type(e).__name__}: {e}") from e
        try:
            verify(g)
        except Exception as e:
            raise RuntimeError(f"optimize(opt_level={level}) produced an invalid graph: {e}") from e
        if g.param_types != graph.param_types or g.result_types != graph.result_types:
            raise RuntimeError(f"optimize(opt_level={level}) changed the signature "
                               f"{graph.param_types} -> {graph.result_types} to {g.param_types} -> {g.result_types}")
        if cache is not None:
            cache[level] = g
        return g

    def run(self, target: Target, graph: Graph, inputs, cache: dict | None = None) -> list[np.ndarray]:
        g = self.optimized(graph, target.opt_level, cache)
        mod = self._modules[target.backend]
        opts = BACKEND_OPTIONS.get(target.backend, {})
        try:
            with np.errstate(all="ignore"):
                exe = mod.compile(g, **opts)
                return [np.asarray(r) for r in exe(*inputs)]
        except NotImplementedError as e:
            raise Unsupported(f"{target}: {e}") from None

    # -- judging --
    def failure(self, target: Target, graph: Graph, inputs, want=None, cache=None) -> tuple[str, str] | None:
        """(kind, detail) when `target` disagrees with the reference on `graph`, else None."""
        if target == TEXT:
            return text_failure(graph)
        if want is None:
            try:
                want = self.oracle(graph, inputs)
            except Exception as e:
                return "crash", f"the reference backend raised {type(e).__name__}: {e}"
            if target.backend == "reference" and target.opt_level is None:
                return None
        try:
            got = self.run(target, graph, inputs, cache)
        except Unsupported:
            raise
        except Exception as e:
            return "crash", f"{target} raised {type(e).__name__}: {e}"
        if len(got) != len(want):
            return "mismatch", f"{target} returned {len(got)} results, expected {len(want)}"
        diff = self._difference(graph, got, want)
        if diff and target.backend in FLUSHING_BACKENDS and touches_subnormals(graph, inputs):
            # XLA on CPU flushes subnormal floats to zero (and not uniformly: some fused ops keep
            # them): where the program meets subnormals at all, its results are not comparable
            raise Unsupported(f"{target}: the program meets subnormal floats, which XLA on CPU flushes")
        return ("mismatch", diff) if diff else None

    def _difference(self, graph, got, want) -> str | None:
        tainted = inexact_values(graph)
        for i, (g, w) in enumerate(zip(got, want)):
            if self.flush_subnormals:
                g, w = flush_subnormals(g), flush_subnormals(w)
            diff = describe_difference(g, w, tainted.get(id(graph.results[i]), False), self.zero_sign)
            if diff:
                return f"result {i}: {diff}"
        return None

    def check(self, graph: Graph, inputs) -> tuple[list[tuple[Target, str, str]], int]:
        """Failures [(target, kind, detail)] of one program, and how many targets were unsupported."""
        try:
            want = self.oracle(graph, inputs)
        except Exception as e:
            return [(Target("reference"), "crash", f"the reference backend raised {type(e).__name__}: {e}")], 0
        out, unsupported, cache = [], 0, {}
        f = text_failure(graph)
        if f:
            out.append((TEXT, *f))
        for t in self.targets:
            if t.backend == "reference" and t.opt_level is None:
                continue
            try:
                f = self.failure(t, graph, inputs, want, cache)
            except Unsupported:
                unsupported += 1
                continue
            if f:
                out.append((t, *f))
        return out, unsupported


# --- shrinking -------------------------------------------------------------------------------

def rebuild(graph: Graph, inputs, cut: dict[int, np.ndarray], bypass: dict[int, object], results=None,
            regions: dict[int, tuple] | None = None, keep_params: bool = False):
    """A copy of `graph` where values in `cut` become new parameters (with those inputs), values in
    `bypass` are replaced by another value, nodes in `regions` (by id) get those regions, and only
    what the results need is kept (and every parameter, with `keep_params`, as a region must)."""
    results = list(graph.results if results is None else results)
    regions = regions or {}

    def resolve(v):
        seen = 0
        while id(v) in bypass and seen < 1000:
            v, seen = bypass[id(v)], seen + 1
        return v

    needed: set[int] = set()
    stack = [resolve(v) for v in results]
    while stack:
        v = stack.pop()
        if id(v) in needed:
            continue
        needed.add(id(v))
        if id(v) in cut or v.node is None:
            continue
        for r in v.node.results:
            needed.add(id(r))
        stack.extend(resolve(o) for o in v.node.operands)
    b = GraphBuilder(graph.name)
    mapping, new_inputs = {}, []
    for p, a in zip(graph.params, inputs):
        if id(p) in needed or keep_params:
            mapping[id(p)] = b.param(p.type, p.name)
            new_inputs.append(a)
    k = len(graph.params)
    for node in graph.nodes:
        for r in node.results:
            if id(r) in cut and id(r) in needed:
                mapping[id(r)] = b.param(r.type, f"c{k}")
                new_inputs.append(cut[id(r)])
                k += 1
    for node in graph.nodes:
        if not any(id(r) in needed and id(r) not in cut for r in node.results):
            continue
        new = b.emit(node.op, [mapping[id(resolve(o))] for o in node.operands], node.attrs,
                     regions.get(id(node), node.regions))
        for r, nr in zip(node.results, new.results):
            mapping.setdefault(id(r), nr)
    return b.build([mapping[id(resolve(v))] for v in results]), new_inputs


def _region_variants(region: Graph, depth: int = 0):
    """Smaller versions of a region with the same signature: an inner node bypassed by an operand or
    parameter of its type, or one of its own regions made smaller."""
    dummy = [None] * len(region.params)
    for node in reversed(region.nodes):
        if node.op.name == "constant":
            continue
        if len(node.results) == 1:
            r = node.results[0]
            for v in list(node.operands) + list(region.params):
                if v.type == r.type:
                    yield rebuild(region, dummy, {}, {id(r): v}, keep_params=True)[0]
                    break
        if depth < 4:
            for k, sub in enumerate(node.regions):
                for smaller in _region_variants(sub, depth + 1):
                    new = node.regions[:k] + (smaller,) + node.regions[k + 1:]
                    yield rebuild(region, dummy, {}, {}, regions={id(node): new}, keep_params=True)[0]


def _candidates(graph: Graph, inputs, values):
    """Smaller variants of `graph`, the most aggressive first."""
    if len(graph.results) > 1:
        for r in graph.results:
            yield rebuild(graph, inputs, {}, {}, [r])
    # focus on one node: its results become the graph's (finds a crashing node even when it is dead)
    for node in graph.nodes:
        if node.op.name != "constant" and list(node.results) != list(graph.results):
            yield rebuild(graph, inputs, {}, {}, list(node.results))
    for node in reversed(graph.nodes):
        if node.op.name == "constant":
            continue
        if all(id(r) in values for r in node.results):
            yield rebuild(graph, inputs, {id(r): values[id(r)] for r in node.results}, {})
        if len(node.results) == 1:
            for o in node.operands:
                if o.type == node.results[0].type:
                    yield rebuild(graph, inputs, {}, {id(node.results[0]): o})
                    break
    for node in reversed(graph.nodes):
        for k, sub in enumerate(node.regions):
            for smaller in _region_variants(sub):
                new = node.regions[:k] + (smaller,) + node.regions[k + 1:]
                yield rebuild(graph, inputs, {}, {}, regions={id(node): new})


def shrink(graph: Graph, inputs, still_fails: Callable[[Graph, list], bool], max_tries: int = 300,
           max_seconds: float = 60.0) -> tuple[Graph, list]:
    """Greedily delete nodes and cut operands into parameters while `still_fails` holds."""
    tries, t0 = 0, time.monotonic()
    improved = True
    while improved and tries < max_tries and time.monotonic() - t0 < max_seconds:
        improved = False
        values = evaluate_all(graph, inputs)
        size = graph.num_nodes() + len(graph.params)
        for g, ins in _candidates(graph, inputs, values):
            if g.num_nodes() + len(g.params) >= size and len(g.results) >= len(graph.results):
                continue
            tries += 1
            try:
                ok = still_fails(g, ins)
            except Exception:
                ok = False
            if ok:
                graph, inputs, improved = g, ins, True
                break
            if tries >= max_tries or time.monotonic() - t0 >= max_seconds:
                break
    return graph, inputs


# --- the loop ----------------------------------------------------------------------------------

@dataclass
class Stats:
    programs: int = 0
    mismatches: int = 0
    crashes: int = 0
    unsupported: int = 0
    findings: list = field(default_factory=list)

    def summary(self) -> str:
        return f"programs: {self.programs}, mismatches: {self.mismatches}, crashes: {self.crashes}"


def fuzz(seconds: float | None = None, programs: int | None = None, seed: int = 0, backends=None,
         opt_levels=None, config: GenConfig | None = None, do_shrink: bool = True, zero_sign: bool = True,
         max_reports: int = 10, out: Callable[[str], None] | None = print, checker: Checker | None = None,
         subnormals: bool = True) -> Stats:
    """Generate and check programs until `seconds` pass or `programs` are done (whichever first)."""
    if seconds is None and programs is None:
        raise ValueError("fuzz needs a time limit (seconds) or a program count (programs)")
    checker = checker or Checker(backends, opt_levels, zero_sign, flush_subnormals=not subnormals)
    stats = Stats()
    t_end = None if seconds is None else time.monotonic() + seconds
    i = 0
    while (programs is None or i < programs) and (t_end is None or time.monotonic() < t_end):
        rnd = random.Random(seed * 1_000_003 + i)
        graph = generate_graph(rnd, config)
        inputs = random_inputs(graph, rnd.getrandbits(64), subnormals=subnormals)
        try:
            failures, unsupported = checker.check(graph, inputs)
        except KeyboardInterrupt:  # Ctrl-C ends the run; the summary still prints
            if out is not None:
                out(f"interrupted during program {i}")
            break
        stats.programs += 1
        stats.unsupported += unsupported
        for target, kind, detail in failures:
            if kind == "mismatch":
                stats.mismatches += 1
            else:
                stats.crashes += 1
            g, ins = graph, inputs
            if do_shrink:
                def still(g2, ins2, target=target, kind=kind):
                    try:
                        f = checker.failure(target, g2, ins2)
                    except Unsupported:
                        return False
                    return f is not None and f[0] == kind
                g, ins = shrink(graph, inputs, still)
                try:
                    f = checker.failure(target, g, ins)
                    detail = f[1] if f else detail
                except Unsupported:
                    pass
            finding = Finding(kind, target, detail, g, ins, i)
            stats.findings.append(finding)
            if out is not None:
                if len(stats.findings) <= max_reports:
                    out(finding.report())
                else:
                    out(f"=== {kind} on {target} (program {i}): {detail.splitlines()[0][:200]}")
        i += 1
    return stats
