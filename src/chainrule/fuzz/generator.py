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

import numpy as np

from ..ir import (REGISTRY, Graph, GraphBuilder, IRTypeError, RuleTable, TensorType, Value, get_op, make_node,
                  ops_with)
from ..ir.dtypes import ALL_DTYPES, bool_, dtype as as_dtype
from ..testing import sample_array

# --- which ops are inexact, and which must not see inexact inputs -------------------------

# The ops' own traits (ir/opdefs.py): inexact ones round a transcendental; discontinuous ones jump when
# a float input moves by one ulp, or amplify such a move beyond any tolerance (sine of 1e18: one ulp
# of the argument is many periods; atan2(±0, x < 0) = ±pi, and a float dot or sum may round a zero's
# sign either way).
TRANSCENDENTAL = ops_with("inexact")
DISCONTINUOUS = ops_with("discontinuous")


def node_is_inexact(node) -> bool:
    """True when backends may legitimately differ in the last bits of this node's float results."""
    name = node.op.name
    if not any(r.dtype.is_float for r in node.results):
        return False
    if name in TRANSCENDENTAL or name == "dot_general":
        return True
    if name == "reduce" and node.attrs["kind"] in ("sum", "prod"):
        return True
    if name == "scatter" and node.attrs["kind"] == "add":
        return True
    return any(node_is_inexact(n) for region in node.regions for n in region.walk())


def inexact_values(graph: Graph) -> dict[int, np.dtype]:
    """ids of the float values of `graph` that may carry rounding differences between backends, each
    with the coarsest float dtype those differences arose in: a float32 tanh converted to float64
    differs by float32 ulps, so it is compared with float32's tolerance."""
    tainted: dict[int, np.dtype] = {}
    for node in graph.nodes:
        sources = [tainted[id(v)] for v in node.operands if id(v) in tainted]
        if node_is_inexact(node):
            sources += [np.dtype(r.dtype.np) for r in node.results if r.dtype.is_float]
        if sources:
            coarsest = min(sources, key=lambda d: d.itemsize)
            tainted.update((id(r), coarsest) for r in node.results if r.dtype.is_float)
    return tainted


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
    dtypes: tuple = field(default_factory=lambda: tuple(d.name for d in ALL_DTYPES))
    ops: tuple | None = None  # restrict to these ops (default: every op with a maker)
    subnormals: bool = True  # False: constants hold no subnormals (for backends that flush them)
    # The share of steps that build one of the patterns the optimizer looks for (`PASS_PATTERNS`:
    # special-constant splats, double negations, transposes of transposes, full slices, repeated
    # subexpressions, reductions fusion must not cross...) instead of one random op; the pass tests
    # set it (`pass_test_config`).
    pass_patterns: float = 0.0


class _Skip(Exception):
    """A maker could not build its op from what the graph holds; another op is tried."""


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
            raise _Skip
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
                raise _Skip
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
        """Type-check, then add the node; a rejected or oversized node raises _Skip."""
        try:
            node = make_node(op, operands, attrs, regions)
        except IRTypeError:
            raise _Skip from None
        if any(r.type.size > self.cfg.max_elements or r.ndim > self.cfg.max_rank + 1 for r in node.results):
            raise _Skip
        self.b.add_node(node)
        if node_is_inexact(node) or any(id(v) in self.tainted for v in operands):
            self.tainted.update(id(r) for r in node.results if r.dtype.is_float)
        self.pool.extend(node.results)
        return node.results

    # -- the graph --
    def ops(self) -> list[str]:
        names = self.cfg.ops or tuple(REGISTRY)
        ok = [n for n in names if n in MAKERS or n in _generic_elementwise()]
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
                maker = MAKERS.get(op) or _generic_elementwise()[op]
            try:
                last = maker(self, op)
                made += 1
            except _Skip:
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
                raise _Skip
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


# --- makers, one per op -------------------------------------------------------------------

_KINDS_CACHE: dict[str, str] = {}


def accepted_kinds(op: str, n: int) -> str:
    """Dtype kinds an elementwise op accepts, found by asking its type rule (cached)."""
    if op not in _KINDS_CACHE:
        opdef = get_op(op)
        ok = ""
        for d in ALL_DTYPES:
            try:
                opdef.result_types((TensorType((), d),) * n, opdef.normalize_attrs({}))
                ok += d.kind
            except IRTypeError:
                pass
        _KINDS_CACHE[op] = ok
    return _KINDS_CACHE[op]


def _elementwise(gen: GraphGenerator, op: str):
    opdef = get_op(op)
    n = opdef.num_operands
    kinds = accepted_kinds(op, n)
    if not kinds:
        raise _Skip
    exact = op in DISCONTINUOUS
    x = gen.operand(kinds, exact)
    rest = [gen.like(x.type, exact) for _ in range(n - 1)]
    return gen.emit(op, [x, *rest], {})


_GENERIC: dict | None = None


def _generic_elementwise() -> dict:
    """Every registered elementwise op without attributes and with a fixed operand count."""
    global _GENERIC
    if _GENERIC is None:
        _GENERIC = {name: _elementwise for name, op in REGISTRY.items()
                    if op.elementwise and op.num_operands and not op.attrs and op.num_regions == 0}
    return _GENERIC


def _constant(gen, op):
    t = TensorType(gen.shape(), gen.dtype())
    v = gen.b.constant(gen.constant_value(t), t.dtype)
    gen.pool.append(v)
    return (v,)


def _iota(gen, op):
    shape = gen.shape(min_rank=1)
    return gen.emit("iota", [], {"shape": shape, "dtype": gen.dtype("if"), "dimension": gen.rnd.randrange(len(shape))})


def _compare(gen, op):
    x = gen.operand("bif", exact=True)
    y = gen.like(x.type, exact=True)
    return gen.emit("compare", [x, y], {"direction": gen.rnd.choice(("EQ", "NE", "LT", "LE", "GT", "GE"))})


def _select(gen, op):
    x = gen.operand()
    y = gen.like(x.type)
    p = gen.like(x.type.with_dtype(bool_), exact=True)
    return gen.emit("select", [p, x, y], {})


def _clamp(gen, op):
    x = gen.operand("if")
    return gen.emit("clamp", [gen.like(x.type), x, gen.like(x.type)], {})


def _convert(gen, op):
    x = gen.operand()
    kinds = "f" if id(x) in gen.tainted else "bif"
    return gen.emit("convert", [x], {"dtype": gen.dtype(kinds)})


def _broadcast_in_dim(gen, op):
    x = gen.operand()
    rank = gen.rnd.randint(x.ndim, gen.cfg.max_rank + 1)
    dims = tuple(sorted(gen.rnd.sample(range(rank), x.ndim)))
    shape = [gen.dim() for _ in range(rank)]
    for i, d in enumerate(dims):
        shape[d] = x.shape[i] if x.shape[i] != 1 or gen.rnd.random() < 0.5 else shape[d]
    return gen.emit("broadcast_in_dim", [x], {"shape": tuple(shape), "broadcast_dimensions": dims})


def _factor(n: int, rnd: random.Random, max_rank: int) -> list[int]:
    dims = []
    k = 2
    while n > 1:
        while n % k:
            k += 1
        dims.append(k)
        n //= k
    rnd.shuffle(dims)
    out = [1] * rnd.randint(1, max_rank)
    for d in dims:
        out[rnd.randrange(len(out))] *= d
    return out


def _reshape(gen, op):
    x = gen.operand()
    if x.type.size == 0:
        shape = list(gen.shape(min_rank=1))
        shape[gen.rnd.randrange(len(shape))] = 0
    elif x.type.size == 1 and gen.rnd.random() < 0.3:
        shape = []
    else:
        shape = _factor(x.type.size, gen.rnd, gen.cfg.max_rank)
    return gen.emit("reshape", [x], {"shape": tuple(shape)})


def _transpose(gen, op):
    x = gen.operand()
    perm = list(range(x.ndim))
    gen.rnd.shuffle(perm)
    return gen.emit("transpose", [x], {"permutation": tuple(perm)})


def _slice(gen, op):
    x = gen.operand(pred=lambda v: v.ndim > 0)
    start, limit, strides = [], [], []
    for n in x.shape:
        s = gen.rnd.randint(0, n)
        start.append(s)
        limit.append(gen.rnd.randint(s, n))
        strides.append(gen.rnd.choice((1, 1, 2, 3)))
    attrs = {"start_indices": tuple(start), "limit_indices": tuple(limit)}
    if gen.rnd.random() < 0.6:
        attrs["strides"] = tuple(strides)
    return gen.emit("slice", [x], attrs)


def _index_scalar(gen) -> Value:
    return gen.like(TensorType((), gen.dtype("i")), exact=True)


def _dynamic_slice(gen, op):
    x = gen.operand()
    sizes = tuple(gen.rnd.randint(0, n) for n in x.shape)
    starts = [_index_scalar(gen) for _ in x.shape]
    return gen.emit("dynamic_slice", [x, *starts], {"slice_sizes": sizes})


def _dynamic_update_slice(gen, op):
    x = gen.operand()
    upd = gen.like(TensorType(tuple(gen.rnd.randint(0, n) for n in x.shape), x.dtype))
    starts = [_index_scalar(gen) for _ in x.shape]
    return gen.emit("dynamic_update_slice", [x, upd, *starts], {})


def _concatenate(gen, op):
    x = gen.operand(pred=lambda v: v.ndim > 0)
    d = gen.rnd.randrange(x.ndim)
    parts = [x]
    for _ in range(gen.rnd.randint(0, 2)):
        shape = list(x.shape)
        shape[d] = gen.dim()
        parts.append(gen.like(TensorType(shape, x.dtype)))
    gen.rnd.shuffle(parts)
    return gen.emit("concatenate", parts, {"dimension": d})


def _pad(gen, op):
    x = gen.operand()
    v = gen.like(TensorType((), x.dtype))
    lo, hi, interior = [], [], []
    for n in x.shape:
        i = gen.rnd.choice((0, 0, 1, 2))
        full = n + max(n - 1, 0) * i
        a = gen.rnd.randint(-full, 2)
        b = gen.rnd.randint(-(full + a) if full + a > 0 else 0, 2)
        lo.append(a), hi.append(b), interior.append(i)
    return gen.emit("pad", [x, v], {"edge_padding_low": tuple(lo), "edge_padding_high": tuple(hi),
                                    "interior_padding": tuple(interior)})


def _reverse(gen, op):
    x = gen.operand()
    dims = tuple(d for d in range(x.ndim) if gen.rnd.random() < 0.5)
    return gen.emit("reverse", [x], {"dimensions": dims})


def _reduce(gen, op):
    x = gen.operand()
    kinds = {"b": ("and", "or", "max", "min"), "i": ("sum", "prod", "max", "min", "and", "or"),
             "f": ("sum", "prod", "max", "min")}[x.dtype.kind]
    dims = tuple(d for d in range(x.ndim) if gen.rnd.random() < 0.6)
    return gen.emit("reduce", [x], {"kind": gen.rnd.choice(kinds), "dimensions": dims})


def _arg(gen, op):
    x = gen.operand("if", exact=True, pred=lambda v: any(n > 0 for n in v.shape))
    d = gen.rnd.choice([i for i, n in enumerate(x.shape) if n > 0])
    return gen.emit(op, [x], {"dimension": d, "index_dtype": gen.dtype("i")})


def _dot_general(gen, op):
    x = gen.operand("if", pred=lambda v: v.ndim > 0)
    dims = list(range(x.ndim))
    gen.rnd.shuffle(dims)
    nb = gen.rnd.randint(0, min(1, len(dims)))
    lb = tuple(dims[:nb])
    nc = gen.rnd.randint(0, min(2, len(dims) - nb))
    lc = tuple(dims[nb:nb + nc])
    # rhs: the paired dimensions in a random order, plus up to one free dimension
    rhs_dims = [("b", i) for i in range(nb)] + [("c", i) for i in range(nc)]
    if gen.rnd.random() < 0.6:
        rhs_dims.append(("f", gen.dim()))
    gen.rnd.shuffle(rhs_dims)
    shape, rb, rc = [], [None] * nb, [None] * nc
    for pos, (kind, i) in enumerate(rhs_dims):
        if kind == "b":
            rb[i] = pos
            shape.append(x.shape[lb[i]])
        elif kind == "c":
            rc[i] = pos
            shape.append(x.shape[lc[i]])
        else:
            shape.append(i)
    y = gen.like(TensorType(shape, x.dtype))
    return gen.emit("dot_general", [x, y], {"lhs_batch": lb, "rhs_batch": tuple(rb), "lhs_contracting": lc,
                                            "rhs_contracting": tuple(rc)})


def _indices(gen, x, axis):
    bd = gen.rnd.randint(0, axis) if gen.rnd.random() < 0.3 else 0
    extra = gen.shape(max_rank=2)
    return bd, gen.like(TensorType(x.shape[:bd] + extra, gen.dtype("i")), exact=True)


def _gather(gen, op):
    x = gen.operand(pred=lambda v: v.ndim > 0)
    axis = gen.rnd.randrange(x.ndim)
    bd, idx = _indices(gen, x, axis)
    return gen.emit("gather", [x, idx], {"axis": axis, "batch_dims": bd})


def _scatter(gen, op):
    x = gen.operand(pred=lambda v: v.ndim > 0)
    axis = gen.rnd.randrange(x.ndim)
    bd, idx = _indices(gen, x, axis)
    ushape = x.shape[:axis] + idx.shape[bd:] + x.shape[axis + 1:]
    upd = gen.like(TensorType(ushape, x.dtype))
    return gen.emit("scatter", [x, idx, upd], {"axis": axis, "batch_dims": bd, "kind": gen.rnd.choice(("add", "set"))})


def _fusion(gen, op):
    """A loop fusion: a few elementwise ops over operands of one type, one or two results."""
    x = gen.operand()
    operands = [x] + [gen.like(x.type) for _ in range(gen.rnd.randint(0, 1))]
    inner = GraphGenerator(random.Random(gen.rnd.getrandbits(64)),
                           GenConfig(**{**gen.cfg.__dict__, "max_params": 0, "max_nodes": 3, "dtypes": (x.dtype.name,)}), name="body")
    for i, v in enumerate(operands):
        p = inner.b.param(v.type, f"a{i}")
        inner.pool.append(p)
        if id(v) in gen.tainted:
            inner.tainted.add(id(p))
    candidates = [n for n in _generic_elementwise() if x.dtype.kind in accepted_kinds(n, get_op(n).num_operands)]
    results = []
    for _ in range(gen.rnd.randint(1, 3)):
        name = gen.rnd.choice(candidates)
        try:
            results.extend(_fusion_step(inner, name, x.type))
        except _Skip:
            continue
    if not results:
        raise _Skip
    keep = [results[-1]] + ([results[0]] if len(results) > 1 and gen.rnd.random() < 0.5 else [])
    body = inner.b.build(keep)
    return gen.emit("fusion", operands, {"kind": "loop"}, [body])


def _fusion_step(inner, name, t):
    exact = name in DISCONTINUOUS
    n = get_op(name).num_operands
    args = [v for v in inner.pool if v.type == t and inner.usable(v, exact)]
    if len(args) < 1:
        raise _Skip
    return inner.emit(name, [inner.rnd.choice(args) for _ in range(n)], {})


# --- control flow and custom derivatives ----------------------------------------------------

MAX_REGION_DEPTH = 2


def _some_operands(gen, lo=1, hi=2):
    return [gen.operand() for _ in range(gen.rnd.randint(lo, hi))]


def _taint(gen, values):
    return [id(v) in gen.tainted for v in values]


def _cond(gen, op):
    pred = gen.like(TensorType((), bool_), exact=True)
    args = _some_operands(gen, 0, 2)
    types = [v.type for v in args]
    first = gen.region("true_branch", types, None, _taint(gen, args))
    other = gen.region("false_branch", types, first.result_types, _taint(gen, args))
    return gen.emit("cond", [pred, *args], {}, [first, other])


def _case(gen, op):
    index = gen.like(TensorType((), "int32"), exact=True)
    args = _some_operands(gen, 0, 2)
    types = [v.type for v in args]
    first = gen.region("branch0", types, None, _taint(gen, args))
    rest = [gen.region(f"branch{k}", types, first.result_types, _taint(gen, args))
            for k in range(1, gen.rnd.randint(1, 3))]
    return gen.emit("case", [index, *args], {}, [first, *rest])


def _while(gen, op):
    """A counted loop: the carry starts with an int32 counter from a small constant, and cond
    compares it with a constant bound, so every loop ends within a few trips."""
    counter = gen.b.constant(np.int32(gen.rnd.randint(-1, 2)))
    args = [counter, *_some_operands(gen, 0, 2)]
    types = [v.type for v in args]
    loop_taint = [False] + [True] * (len(args) - 1)  # a float carried round a loop may pick up rounding
    cb = GraphBuilder("cond")
    ps = [cb.param(t, f"a{i}") for i, t in enumerate(types)]
    bound = cb.constant(np.int32(gen.rnd.randint(0, 4)))
    cond = cb.build([cb.emit("compare", [ps[0], bound], {"direction": "LT"}).results[0]])
    body = _while_body(gen, types, loop_taint)
    return gen.emit("while", args, {}, [cond, body])


def _while_body(gen, types, tainted):
    inner_types = types[1:]
    cfg = GenConfig(**{**gen.cfg.__dict__, "max_params": 0, "max_nodes": 3})
    inner = GraphGenerator(random.Random(gen.rnd.getrandbits(64)), cfg, name="body", depth=gen.depth + 1)
    counter = inner.b.param(types[0], "a0")
    for i, t in enumerate(inner_types, 1):
        p = inner.b.param(t, f"a{i}")
        inner.pool.append(p)
        if tainted[i] and t.dtype.is_float:
            inner.tainted.add(id(p))
    inner.grow(gen.rnd.randint(0, 3))
    one = inner.b.constant(np.int32(1))
    step = inner.b.emit("add", [counter, one], {}).results[0]
    return inner.b.build([step] + [inner.like(t) for t in inner_types])


def _scan(gen, op):
    length = gen.rnd.choice((0, 1, 2, 3))
    consts = _some_operands(gen, 0, 1)
    carry = _some_operands(gen, 1, 2)
    xs = [gen.like(TensorType((length,) + gen.shape(max_rank=2), gen.dtype())) for _ in range(gen.rnd.randint(0, 2))]
    slices = [TensorType(x.shape[1:], x.dtype) for x in xs]
    ptypes = [v.type for v in consts + carry] + slices
    tainted = _taint(gen, consts) + [True] * (len(carry) + len(xs))
    cfg = GenConfig(**{**gen.cfg.__dict__, "max_params": 0, "max_nodes": 3})
    inner = GraphGenerator(random.Random(gen.rnd.getrandbits(64)), cfg, name="body", depth=gen.depth + 1)
    for i, t in enumerate(ptypes):
        p = inner.b.param(t, f"a{i}")
        inner.pool.append(p)
        if tainted[i] and t.dtype.is_float:
            inner.tainted.add(id(p))
    inner.grow(gen.rnd.randint(0, 3))
    new_carry = [inner.like(v.type) for v in carry]
    ys = gen.rnd.sample(inner.pool, min(len(inner.pool), gen.rnd.randint(0, 2)))
    body = inner.b.build(new_carry + ys)
    attrs = {"num_consts": len(consts), "num_carry": len(carry), "length": length, "reverse": gen.rnd.random() < 0.3}
    return gen.emit("scan", consts + carry + xs, attrs, [body])


def _custom_jvp_call(gen, op):
    args = _some_operands(gen, 1, 2)
    types = [v.type for v in args]
    primal = gen.region("primal", types, None, _taint(gen, args))
    jvp = gen.region("jvp", types * 2, list(primal.result_types) * 2, _taint(gen, args) * 2)
    return gen.emit("custom_jvp_call", args, {}, [primal, jvp])


def _custom_vjp_call(gen, op):
    args = _some_operands(gen, 1, 2)
    types = [v.type for v in args]
    primal = gen.region("primal", types, None, _taint(gen, args))
    outs = list(primal.result_types)
    residuals = [TensorType(gen.shape(), gen.dtype()) for _ in range(gen.rnd.randint(0, 1))]
    fwd = gen.region("fwd", types, outs + residuals, _taint(gen, args))
    bwd = gen.region("bwd", residuals + outs, types)
    return gen.emit("custom_vjp_call", args, {}, [primal, fwd, bwd])


def _call_like(gen, op):
    """An op that applies its one region to its operands (remat, call): random enum attributes."""
    args = _some_operands(gen, 0, 2)
    body = gen.region("body", [v.type for v in args], None, _taint(gen, args))
    attrs = {name: gen.rnd.choice(spec.choices) for name, spec in get_op(op).attrs.items() if spec.kind == "enum"}
    return gen.emit(op, args, attrs, [body])


# --- patterns the optimizer looks for (GenConfig.pass_patterns) ---------------------------------

SPECIAL_FLOATS = (0.0, -0.0, 1.0, -1.0, 2.0, 0.5, -0.5, 4.0, 3.0, float("nan"), float("inf"), float("-inf"))
SPECIAL_INTS = (0, 1, -1, 2, 3)
# Exponents whose power rewrites are bit-exact in the reference (see passes/simplify.py for 1, 2, -1).
SAFE_EXPONENTS = (0.0, 3.0, 1.5, -2.0)
FLOAT_BINARY = ("add", "subtract", "multiply", "divide", "maximum", "minimum", "power", "atan2", "remainder")
INT_BINARY = ("add", "subtract", "multiply", "maximum", "minimum", "and", "or", "xor")


def _one(results):
    return results[0]


def _splat(gen, t: TensorType, scalar) -> Value:
    """`scalar` filling type `t`: a broadcast scalar constant, sometimes a dense literal."""
    c = gen.b.constant(np.asarray(scalar, dtype=t.dtype.np).reshape(()))
    if t.shape == ():
        return c
    if gen.rnd.random() < 0.25:
        return gen.b.constant(np.full(t.shape, scalar, dtype=t.dtype.np))
    return _one(gen.emit("broadcast_in_dim", [c], {"shape": t.shape, "broadcast_dimensions": ()}))


def _special(gen, t: TensorType) -> Value:
    return _splat(gen, t, gen.rnd.choice(SPECIAL_FLOATS if t.dtype.is_float else SPECIAL_INTS))


def _float(gen, pred=lambda v: True, exact=False) -> Value:
    return gen.operand("f", exact, pred)


def _same_type(gen, x, exact=False) -> Value:
    return gen.like(x.type, exact)


def _p_special_operand(gen, op=None):  # x op c, c op x with c a special constant (or x op y)
    x = _float(gen)
    op = gen.rnd.choice(FLOAT_BINARY)
    if op == "power":
        y = _splat(gen, x.type, gen.rnd.choice(SAFE_EXPONENTS))
    else:
        y = _same_type(gen, x) if gen.rnd.random() < 0.5 else _special(gen, x.type)
    return gen.emit(op, [x, y] if gen.rnd.random() < 0.67 else [y, x], {})


def _p_scale(gen, op=None):  # x * {1, -1, 0.5, 2}, x / {1, -1, 2, 0.25, 3}, x + ±0, ±0 - x
    x = _float(gen)
    op, consts = gen.rnd.choice((("multiply", (1.0, -1.0, 0.5, 2.0)), ("divide", (1.0, -1.0, 2.0, 0.25, 3.0)),
                                 ("add", (0.0, -0.0)), ("subtract", (0.0, -0.0))))
    c = _splat(gen, x.type, gen.rnd.choice(consts))
    return gen.emit(op, [c, x] if op == "subtract" else [x, c], {})


def _p_divide_negations(gen, op=None):  # (-x) / (-y)
    x = _float(gen)
    y = _same_type(gen, x)
    return gen.emit("divide", [_one(gen.emit("negate", [x], {})), _one(gen.emit("negate", [y], {}))], {})


def _p_double_negation(gen, op=None):  # -(-x)
    return gen.emit("negate", [_one(gen.emit("negate", [_float(gen)], {}))], {})


def _p_transpose_twice(gen, op=None):
    x = _float(gen, lambda v: v.ndim >= 2)
    p = tuple(reversed(range(x.ndim)))
    return gen.emit("transpose", [_one(gen.emit("transpose", [x], {"permutation": p}))], {"permutation": p})


def _p_reshape_twice(gen, op=None):
    x = _float(gen)
    flat = _one(gen.emit("reshape", [x], {"shape": (x.type.size,)}))
    return gen.emit("reshape", [flat], {"shape": x.shape})


def _p_convert_same(gen, op=None):  # convert to the same dtype, or through float64 and back
    x = _float(gen)
    if gen.rnd.random() < 0.5:
        return gen.emit("convert", [x], {"dtype": x.dtype})
    wide = _one(gen.emit("convert", [x], {"dtype": "float64"}))
    return gen.emit("convert", [wide], {"dtype": x.dtype})


def _p_full_slice(gen, op=None):
    x = _float(gen)
    return gen.emit("slice", [x], {"start_indices": (0,) * x.ndim, "limit_indices": x.shape,
                                   "strides": (1,) * x.ndim})


def _p_empty_reduce(gen, op=None):
    return gen.emit("reduce", [_float(gen)], {"kind": gen.rnd.choice(("sum", "max")), "dimensions": ()})


def _p_select_compare(gen, op=None):  # select(x < y, x, y), select(splat bool, x, y), select(not not not p, x, y)
    x = _float(gen, exact=True)
    y = _same_type(gen, x, exact=True)
    k = gen.rnd.randrange(3)
    if k == 1:
        return gen.emit("select", [_splat(gen, x.type.with_dtype(bool_), gen.rnd.random() < 0.5), x, y], {})
    p = _one(gen.emit("compare", [x, y], {"direction": gen.rnd.choice(("LT", "EQ", "GE", "NE"))}))
    if k == 2:
        for _ in range(3):
            p = _one(gen.emit("not", [p], {}))
    return gen.emit("select", [p, x, y], {})


def _p_slice_twice(gen, op=None):
    x = _float(gen, lambda v: v.ndim >= 1 and v.shape[-1] >= 3)
    n = x.ndim
    s1 = _one(gen.emit("slice", [x], {"start_indices": (0,) * (n - 1) + (1,), "limit_indices": x.shape,
                                      "strides": (1,) * n}))
    return gen.emit("slice", [s1], {"start_indices": (0,) * n, "limit_indices": s1.shape,
                                    "strides": (1,) * (n - 1) + (2,)})


def _p_reduce_broadcast(gen, op=None):
    x = _float(gen, lambda v: v.ndim >= 1)
    big = _one(gen.emit("broadcast_in_dim", [x], {"shape": (2,) + x.shape,
                                                 "broadcast_dimensions": tuple(range(1, x.ndim + 1))}))
    return gen.emit("reduce", [big], {"kind": gen.rnd.choice(("sum", "max", "min")), "dimensions": (0,)})


def _p_trivial_moves(gen, op=None):  # reverse of size-1 dimensions, one-operand concatenate, zero padding, constant slices
    x = _float(gen)
    k = gen.rnd.randrange(3)
    if k == 0:
        y = _one(gen.emit("concatenate", [x], {"dimension": 0})) if x.ndim else x
        return gen.emit("reverse", [y], {"dimensions": tuple(d for d in range(x.ndim) if x.shape[d] == 1)})
    if k == 1:
        zero = gen.b.constant(np.zeros((), x.dtype.np))
        return gen.emit("pad", [x, zero], {"edge_padding_low": (0,) * x.ndim, "edge_padding_high": (0,) * x.ndim})
    starts = [gen.b.constant(np.int32(gen.rnd.randrange(3))) for _ in range(x.ndim)]
    return gen.emit("dynamic_slice", [x, *starts], {"slice_sizes": x.shape})


def _p_constant_reduce(gen, op=None):  # sum(exp(a dense special constant)): folding
    dt = gen.dtype("f")
    big = gen.b.constant(np.full((4, 5), gen.rnd.choice(SPECIAL_FLOATS), dtype=dt.np))
    return gen.emit("reduce", [_one(gen.emit("exponential", [big], {}))], {"kind": "sum", "dimensions": (0, 1)})


def _p_repeated(gen, op=None):  # op(x, y) - op(y, x): CSE of commuted operands
    x = _float(gen)
    y = _same_type(gen, x)
    op = gen.rnd.choice(("add", "multiply", "maximum"))
    return gen.emit("subtract", [_one(gen.emit(op, [x, y], {})), _one(gen.emit(op, [y, x], {}))], {})


def _p_reduce_back(gen, op=None):  # x - broadcast(reduce(x)): softmax-like, fusion must not make a cycle
    x = _float(gen, lambda v: v.ndim >= 1)
    dims = tuple(d for d in range(x.ndim) if gen.rnd.random() < 0.5) or (0,)
    r = _one(gen.emit("reduce", [x], {"kind": gen.rnd.choice(("sum", "max", "min", "prod")), "dimensions": dims}))
    keep = tuple(d for d in range(x.ndim) if d not in dims)
    back = _one(gen.emit("broadcast_in_dim", [r], {"shape": x.shape, "broadcast_dimensions": keep}))
    return gen.emit("subtract", [x, back], {})


def _p_broadcast_twice(gen, op=None):
    x = _float(gen, lambda v: v.ndim == 1)
    y = _one(gen.emit("broadcast_in_dim", [x], {"shape": (2, x.shape[0]), "broadcast_dimensions": (1,)}))
    return gen.emit("broadcast_in_dim", [y], {"shape": (2, 2, x.shape[0]), "broadcast_dimensions": (0, 2)})


def _p_dot_transposed(gen, op=None):  # x @ x.T: fusion must not cross a dot
    x = _float(gen, lambda v: v.ndim == 2)
    xt = _one(gen.emit("transpose", [x], {"permutation": (1, 0)}))
    return gen.emit("dot_general", [x, xt], {"lhs_contracting": (1,), "rhs_contracting": (0,)})


def _p_integer(gen, op=None):  # i op c; then r == r, r - r or r * c
    i = gen.operand("i")
    op = gen.rnd.choice(INT_BINARY)
    y = _same_type(gen, i) if gen.rnd.random() < 0.5 else _special(gen, i.type)
    r = _one(gen.emit(op, [i, y], {}))
    k = gen.rnd.randrange(4)
    if k == 0:
        return gen.emit("compare", [r, r], {"direction": gen.rnd.choice(("EQ", "LT", "GE"))})
    if k == 1:
        return gen.emit("subtract", [r, r], {})
    if k == 2:
        return gen.emit("multiply", [r, _special(gen, i.type)], {})
    return (r,)


PASS_PATTERNS = (_p_special_operand, _p_special_operand, _p_scale, _p_divide_negations, _p_double_negation,
                 _p_transpose_twice, _p_reshape_twice, _p_convert_same, _p_full_slice, _p_empty_reduce,
                 _p_select_compare, _p_slice_twice, _p_reduce_broadcast, _p_trivial_moves, _p_constant_reduce,
                 _p_repeated, _p_reduce_back, _p_broadcast_twice, _p_dot_transposed, _p_integer)

# The ops the pass tests' graphs are drawn from besides the patterns: elementwise math, the data
# movement the simplifier rewrites, reductions and dots fusion must not cross.
PASS_TEST_OPS = ("negate", "abs", "sign", "exponential", "exponential_minus_one", "log", "log_plus_one", "sqrt",
                 "rsqrt", "sine", "cosine", "tanh", "logistic", "floor", "ceil", "round_nearest_even", "is_finite",
                 *FLOAT_BINARY, "and", "or", "xor", "not", "compare", "select", "convert", "broadcast_in_dim",
                 "reshape", "transpose", "slice", "dynamic_slice", "concatenate", "pad", "reverse", "reduce",
                 "dot_general", "constant")


def pass_test_config(**changes) -> GenConfig:
    """The graphs the pass tests draw: `PASS_TEST_OPS`, half the steps a `PASS_PATTERNS` pattern."""
    base = dict(max_nodes=14, max_params=3, dtypes=("float32", "float64", "int32", "bool"), ops=PASS_TEST_OPS,
                pass_patterns=0.5)
    return GenConfig(**{**base, **changes})


# One maker per op: a specific one, or the generic elementwise maker (every elementwise op without
# attributes gets it, so a new such op is generated without an entry here).
MAKERS = RuleTable("fuzz generator")
MAKERS.update({
    "constant": _constant, "iota": _iota, "compare": _compare, "select": _select, "clamp": _clamp,
    "convert": _convert, "broadcast_in_dim": _broadcast_in_dim, "reshape": _reshape, "transpose": _transpose,
    "slice": _slice, "dynamic_slice": _dynamic_slice, "dynamic_update_slice": _dynamic_update_slice,
    "concatenate": _concatenate, "pad": _pad, "reverse": _reverse, "reduce": _reduce, "argmax": _arg,
    "argmin": _arg, "dot_general": _dot_general, "gather": _gather, "scatter": _scatter, "fusion": _fusion,
    "cond": _cond, "case": _case, "while": _while, "scan": _scan, "custom_jvp_call": _custom_jvp_call,
    "custom_vjp_call": _custom_vjp_call, "remat": _call_like,
})
for _name in sorted(_generic_elementwise()):
    if _name not in MAKERS:
        MAKERS[_name] = _elementwise
MAKERS.exempt("custom_vjp_lin",
              "only reverse-mode autodiff makes it and its transpose consumes it; no backend evaluates it")
NOT_GENERATED = MAKERS.exemptions  # ops the generator never makes, with the reason


def generator_table() -> dict:
    """Op name -> how the generator makes it (a specific maker, or the generic elementwise one)."""
    return {name: ("elementwise" if fn is _elementwise else fn.__name__) for name, fn in MAKERS.items()}


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
    if a.dtype.kind != "f":
        return a
    sub = (a != 0) & (np.abs(a) < np.finfo(a.dtype).tiny)
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


__all__ = ["DISCONTINUOUS", "GenConfig", "GraphGenerator", "MAKERS", "PASS_PATTERNS", "PASS_TEST_OPS",
           "TRANSCENDENTAL", "generate_graph", "generator_table", "graphs", "graphs_with_inputs", "inexact_values",
           "node_is_inexact", "pass_test_config", "random_inputs"]
