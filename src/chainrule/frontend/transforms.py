"""Function transformations: grad, value_and_grad, jvp, vjp, jacfwd, jacrev, hessian, gradients.

Each one traces the function to a graph, runs the autodiff pass on the graph
and applies the derivative graph to the arguments: symbolically inside an
enclosing trace (so transformations nest: grad(grad(f)), jit(grad(f))) and
eagerly, through the reference rules, on concrete arrays.
"""

from __future__ import annotations

import functools

import numpy as np

from ..ir import Graph
from ..passes.autodiff import jvp_graph, vjp_graph
from . import pytree
from .core import bind, canonical_array, is_tensor, type_of
from .errors import api_boundary, boundary_transform, describe_tree
from .numpy.shapes import reshape
from .tracing import as_function, build_graph, inline, spec_of, trace_flat


def _leaf_value(x):
    """Arguments as tensors or canonical arrays (Python scalars become 0-d arrays)."""
    return x if is_tensor(x) else canonical_array(x)


def _normalize_argnums(argnums, nargs, fname):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    out = []
    for a in nums:
        if not isinstance(a, int) or not -nargs <= a < nargs:
            raise ValueError(f"{fname}: argnums {argnums!r} is out of range for {nargs} positional argument(s)")
        out.append(a % nargs)
    return single, tuple(out)


class _Traced:
    """A function traced on concrete or symbolic arguments, with leaf bookkeeping.

    Only the arguments at positions `dyn` (default: all) are traced; the others are passed to
    `fun` as they are (closed over), as JAX's grad does for the arguments it does not
    differentiate: a Python int stays a Python int, so `range(n)` works on it."""

    def __init__(self, fun, args, name, dyn=None):
        dyn = tuple(range(len(args))) if dyn is None else tuple(dyn)
        self.arg_leaves = []
        self.arg_trees = {}
        self.arg_slices = {}
        for a in dyn:
            leaves, tree = pytree.flatten(args[a])
            start = len(self.arg_leaves)
            self.arg_leaves.extend(_leaf_value(x) for x in leaves)
            self.arg_trees[a] = tree
            self.arg_slices[a] = range(start, start + len(leaves))
        _, in_tree = pytree.flatten(tuple(args[a] for a in dyn))
        types = [spec_of(x) for x in self.arg_leaves]
        if len(dyn) == len(args):
            call = fun
        else:
            def call(*vals):
                full = list(args)
                for a, v in zip(dyn, vals):
                    full[a] = v
                return fun(*full)
        self.traced = trace_flat(call, types, in_tree, name=name, prints=True)
        self.graph: Graph = self.traced.graph
        self.out_tree = self.traced.out_tree
        self.inputs = self.arg_leaves + list(self.traced.captured)
        if self.traced.prints:
            # cr.debug.print in fun: its values are the graph's results after fun's own; print them
            # here (now on concrete values, or recorded again by an enclosing jit), then drop them
            from .debug import replay
            n_out = self.out_tree.num_leaves
            g = self.graph
            replay(self.traced.prints, inline(_select_results(g, range(n_out, len(g.results))), self.inputs))
            self.graph = _select_results(g, range(n_out))

    def leaves_of(self, argnums):
        return [i for a in argnums for i in self.arg_slices[a]]


def _fname(fun):
    import re
    n = getattr(fun, "__name__", "f")
    n = re.sub(r"[^A-Za-z0-9_.]", "_", n) or "f"
    return n if not n[0].isdigit() else "f_" + n


def _select_results(g: Graph, keep) -> Graph:
    """The same graph with only the results at positions `keep` (nodes shared, params shared)."""
    return Graph(g.name, g.params, g.nodes, [g.results[i] for i in keep])


def _check_float_leaves(t: _Traced, idxs, fname, holomorphic=False):
    for i in idxs:
        d = t.graph.params[i].dtype
        if holomorphic and not d.is_complex:
            raise TypeError(f"{fname} with holomorphic=True requires complex inputs, but an input has dtype "
                            f"{d.name}; pass complex arrays (e.g. x.astype(cnp.complex64))")
        if not d.is_inexact:
            raise TypeError(
                f"{fname} requires float or complex inputs, but an input has dtype {d.name}; "
                "pass floats (e.g. 2.0 instead of 2) or leave integer arguments out of argnums")


@boundary_transform
def value_and_grad(fun, argnums=0, has_aux=False, holomorphic=False):
    """Like jax.value_and_grad: returns (value, grads) or ((value, aux), grads). For a real-valued
    function of complex inputs the gradient is JAX's (the conjugate of df/dz*, times 2); with
    holomorphic=True the function and its inputs are complex and the gradient is f'(z)."""
    fun = as_function(fun)  # a Graph is a function of its parameters

    @functools.wraps(fun)
    def vg(*args, **kwargs):
        if kwargs:
            return value_and_grad(lambda *a: fun(*a, **kwargs), argnums, has_aux, holomorphic)(*args)
        single, nums = _normalize_argnums(argnums, len(args), "grad")
        t = _Traced(fun, args, _fname(fun), dyn=sorted(set(nums)))
        g = t.graph
        out_leaves = len(g.results)
        if has_aux:
            if t.out_tree.kind not in ("tuple", "list") or len(t.out_tree.children) != 2:
                raise TypeError("grad with has_aux=True requires the function to return a pair (value, aux), but "
                                f"{getattr(fun, '__name__', 'it')} returns {describe_tree(t.out_tree)}")
            value_tree = t.out_tree.children[0]
            if value_tree.kind != "leaf":
                raise TypeError("grad with has_aux=True: the value (first of the pair) must be a scalar array")
        elif t.out_tree.kind != "leaf":
            raise TypeError(f"grad requires a function returning one scalar, but {getattr(fun, '__name__', 'it')} "
                            f"returns {describe_tree(t.out_tree)}; return a scalar (e.g. reduce with cnp.sum), or "
                            "pass has_aux=True to return (value, aux)")
        vt = g.results[0].type
        if vt.shape != ():
            raise TypeError(f"grad requires a scalar output, got shape {vt.shape}; use jacrev or vjp for "
                            "non-scalar outputs")
        if holomorphic and not vt.dtype.is_complex:
            raise TypeError(f"grad with holomorphic=True requires a complex output, got dtype {vt.dtype.name}")
        if not holomorphic and not vt.dtype.is_float:
            raise TypeError(f"grad requires a real-valued (float) output, got dtype {vt.dtype.name}"
                            + ("; for a holomorphic function pass holomorphic=True" if vt.dtype.is_complex else ""))
        wrt = t.leaves_of(nums)
        _check_float_leaves(t, wrt, "grad", holomorphic)
        gv = _select_results(g, [0])
        gg = vjp_graph(gv, wrt=wrt, seed_ones=True)
        outs = inline(gg, t.inputs)
        value, grads_flat = outs[0], outs[1:]
        grads, k = [], 0
        for a in nums:
            n = len(t.arg_slices[a])
            grads.append(pytree.unflatten(t.arg_trees[a], grads_flat[k:k + n]))
            k += n
        grads = grads[0] if single else tuple(grads)
        if has_aux:
            aux_outs = inline(_select_results(g, range(1, out_leaves)), t.inputs)
            aux = pytree.unflatten(t.out_tree.children[1], aux_outs)
            return (value, aux), grads
        return value, grads

    return vg


@boundary_transform
def grad(fun, argnums=0, has_aux=False, holomorphic=False):
    """Like jax.grad: the gradient of a scalar function with respect to `argnums` (complex inputs and
    holomorphic=True as in JAX; see value_and_grad)."""
    fun = as_function(fun)  # a Graph is a function of its parameters
    vg = value_and_grad(fun, argnums, has_aux, holomorphic)

    @functools.wraps(fun)
    def g(*args, **kwargs):
        if has_aux:
            (_, aux), gr = vg(*args, **kwargs)
            return gr, aux
        return vg(*args, **kwargs)[1]

    return g


@api_boundary
def jvp(fun, primals, tangents, has_aux=False):
    """Like jax.jvp: (fun(*primals), J·tangents)."""
    fun = as_function(fun)  # a Graph is a function of its parameters
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp expects primals and tangents as tuples (or lists) of arguments")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primal(s) but {len(tangents)} tangent(s)")
    t = _Traced(fun, tuple(primals), _fname(fun))
    tan_leaves, tan_tree = pytree.flatten(tuple(tangents))
    _, prim_tree = pytree.flatten(tuple(primals))
    if tan_tree != prim_tree:
        raise TypeError(f"jvp: tangents are structured as {tan_tree}, primals as {prim_tree}")
    wrt = [i for i, p in enumerate(t.graph.params[:len(t.arg_leaves)]) if p.dtype.is_inexact]
    tans = []
    for i in wrt:
        tv = _leaf_value(tan_leaves[i])
        if type_of(tv) != t.graph.params[i].type:
            raise TypeError(f"jvp: tangent {i} has type {type_of(tv)}, expected {t.graph.params[i].type} "
                            "(the primal's shape and dtype)")
        tans.append(tv)
    jg = jvp_graph(t.graph, wrt=wrt)
    if any(n.op.name == "custom_vjp_lin" for n in jg.walk()):
        raise TypeError("can't apply forward-mode autodiff (jvp, jacfwd) to a custom_vjp function; "
                        "define it with cr.custom_jvp instead, or use reverse mode (grad, vjp, jacrev)")
    outs = inline(jg, t.inputs + tans)
    n = len(t.graph.results)
    primal_out, tangent_out = outs[:n], outs[n:]
    if has_aux:
        if t.out_tree.kind not in ("tuple", "list") or len(t.out_tree.children) != 2:
            raise TypeError("jvp with has_aux=True requires the function to return a pair (out, aux)")
        nv = t.out_tree.children[0].num_leaves
        tree_v, tree_a = t.out_tree.children
        return (pytree.unflatten(tree_v, primal_out[:nv]), pytree.unflatten(tree_v, tangent_out[:nv]),
                pytree.unflatten(tree_a, primal_out[nv:]))
    return pytree.unflatten(t.out_tree, primal_out), pytree.unflatten(t.out_tree, tangent_out)


@api_boundary
def linearize(fun, *primals):
    """Like jax.linearize: `(fun(*primals), f_jvp)` where `f_jvp(*tangents)` is the JVP at `primals`.
    The JVP graph is traced once; each call of `f_jvp` evaluates it on the tangents (recomputing the
    primal part, where JAX keeps only the linear part)."""
    fun = as_function(fun)
    t = _Traced(fun, tuple(primals), _fname(fun))
    wrt = [i for i, p in enumerate(t.graph.params[:len(t.arg_leaves)]) if p.dtype.is_inexact]
    jg = jvp_graph(t.graph, wrt=wrt)
    if any(n.op.name == "custom_vjp_lin" for n in jg.walk()):
        raise TypeError("can't apply forward-mode autodiff (linearize) to a custom_vjp function; "
                        "define it with cr.custom_jvp instead")
    n = len(t.graph.results)
    primal_out = pytree.unflatten(t.out_tree, inline(t.graph, t.inputs))
    _, prim_tree = pytree.flatten(tuple(primals))

    def f_jvp(*tangents):
        tan_leaves, tan_tree = pytree.flatten(tuple(tangents))
        if tan_tree != prim_tree:
            raise TypeError(f"linearize: tangents are structured as {tan_tree}, primals as {prim_tree}")
        tans = []
        for i in wrt:
            tv = _leaf_value(tan_leaves[i])
            if type_of(tv) != t.graph.params[i].type:
                raise TypeError(f"linearize: tangent {i} has type {type_of(tv)}, expected "
                                f"{t.graph.params[i].type} (the primal's shape and dtype)")
            tans.append(tv)
        return pytree.unflatten(t.out_tree, inline(jg, t.inputs + tans)[n:])

    return primal_out, f_jvp


@api_boundary
def vjp(fun, *primals, has_aux=False):
    """Like jax.vjp: (fun(*primals), vjp_fun) where vjp_fun(cotangent) gives one cotangent per primal."""
    fun = as_function(fun)  # a Graph is a function of its parameters
    t = _Traced(fun, primals, _fname(fun))
    g = t.graph
    n_arg = len(t.arg_leaves)
    if has_aux:
        if t.out_tree.kind not in ("tuple", "list") or len(t.out_tree.children) != 2:
            raise TypeError("vjp with has_aux=True requires the function to return a pair (out, aux)")
        nv = t.out_tree.children[0].num_leaves
        out_tree = t.out_tree.children[0]
    else:
        nv = len(g.results)
        out_tree = t.out_tree
    outs = inline(g, t.inputs)
    primal_out = pytree.unflatten(out_tree, outs[:nv])
    wrt = [i for i in range(n_arg) if g.params[i].dtype.is_inexact]
    gv = _select_results(g, range(nv))
    vg = vjp_graph(gv, wrt=wrt)

    @api_boundary
    def vjp_fun(ct):
        ct_leaves, ct_tree = pytree.flatten(ct)
        if ct_tree != out_tree:
            raise TypeError(f"vjp: the cotangent is structured as {ct_tree}, the output as {out_tree}")
        cts = []
        for i, (c, r) in enumerate(zip(ct_leaves, gv.results)):
            cv = _leaf_value(c)
            if type_of(cv) != r.type:
                if not is_tensor(cv) and np.shape(cv) == r.type.shape:
                    cv = np.asarray(cv, dtype=r.type.dtype.np)
                else:
                    raise TypeError(f"vjp: cotangent {i} has type {type_of(cv)}, expected {r.type} (the output's)")
            cts.append(cv)
        res = inline(vg, t.inputs + cts)[nv:]
        full, k = [], 0
        for i in range(n_arg):
            if i in wrt:
                full.append(res[k])
                k += 1
            else:
                p = g.params[i].type
                full.append(np.zeros(p.shape, p.dtype.np))
        out, j = [], 0
        for a in range(len(primals)):
            n = len(t.arg_slices[a])
            out.append(pytree.unflatten(t.arg_trees[a], full[j:j + n]))
            j += n
        return tuple(out)

    if has_aux:
        aux = pytree.unflatten(t.out_tree.children[1], outs[nv:])
        return primal_out, vjp_fun, aux
    return primal_out, vjp_fun


def _basis(types):
    """One identity block per type: block k has shape (total,) + types[k].shape, where `total` is the
    summed size, so that vmapping over the leading axis pushes every unit vector through at once."""
    total = sum(t.size for t in types)
    eye = np.eye(total)
    out, off = [], 0
    for t in types:
        out.append(eye[:, off:off + t.size].reshape((total,) + t.shape).astype(t.dtype.np))
        off += t.size
    return out


def _split_last(y, types, lead_shape):
    """Cut the last axis of `y` (one column per basis vector) into one block per type, each reshaped
    to lead_shape + type.shape."""
    if len(types) == 1:
        return [reshape(y, tuple(lead_shape) + types[0].shape)]
    out, off = [], 0
    for t in types:
        out.append(reshape(y[..., off:off + t.size], tuple(lead_shape) + t.shape))
        off += t.size
    return out


@boundary_transform
def jacrev(fun, argnums=0, has_aux=False):
    """Jacobian by reverse mode: the VJP vmapped over the rows of the identity (as jax.jacrev)."""
    fun = as_function(fun)  # a Graph is a function of its parameters

    @functools.wraps(fun)
    def jac(*args):
        from .vmap import vmap
        single, nums = _normalize_argnums(argnums, len(args), "jacrev")
        dyn = sorted(set(nums))  # the other arguments pass through as they are (as in jax.jacrev)

        def f_dyn(*vals):
            full = list(args)
            for a, v in zip(dyn, vals):
                full[a] = v
            return fun(*full)

        if has_aux:
            out, vf, aux = vjp(f_dyn, *(args[a] for a in dyn), has_aux=True)
        else:
            out, vf = vjp(f_dyn, *(args[a] for a in dyn))
        pos = {a: k for k, a in enumerate(dyn)}
        out_leaves, out_tree = pytree.flatten(out)
        out_types = [type_of(_leaf_value(o)) for o in out_leaves]
        in_trees = [pytree.flatten(args[a])[1] for a in nums]
        in_types = [[type_of(_leaf_value(x)) for x in pytree.flatten(args[a])[0]] for a in nums]
        flat_in = [t for ts in in_types for t in ts]

        def pullback(*basis):
            cts = vf(pytree.unflatten(out_tree, list(basis)))
            return [leaf for a in nums for leaf in pytree.flatten(cts[pos[a]])[0]]

        rows = vmap(pullback, out_axes=-1)(*_basis(out_types)) if flat_in else []
        per_out = [[] for _ in out_types]  # per output leaf: one jacobian per input leaf
        for r, xt in zip(rows, flat_in):
            for k, blk in enumerate(_split_last(r, out_types, xt.shape)):
                # blk: x.shape + out.shape -> out.shape + x.shape
                nx = len(xt.shape)
                perm = tuple(range(nx, nx + out_types[k].ndim)) + tuple(range(nx))
                if perm != tuple(range(len(perm))):
                    blk = bind("transpose", blk, permutation=perm) if is_tensor(blk) else np.transpose(blk, perm)
                per_out[k].append(blk)
        res = []
        for k in range(len(out_types)):
            parts, j = [], 0
            for tree, ts in zip(in_trees, in_types):
                parts.append(pytree.unflatten(tree, per_out[k][j:j + len(ts)]))
                j += len(ts)
            res.append(parts[0] if single else tuple(parts))
        res = pytree.unflatten(out_tree, res)
        return (res, aux) if has_aux else res

    return jac


@boundary_transform
def jacfwd(fun, argnums=0, has_aux=False):
    """Jacobian by forward mode: the JVP vmapped over the columns of the identity (as jax.jacfwd)."""
    fun = as_function(fun)  # a Graph is a function of its parameters

    @functools.wraps(fun)
    def jac(*args):
        from .vmap import vmap
        single, nums = _normalize_argnums(argnums, len(args), "jacfwd")
        arg_leaves = [pytree.flatten(a) for a in args]
        chosen = [(a, li) for a in nums for li in range(len(arg_leaves[a][0]))]
        types = [type_of(_leaf_value(arg_leaves[a][0][li])) for a, li in chosen]
        for t in types:
            if not t.dtype.is_float:
                raise TypeError(f"jacfwd requires real-valued (float) inputs, got dtype {t.dtype.name}")

        def pushforward(*basis):
            # only the differentiated arguments get tangents; the others are closed over, so no
            # dense zero tangents enter the graph
            def f_nums(*dyn):
                full = list(args)
                for a, v in zip(nums, dyn):
                    full[a] = v
                return fun(*full)

            tangents, k = [], 0
            for a in nums:
                n = len(arg_leaves[a][0])
                tangents.append(pytree.unflatten(arg_leaves[a][1], list(basis[k:k + n])))
                k += n
            primals = tuple(args[a] for a in nums)
            if has_aux:
                _, tout, aux = jvp(f_nums, primals, tuple(tangents), has_aux=True)
                return tout, aux
            return jvp(f_nums, primals, tuple(tangents))[1]

        spec = (-1, None) if has_aux else -1
        res = vmap(pushforward, out_axes=spec, axis_size=sum(t.size for t in types))(*_basis(types))
        tout, aux = res if has_aux else (res, None)
        t_leaves, out_tree = pytree.flatten(tout)
        outs = []
        for o in t_leaves:
            lead = type_of(o).shape[:-1]
            blocks = _split_last(o, types, lead)
            parts, j = [], 0
            for a in nums:
                n = len(arg_leaves[a][0])
                parts.append(pytree.unflatten(arg_leaves[a][1], blocks[j:j + n]))
                j += n
            outs.append(parts[0] if single else tuple(parts))
        res = pytree.unflatten(out_tree, outs)
        return (res, aux) if has_aux else res

    return jac


@boundary_transform
def hessian(fun, argnums=0):
    """Like jax.hessian: jacfwd(jacrev(fun))."""
    fun = as_function(fun)  # a Graph is a function of its parameters
    return jacfwd(jacrev(fun, argnums), argnums)


def jacobian(fun, argnums=0, has_aux=False):
    """Like jax.jacobian: an alias of jacrev."""
    return jacrev(fun, argnums, has_aux)


def stop_gradient(x):
    """The identity, with a zero derivative."""
    def one(v):
        if is_tensor(v):
            return bind("stop_gradient", v)
        return _leaf_value(v)
    return pytree.tree_map(one, x)


@api_boundary
def gradients(ys, xs, grad_ys=None):
    """Symbolic reverse mode for define-then-run graphs (like tf.gradients).

    Returns one tensor per x: the sum over ys of d(y · grad_y)/dx; grad_ys
    default to ones (so scalar ys give their plain gradient).
    """
    ys_list = list(ys) if isinstance(ys, (list, tuple)) else [ys]
    xs_list = list(xs) if isinstance(xs, (list, tuple)) else [xs]
    for i, x in enumerate(xs_list):
        if not is_tensor(x):
            raise TypeError(f"gradients: xs[{i}] must be a symbolic tensor, got {type(x).__name__}")
        if not x.type.dtype.is_float:
            raise TypeError(f"gradients requires real-valued (float) xs, but xs[{i}] has dtype {x.type.dtype.name}")
    ys_t = []
    for i, y in enumerate(ys_list):
        if not is_tensor(y):
            raise TypeError(f"gradients: ys[{i}] must be a symbolic tensor, got {type(y).__name__}")
        if not y.type.dtype.is_float:
            raise TypeError(f"gradients requires real-valued (float) ys, but ys[{i}] has dtype {y.type.dtype.name}")
        ys_t.append(y)
    graph, free = build_graph(xs_list, ys_t, scope=None, name="gradients", collect_free=True)
    wrt = list(range(len(xs_list)))
    if grad_ys is None:
        for i, y in enumerate(ys_t):
            if y.type.shape != ():
                pass  # seeded with ones, as tf.gradients does
        vg = vjp_graph(graph, wrt=wrt, seed_ones=True)
        outs = inline(vg, xs_list + free)
    else:
        gys = list(grad_ys) if isinstance(grad_ys, (list, tuple)) else [grad_ys]
        if len(gys) != len(ys_t):
            raise ValueError(f"gradients: {len(ys_t)} ys but {len(gys)} grad_ys")
        cts = []
        for i, (gy, y) in enumerate(zip(gys, ys_t)):
            cv = gy if is_tensor(gy) else np.asarray(gy, dtype=y.type.dtype.np)
            if type_of(cv) != y.type:
                cv = bind("broadcast_in_dim", cv, shape=y.type.shape, broadcast_dimensions=()) \
                    if type_of(cv).shape == () and type_of(cv).dtype == y.type.dtype else cv
            if type_of(cv) != y.type:
                raise TypeError(f"gradients: grad_ys[{i}] has type {type_of(cv)}, expected {y.type}")
            cts.append(cv)
        vg = vjp_graph(graph, wrt=wrt)
        outs = inline(vg, xs_list + free + cts)
    return outs[len(ys_t):]
