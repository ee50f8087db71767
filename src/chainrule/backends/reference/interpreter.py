"""Run a graph node by node with the reference rules."""

from __future__ import annotations

import numpy as np

from ...ir import Graph, OpDef, get_op
from .rules import RULES


class UnsupportedOpError(NotImplementedError):
    pass


def evaluate_op(op, args, attrs, out_types, regions=()):
    """Apply one op to NumPy arrays; returns a tuple of arrays of `out_types`."""
    opdef = op if isinstance(op, OpDef) else get_op(op)
    fn = RULES.get(opdef.name)
    if fn is None:
        raise UnsupportedOpError(f"the reference backend has no rule for op {opdef.name!r}")
    res = fn(list(args), attrs, tuple(out_types), tuple(regions))
    return tuple(
        np.asarray(r).reshape(t.shape) if np.asarray(r).dtype == t.dtype.np else np.asarray(r, dtype=t.dtype.np).reshape(t.shape)
        for r, t in zip(res, out_types))


def evaluate(graph: Graph, args) -> list[np.ndarray]:
    """Evaluate `graph` on arrays (already checked against its parameter types)."""
    env = {}
    for p, a in zip(graph.params, args):
        env[id(p)] = a
    # free each value after its last use to keep memory bounded on big graphs
    last_use = {}
    for k, node in enumerate(graph.nodes):
        for v in node.operands:
            last_use[id(v)] = k
    keep = {id(r) for r in graph.results}
    for k, node in enumerate(graph.nodes):
        vals = [env[id(v)] for v in node.operands]
        outs = evaluate_op(node.op, vals, node.attrs, [r.type for r in node.results], node.regions)
        for r, o in zip(node.results, outs):
            env[id(r)] = o
        for v in node.operands:
            if last_use.get(id(v)) == k and id(v) not in keep and v.node is not None:
                env.pop(id(v), None)
    return [env[id(r)] for r in graph.results]
