"""Ops that hold sub-graphs (regions) or exist for the passes: `fusion`, `stop_gradient`.

Control flow (`cond`, `case`, `while`, `scan`), `call` and the custom
derivative ops are added beside these by their own issues.
"""

from __future__ import annotations

from .errors import IRTypeError
from .ops import AttrSpec, OpDef, register

FUSION_KINDS = ("loop", "reduce", "output")


def check_region_signature(op, types, region, want_params, what="region"):
    got = region.param_types
    if tuple(got) != tuple(want_params):
        raise IRTypeError(op, types, f"{what} parameters ({', '.join(map(str, got))}) do not match",
                          f"({', '.join(map(str, want_params))})")


def _fusion(types, attrs, regions):
    (body,) = regions
    check_region_signature("fusion", types, body, types, "fused body")
    return body.result_types


register(OpDef("fusion", _fusion, num_operands=None, min_operands=0, num_regions=1,
               attrs={"kind": AttrSpec("enum", "loop", FUSION_KINDS)}, category="fusion",
               doc="A group of elementwise, broadcast and reduce nodes that a backend compiles as one loop "
                   "nest. The region's parameters are the operands; its results are the node's results."))


def _identity(types, attrs, regions):
    return (types[0],)


register(OpDef("stop_gradient", _identity, category="unary", elementwise=True,
               doc="The identity whose derivative is zero. Kept until lowering, so graphs that are "
                   "differentiated again keep its meaning."))
