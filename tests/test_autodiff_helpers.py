"""Shared oracles of the autodiff tests: finite differences on the reference backend, and JAX.

`to_jax(graph)` re-expresses an IR graph in `jax.lax` calls (one line per op,
written independently of chainrule's rules) so `jax.jvp`/`jax.vjp`/
`jax.hessian` of the same computation can be compared with our derivative
graphs. x64 is switched on only inside `jax_x64()`.
"""

from __future__ import annotations

import contextlib

import numpy as np

from chainrule.backends.reference import evaluate
from chainrule.ir import REGISTRY, verify
from chainrule.testing import assert_roundtrip
from op_tables import LAX_NAMES

try:
    import jax
    import jax.numpy as jnp
    from jax import lax
except ImportError:  # pragma: no cover
    jax = None


@contextlib.contextmanager
def jax_x64():
    """Enable float64 in JAX for the block, restoring the previous setting (it is process-global)."""
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", old)


def run(graph, args):
    return evaluate(graph, [np.asarray(a) for a in args])


def check_graph(graph):
    """Every graph the pass returns must verify and round-trip through its text form."""
    verify(graph)
    assert_roundtrip(graph)
    return graph


# --- finite differences ------------------------------------------------------------------

def fd_jvp(graph, args, wrt, tangents, h=1e-6):
    """Central difference of every result of `graph` along `tangents` (float64 params in `wrt`)."""
    plus = [np.array(a, copy=True) for a in args]
    minus = [np.array(a, copy=True) for a in args]
    for i, t in zip(wrt, tangents):
        plus[i] = args[i] + h * t
        minus[i] = args[i] - h * t
    fp, fm = run(graph, plus), run(graph, minus)
    return [(np.asarray(a, np.float64) - np.asarray(b, np.float64)) / (2 * h) if np.asarray(a).dtype.kind == "f"
            else np.zeros(np.shape(a)) for a, b in zip(fp, fm)]


# --- the same graph in jax.lax ----------------------------------------------------------------

def _round(x):
    return lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN)


def _clip_idx(idx, n):
    return jnp.clip(idx, 0, max(n - 1, 0))


def _gather(x, idx, axis, bd):
    if bd == 0:
        return jnp.take(x, _clip_idx(idx, x.shape[axis]), axis=axis)
    return jax.vmap(lambda a, i: _gather(a, i, axis - 1, bd - 1))(x, idx)


def _scatter(x, idx, u, axis, bd, kind):
    if bd == 0:
        where = (slice(None),) * axis + (_clip_idx(idx, x.shape[axis]),)
        return x.at[where].add(u) if kind == "add" else x.at[where].set(u)
    return jax.vmap(lambda a, i, v: _scatter(a, i, v, axis - 1, bd - 1, kind))(x, idx, u)


_CMP = {"EQ": lax.eq, "NE": lax.ne, "LT": lax.lt, "LE": lax.le, "GT": lax.gt, "GE": lax.ge} if jax else {}

_UNARY = {op: f for op, f in LAX_NAMES.items() if REGISTRY[op].num_operands == 1}
_BINARY = {op: f for op, f in LAX_NAMES.items() if REGISTRY[op].num_operands == 2}
_REDUCE = {"sum": "reduce_sum", "prod": "reduce_prod", "max": "reduce_max", "min": "reduce_min",
           "and": "reduce_and", "or": "reduce_or"}


def _jax_op(node, args):
    name, a = node.op.name, node.attrs
    if name in _UNARY:
        return getattr(lax, _UNARY[name])(args[0])
    if name in _BINARY:
        return getattr(lax, _BINARY[name])(*args)
    if name == "round_nearest_even":
        return _round(args[0])
    if name == "constant":
        return jnp.asarray(a["value"].array)
    if name == "iota":
        return lax.broadcasted_iota(a["dtype"].np, a["shape"], a["dimension"])
    if name == "compare":
        return _CMP[a["direction"]](*args)
    if name == "select":
        return lax.select(*args)
    if name == "clamp":
        return lax.clamp(*args)
    if name == "convert":
        return lax.convert_element_type(args[0], a["dtype"].np)
    if name == "broadcast_in_dim":
        return lax.broadcast_in_dim(args[0], a["shape"], a["broadcast_dimensions"])
    if name == "reshape":
        return lax.reshape(args[0], a["shape"])
    if name == "transpose":
        return lax.transpose(args[0], a["permutation"])
    if name == "slice":
        return lax.slice(args[0], a["start_indices"], a["limit_indices"], a["strides"] or None)
    if name == "dynamic_slice":
        return lax.dynamic_slice(args[0], args[1:], a["slice_sizes"], allow_negative_indices=False)  # XLA clamps
    if name == "dynamic_update_slice":
        return lax.dynamic_update_slice(args[0], args[1], args[2:], allow_negative_indices=False)
    if name == "concatenate":
        return lax.concatenate(args, a["dimension"])
    if name == "pad":
        interior = a["interior_padding"] or (0,) * args[0].ndim
        return lax.pad(args[0], args[1], list(zip(a["edge_padding_low"], a["edge_padding_high"], interior)))
    if name == "reverse":
        return lax.rev(args[0], a["dimensions"])
    if name == "reduce":
        return getattr(lax, _REDUCE[a["kind"]])(args[0], a["dimensions"])
    if name in ("argmax", "argmin"):
        return getattr(jnp, name)(args[0], axis=a["dimension"]).astype(a["index_dtype"].np)
    if name == "dot_general":
        dims = ((a["lhs_contracting"], a["rhs_contracting"]), (a["lhs_batch"], a["rhs_batch"]))
        return lax.dot_general(args[0], args[1], dims)
    if name == "gather":
        return _gather(args[0], args[1], a["axis"], a["batch_dims"])
    if name == "scatter":
        return _scatter(args[0], args[1], args[2], a["axis"], a["batch_dims"], a["kind"])
    if name == "fusion":
        return tuple(to_jax(node.regions[0])(*args))
    raise NotImplementedError(f"the test's JAX translation has no entry for {name}")


def to_jax(graph):
    """A Python function of jax arrays computing `graph` with jax.lax (returns a list)."""
    def fn(*args):
        env = {id(p): x for p, x in zip(graph.params, args)}
        for node in graph.nodes:
            out = _jax_op(node, [env[id(v)] for v in node.operands])
            outs = out if isinstance(out, tuple) else (out,)
            for r, o in zip(node.results, outs):
                env[id(r)] = o
        return [env[id(r)] for r in graph.results]
    return fn


def jax_partial(graph, args, wrt):
    """`graph` as a JAX function of the params in `wrt` only, the others fixed at `args`."""
    f = to_jax(graph)

    def g(*xs):
        full = [jnp.asarray(a) for a in args]
        for i, x in zip(wrt, xs):
            full[i] = x
        return f(*full)
    return g
