"""`to_source(graph)`: any graph as a runnable Python/NumPy function you can read.

Common ops become plain NumPy expressions; the rest call the reference
rules by name (`_op("gather", ...)`), so running the source gives exactly the
numbers of the reference backend.
"""

from __future__ import annotations

import keyword
import re

from ..ir import Graph, Literal

_BINARY = {"add": "+", "subtract": "-", "multiply": "*"}
_UNARY_NP = {"negate": "np.negative", "abs": "np.abs", "exponential": "np.exp", "exponential_minus_one": "np.expm1",
             "log": "np.log", "log_plus_one": "np.log1p", "sqrt": "np.sqrt", "sine": "np.sin", "cosine": "np.cos",
             "tan": "np.tan", "tanh": "np.tanh", "floor": "np.floor", "ceil": "np.ceil",
             "round_nearest_even": "np.rint", "is_finite": "np.isfinite"}
_CMP = {"EQ": "==", "NE": "!=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">="}


def _pyname(name, used):
    n = re.sub(r"[^A-Za-z0-9_]", "_", name or "")
    if not n or n[0].isdigit() or keyword.iskeyword(n) or n in used or n in ("np", "_op"):
        n = f"{n or 'x'}_"
    while n in used:
        n += "_"
    used.add(n)
    return n


def _literal(lit: Literal) -> str:
    a = lit.array
    if a.ndim == 0:
        v = a.item()
        if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
            v = f"float({str(v)!r})"
        return f"{np_type(a.dtype.name)}({v})" if a.dtype.kind != "b" else f"np.bool_({v})"
    return f"np.array({a.tolist()!r}, dtype={np_type(a.dtype.name)})"


def np_type(name: str) -> str:
    """The NumPy scalar type of dtype `name` as source text (bfloat16 is ml_dtypes')."""
    return "ml_dtypes.bfloat16" if name == "bfloat16" else f"np.{name}"


def to_source(graph: Graph, name: str | None = None) -> str:
    """Python source defining a function equivalent to `graph`.

    Regions become nested functions: `cond`/`case` an if/else choice, `while`
    a while loop, `scan` a for loop that stacks its outputs, and fusion,
    remat and custom-derivative calls a plain call of their (primal) region.
    """
    used: set[str] = set()
    state = {"needs_op": False}
    lines = _function(graph, name or graph.name, used, "", state)
    header = ["import numpy as np"]
    if any(v.dtype.name == "bfloat16" for n in graph.walk() for v in (*n.operands, *n.results)) or \
            any(p.dtype.name == "bfloat16" for p in graph.params):
        header = ["import ml_dtypes", "import numpy as np"]
    if state.get("needs_tuple"):
        header += ["", "", "def _as_tuple(x):", "    return x if isinstance(x, tuple) else (x,)"]
    if state["needs_op"]:
        header += ["from chainrule.ir import Literal, TensorType",
                   "from chainrule.backends.reference import evaluate_op as _evaluate_op",
                   "",
                   "",
                   "def _op(name, args, attrs, types):",
                   "    from chainrule.ir import get_op",
                   "    op = get_op(name)",
                   "    return _evaluate_op(op, [np.asarray(x) for x in args], op.normalize_attrs(attrs), types)"]
    return "\n".join(header) + "\n\n\n" + "\n".join(lines) + "\n"


def _function(graph: Graph, name: str, parent_used: set, indent: str, state: dict) -> list[str]:
    fname = _pyname(name, parent_used)
    used = {fname}  # regions are closed: a nested function's names never meet its parent's
    names = {}
    params = []
    for i, p in enumerate(graph.params):
        n = _pyname(p.name or f"arg{i}", used)
        names[id(p)] = n
        params.append(n)
    body = indent + "    "
    lines = [f"{indent}def {fname}({', '.join(params)}):"]
    for k, node in enumerate(graph.nodes):
        outs = [_pyname(f"v{k}" if len(node.results) == 1 else f"v{k}_{i}", used) for i in range(len(node.results))]
        args = [names[id(v)] for v in node.operands]
        if node.regions:
            lines += _region_node(node, args, outs, used, body, state)
        else:
            lhs = ", ".join(outs) if len(outs) != 1 else outs[0]
            lines.append(f"{body}{lhs} = {_expr(node, args, state)}")
        for r, n in zip(node.results, outs):
            names[id(r)] = n
    rets = [names[id(r)] for r in graph.results]
    lines.append(f"{body}return {', '.join(rets)}" if len(rets) != 1 else f"{body}return {rets[0]}")
    return lines


def _tuple(names) -> str:
    return "(" + ", ".join(names) + ("," if len(names) == 1 else "") + ")"


def _region_node(node, args, outs, used, body, state) -> list[str]:
    """Nested functions for the regions, then the statement that runs them."""
    op, a = node.op.name, node.attrs
    lines = []
    for i, region in enumerate(node.regions):
        if op in ("custom_jvp_call", "custom_vjp_call") and i > 0:
            break  # only the primal function runs forward
        lines += _function(region, f"{op}_{region.name}", used, body, state)
    # the names the nested defs got are the last ones added to `used` in order; recover them
    defs = [ln.strip()[4:ln.strip().index("(")] for ln in lines if ln.startswith(body + "def ")]
    res = _tuple(outs)
    call_args = ", ".join(args)
    if node.op.call_like:
        lines.append(f"{body}{res} = _as_tuple({defs[0]}({call_args}))")
    elif op == "cond":
        ops = ", ".join(args[1:])
        lines.append(f"{body}{res} = _as_tuple({defs[0]}({ops}) if {args[0]} else {defs[1]}({ops}))")
    elif op == "case":
        ops = ", ".join(args[1:])
        n = len(defs)
        lines.append(f"{body}_branch = int({args[0]})")
        lines.append(f"{body}_branch = _branch if 0 <= _branch < {n} else {n - 1}  # out of range runs the last")
        lines.append(f"{body}{res} = _as_tuple(({', '.join(defs)},)[_branch]({ops}))")
    elif op == "while":
        lines.append(f"{body}_carry = {_tuple(args)}")
        lines.append(f"{body}while {defs[0]}(*_carry):")
        lines.append(f"{body}    _carry = _as_tuple({defs[1]}(*_carry))")
        lines.append(f"{body}{res} = _carry")
    elif op == "scan":
        nc, nk, length = a["num_consts"], a["num_carry"], a["length"]
        consts, carry, xs = args[:nc], args[nc:nc + nk], args[nc + nk:]
        ys_types = [r.type for r in node.results[nk:]]
        order = f"reversed(range({length}))" if a["reverse"] else f"range({length})"
        lines.append(f"{body}_carry = {_tuple(carry)}")
        for j, t in enumerate(ys_types):
            lines.append(f"{body}_ys{j} = np.zeros({t.shape}, dtype={np_type(t.dtype.np.name)})")
        lines.append(f"{body}for _i in {order}:")
        xs_i = ", ".join(f"{x}[_i]" for x in xs)
        call = ", ".join([*consts, "*_carry"] + ([xs_i] if xs else []))
        lines.append(f"{body}    _out = _as_tuple({defs[0]}({call}))")
        lines.append(f"{body}    _carry = _out[:{nk}]")
        for j in range(len(ys_types)):
            lines.append(f"{body}    _ys{j}[_i] = _out[{nk + j}]")
        lines.append(f"{body}{res} = _carry + {_tuple([f'_ys{j}' for j in range(len(ys_types))])}")
    else:
        raise NotImplementedError(f"to_source cannot write op {op!r} as Python yet")
    state["needs_tuple"] = True
    return lines


def _expr(node, args, state) -> str:
    """A NumPy expression for a region-free node (or a call of the reference rule)."""
    a = node.attrs
    op = node.op.name
    t = node.results[0].type if node.results else None
    dt = np_type(t.dtype.np.name) if t is not None else None
    expr = None
    if op in _BINARY:
        expr = f"{args[0]} {_BINARY[op]} {args[1]}"
    elif op == "divide" and t.dtype.is_float:
        expr = f"{args[0]} / {args[1]}"
    elif op == "power" and t.dtype.is_float:
        expr = f"{args[0]} ** {args[1]}"
    elif op in ("maximum", "minimum") and not t.dtype.is_bool:
        expr = f"np.{op}({args[0]}, {args[1]})"
    elif op in _UNARY_NP:
        expr = f"{_UNARY_NP[op]}({args[0]})"
    elif op == "logistic":
        expr = f"1 / (1 + np.exp(-{args[0]}))"
    elif op == "rsqrt":
        expr = f"1 / np.sqrt({args[0]})"
    elif op == "stop_gradient":
        expr = args[0]
    elif op == "constant":
        return _literal(a["value"])
    elif op == "compare":
        expr = f"{args[0]} {_CMP[a['direction']]} {args[1]}"
    elif op == "select":
        expr = f"np.where({args[0]}, {args[1]}, {args[2]})"
    elif op == "convert" and not (t.dtype.is_int and node.operands[0].dtype.is_float):
        expr = f"{args[0]}.astype({dt})"
    elif op == "broadcast_in_dim":
        shape = list(a["shape"])
        expanded = [1] * len(shape)
        for i, d in enumerate(a["broadcast_dimensions"]):
            expanded[d] = node.operands[0].shape[i]
        expr = f"np.broadcast_to(np.reshape({args[0]}, {tuple(expanded)}), {tuple(shape)})"
    elif op == "reshape":
        expr = f"np.reshape({args[0]}, {tuple(a['shape'])})"
    elif op == "transpose":
        expr = f"np.transpose({args[0]}, {tuple(a['permutation'])})"
    elif op == "reduce" and a["kind"] in ("sum", "prod") and not t.dtype.is_bool:
        expr = f"np.{a['kind']}({args[0]}, axis={tuple(a['dimensions'])}, dtype={dt})"
    elif op == "dot_general" and not a["lhs_batch"] and len(a["lhs_contracting"]) == 1:
        expr = (f"np.tensordot({args[0]}, {args[1]}, axes=({list(a['lhs_contracting'])}, "
                f"{list(a['rhs_contracting'])}))")
    if expr is None:
        state["needs_op"] = True
        attr_src = ", ".join(f"{k}={_attr_src(v)}" for k, v in a.items())
        types = ", ".join(f"TensorType({r.type.shape}, {r.type.dtype.name!r})" for r in node.results)
        expr = f"_op({op!r}, [{', '.join(args)}], dict({attr_src}), [{types}])"
        return expr + "[0]" if len(node.results) == 1 else expr
    return f"np.asarray({expr}, dtype={dt})"


def _attr_src(v):
    if isinstance(v, Literal):
        return f"Literal({_literal(v)})"
    if hasattr(v, "short") and hasattr(v, "np"):
        return repr(v.name)
    return repr(v)


def load_source(src: str, name: str):
    """Execute generated source and return the named function (for tests and tools)."""
    ns: dict = {}
    exec(compile(src, f"<chainrule.to_source {name}>", "exec"), ns)
    return ns[name]
