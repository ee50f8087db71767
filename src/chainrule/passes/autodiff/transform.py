"""The public entry points: `jvp_graph` (forward mode) and `vjp_graph` (reverse mode).

Reverse mode is linearize + transpose, as in JAX's autodidax: the JVP trace
is built once; its nodes without a tangent operand are the primal part (kept,
in order, as the forward half of the reverse graph: their values are the
residuals), the others are the linear part, walked backwards through the
transpose rules. Cotangents meeting at a value are collected and summed once,
when the value's producer is transposed; absent cotangents are zeros that are
never materialised. A dead-code sweep at the end drops what the cotangents
did not need (e.g. the linear part's own primal coefficients of unused paths).
"""

from __future__ import annotations

from collections.abc import Sequence

from ...ir import Graph, GraphBuilder, Value
from ..scan_prune import prune_scan, rewire
from .emit import Emitter
from .errors import NonDifferentiableError
from .trace import jvp_trace
from .transpose_rules import TRANSPOSE_RULES


def _check_wrt(g: Graph, wrt: Sequence[int] | None, what: str) -> list[int]:
    if wrt is None:
        return [i for i, p in enumerate(g.params) if p.dtype.is_inexact]
    out = []
    for i in wrt:
        if isinstance(i, bool) or not hasattr(i, "__index__"):
            raise TypeError(f"{what}: wrt must hold parameter indices (ints), got {i!r}")
        i = int(i)
        if not 0 <= i < len(g.params):
            raise ValueError(f"{what}: wrt index {i} is out of range for @{g.name} with {len(g.params)} parameter(s)")
        dt = g.params[i].dtype
        if not dt.is_inexact:
            raise TypeError(
                f"{what} requires float or complex inputs, but argument {i} has dtype {dt.name}; "
                "differentiate only with respect to float arguments (convert integer arguments to float first, "
                "or leave them out of wrt/argnums)")
        if i in out:
            raise ValueError(f"{what}: wrt names parameter {i} twice")
        out.append(i)
    return out


def _copy_params(g: Graph, b: GraphBuilder) -> list[Value]:
    return [b.param(p.type, p.name) for p in g.params]


def _suffixed(name: str | None, suffix: str) -> str | None:
    return f"{name}_{suffix}" if name else None


def dce(b: GraphBuilder, results) -> Graph:
    """Build the graph keeping only nodes the results depend on (regions are closed: not entered,
    but a scan loses the carries and outputs nothing reads: `prune_scan`)."""
    live = {id(r) for r in results}
    kept = []
    pruned = {}
    for node in reversed(b.nodes):
        if any(id(r) in live for r in node.results):
            kept.append(node)
            p = prune_scan(node, live) if node.op.name == "scan" else None
            if p is not None:
                pruned[id(node)] = p
            live.update(id(v) for v in (p[0] if p else node).operands)
    kept.reverse()
    if pruned:
        env = {}
        kept = rewire(kept, env, pruned)
        results = [env.get(id(r), r) for r in results]
    b.nodes = kept
    return b.build(results)


def jvp_graph(g: Graph, wrt: Sequence[int] | None = None) -> Graph:
    """Forward mode. Params: g's params, then one tangent per index in `wrt` (default: the float
    params). Results: g's results, then one tangent per result (zeros where symbolically zero)."""
    wrt = _check_wrt(g, wrt, "jvp")
    b = GraphBuilder(f"{g.name}_jvp")
    e = Emitter(b)
    primals = _copy_params(g, b)
    tangents: list[Value | None] = [None] * len(primals)
    for i in wrt:
        tangents[i] = e.mark_linear(b.param(g.params[i].type, _suffixed(g.params[i].name, "dot")))
    outs, touts = jvp_trace(g, e, primals, tangents)
    results = list(outs) + [e.materialize(t, y.type) for t, y in zip(touts, outs)]
    return dce(b, results)


def vjp_graph(g: Graph, wrt: Sequence[int] | None = None, seed_ones: bool = False) -> Graph:
    """Reverse mode. Params: g's params, then one cotangent per result (none when `seed_ones`: every
    float result's cotangent is then 1). Results: g's results, then one cotangent per index in `wrt`."""
    wrt = _check_wrt(g, wrt, "vjp")
    # 1. linearize: the JVP trace with placeholder tangents, split by linearity as it is built
    b1 = GraphBuilder(f"{g.name}_lin")
    e1 = Emitter(b1, linearizing=True)
    primals = _copy_params(g, b1)
    tangents: list[Value | None] = [None] * len(primals)
    for i in wrt:
        tangents[i] = e1.mark_linear(Value(g.params[i].type, None, 0, "tangent"))
    outs, touts = jvp_trace(g, e1, primals, tangents)

    # 2. the reverse graph starts as the primal part of the trace
    b2 = GraphBuilder(f"{g.name}_vjp")
    b2.params = list(primals)
    b2.nodes = [n for n in b1.nodes if id(n) not in e1.linear_nodes]
    linear_nodes = [n for n in b1.nodes if id(n) in e1.linear_nodes]
    e2 = Emitter(b2)
    e2.share_primal(e1)  # the primal part is in b2 already: reuse its nodes rather than recompute them
    if seed_ones:
        seeds = [e2.full(1, y.type) if y.dtype.is_inexact else None for y in outs]
    else:
        seeds = [b2.param(r.type, f"ct{k}") for k, r in enumerate(g.results)]

    cts: dict[int, list[Value]] = {}
    for t, seed, y in zip(touts, seeds, outs):
        if t is not None and seed is not None and y.dtype.is_inexact:
            cts.setdefault(id(t), []).append(seed)

    # 3. transpose the linear part, last node first
    for node in reversed(linear_nodes):
        if len(node.results) == 1:
            ct = e2.sum_all(cts.pop(id(node.results[0]), ()))
            if ct is None:
                continue
        else:  # multi-result linear ops (control flow): one cotangent per result, None where zero
            ct = [e2.sum_all(cts.pop(id(r), ())) for r in node.results]
            if all(c is None for c in ct):
                continue
        e2.loc = node.loc
        rule = TRANSPOSE_RULES.get(node.op.name)
        if rule is None:
            raise NonDifferentiableError(
                f"cannot transpose op {node.op.name!r}: it was applied to a tangent but has no transpose rule "
                "in chainrule.passes.autodiff.transpose_rules.TRANSPOSE_RULES")
        linear = tuple(e1.is_linear(v) for v in node.operands)
        for k, (v, c, lin) in enumerate(zip(node.operands, rule(e2, node, ct, linear), linear, strict=True)):
            if c is None or not lin:
                continue
            if c.type != v.type:
                raise AssertionError(f"internal error: the transpose rule of {node.op.name} gave operand {k} "
                                     f"a cotangent of type {c.type}, expected {v.type}")
            cts.setdefault(id(v), []).append(c)

    e2.loc = None
    grads = []
    for i in wrt:
        ct = e2.sum_all(cts.get(id(tangents[i]), ()))
        grads.append(e2.materialize(ct, g.params[i].type))
    return dce(b2, list(outs) + grads)
