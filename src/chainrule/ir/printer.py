"""The text form of a graph (MLIR-flavoured), read back by `parser.parse`.

    func @loss(%x: f32[256,784], %w: f32[784,10]) -> (f32[]) {
      %0 = dot_general %x, %w {lhs_contracting=[1], rhs_contracting=[0]} : f32[256,10]
      %1 = tanh %0 : f32[256,10]
      %2 = reduce %1 {kind=sum, dimensions=[0,1]} : f32[]
      return %2
    }

Attributes equal to their op's default are left out. Constants of up to 16
elements print their values; larger ones (or any holding NaN) print their raw
little-endian bytes in hex, so every graph round-trips exactly.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np

from .attrs import Literal
from .dtypes import DType
from .graph import Graph
from .types import TensorType

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")
MAX_INLINE_ELEMENTS = 16


def format_float(x: float, dt=None) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if dt is not None and dt.np in (np.float32, np.float16):  # NumPy's shortest repr that reads back
        s = str(dt.np.type(x))
    else:
        s = repr(float(x))
    if "e" not in s and "." not in s and "n" not in s:
        s += ".0"
    return s


def format_literal(lit: Literal) -> str:
    a = lit.array
    t = lit.type
    flat = a.reshape(-1)
    has_nan = t.dtype.is_float and bool(np.isnan(flat).any())
    if flat.size <= MAX_INLINE_ELEMENTS and not has_nan and a.dtype.kind != "c":  # complex: always hex
        if a.dtype.kind == "b":
            items = ["true" if v else "false" for v in flat]
        elif t.dtype.is_float:
            items = [format_float(float(v), t.dtype) for v in flat]
        else:
            items = [str(int(v)) for v in flat]
        return f"dense<{t}, [{', '.join(items)}]>"
    data = np.asarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()
    return f"dense<{t}, 0x{data.hex()}>"


def format_attr_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, str):
        return value if IDENT.match(value) else json.dumps(value)
    if isinstance(value, DType):
        return value.short
    if isinstance(value, TensorType):
        return str(value)
    if isinstance(value, Literal):
        return format_literal(value)
    if isinstance(value, tuple):
        if value and all(isinstance(v, TensorType) for v in value):
            return "(" + ", ".join(map(str, value)) + ")"
        return "[" + ",".join(format_attr_value(v) for v in value) + "]"
    if value is None:
        return "none"
    raise TypeError(f"cannot print attribute value {value!r}")


class _Namer:
    """Names values inside one graph: parameters keep theirs, nodes count up."""

    def __init__(self, graph: Graph):
        self.names = {}
        used = set()
        for i, p in enumerate(graph.params):
            name = p.name if p.name and IDENT.match(p.name) and not p.name.isdigit() else f"arg{i}"
            base, k = name, 1
            while name in used:
                name = f"{base}_{k}"
                k += 1
            used.add(name)
            self.names[p] = name
        for i, node in enumerate(graph.nodes):
            if len(node.results) == 1:
                self.names[node.results[0]] = str(i)
            else:
                for r in node.results:
                    self.names[r] = f"{i}#{r.index}"

    def __call__(self, v) -> str:
        try:
            return "%" + self.names[v]
        except KeyError:
            return f"%<undefined {v!r}>"


def _print(graph: Graph, out: list[str], indent: str):
    names = _Namer(graph)
    params = ", ".join(f"{names(p)}: {p.type}" for p in graph.params)
    results = ", ".join(str(r.type) for r in graph.results)
    name = graph.name if IDENT.match(graph.name or "") else "main"
    out.append(f"{indent}func @{name}({params}) -> ({results}) {{")
    inner = indent + "  "
    for i, node in enumerate(graph.nodes):
        lhs = f"%{i}" if len(node.results) == 1 else f"%{i}:{len(node.results)}"
        parts = [f"{inner}{lhs} = {node.op.name}" if node.results else f"{inner}{node.op.name}"]
        if node.operands:
            parts.append(" " + ", ".join(names(v) for v in node.operands))
        attrs = []
        for key, spec in node.op.attrs.items():
            if key not in node.attrs:
                continue
            val = node.attrs[key]
            if spec.default is not REQUIRED_SENTINEL and _same(val, spec.default):
                continue
            attrs.append(f"{key}={format_attr_value(val)}")
        if attrs:
            parts.append(" {" + ", ".join(attrs) + "}")
        types = [str(r.type) for r in node.results]
        parts.append(" : " + (types[0] if len(types) == 1 else "(" + ", ".join(types) + ")"))
        if node.regions:
            parts.append(" regions {")
            out.append("".join(parts))
            for region in node.regions:
                _print(region, out, inner + "  ")
            out.append(f"{inner}}}")
        else:
            out.append("".join(parts))
    out.append(f"{inner}return {', '.join(names(r) for r in graph.results)}".rstrip())
    out.append(f"{indent}}}")


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


from .ops import REQUIRED as REQUIRED_SENTINEL  # noqa: E402


def print_graph(graph: Graph) -> str:
    out: list[str] = []
    _print(graph, out, "")
    return "\n".join(out) + "\n"
