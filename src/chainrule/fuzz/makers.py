"""One maker per op for the fuzzer's generator (generator.py): `MAKERS[op](gen, op)` adds a node.

A maker builds its op from values the generator already holds (or makes to
fit) and raises `Skip` when it cannot; `gen` is the `GraphGenerator`, whose
region generators a maker makes with `type(gen)`. Every elementwise op
without attributes gets the generic maker, so a new such op needs no entry.
"""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np

from ..ir import REGISTRY, GraphBuilder, IRTypeError, RuleTable, TensorType, Value, get_op
from ..ir.dtypes import ALL_DTYPES, bool_
from .inexact import DISCONTINUOUS
from .window_makers import WINDOW_MAKERS


class Skip(Exception):
    """A maker could not build its op from what the graph holds; another op is tried."""


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


def _elementwise(gen, op: str):
    opdef = get_op(op)
    n = opdef.num_operands
    kinds = accepted_kinds(op, n)
    if not kinds:
        raise Skip
    exact = op in DISCONTINUOUS
    x = gen.operand(kinds, exact)
    rest = [gen.like(x.type, exact) for _ in range(n - 1)]
    return gen.emit(op, [x, *rest], {})


_GENERIC: dict | None = None


def generic_elementwise() -> dict:
    """Every registered elementwise op without attributes and with a fixed operand count."""
    global _GENERIC
    if _GENERIC is None:
        _GENERIC = {name: _elementwise for name, op in REGISTRY.items()
                    if op.elementwise and op.num_operands and not op.attrs and op.num_regions == 0
                    and name != "complex"}  # its result is complex: the fuzzer draws real dtypes only
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


def _bitcast_convert(gen, op):
    x = gen.operand("iuf", exact=True)
    same = [d for d in gen.dtypes if d.kind in "iuf" and d.itemsize == x.dtype.itemsize]
    if not same:
        raise Skip
    return gen.emit("bitcast_convert", [x], {"dtype": gen.rnd.choice(same)})


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


def _sort(gen, op):
    """1-3 operands of one shape, every one exact (sort is discontinuous: one ulp can reorder the keys),
    the first 1-3 of them keys."""
    x = gen.operand("bif", exact=True, pred=lambda v: v.ndim > 0)
    rest = [gen.like(x.type.with_dtype(gen.dtype()), exact=True) for _ in range(gen.rnd.randint(0, 2))]
    return gen.emit(op, [x] + rest, {"dimension": gen.rnd.randrange(x.ndim), "is_stable": gen.rnd.random() < 0.5,
                                     "num_keys": gen.rnd.randint(1, 1 + len(rest))})


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
    inner = type(gen)(random.Random(gen.rnd.getrandbits(64)),
                      replace(gen.cfg, max_params=0, max_nodes=3, dtypes=(x.dtype.name,)), name="body")
    for i, v in enumerate(operands):
        p = inner.b.param(v.type, f"a{i}")
        inner.pool.append(p)
        if id(v) in gen.tainted:
            inner.tainted.add(id(p))
    candidates = [n for n in generic_elementwise() if x.dtype.kind in accepted_kinds(n, get_op(n).num_operands)]
    results = []
    for _ in range(gen.rnd.randint(1, 3)):
        name = gen.rnd.choice(candidates)
        try:
            results.extend(_fusion_step(inner, name, x.type))
        except Skip:
            continue
    if not results:
        raise Skip
    keep = [results[-1]] + ([results[0]] if len(results) > 1 and gen.rnd.random() < 0.5 else [])
    body = inner.b.build(keep)
    return gen.emit("fusion", operands, {"kind": "loop"}, [body])


def _fusion_step(inner, name, t):
    exact = name in DISCONTINUOUS
    n = get_op(name).num_operands
    args = [v for v in inner.pool if v.type == t and inner.usable(v, exact)]
    if len(args) < 1:
        raise Skip
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
    cfg = replace(gen.cfg, max_params=0, max_nodes=3)
    inner = type(gen)(random.Random(gen.rnd.getrandbits(64)), cfg, name="body", depth=gen.depth + 1)
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
    cfg = replace(gen.cfg, max_params=0, max_nodes=3)
    inner = type(gen)(random.Random(gen.rnd.getrandbits(64)), cfg, name="body", depth=gen.depth + 1)
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
    "custom_vjp_call": _custom_vjp_call, "remat": _call_like, "bitcast_convert": _bitcast_convert, "sort": _sort,
    **WINDOW_MAKERS,
})
MAKERS.exempt("fft", "the fuzzer draws no complex values yet; tests/test_fft_*.py test it against numpy.fft and JAX")
MAKERS.exempt("complex", "its result is complex and the fuzzer draws no complex values yet (tests/test_complex_*.py)")
for _name in sorted(generic_elementwise()):
    if _name not in MAKERS and _name not in MAKERS.exemptions:
        MAKERS[_name] = _elementwise
MAKERS.exempt("custom_vjp_lin",
              "only reverse-mode autodiff makes it and its transpose consumes it; no backend evaluates it")
for _name in ("cholesky", "triangular_solve", "lu", "qr", "eigh", "eig", "svd", "lu_pivots_to_permutation"):
    MAKERS.exempt(_name, "linear algebra on random matrices (ill-conditioned, repeated eigenvalues, sign choices) "
                         "differs between LAPACK builds beyond any elementwise tolerance; tests/test_linalg_* "
                         "compare the backends on well-conditioned matrices instead")
NOT_GENERATED = MAKERS.exemptions  # ops the generator never makes, with the reason


def generator_table() -> dict:
    """Op name -> how the generator makes it (a specific maker, or the generic elementwise one)."""
    return {name: ("elementwise" if fn is _elementwise else fn.__name__) for name, fn in MAKERS.items()}



for _name in ("sharding_constraint", "shard_map", "psum", "pmax", "pmin", "all_gather", "psum_scatter", "all_to_all",
              "ppermute", "axis_index"):
    MAKERS.exempt(_name, "SPMD code needs a mesh (and collectives a shard_map region around them): "
                         "tests/test_shard_map.py checks them against the reference backend's simulation")
