"""`from_jax(fun, *specs) -> Graph`: import a JAX function as a chainrule graph.

The function is traced to a jaxpr (under a scoped x64 context, so float64
and int64 specs keep their dtypes), and each equation is rebuilt with
chainrule ops through the table in `jax_primitives.py`. Calls (jit) are
inlined; custom_jvp/custom_vjp functions and checkpoints keep their rules
and policy as chainrule's custom_jvp_call, custom_vjp_call and remat ops
(`jax_custom.py`). A primitive
with no chainrule equivalent raises `UnsupportedPrimitiveError` naming it
and the user's source line.
"""

from __future__ import annotations

import inspect
import re

import jax
import jax.extend.core as jcore
import numpy as np

from ..ir import GraphBuilder, IRError, TensorType
from . import jax_control_flow as _jax_control_flow  # noqa: F401  (registers cond/while/scan)
from . import jax_cumulative as _jax_cumulative  # noqa: F401  (registers cumsum/cumprod/cummax/cummin)
from . import jax_sort as _jax_sort  # noqa: F401  (registers sort)
from . import jax_custom as _jax_custom  # noqa: F401  (registers custom_jvp/vjp_call, remat2)
from . import jax_fft as _jax_fft  # noqa: F401  (registers fft)
from . import jax_linalg as _jax_linalg  # noqa: F401  (registers cholesky, lu, qr, eigh, svd, ...)
from .jax_primitives import INLINE, PRIMITIVES, RULE_FIRST, Context, UnsupportedPrimitiveError, chainrule_dtype

__all__ = ["UnsupportedPrimitiveError", "from_jax", "jaxpr_to_graph"]


def _spec(x):
    if not (hasattr(x, "shape") and hasattr(x, "dtype")):
        raise TypeError(f"from_jax: each spec needs .shape and .dtype (a jax.ShapeDtypeStruct or an array), "
                        f"got {type(x).__name__}")
    dt = x.dtype
    return jax.ShapeDtypeStruct(tuple(x.shape), getattr(dt, "np", None) or np.dtype(dt))  # cr.Spec's DType has .np


def _ident(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")
    return s if s and not s[0].isdigit() else f"a_{s}"


def _param_names(fun, specs) -> list[str]:
    """`x`, `params_w1`, ...: argument names joined with their pytree paths."""
    try:
        arg_names = list(inspect.signature(fun).parameters)
    except (TypeError, ValueError):
        arg_names = []
    names = []
    for i, s in enumerate(specs):
        base = arg_names[i] if i < len(arg_names) else f"arg{i}"
        leaves = jax.tree_util.tree_flatten_with_path(s)[0]
        for path, _ in leaves:
            names.append(_ident(base + jax.tree_util.keystr(path)) if path else _ident(base))
    return names


def from_jax(fun, *specs, name: str | None = None):
    """Trace `fun` on `specs` (pytrees of objects with .shape and .dtype: arrays,
    jax.ShapeDtypeStruct, cr.Spec) and
    return the equivalent chainrule Graph. Parameters are the flattened
    leaves of `specs`; results the flattened leaves of `fun`'s output."""
    abstract = jax.tree_util.tree_map(_spec, specs)
    with jax.enable_x64(True):
        closed = jax.make_jaxpr(fun)(*abstract)
    fname = _ident(name or getattr(fun, "__name__", "") or "imported")
    return jaxpr_to_graph(closed, fname, _param_names(fun, specs))


def jaxpr_to_graph(closed, name: str = "imported", param_names=None):
    """Convert a ClosedJaxpr to a Graph."""
    b = GraphBuilder(name)
    jaxpr = closed.jaxpr
    params = []
    for i, v in enumerate(jaxpr.invars):
        pname = param_names[i] if param_names and i < len(param_names) else f"arg{i}"
        params.append(b.param(TensorType(v.aval.shape, _dtype(v.aval.dtype, "a parameter")), pname))
    ctx = Context(b)
    outs = inline_jaxpr(ctx, jaxpr, closed.consts, params)
    return b.build(outs)


_dtype = chainrule_dtype


def inline_jaxpr(ctx: Context, jaxpr, consts, args) -> list:
    """Emit the equations of `jaxpr` with its invars bound to `args`; returns its outputs."""
    env = {}
    for v, c in zip(jaxpr.constvars, consts):
        env[v] = ctx.constant(np.asarray(c))
    for v, a in zip(jaxpr.invars, args):
        env[v] = a

    def read(v):
        if isinstance(v, jcore.Literal):
            return ctx.constant(np.asarray(v.val, dtype=v.aval.dtype))
        return env[v]

    for eqn in jaxpr.eqns:
        prim = eqn.primitive.name
        ins = [read(v) for v in eqn.invars]
        try:
            if prim in INLINE and prim not in RULE_FIRST:
                sub, sub_consts = INLINE[prim](eqn)
                outs = inline_jaxpr(ctx, sub, sub_consts, ins)
            else:
                rule = PRIMITIVES.get(prim)
                if rule is None:
                    raise UnsupportedPrimitiveError(
                        f"from_jax: JAX primitive {prim!r} has no chainrule equivalent (not supported yet); "
                        f"used at {_where(eqn)}")
                outs = rule(ctx, eqn, ins)
        except IRError as e:
            raise UnsupportedPrimitiveError(
                f"from_jax: cannot express JAX primitive {prim!r} at {_where(eqn)} in chainrule ops: {e}") from e
        for v, o in zip(eqn.outvars, outs):
            if isinstance(v, jcore.DropVar):
                continue
            want = TensorType(v.aval.shape, _dtype(v.aval.dtype, f"the result of {prim!r}"))
            if o.type != want:
                raise AssertionError(f"from_jax: {prim!r} at {_where(eqn)} became {o.type}, JAX says {want}")
            env[v] = o
    return [read(v) for v in jaxpr.outvars]


def _where(eqn) -> str:
    try:
        from jax._src import source_info_util
        return source_info_util.summarize(eqn.source_info)
    except Exception:  # pragma: no cover - private API moved
        return "an unknown source line"
