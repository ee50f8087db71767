"""Random well-typed graphs drawn from the op registry, and inputs full of edge values.

`generate_graph(random.Random(seed))` builds a small graph: a few parameters
and constants, then nodes picked from `MAKERS` (one maker per op, keyed by op
name, so `tests/test_fuzz_generator.py` can check every registered op has
one), each fed with values already in the graph or with values made to fit
(a `convert`, a `broadcast_in_dim`, a new parameter or constant). Shapes
include empty and size-1 dimensions.

Results of inexact float ops (transcendentals, float power, float dot and
sum/prod reductions) may differ by a few ulps between backends; such values
are never fed to ops that would turn a tiny difference into a different
answer (compare, floor, convert to integer, argmax, ...), so that any
backend disagreement the fuzzer reports is a real one. `inexact_values`
recomputes that taint for any graph, for the comparison tolerances.

The pass tests draw from this generator too: `pass_test_config()` sets
`GenConfig.pass_patterns`, so that half the steps build one of
`PASS_PATTERNS`, the shapes the optimizer rewrites (special-constant splats,
double negations, transposes of transposes, full slices, ...).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import ml_dtypes
import numpy as np

from ..ir import REGISTRY, Graph, GraphBuilder, IRTypeError, TensorType, Value, get_op, make_node
from ..ir.dtypes import REAL_DTYPES, dtype as as_dtype
from ..testing import sample_array
from .compare import is_float_array
from .inexact import DISCONTINUOUS, TRANSCENDENTAL, inexact_values, node_is_inexact
from .makers import MAKERS, MAX_REGION_DEPTH, NOT_GENERATED, Skip, generator_table, generic_elementwise
from .patterns import PASS_PATTERNS, PASS_TEST_OPS

# --- configuration ----------------------------------------------------------------------------

@dataclass
class GenConfig:
    """Bounds of the random graphs; the defaults keep each graph fast on the reference backend."""

    max_nodes: int = 10
    max_params: int = 3
    max_rank: int = 3
    max_dim: int = 4
    max_elements: int = 512
    empty_prob: float = 0.06
    one_prob: float = 0.2
    # complex dtypes are drawn once the complex ops land (issue 18); every real dtype is drawn
    dtypes: tuple = field(default_factory=lambda: tuple(d.name for d in REAL_DTYPES))
    ops: tuple | None = None  # restrict to these ops (default: every op with a maker)
    subnormals: bool = True  # False: constants hold no subnormals (for backends that flush them)
    # The share of steps that build one of the patterns the optimizer looks for (`PASS_PATTERNS`:
    # special-constant splats, double negations, transposes of transposes, full slices, repeated
    # subexpressions, reductions fusion must not cross...) instead of one random op; the pass tests
    # set it (`pass_test_config`).
    pass_patterns: float = 0.0


class GraphGenerator:
    """Builds one random graph; `MAKERS[op](gen)` adds one node of `op` and returns its results."""

    def __init__(self, rnd: random.Random, config: GenConfig | None = None, name: str = "fuzz", depth: int = 0):
        self.rnd = rnd
        self.depth = depth  # 0 for the graph, 1 inside a region, ...
        self.cfg = config or GenConfig()
        self.np_rng = np.random.default_rng(rnd.getrandbits(64))
        self.b = GraphBuilder(name)
        self.pool: list[Value] = []
        self.tainted: set[int] = set()
        self.dtypes = tuple(as_dtype(d) for d in self.cfg.dtypes)

    # -- shapes and dtypes --
    def dim(self) -> int:
        r = self.rnd.random()
        if r < self.cfg.empty_prob:
            return 0
        if r < self.cfg.empty_prob + self.cfg.one_prob:
            return 1
        return self.rnd.randint(2, self.cfg.max_dim)

    def shape(self, min_rank=0, max_rank=None) -> tuple[int, ...]:
        hi = self.cfg.max_rank if max_rank is None else max_rank
        return tuple(self.dim() for _ in range(self.rnd.randint(min_rank, max(hi, min_rank))))

    def dtype(self, kinds="bif"):
        ds = [d for d in self.dtypes if d.kind in kinds]
        if not ds:
            raise Skip
        return self.rnd.choice(ds)

    # -- values --
    def leaf(self, t: TensorType) -> Value:
        """A new parameter (while there is room, and of one of the configured dtypes: an index an op
        needs, such as case's int32 selector, is a constant otherwise) or constant of type `t`."""
        if len(self.b.params) < self.cfg.max_params and t.dtype.name in self.cfg.dtypes \
                and self.rnd.random() < 0.6:
            v = self.b.param(t, f"p{len(self.b.params)}")
        elif t.dtype.is_float and t.ndim and self.rnd.random() < 0.15:
            return self.emit("iota", [], {"shape": t.shape, "dtype": t.dtype, "dimension": self.rnd.randrange(t.ndim)})[0]
        else:
            v = self.b.constant(self.constant_value(t), t.dtype)
        self.pool.append(v)
        return v

    def constant_value(self, t: TensorType) -> np.ndarray:
        a = sample_array(self.np_rng, t.shape, t.dtype.np)
        return a if self.cfg.subnormals else flush_subnormals(a)

    def usable(self, v: Value, exact: bool) -> bool:
        return not (exact and id(v) in self.tainted)

    def pick(self, pred=lambda v: True, exact=False) -> Value | None:
        cands = [v for v in self.pool if pred(v) and self.usable(v, exact)]
        if not cands:
            return None
        # prefer recent values, so graphs grow deep rather than wide
        k = len(cands)
        return cands[k - 1 - min(int(min(self.rnd.expovariate(1.0), 50.0) * k / 3), k - 1)]

    def operand(self, kinds="bif", exact=False, pred=lambda v: True) -> Value:
        """An existing value whose dtype kind is in `kinds`, or a new leaf."""
        v = self.pick(lambda v: v.dtype.kind in kinds and pred(v), exact)
        if v is None or self.rnd.random() < 0.15:
            t = TensorType(self.shape(), self.dtype(kinds))
            if not pred(_Probe(t)):
                raise Skip
            return self.leaf(t)
        return v

    def like(self, t: TensorType, exact=False) -> Value:
        """A value of exactly type `t`: an existing one, one converted or broadcast to fit, or a leaf."""
        r = self.rnd.random()
        same = [v for v in self.pool if v.type == t and self.usable(v, exact)]
        if same and r < 0.6:
            return self.rnd.choice(same)
        if r < 0.75:
            src = [v for v in self.pool if v.shape == t.shape and v.dtype != t.dtype and self.usable(v, True)]
            if src:
                return self.emit("convert", [self.rnd.choice(src)], {"dtype": t.dtype})[0]
        if r < 0.9:
            src = [v for v in self.pool if v.dtype == t.dtype and v.ndim < len(t.shape) and self.usable(v, exact)
                   and all(a in (1, b) for a, b in zip(v.shape, t.shape[len(t.shape) - v.ndim:]))]
            if src:
                v = self.rnd.choice(src)
                dims = tuple(range(len(t.shape) - v.ndim, len(t.shape)))
                return self.emit("broadcast_in_dim", [v], {"shape": t.shape, "broadcast_dimensions": dims})[0]
        return self.leaf(t)

    # -- emitting --
    def emit(self, op: str, operands, attrs, regions=()) -> tuple[Value, ...]:
        """Type-check, then add the node; a rejected or oversized node raises Skip."""
        try:
            node = make_node(op, operands, attrs, regions)
        except IRTypeError:
            raise Skip from None
        if any(r.type.size > self.cfg.max_elements or r.ndim > self.cfg.max_rank + 1 for r in node.results):
            raise Skip
        self.b.add_node(node)
        if node_is_inexact(node) or any(id(v) in self.tainted for v in operands):
            self.tainted.update(id(r) for r in node.results if r.dtype.is_float)
        self.pool.extend(node.results)
        return node.results

    # -- the graph --
    def ops(self) -> list[str]:
        names = self.cfg.ops or tuple(REGISTRY)
        ok = [n for n in names if n in MAKERS or n in generic_elementwise()]
        if self.depth >= MAX_REGION_DEPTH:
            ok = [n for n in ok if get_op(n).num_regions == 0]  # None: any number of regions (case)
        return ok

    def grow(self, n: int):
        """Add up to `n` nodes; returns the results of the last one (None if none was made)."""
        ops = self.ops()
        made, last = 0, None
        for _ in range(n * 6):
            if made >= n or not ops:
                break
            if self.cfg.pass_patterns and self.rnd.random() < self.cfg.pass_patterns:
                op, maker = "pattern", self.rnd.choice(PASS_PATTERNS)
            else:
                op = self.rnd.choice(ops)
                maker = MAKERS.get(op) or generic_elementwise()[op]
            try:
                last = maker(self, op)
                made += 1
            except Skip:
                continue
        return last

    def region(self, name: str, param_types, result_types=None, tainted=(), nodes: int = 3) -> Graph:
        """A closed sub-graph taking `param_types`; it returns `result_types` when given, else 1-2
        values it computed. Parameters flagged in `tainted` count as inexact inside it."""
        cfg = GenConfig(**{**self.cfg.__dict__, "max_params": 0, "max_nodes": nodes})
        inner = GraphGenerator(random.Random(self.rnd.getrandbits(64)), cfg, name=name, depth=self.depth + 1)
        for i, t in enumerate(param_types):
            p = inner.b.param(t, f"a{i}")
            inner.pool.append(p)
            if i < len(tainted) and tainted[i] and t.dtype.is_float:
                inner.tainted.add(id(p))
        inner.grow(self.rnd.randint(0, nodes))
        if result_types is None:
            computed = [v for v in inner.pool if v.node is not None] or inner.pool
            if not computed:
                raise Skip
            results = self.rnd.sample(computed, min(len(computed), self.rnd.randint(1, 2)))
        else:
            results = [inner.like(t) for t in result_types]
        return inner.b.build(results)

    def graph(self) -> Graph:
        n_params = self.rnd.randint(1, self.cfg.max_params)
        for _ in range(n_params):
            self.leaf(TensorType(self.shape(), self.dtype()))
        last = self.grow(self.rnd.randint(1, self.cfg.max_nodes))
        computed = [v for v in self.pool if v.node is not None]
        results = [last[0]] if last else []
        for v in self.rnd.sample(computed, min(len(computed), self.rnd.randint(0, 2))):
            if v not in results:
                results.append(v)
        if not results:
            results = [self.pool[-1]]
        return self.b.build(results)


class _Probe:
    """Stands in for a Value when a predicate is checked against a type not yet made."""

    def __init__(self, t):
        self.type, self.shape, self.dtype, self.ndim = t, t.shape, t.dtype, t.ndim


def pass_test_config(**changes) -> GenConfig:
    """The graphs the pass tests draw: `PASS_TEST_OPS`, half the steps a `PASS_PATTERNS` pattern."""
    base = dict(max_nodes=14, max_params=3, dtypes=("float32", "float64", "int32", "bool"), ops=PASS_TEST_OPS,
                pass_patterns=0.5)
    return GenConfig(**{**base, **changes})


def generate_graph(rnd: random.Random | int, config: GenConfig | None = None) -> Graph:
    """A random well-typed graph; `rnd` is a `random.Random` or a seed."""
    if not isinstance(rnd, random.Random):
        rnd = random.Random(rnd)
    return GraphGenerator(rnd, config).graph()


def random_inputs(graph: Graph, rng: np.random.Generator | int, edge_fraction: float = 0.3,
                  subnormals: bool = True) -> list[np.ndarray]:
    """Arrays for the parameters of `graph`, about `edge_fraction` of them edge values (NaN, inf,
    -0.0, integer limits); integers otherwise small, so they often land in range as indices.
    `subnormals=False` turns subnormal inputs into zeros of the same sign, for backends that
    flush them (XLA on CPU)."""
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    out = [sample_array(rng, p.shape, p.dtype.np, edge_fraction) for p in graph.params]
    if not subnormals:
        out = [flush_subnormals(a) for a in out]
    return out


def flush_subnormals(a: np.ndarray) -> np.ndarray:
    """`a` with every subnormal float replaced by a zero of the same sign."""
    a = np.asarray(a)
    if not is_float_array(a):
        return a
    sub = (a != 0) & (np.abs(a) < float(ml_dtypes.finfo(a.dtype).smallest_normal))
    return np.where(sub, np.copysign(np.zeros((), a.dtype), a), a).astype(a.dtype)


def graphs(config: GenConfig | None = None):
    """A hypothesis strategy of random graphs (hypothesis is imported only when this is called)."""
    from hypothesis import strategies as st
    return st.builds(lambda r: generate_graph(r, config), st.randoms(use_true_random=False))


def graphs_with_inputs(config: GenConfig | None = None):
    """A hypothesis strategy of (graph, inputs) pairs."""
    from hypothesis import strategies as st

    def make(r):
        g = generate_graph(r, config)
        return g, random_inputs(g, r.getrandbits(64))
    return st.builds(make, st.randoms(use_true_random=False))


__all__ = ["DISCONTINUOUS", "GenConfig", "GraphGenerator", "MAKERS", "NOT_GENERATED", "PASS_PATTERNS", "PASS_TEST_OPS",
           "TRANSCENDENTAL", "generate_graph", "generator_table", "graphs", "graphs_with_inputs", "inexact_values",
           "node_is_inexact", "pass_test_config", "random_inputs"]
