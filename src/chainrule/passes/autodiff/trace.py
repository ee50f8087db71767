"""The JVP driver: walk a graph once, emitting each primal node and its tangent.

Zeros are symbolic (`None`): a node whose operand tangents are all zero, or
whose results are not float, gets zero tangents without looking up a rule,
so unused paths cost nothing and integer/bool code never needs a rule.
`fusion` nodes are differentiated by inlining their region (see `EXPANSIONS`).
"""

from __future__ import annotations

from ...ir import Graph, Value
from .emit import Emitter
from .errors import NonDifferentiableError
from .jvp_rules import EXPANSIONS, JVP_RULES, NON_DIFFERENTIABLE, expansion


@expansion("fusion")
def _fusion(e, node, xs, ts, trace):
    """A fusion is a grouping, not a new function: differentiate its region in place."""
    return trace(node.regions[0], e, xs, ts)


def jvp_trace(graph: Graph, e: Emitter, primals: list[Value], tangents: list[Value | None], saved=None):
    """Emit `graph` applied to `primals`, with tangents; return (primal results, result tangents).

    `saved` (id(node) -> primal result values; used by remat's policies) names nodes that are not
    emitted: their primal results are the given values, their tangents come from their JVP rule.
    Regions traced by expansions (fusion) save nothing."""
    env: dict[int, Value] = {}
    tenv: dict[int, Value] = {}
    for p, x, t in zip(graph.params, primals, tangents, strict=True):
        env[id(p)] = x
        if t is not None:
            tenv[id(p)] = t
    for node in graph.nodes:
        e.loc = node.loc
        xs = [env[id(v)] for v in node.operands]
        ts = [tenv.get(id(v)) for v in node.operands]
        differentiate = any(t is not None for t in ts) and any(r.dtype.is_inexact for r in node.results)
        if saved and id(node) in saved:
            ys = saved[id(node)]
            touts = _node_tangents(e, node, xs, ts, ys) if differentiate else [None] * len(ys)
        elif differentiate and node.op.name in EXPANSIONS:
            ys, touts = EXPANSIONS[node.op.name](e, node, xs, ts, jvp_trace)
        else:
            ys = e.emit(node.op, xs, node.attrs, node.regions).results
            touts = _node_tangents(e, node, xs, ts, ys) if differentiate else [None] * len(ys)
        for r, y, t in zip(node.results, ys, touts):
            env[id(r)] = y
            if t is not None and r.dtype.is_inexact:
                tenv[id(r)] = t
    e.loc = None
    return [env[id(r)] for r in graph.results], [tenv.get(id(r)) for r in graph.results]


def _node_tangents(e: Emitter, node, xs, ts, ys):
    name = node.op.name
    if name in NON_DIFFERENTIABLE:
        return [None] * len(ys)
    rule = JVP_RULES.get(name)
    if rule is None:
        where = f" at {node.loc}" if node.loc else ""
        raise NonDifferentiableError(
            f"cannot differentiate op {name!r}{where}: autodiff has no JVP rule for it (operand types "
            f"{', '.join(str(v.type) for v in node.operands)}). Wrap the value in stop_gradient if its "
            "derivative is not needed, or add a rule to chainrule.passes.autodiff.jvp_rules.JVP_RULES")
    touts = rule(e, node, xs, ts, ys)
    for i, (t, y) in enumerate(zip(touts, ys, strict=True)):
        if t is not None and t.type != y.type:
            raise AssertionError(f"internal error: the JVP rule of {name} gave tangent {i} type {t.type}, "
                                 f"expected {y.type}")
    return touts
