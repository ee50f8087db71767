"""dot_general in its accumulation dtype: converts around the GEMM.

A dot whose result is float16/bfloat16 is computed by sgemm on float32
copies of its operands and rounded once when stored; a dot with a
`preferred_element_type` (bfloat16 x bfloat16 -> float32, int8 x int8 ->
int32) converts its operands to that dtype first. Nothing rounds through a
narrow type in the middle of the accumulation.
"""

from __future__ import annotations

from ...ir import float32, make_node
from ...ir.attrs import Attrs


def compute_dtype(out_dtype):
    return float32 if out_dtype.is_narrow_float else out_dtype


def legalize_dots(order, operands, group, results):
    """`order` with each dot that needs it replaced by converts, a dot in its compute dtype and a convert
    back; consumers (and `results`, updated in place) are pointed at the replacement values."""
    remap: dict[int, object] = {}
    out = []
    for node in order:
        if remap:
            operands[node] = tuple(remap.get(id(v), v) for v in operands[node])
        if node.op.name != "dot_general":
            out.append(node)
            continue
        res = node.results[0]
        c = compute_dtype(res.dtype)
        ops = operands[node]
        if all(v.dtype == c for v in ops) and res.dtype == c:
            out.append(node)
            continue
        fixed = []
        for v in ops:
            if v.dtype != c:
                cv = make_node("convert", (v,), {"dtype": c})
                operands[cv], group[cv] = (v,), None
                out.append(cv)
                v = cv.results[0]
            fixed.append(v)
        attrs = dict(node.attrs)
        attrs["preferred_element_type"] = None
        dot = make_node(node.op, tuple(fixed), Attrs(attrs))
        operands[dot], group[dot] = tuple(fixed), group.get(node)
        out.append(dot)
        final = dot
        if res.dtype != c:
            final = make_node("convert", (dot.results[0],), {"dtype": res.dtype})
            operands[final], group[final] = (dot.results[0],), None
            out.append(final)
        remap[id(res)] = final.results[0]
    if remap:
        results[:] = [remap.get(id(v), v) for v in results]
    return out
