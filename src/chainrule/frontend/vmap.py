"""`vmap`: vectorize a function over a batch axis, as jax.vmap does.

The function is traced once on the element types (the mapped axis removed),
the batching pass rewrites its graph for the whole batch
(`chainrule.passes.batching.batch_graph`), and the batched graph is inlined
on the arguments: symbolically inside an enclosing trace (so vmap composes
with jit, grad, jvp and itself) and eagerly, through the reference rules,
on concrete arrays. Mapped axes other than 0 cost nothing up front: the pass
takes the batch dimension where it is and moves it only where an op needs.
"""

from __future__ import annotations

import functools
import inspect

from ..ir import TensorType
from ..passes.batching import BatchingError, batch_graph
from . import pytree
from .core import bind_multi, canonical_array, is_tensor, type_of
from .errors import boundary_transform
from .tensor import Apply, current_scope, in_trace
from .sharding import bound_axes
from .tracing import as_function, trace_flat


def _leaf_value(x):
    return x if is_tensor(x) else canonical_array(x)


def _is_axis(a) -> bool:
    return a is None or (isinstance(a, int) and not isinstance(a, bool))


def _check_axes_spec(spec, what):
    leaves, _ = pytree.flatten(spec, is_leaf=lambda a: a is None)
    if not all(_is_axis(a) for a in leaves):
        raise TypeError(f"vmap {what} must be an int, None, or (nested) container with those types as leaves, "
                        f"but got {spec!r}.")


def _broadcast_prefix(spec, tree: pytree.TreeDef, what: str, full_spec, full_tree) -> list:
    """One axis per leaf of `tree`, from `spec`, a tree prefix of it (as JAX's in_axes/out_axes)."""
    if _is_axis(spec):
        return [spec] * tree.num_leaves
    def bad():
        return ValueError(f"vmap {what} specification must be a tree prefix of the corresponding value, got "
                          f"specification {full_spec!r} for value tree {full_tree!r}.")
    if tree.kind in ("tuple", "list", "namedtuple") and isinstance(spec, (tuple, list)):
        if len(spec) != len(tree.children):
            raise bad()
        return [a for s, c in zip(spec, tree.children) for a in _broadcast_prefix(s, c, what, full_spec, full_tree)]
    if tree.kind == "dict" and isinstance(spec, dict):
        if sorted(spec, key=repr) != sorted(tree.aux, key=repr):
            raise bad()
        return [a for k, c in zip(tree.aux, tree.children)
                for a in _broadcast_prefix(spec[k], c, what, full_spec, full_tree)]
    raise bad()


def _arg_names(fun, n):
    try:
        params = list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = []
    for i in range(n):
        p = params[i] if i < len(params) else None
        if p is not None and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
        else:
            names.append(f"args[{i}]")
    return names


def _leaf_paths(tree: pytree.TreeDef, prefix: str) -> list[str]:
    if tree.kind == "leaf":
        return [prefix]
    if tree.kind == "dict":
        keys = [f"[{k!r}]" for k in tree.aux]
    else:
        keys = [f"[{i}]" for i in range(len(tree.children))]
    return [p for k, c in zip(keys, tree.children) for p in _leaf_paths(c, prefix + k)]


@boundary_transform
def vmap(fun, in_axes=0, out_axes=0, axis_size=None, axis_name=None):
    """Like jax.vmap: `fun` mapped over axis `in_axes` of its arguments, results stacked at `out_axes`.

    `in_axes` is an int, None (not mapped), or a tuple with one entry per
    positional argument, each an int/None or a pytree prefix of that
    argument; negative axes count from the end. Keyword arguments are mapped
    over axis 0. `out_axes` is the same for the result pytree (None: the
    output must not depend on the mapped axis). `axis_size` is needed only
    when no argument is mapped. `axis_name` names the mapped axis for the collectives
    (`cr.sharding.psum(x, axis_name)`, ...), which then work across the batch, as in JAX.
    """
    fun = as_function(fun)  # a Graph is a function of its parameters
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)  # a list at the top means one entry per argument, as in JAX
    if not (_is_axis(in_axes) or isinstance(in_axes, tuple)):
        raise TypeError("vmap in_axes must be an int, None, or a tuple of entries corresponding to the positional "
                        f"arguments passed to the function, but got {in_axes!r}.")
    _check_axes_spec(in_axes, "in_axes")
    _check_axes_spec(out_axes, "out_axes")

    @functools.wraps(fun)
    def batched(*args, **kwargs):
        if not args and not kwargs:
            raise ValueError("vmap wrapped function must be passed at least one argument containing an array, "
                             "got empty *args=() and **kwargs={}")
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError("vmap in_axes must be an int, None, or a tuple of entries corresponding to the "
                             f"positional arguments passed to the function, but got len(in_axes)={len(in_axes)}, "
                             f"len(args)={len(args)}")
        names = _arg_names(fun, len(args))
        leaves, axes, where = [], [], []
        for i, a in enumerate(args):
            ls, tree = pytree.flatten(a)
            spec = in_axes[i] if isinstance(in_axes, tuple) else in_axes
            axes += _broadcast_prefix(spec, tree, "in_axes", in_axes, pytree.flatten(args)[1])
            leaves += ls
            where += [names[i] + p for p in _leaf_paths(tree, "")]
        kw_leaves, kw_tree = pytree.flatten(kwargs)
        leaves += kw_leaves
        axes += [0] * len(kw_leaves)
        where += [f"keyword argument {p}" for p in _leaf_paths(kw_tree, "")]
        values = [_leaf_value(x) for x in leaves]
        types = [type_of(v) for v in values]
        size, axes = _mapped_size(types, axes, where, axis_size)
        # Unmapped Python scalars go into the trace as they are, so they stay weakly typed
        # (x * 2.0 keeps x's dtype, as in JAX) instead of becoming float64/int64 parameters.
        weak = [ax is None and type(x) in (bool, int, float) for x, ax in zip(leaves, axes)]
        keep = [k for k, w in enumerate(weak) if not w]
        elem_types = [types[k] if axes[k] is None else
                      TensorType(types[k].shape[:axes[k]] + types[k].shape[axes[k] + 1:], types[k].dtype)
                      for k in keep]
        _, in_tree = pytree.flatten((args, kwargs))

        def flat_fun(*dyn):
            full = list(leaves)
            for k, v in zip(keep, dyn):
                full[k] = v
            a, kw = pytree.unflatten(in_tree, full)
            return fun(*a, **kw)

        name = getattr(fun, "__name__", "f")
        with bound_axes({axis_name: size} if axis_name is not None else {}):
            traced = trace_flat(flat_fun, elem_types, pytree.flatten(tuple(elem_types))[1], name=_ident(name),
                                prints=True)
        n_prints = len(traced.graph.results) - traced.out_tree.num_leaves  # cr.debug.print values
        values = [values[k] for k in keep]
        axes = [axes[k] for k in keep]
        g = traced.graph
        out_flat = _broadcast_prefix(out_axes, traced.out_tree, "out_axes", out_axes, traced.out_tree)
        out_flat = out_flat + [0] * n_prints
        for j, (r, ax) in enumerate(zip(g.results, out_flat)):
            if ax is not None and not -(r.ndim + 1) <= ax <= r.ndim:
                raise ValueError(f"vmap out_axes {ax} is out of bounds for output {j} of rank {r.ndim + 1} "
                                 f"(its element type is {r.type})")
        try:
            bg = batch_graph(g, axes + [None] * len(traced.captured), size, out_flat, name=f"{g.name}_vmap",
                             axis_name=axis_name)
        except BatchingError as e:
            if "varies over the batch" in str(e):  # an out_axes None met a batched result
                raise ValueError("vmap has mapped output but out_axes is None") from None
            raise
        outs = _inline(bg, values + list(traced.captured))
        if n_prints:  # one print per batch element, as jax.debug.print under vmap
            from .debug import replay
            extra = outs[len(outs) - n_prints:]
            outs = outs[:len(outs) - n_prints]
            for b in range(size):
                replay(traced.prints, [v[b] for v in extra])
        return pytree.unflatten(traced.out_tree, outs)

    return batched


def _inline(graph, inputs) -> list:
    """Apply `graph` to `inputs`: eagerly on arrays, symbolically inside a trace.

    Inside a trace, leaves (constants, iotas) stay symbolic too, so the
    broadcasts the batching rules put on them stay `broadcast_in_dim` nodes
    instead of being computed here into dense batch-sized constants.
    """
    symbolic_leaves = in_trace()
    env = {id(p): x for p, x in zip(graph.params, inputs)}
    for node in graph.nodes:
        if symbolic_leaves and not node.operands:
            outs = Apply(node.op, (), node.attrs, node.regions, [r.type for r in node.results],
                         current_scope(), node.loc).outputs
        else:
            outs = bind_multi(node.op, [env[id(v)] for v in node.operands], node.attrs, node.regions)
        for r, o in zip(node.results, outs):
            env[id(r)] = o
    return [env[id(r)] for r in graph.results]


def _mapped_size(types, axes, where, axis_size):
    """The common size of the mapped axes (axes normalized), or a JAX-worded error."""
    norm, sizes = [], []
    for t, ax, w in zip(types, axes, where):
        if ax is None:
            norm.append(None)
            continue
        if not -t.ndim <= ax < t.ndim:
            raise ValueError(f"vmap was requested to map its argument along axis {ax}, which implies that its "
                             f"rank should be at least {(ax if ax >= 0 else -ax - 1) + 1}, but is only {t.ndim} "
                             f"(its shape is {t.shape})")
        ax %= t.ndim
        norm.append(ax)
        sizes.append((t.shape[ax], ax, w, t))
    if not sizes:
        if axis_size is None:
            raise ValueError("vmap must have at least one non-None value in in_axes")
        return int(axis_size), norm
    distinct = {s for s, *_ in sizes}
    if axis_size is not None:
        distinct.add(int(axis_size))
    if len(distinct) > 1:
        lines = [f"  * one axis had size {s}: axis {ax} of argument {w} of type {t};" for s, ax, w, t in sizes]
        if axis_size is not None:
            lines.append(f"  * axis_size was given as {axis_size};")
        raise ValueError("vmap got inconsistent sizes for array axes to be mapped:\n" + "\n".join(lines))
    return sizes[0][0], norm


def _ident(name: str) -> str:
    import re
    n = re.sub(r"[^A-Za-z0-9_.]", "_", name or "f") or "f"
    return n if not n[0].isdigit() else "f_" + n
