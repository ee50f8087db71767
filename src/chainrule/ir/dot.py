"""Graphviz (DOT) pictures of graphs: `Graph.to_dot()`."""

from __future__ import annotations

import json

from .graph import Graph


def graph_to_dot(graph: Graph) -> str:
    lines = [f"digraph {json.dumps(graph.name or 'main')} {{", "  rankdir=TB;", '  node [fontname="monospace", fontsize=10];']
    ids = {}

    def vid(v):
        return ids[id(v)]

    for i, p in enumerate(graph.params):
        ids[id(p)] = f"p{i}"
        lines.append(f'  p{i} [shape=ellipse, style=filled, fillcolor="#dde8ff", label={json.dumps((p.name or f"arg{i}") + f": {p.type}")}];')
    for k, node in enumerate(graph.nodes):
        label = node.op.name
        if node.op.name == "constant":
            a = node.attrs["value"].array
            label += "\n" + (str(a.reshape(-1)[0].item()) if a.size == 1 else str(node.results[0].type))
        elif node.regions:
            label += f"\n({len(node.regions)} regions, {sum(r.num_nodes() for r in node.regions)} nodes)"
        label += "\n" + ", ".join(str(r.type) for r in node.results)
        color = "#ffe9c6" if node.op.name == "fusion" else "#ffffff"
        lines.append(f'  n{k} [shape=box, style=filled, fillcolor="{color}", label={json.dumps(label)}];')
        for r in node.results:
            ids[id(r)] = f"n{k}"
        for v in node.operands:
            lines.append(f"  {vid(v)} -> n{k};")
    for i, r in enumerate(graph.results):
        lines.append(f'  r{i} [shape=doublecircle, label="out{i}"];')
        lines.append(f"  {vid(r)} -> r{i};")
    lines.append("}")
    return "\n".join(lines) + "\n"
