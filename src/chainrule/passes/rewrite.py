"""Rewrites and the one worklist driver that runs sets of them to a fixed point.

A rewrite is a small function `rule(node, rw) -> replacement | None` that
matches ONE node and returns the values that replace its results (a Value or
a sequence of Values) or None. Its formula sits beside it as a comment and in
its `formula`, e.g. `# x * 1 -> x`. Rules are registered into a
`RewriteSet`, keyed by the op they match; sets are values and combine with
`|` (`FOLD | SIMPLIFY`).

The driver walks the graph once in SSA order. Each node's operands are
already rewritten, and every node a rule builds (through `rw.op`) is itself
rewritten before it is kept, so when the walk ends no rule matches anywhere:
the fixed point is reached in one linear sweep, as long as rules look only at
a node and its producers (all ours do). With `cse=True` the driver also
hash-conses the nodes it keeps (canonicalize = fold + simplify + CSE at once).
Nodes left without users by the rewrites are dropped at the end (a DCE
sweep), so the output holds no garbage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..ir import Graph, Literal, Node, Value, get_op, make_node, node_key
from .graphutil import rebuild_node

# How deeply the rules may build nodes that are themselves rewritten; a rule set
# that loops (x -> y -> x) hits this and is reported instead of hanging.
MAX_REWRITE_DEPTH = 64


# Regions the driver leaves alone: a fusion region obeys the loop-nest rules of
# fusion_form.py, which general rewrites could break (x * 1 -> x may turn a
# result into a parameter; a reduce of a broadcast may become a reshape).
OPAQUE_REGIONS = frozenset({"fusion"})


class RewriteLoopError(RuntimeError):
    """Rules kept rewriting each other's output: the rule set does not terminate."""


@dataclass(frozen=True)
class Rewrite:
    """One rule: `fn(node, rw)` for nodes whose op is in `ops` (empty: every op)."""

    name: str
    fn: Callable
    ops: tuple[str, ...]
    formula: str = ""
    fast_math: bool = False  # applies only when fast-math is asked for

    def __call__(self, node, rw):
        return self.fn(node, rw)


@dataclass(frozen=True)
class RewriteSet:
    """An immutable collection of rewrites; combine with `|`."""

    rules: tuple[Rewrite, ...] = ()
    name: str = ""

    def __or__(self, other: "RewriteSet") -> "RewriteSet":
        seen = {id(r.fn) for r in self.rules}
        extra = tuple(r for r in other.rules if id(r.fn) not in seen)
        return RewriteSet(self.rules + extra, f"{self.name}|{other.name}".strip("|"))

    def __len__(self):
        return len(self.rules)

    def __iter__(self):
        return iter(self.rules)

    def table(self, fast_math: bool) -> dict:
        """Rules keyed by op name ('*' for rules that match any op)."""
        out: dict[str, list[Rewrite]] = {}
        for r in self.rules:
            if r.fast_math and not fast_math:
                continue
            for op in r.ops or ("*",):
                out.setdefault(op, []).append(r)
        return {k: tuple(v) for k, v in out.items()}


class RuleRegistry:
    """Collects rules with a decorator into a `RewriteSet` (one per module)."""

    def __init__(self, name: str):
        self.name = name
        self._rules: list[Rewrite] = []

    def __call__(self, *ops: str, formula: str = "", fast_math: bool = False):
        for op in ops:
            get_op(op)  # fail early on a misspelt op name

        def deco(fn):
            self._rules.append(Rewrite(fn.__name__, fn, tuple(ops), formula, fast_math))
            return fn
        return deco

    @property
    def set(self) -> RewriteSet:
        return RewriteSet(tuple(self._rules), self.name)


@dataclass
class RewriteStats:
    applied: dict = field(default_factory=dict)  # rule name -> count


class Rewriter:
    """What a rule sees besides its node: options, and `op`/`constant` to build replacements."""

    def __init__(self, table: dict, fast_math: bool, options: dict | None = None, cse: bool = False):
        self.table = table
        self.any_rules = table.get("*", ())
        self.fast_math = fast_math
        self.options = options or {}
        self.cse = cse
        self.nodes: list[Node] = []
        self.stats = RewriteStats()
        self._depth = 0
        self._cse: dict = {}
        self._made: dict = {}

    # -- building replacements -------------------------------------------------------
    def op(self, opname: str, *operands: Value, **attrs):
        """Build `opname(operands)` (rewritten in turn) and return its result(s)."""
        node = make_node(opname, operands, attrs)
        # what rules build is hash-consed, so two rules making the same splat share it
        key = node_key(node.op, node.operands, node.attrs)
        vals = self._made.get(key) if key is not None else None
        if vals is None:
            vals = self.emit(node)
            if key is not None:
                self._made[key] = vals
        return vals[0] if len(vals) == 1 else tuple(vals)

    def constant(self, array, dtype=None) -> Value:
        lit = Literal(np.asarray(array), dtype)
        return self.op("constant", value=lit)

    def splat(self, scalar, like: Value) -> Value:
        """A tensor of `like`'s type filled with `scalar` (a scalar constant, broadcast)."""
        c = self.constant(np.asarray(scalar, dtype=like.dtype.np).reshape(()), like.dtype)
        if like.shape == ():
            return c
        return self.op("broadcast_in_dim", c, shape=like.shape, broadcast_dimensions=())

    # -- the driver --------------------------------------------------------------------
    def emit(self, node: Node) -> Sequence[Value]:
        """Rewrite `node` (its operands are final) to a fixed point; keep what remains."""
        rules = self.table.get(node.op.name, ())
        if rules or self.any_rules:
            self._depth += 1
            try:
                if self._depth > MAX_REWRITE_DEPTH:
                    raise RewriteLoopError(
                        f"rewrites nested deeper than {MAX_REWRITE_DEPTH} on a {node.op.name} node: "
                        "the rule set does not terminate (two rules undo each other?)")
                for rule in rules + self.any_rules:
                    out = rule(node, self)
                    if out is None:
                        continue
                    vals = (out,) if isinstance(out, Value) else tuple(out)
                    _check_replacement(rule, node, vals)
                    self.stats.applied[rule.name] = self.stats.applied.get(rule.name, 0) + 1
                    return vals
            finally:
                self._depth -= 1
        if self.cse and not node.regions:
            key = node_key(node.op, node.operands, node.attrs)
            if key is not None:
                prev = self._cse.get(key)
                if prev is not None:
                    return prev.results
                self._cse[key] = node
        self.nodes.append(node)
        return node.results


def _check_replacement(rule: Rewrite, node: Node, vals):
    want = [r.type for r in node.results]
    got = [v.type for v in vals]
    if want != got:
        raise TypeError(
            f"rewrite {rule.name} ({rule.formula or 'no formula'}) replaced {node.op.name} of type(s) "
            f"{', '.join(map(str, want))} by value(s) of type(s) {', '.join(map(str, got))}")


def apply_rewrites(graph: Graph, rules: RewriteSet, fast_math: bool = False, options: dict | None = None,
                   cse: bool = False, stats: RewriteStats | None = None) -> Graph:
    """Run `rules` over `graph` and its regions to a fixed point; returns a new graph."""
    from .dce import dce_graph
    table = rules.table(fast_math)
    rw = Rewriter(table, fast_math, options, cse)
    env: dict = {}
    for node in graph.nodes:
        operands = [env.get(v, v) for v in node.operands]
        regions = None
        if node.regions and node.op.name not in OPAQUE_REGIONS:
            regions = [apply_rewrites(r, rules, fast_math, options, cse, rw.stats) for r in node.regions]
        new = rebuild_node(node, operands, regions)
        vals = rw.emit(new)
        for old, v in zip(node.results, vals):
            if v is not old:
                env[old] = v
    results = [env.get(v, v) for v in graph.results]
    if stats is not None and stats is not rw.stats:
        for k, n in rw.stats.applied.items():
            stats.applied[k] = stats.applied.get(k, 0) + n
    return dce_graph(Graph(graph.name, graph.params, rw.nodes, results))
