"""Dropping a scan's dead carries, outputs and operands.

A carry whose final value nothing reads, and which no live result of the
body depends on, is work repeated every iteration for nothing; so are stacked
outputs nothing reads. Reverse mode makes such scans: the transpose of a
checkpointed scan recomputes it as a joint primal/tangent scan with zero
tangents, of which only the primal carries are read (the tangent carries
cost two GEMMs per step of an RNN). DCE cannot see this, since a node's
results are all-or-nothing to it; `prune_scan` does it for one node.
"""

from __future__ import annotations

from ..ir import Graph, Node, Value
from .graphutil import live_nodes


def _needed_params(body: Graph, results) -> set[int]:
    """ids of the body's params that `results` depend on (nested regions: all operands of a live node)."""
    live = {id(r) for r in results}
    for node in reversed(body.nodes):
        if any(id(r) in live for r in node.results):
            live.update(id(v) for v in node.operands)
    return {id(p) for p in body.params if id(p) in live}


def prune_scan(node: Node, live) -> tuple[Node, list[int]] | None:
    """(`node` (a scan) without the carries, outputs, consts and xs that the results in `live` (a set
    of value ids) do not need, the indices of `node.results` its results stand for, in order), or
    None when nothing can go."""
    (body,) = node.regions
    a = node.attrs
    nc, nk = a["num_consts"], a["num_carry"]
    ny = len(node.results) - nk
    carry = {i for i in range(nk) if id(node.results[i]) in live}
    ys = [j for j in range(ny) if id(node.results[nk + j]) in live]
    while True:  # a live carry keeps the carries its next value reads
        need = _needed_params(body, [body.results[i] for i in sorted(carry)] + [body.results[nk + j] for j in ys])
        grown = carry | {i for i in range(nk) if id(body.params[nc + i]) in need}
        if grown == carry:
            break
        carry = grown
    carry = sorted(carry)
    consts = [i for i in range(nc) if id(body.params[i]) in need]
    xs = [i for i in range(len(body.params) - nc - nk) if id(body.params[nc + nk + i]) in need]
    if len(carry) == nk and len(ys) == ny and len(consts) == nc and nc + nk + len(xs) == len(body.params):
        return None
    keep = consts + [nc + i for i in carry] + [nc + nk + i for i in xs]
    results = [body.results[i] for i in carry] + [body.results[nk + j] for j in ys]
    # fresh params: a param's index is its position (plans read it)
    params = [Value(body.params[i].type, None, k, body.params[i].name) for k, i in enumerate(keep)]
    env = {id(body.params[i]): p for i, p in zip(keep, params)}
    nodes = rewire(live_nodes(body.nodes, results), env)
    new_body = Graph(body.name, params, nodes, [env.get(id(r), r) for r in results])
    out_types = [node.results[i].type for i in carry] + [node.results[nk + j].type for j in ys]
    new = Node(node.op, [node.operands[i] for i in keep], a.replace(num_consts=len(consts), num_carry=len(carry)),
               out_types, (new_body,), node.loc)
    return new, carry + [nk + j for j in ys]


def rewire(nodes, env: dict, replace=None) -> list:
    """`nodes` reading `env[id(v)]` in place of each value v found in `env`, and with `replace[id(node)]`
    (a `prune_scan` answer) in place of a node; `env` gains the moved results."""
    out = []
    for node in nodes:
        new, idx = (replace or {}).get(id(node), (node, None))
        ops = [env.get(id(v), v) for v in new.operands]
        if any(x is not y for x, y in zip(ops, new.operands)):
            new = Node(new.op, ops, new.attrs, [r.type for r in new.results], new.regions, new.loc)
        if idx is None:
            idx = range(len(node.results)) if new is not node else ()
        for i, r in zip(idx, new.results):
            env[id(node.results[i])] = r
        out.append(new)
    return out
