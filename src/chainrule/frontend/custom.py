"""`custom_vjp` and `custom_jvp`: functions with derivative rules the user writes.

The function and its rules are traced to graphs and held as regions of one
`custom_vjp_call` / `custom_jvp_call` node, so the rules survive jit, passes
and export, and the autodiff pass uses them instead of differentiating the
function.
"""

from __future__ import annotations

import functools

from ..passes.autodiff import custom_rules as _custom_rules  # noqa: F401  (registers their derivative rules)
from . import pytree
from .core import bind_multi, canonical_array, is_tensor
from .errors import api_boundary, leaf_paths, np_type
from .tracing import spec_of, trace_flat


def _leaves(args):
    leaves, tree = pytree.flatten(tuple(args))
    return [x if is_tensor(x) else canonical_array(x) for x in leaves], tree


def _trace(fun, types, tree, name, what):
    t = trace_flat(fun, types, tree, name=name)
    if t.captured:
        raise TypeError(
            f"the {what} of a custom derivative function uses symbolic values from outside it "
            f"({', '.join(repr(c) for c in t.captured[:3])}); pass them as arguments instead")
    return t


def _split_nondiff(args, nondiff_argnums):
    nd = tuple(args[i] for i in nondiff_argnums)
    diff = tuple(a for i, a in enumerate(args) if i not in nondiff_argnums)
    return nd, diff


def _with_nondiff(fun, nondiff_argnums, nd, nargs):
    def call(*diff):
        it = iter(diff)
        ndit = iter(nd)
        full = [next(ndit) if i in nondiff_argnums else next(it) for i in range(nargs)]
        return fun(*full)
    return call


class custom_jvp:
    """Like jax.custom_jvp: `f = custom_jvp(fun)`, then `@f.defjvp def rule(primals, tangents): ...`."""

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp = None
        self._in_rule = 0

    def defjvp(self, jvp):
        self.jvp = jvp
        return jvp

    @api_boundary
    def __call__(self, *args):
        if self._in_rule:
            # the rule calling the function itself (`return f(x), ...`): that is its primal output
            return self.fun(*args)
        if self.jvp is None:
            raise TypeError(f"custom_jvp function {self.fun.__name__} has no JVP rule: call .defjvp(rule) first")
        nd, diff = _split_nondiff(args, self.nondiff_argnums)
        leaves, tree = _leaves(diff)
        types = [spec_of(x) for x in leaves]
        name = getattr(self.fun, "__name__", "f")
        prim = _trace(_with_nondiff(self.fun, self.nondiff_argnums, nd, len(args)), types, tree, name, "function")

        def rule(*both):
            n = len(diff)
            primals, tangents = both[:n], both[n:]
            out = self.jvp(*nd, tuple(primals), tuple(tangents))
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise TypeError("a custom_jvp rule must return a pair (primal_out, tangent_out)")
            p_leaves, p_tree = pytree.flatten(out[0])
            t_leaves, t_tree = pytree.flatten(out[1])
            if p_tree != t_tree:
                raise TypeError(f"custom_jvp rule: tangent_out is structured as {t_tree}, primal_out as {p_tree}")
            return list(p_leaves) + list(t_leaves)

        both_tree = pytree.flatten(tuple(diff) + tuple(diff))[1]
        self._in_rule += 1
        try:
            jt = _trace(rule, types + types, both_tree, name + "_jvp", "JVP rule")
        finally:
            self._in_rule -= 1
        if jt.graph.result_types[:len(prim.graph.results)] != prim.graph.result_types:
            raise TypeError(
                f"custom_jvp rule: primal_out has types ({', '.join(map(str, jt.graph.result_types[:len(prim.graph.results)]))}), "
                f"the function returns ({', '.join(map(str, prim.graph.result_types))})")
        if len(jt.graph.results) != 2 * len(prim.graph.results) or \
                jt.graph.result_types[len(prim.graph.results):] != prim.graph.result_types:
            raise TypeError("custom_jvp rule: tangent_out must match the function's outputs in shape and dtype")
        outs = bind_multi("custom_jvp_call", leaves, {}, (prim.graph, jt.graph))
        return pytree.unflatten(prim.out_tree, list(outs))


class custom_vjp:
    """Like jax.custom_vjp: `f = custom_vjp(fun)`, then `f.defvjp(fwd, bwd)`.

    fwd(*args) returns (output, residuals); bwd(residuals, output_cotangent)
    returns a tuple with one cotangent per argument.
    """

    def __init__(self, fun, nondiff_argnums=()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd = self.bwd = None
        self._in_rule = 0

    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd

    @api_boundary
    def __call__(self, *args):
        if self._in_rule:
            # fwd or bwd calling the function itself: that is its plain primal computation
            return self.fun(*args)
        self._in_rule += 1
        try:
            return self._call(args)
        finally:
            self._in_rule -= 1

    def _call(self, args):
        if self.fwd is None:
            raise TypeError(f"custom_vjp function {self.fun.__name__} has no VJP rule: call .defvjp(fwd, bwd) first")
        nd, diff = _split_nondiff(args, self.nondiff_argnums)
        leaves, tree = _leaves(diff)
        types = [spec_of(x) for x in leaves]
        name = getattr(self.fun, "__name__", "f")
        prim = _trace(_with_nondiff(self.fun, self.nondiff_argnums, nd, len(args)), types, tree, name, "function")
        n_out = len(prim.graph.results)
        res_tree_box = []

        def fwd(*a):
            out = _with_nondiff(self.fwd, self.nondiff_argnums, nd, len(args))(*a)
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise TypeError("a custom_vjp fwd must return a pair (output, residuals)")
            o_leaves, o_tree = pytree.flatten(out[0])
            if o_tree != prim.out_tree:
                raise TypeError(f"custom_vjp fwd: output structured as {o_tree}, the function's as {prim.out_tree}")
            r_leaves, r_tree = pytree.flatten(out[1])
            res_tree_box.append(r_tree)
            return list(o_leaves) + list(r_leaves)

        ft = _trace(fwd, types, tree, name + "_fwd", "fwd rule")
        if ft.graph.result_types[:n_out] != prim.graph.result_types:
            bad = [f"{p} is {np_type(a)} from fwd and {np_type(b)} from {name}"
                   for p, a, b in zip(leaf_paths(prim.out_tree, "the output"), ft.graph.result_types[:n_out],
                                      prim.graph.result_types) if a != b]
            raise TypeError(f"custom_vjp function {name}: fwd must return (output, residuals) with output of the "
                            f"types {name} returns, but {'; '.join(bad)}")
        res_types = list(ft.graph.result_types[n_out:])
        res_tree = res_tree_box[0]

        def bwd(*a):
            res = pytree.unflatten(res_tree, a[:len(res_types)])
            ct = pytree.unflatten(prim.out_tree, a[len(res_types):])
            cts = self.bwd(*nd, res, ct)
            if not isinstance(cts, (tuple, list)) or len(cts) != len(diff):
                raise TypeError(f"custom_vjp bwd must return a tuple of {len(diff)} cotangent(s), one per argument")
            c_leaves, c_tree = pytree.flatten(tuple(cts), is_leaf=lambda x: x is None)
            out = []
            for c, t in zip(c_leaves, types):
                out.append(_zeros(t) if c is None else c)
            return out

        bwd_tree = pytree.flatten((tuple(range(len(res_types))), tuple(range(n_out))))[1]
        bwd_tree = pytree.flatten(tuple([0] * (len(res_types) + n_out)))[1]
        bt = _trace(bwd, res_types + list(prim.graph.result_types), bwd_tree, name + "_bwd", "bwd rule")
        if bt.graph.result_types != tuple(types):
            bad = [f"the cotangent of argument {k} is {np_type(a)} and the argument is {np_type(b)}"
                   for k, (a, b) in enumerate(zip(bt.graph.result_types, types)) if a != b] or \
                [f"it returns cotangents ({', '.join(map(np_type, bt.graph.result_types))}) for arguments "
                 f"({', '.join(map(np_type, types))})"]
            raise TypeError(f"custom_vjp function {name}: bwd must return one cotangent per argument of {name}, "
                            f"of the argument's type, but {'; '.join(bad)} (cast it with .astype)")
        outs = bind_multi("custom_vjp_call", leaves, {}, (prim.graph, ft.graph, bt.graph))
        return pytree.unflatten(prim.out_tree, list(outs))


def _zeros(t):
    import numpy as np
    return np.zeros(t.shape, t.dtype.np)
