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


FUSION_DOC = """A group of elementwise, broadcast and reduce nodes that a backend compiles as ONE loop
nest over a loop shape L. Operands are the region's parameters; results are the region's results.

What a region may contain (made by passes/fusion.py; chainrule.passes.check_fusion and
fusion_is_well_formed check it):
- kind=loop: no reduce; L is the shape of every result. kind=reduce: at least one reduce root;
  L is the reduce operand shape, and all reduce roots reduce the same dimensions of L.
  kind=output is reserved (a non-elementwise root with an elementwise epilogue); the fusion pass
  never makes it, and a backend evaluates such a region op by op.
- Region nodes: rank-0 `constant`s; `broadcast_in_dim` to L of a region parameter or of a rank-0
  constant; elementwise ops whose operands and result all have shape L (dtypes may differ);
  `reduce` of an L-shaped value whose result is a region result used by nothing in the region.
- Parameters of shape L may be used directly, others only through broadcast_in_dim.
- Results are elementwise values of shape L or reduce results (never a parameter, a constant
  or a bare broadcast).
Every value at loop index i depends only on values at index i (and on parameters through
broadcasts), so the order of evaluation inside the loop nest is free."""


def _fusion(types, attrs, regions):
    (body,) = regions
    check_region_signature("fusion", types, body, types, "fused body")
    return body.result_types


register(OpDef("fusion", _fusion, num_operands=None, min_operands=0, num_regions=1,
               attrs={"kind": AttrSpec("enum", "loop", FUSION_KINDS)}, category="fusion", call_like=True, fold=False,
               doc=FUSION_DOC))


def _identity(types, attrs, regions):
    return (types[0],)


register(OpDef("stop_gradient", _identity, category="unary", elementwise=True, fold=False,
               doc="The identity whose derivative is zero. Kept until lowering, so graphs that are "
                   "differentiated again keep its meaning."))


# --- custom derivatives -----------------------------------------------------------------

def _custom_jvp_call(types, attrs, regions):
    primal, jvp = regions
    check_region_signature("custom_jvp_call", types, primal, types, "primal function")
    check_region_signature("custom_jvp_call", types, jvp, tuple(types) * 2, "jvp rule (primals, tangents)")
    outs = primal.result_types
    if tuple(jvp.result_types) != tuple(outs) * 2:
        raise IRTypeError("custom_jvp_call", types, f"jvp rule returns ({', '.join(map(str, jvp.result_types))})",
                          f"the primal outputs then their tangents ({', '.join(map(str, tuple(outs) * 2))})")
    return outs


register(OpDef("custom_jvp_call", _custom_jvp_call, num_operands=None, num_regions=2, category="custom_call",
               call_like=True,
               doc="A function with a user-given JVP rule. Region 0 is the function (what backends run); "
                   "region 1 maps (primals..., tangents...) to (outputs..., output tangents...)."))


def _custom_vjp_call(types, attrs, regions):
    primal, fwd, bwd = regions
    check_region_signature("custom_vjp_call", types, primal, types, "primal function")
    check_region_signature("custom_vjp_call", types, fwd, types, "fwd rule")
    outs = primal.result_types
    n = len(outs)
    if tuple(fwd.result_types[:n]) != tuple(outs):
        raise IRTypeError("custom_vjp_call", types, "fwd rule outputs differ from the function's",
                          f"({', '.join(map(str, outs))}) followed by residuals")
    residuals = tuple(fwd.result_types[n:])
    check_region_signature("custom_vjp_call", types, bwd, residuals + tuple(outs), "bwd rule (residuals, cotangents)")
    if tuple(bwd.result_types) != tuple(types):
        raise IRTypeError("custom_vjp_call", types, f"bwd rule returns ({', '.join(map(str, bwd.result_types))})",
                          "one cotangent per argument, of the argument's type")
    return outs


register(OpDef("custom_vjp_call", _custom_vjp_call, num_operands=None, num_regions=3, category="custom_call",
               call_like=True,
               doc="A function with a user-given VJP. Region 0 is the function (what backends run); region 1 "
                   "(fwd) maps the arguments to (outputs..., residuals...); region 2 (bwd) maps "
                   "(residuals..., output cotangents...) to one cotangent per argument."))


def _custom_vjp_lin(types, attrs, regions):
    (bwd,) = regions
    nres, k = attrs["num_residuals"], attrs["output_index"]
    res, tans = types[:nres], types[nres:]
    if tuple(bwd.param_types[:nres]) != tuple(res) or tuple(bwd.result_types) != tuple(tans):
        raise IRTypeError("custom_vjp_lin", types, "operands do not match the bwd rule",
                          "residuals then one tangent per argument of the custom_vjp function")
    outs = bwd.param_types[nres:]
    if not 0 <= k < len(outs):
        raise IRTypeError("custom_vjp_lin", types, f"output_index {k} out of range", f"< {len(outs)}")
    return (outs[k],)


register(OpDef("custom_vjp_lin", _custom_vjp_lin, num_operands=None, num_regions=1, category="custom_call",
               attrs={"num_residuals": AttrSpec("int"), "output_index": AttrSpec("int")},
               doc="Output `output_index` of the linearized custom_vjp function: linear in the tangents "
                   "(operands after the residuals), known only through its transpose, the bwd rule (region "
                   "0). Made by reverse-mode autodiff and consumed by its transpose; it cannot be evaluated "
                   "(forward-mode differentiation of a custom_vjp function is not supported, as in JAX)."))
