"""Structured control flow: cond, switch, while_loop, fori_loop, scan (JAX's API and semantics).

Branch and loop-body functions are traced once to graphs (`trace_flat`) and
held as regions of one `cond` / `case` / `while` / `scan` node, so the loop
stays a loop in the IR (no unrolling) and differentiates through the
control-flow rules of the autodiff pass. Regions are closed: tensors a
function captures from enclosing traces become extra operands (for cond and
switch the union of all branches' captures, for while_loop extra carry
values passed through unchanged, for scan its consts). On concrete arrays the
op runs at once through the reference rules, as JAX does outside jit.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, TensorType, bool_, int32
from ..passes.autodiff import control_flow_rules as _control_flow_rules  # noqa: F401  (registers their rules)
from ..passes.autodiff.control_flow_rules import inline_graph, make_region
from . import pytree
from .core import bind, bind_multi, canonical_array, is_tensor, type_of
from .tracing import TracedFunction, spec_of, trace_flat


def _leaves(tree):
    leaves, td = pytree.flatten(tree)
    return [x if is_tensor(x) else canonical_array(x) for x in leaves], td


def _fname(fun, default):
    import re
    n = re.sub(r"[^A-Za-z0-9_]", "_", getattr(fun, "__name__", default)) or default
    return n if not n[0].isdigit() else default


def _types_text(types) -> str:
    return "(" + ", ".join(map(str, types)) + ")"


def _union_captures(traced: list[TracedFunction]) -> list:
    union, seen = [], set()
    for t in traced:
        for c in t.captured:
            if id(c) not in seen:
                seen.add(id(c))
                union.append(c)
    return union


def _with_captures(t: TracedFunction, n_args: int, arg_types, union, name: str, extra_results=None) -> Graph:
    """`t.graph` re-parameterised as (args..., union captures...): every branch gets the same parameters."""
    pos = {id(c): k for k, c in enumerate(union)}
    own = [pos[id(c)] for c in t.captured]
    if own == list(range(len(union))) and extra_results is None:
        return t.graph
    types = list(arg_types) + [c.type for c in union]

    def body(b, ps):
        outs = inline_graph(b, t.graph, list(ps[:n_args]) + [ps[n_args + k] for k in own])
        return outs + (extra_results(ps) if extra_results else [])

    return make_region(name, types, body)


def _castable(leaf, target) -> bool:
    """A Python int/float output leaf is weakly typed (as in JAX): it takes the dtype the op expects there."""
    if target is None or target.shape != ():
        return False
    return (type(leaf) is int and (target.dtype.is_int or target.dtype.is_float)) or \
        (type(leaf) is float and target.dtype.is_float)


def _trace_weak(fun, types, tree, name, targets=None):
    """trace_flat(fun), with Python-scalar output leaves cast to `targets[k]`'s dtype where given.

    Returns the traced function and, per output leaf, whether it was a Python scalar.
    """
    weak: list[bool] = []

    def wrapped(*args):
        leaves, td = pytree.flatten(fun(*args))
        weak[:] = [type(x) in (int, float) for x in leaves]
        if targets is not None:
            leaves = [np.asarray(x, dtype=targets[k].dtype.np) if k < len(targets) and _castable(x, targets[k])
                      else x for k, x in enumerate(leaves)]
        return pytree.unflatten(td, leaves)

    return trace_flat(wrapped, types, tree, name=name), list(weak)


# --- cond and switch ---------------------------------------------------------------------

def _predicate(pred):
    t = type_of(pred) if is_tensor(pred) else spec_of(pred)
    if t.shape != ():
        raise TypeError(f"cond: the predicate must be a scalar, got a {t} array (shape {t.shape}); reduce it "
                        "first (e.g. cnp.all / cnp.any), or use cnp.where for elementwise choices")
    if t.dtype == bool_:
        return pred if is_tensor(pred) else np.asarray(pred, dtype=np.bool_)
    if t.dtype.is_int:  # as JAX: an integer predicate means pred != 0
        return bind("compare", pred if is_tensor(pred) else canonical_array(pred),
                    np.zeros((), t.dtype.np), direction="NE")
    raise TypeError(f"cond: the predicate's type must be either boolean or integer, got {t.dtype.name}")


def _trace_branches(op_name, funs, operands):
    leaves, tree = _leaves(tuple(operands))
    types = [spec_of(x) for x in leaves]
    names = [_fname(f, f"branch{k}") for k, f in enumerate(funs)]
    traced, weak = zip(*(_trace_weak(f, types, tree, n) for f, n in zip(funs, names)))
    traced = list(traced)
    if any(any(w) for w in weak) and len({len(t.graph.results) for t in traced}) == 1:
        # a Python scalar leaf takes the type another branch gives that leaf (JAX's weak types)
        n_out = len(traced[0].graph.results)
        targets = [next((t.graph.result_types[k] for t, w in zip(traced, weak) if not w[k]), None)
                   for k in range(n_out)]
        for j, (f, w) in enumerate(zip(funs, weak)):
            if any(w):
                traced[j] = _trace_weak(f, types, tree, names[j], targets)[0]
    first = traced[0]
    for k, t in enumerate(traced[1:], 1):
        which = ("true_fun and false_fun" if op_name == "cond" else f"branch 0 and branch {k}")
        if t.out_tree != first.out_tree:
            raise TypeError(f"{op_name}: {which} output must have same type structure, got {first.out_tree} "
                            f"and {t.out_tree}")
        if t.graph.result_types != first.graph.result_types:
            raise TypeError(f"{op_name}: {which} output must have identical types, got "
                            f"{_types_text(first.graph.result_types)} and {_types_text(t.graph.result_types)}")
    union = _union_captures(traced)
    regions = tuple(_with_captures(t, len(types), types, union, t.graph.name) for t in traced)
    return leaves, union, regions, first.out_tree


def cond(pred, true_fun, false_fun, *operands):
    """`true_fun(*operands)` if pred else `false_fun(*operands)`, like jax.lax.cond.

    Both functions are traced and must return the same structure of the same
    types; only the chosen one runs (and gets derivatives) at run time.
    """
    if not callable(true_fun) or not callable(false_fun):
        raise TypeError("cond: true_fun and false_fun must be callable")
    p = _predicate(pred)
    leaves, caps, regions, out_tree = _trace_branches("cond", [true_fun, false_fun], operands)
    outs = bind_multi("cond", [p, *leaves, *caps], {}, regions)
    return pytree.unflatten(out_tree, list(outs))


def switch(index, branches, *operands):
    """`branches[index](*operands)`, like jax.lax.switch: the index is clamped into range."""
    branches = list(branches)
    if not branches:
        raise ValueError("switch: empty branch sequence")
    if not all(callable(b) for b in branches):
        raise TypeError("switch: every branch must be callable")
    t = type_of(index) if is_tensor(index) else spec_of(index)
    if t.shape != ():
        raise TypeError(f"switch: the branch index must be a scalar, got a {t} array (shape {t.shape})")
    if not t.dtype.is_int:
        raise TypeError(f"switch: the index type must be an integer, got {t.dtype.name}")
    if len(branches) == 1:
        return branches[0](*operands)
    hi = len(branches) - 1
    if is_tensor(index):
        idx = index if index.dtype == int32 else bind("convert", index, dtype=int32)
        idx = bind("clamp", np.int32(0), idx, np.int32(hi))
    else:
        idx = np.asarray(np.clip(int(np.asarray(index)), 0, hi), dtype=np.int32)
    leaves, caps, regions, out_tree = _trace_branches("switch", branches, operands)
    outs = bind_multi("case", [idx, *leaves, *caps], {}, regions)
    return pytree.unflatten(out_tree, list(outs))


# --- while_loop and fori_loop -----------------------------------------------------------

def _check_carry(what, in_tree, in_types, out_tree, out_types):
    if out_tree != in_tree:
        raise TypeError(f"{what}: body_fun output and input must have the same pytree structure, got {out_tree} "
                        f"and {in_tree}")
    for k, (a, b) in enumerate(zip(in_types, out_types)):
        if a != b:
            raise TypeError(f"{what}: body_fun output and input must have identical types: carry leaf {k} has "
                            f"type {a} as input but {b} as output (cast it, e.g. with .astype, so the loop "
                            "carry keeps its type)")


def while_loop(cond_fun, body_fun, init_val):
    """`while cond_fun(val): val = body_fun(val)`, like jax.lax.while_loop.

    Forward mode (jvp) differentiates through it; reverse mode does not (the
    trip count is not known ahead): use scan or fori_loop with static bounds.
    """
    leaves, tree = _leaves(init_val)
    types = [spec_of(x) for x in leaves]
    arg_tree = pytree.flatten((init_val,))[1]
    ct = trace_flat(cond_fun, types, arg_tree, name=_fname(cond_fun, "cond"))
    if ct.out_tree.kind != "leaf" or ct.graph.result_types != (TensorType((), bool_),):
        raise TypeError(f"while_loop: cond_fun must return a boolean scalar, but got output type(s) "
                        f"{_types_text(ct.graph.result_types)}")
    bt = _trace_weak(body_fun, types, arg_tree, _fname(body_fun, "body"), targets=types)[0]
    _check_carry("while_loop", tree, types, bt.out_tree, bt.graph.result_types)
    union = _union_captures([ct, bt])
    n = len(types)
    cond_r = _with_captures(ct, n, types, union, ct.graph.name)
    body_r = _with_captures(bt, n, types, union, bt.graph.name, extra_results=lambda ps: list(ps[n:]))
    outs = bind_multi("while", [*leaves, *union], {}, (cond_r, body_r))
    return pytree.unflatten(tree, list(outs[:n]))


def _static_int(x):
    if is_tensor(x) or isinstance(x, bool):
        return None
    if isinstance(x, (int, np.integer)):
        return int(x)
    a = np.asarray(x)
    if a.shape == () and a.dtype.kind in "iu":
        return int(a)
    return None


def fori_loop(lower, upper, body_fun, init_val):
    """`for i in range(lower, upper): val = body_fun(i, val)`, like jax.lax.fori_loop.

    Static bounds (Python ints or concrete integers) give a scan of
    upper - lower iterations, which reverse mode differentiates; traced
    bounds give a while loop (forward mode only).
    """
    lo, hi = _static_int(lower), _static_int(upper)
    if lo is not None and hi is not None:
        def step(carry, _):
            i, val = carry
            return (i + np.int32(1), body_fun(i, val)), None

        (_, val), _ = scan(step, (np.int32(lo), init_val), None, length=max(hi - lo, 0))
        return val
    for name, b in (("lower", lower), ("upper", upper)):
        t = type_of(b) if is_tensor(b) else spec_of(b)
        if t.shape != () or not t.dtype.is_int:
            raise TypeError(f"fori_loop: {name} must be a scalar integer, got {t}")
    dt = type_of(upper).dtype if is_tensor(upper) else type_of(lower).dtype
    lower = lower if is_tensor(lower) and lower.dtype == dt else (
        bind("convert", lower, dtype=dt) if is_tensor(lower) else np.asarray(lower, dtype=dt.np))
    upper = upper if is_tensor(upper) and upper.dtype == dt else (
        bind("convert", upper, dtype=dt) if is_tensor(upper) else np.asarray(upper, dtype=dt.np))

    def cond_fun(c):
        return bind("compare", c[0], c[1], direction="LT")

    def body(c):
        i, u, val = c
        return (bind("add", i, np.ones((), dt.np)), u, body_fun(i, val))

    return while_loop(cond_fun, body, (lower, upper, init_val))[2]


# --- scan ------------------------------------------------------------------------------

def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """Like jax.lax.scan: `carry, y = f(carry, x)` over the leading axis of xs; returns (carry, ys).

    xs may be None (or hold no arrays) when `length` is given. With
    reverse=True the iterations run from the last index down and y_i is
    stored at index i. `unroll` is accepted for compatibility; the loop stays
    a loop (backends decide how to run it).
    """
    c_leaves, c_tree = _leaves(init)
    x_leaves, x_tree = _leaves(xs)
    c_types = [spec_of(x) for x in c_leaves]
    x_types = [spec_of(x) for x in x_leaves]
    for t in x_types:
        if t.shape == ():
            raise ValueError(f"scan got value with no leading axis to scan over: a {t} scalar")
    sizes = sorted({t.shape[0] for t in x_types})
    if length is not None:
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)):
            raise TypeError(f"scan: length must be a Python int, got {length!r}")
        length = int(length)
        if length < 0:
            raise ValueError(f"scan: length must be non-negative, got {length}")
        if sizes and sizes != [length]:
            raise ValueError(f"scan got `length` argument of {length} which disagrees with leading axis sizes "
                             f"{[t.shape[0] for t in x_types]}.")
    else:
        if not sizes:
            raise ValueError("scan got no values to scan over and `length` not provided.")
        if len(sizes) > 1:
            raise ValueError(f"scan got values with different leading axis sizes: "
                             f"{', '.join(str(t.shape[0]) for t in x_types)}.")
        length = sizes[0]
    s_types = [TensorType(t.shape[1:], t.dtype) for t in x_types]
    in_tree = pytree.flatten((init, xs))[1]
    bt = _trace_weak(f, c_types + s_types, in_tree, _fname(f, "body"), targets=c_types)[0]
    if bt.out_tree.kind not in ("tuple", "list") or len(bt.out_tree.children) != 2:
        raise TypeError(f"scan: the body function must return a pair (carry, y), got output structured as "
                        f"{bt.out_tree}")
    c_out_tree, y_tree = bt.out_tree.children
    nk = len(c_types)
    if c_out_tree != c_tree:
        raise TypeError(f"scan body function carry input and carry output must have the same pytree structure, "
                        f"but they differ: input {c_tree}, output {c_out_tree}")
    for k, (a, b) in enumerate(zip(c_types, bt.graph.result_types[:nk])):
        if a != b:
            raise TypeError(f"scan body function carry input and carry output must have equal types: carry "
                            f"leaf {k} has type {a} as input but {b} as output (cast it, e.g. with .astype, so "
                            "the carry keeps its type)")
    consts = list(bt.captured)
    nc = len(consts)
    g = bt.graph
    types = [c.type for c in consts] + c_types + s_types
    body = make_region(g.name, types, lambda b, ps: inline_graph(b, g, list(ps[nc:]) + list(ps[:nc]))) \
        if nc else g
    outs = bind_multi("scan", [*consts, *c_leaves, *x_leaves],
                      {"num_consts": nc, "num_carry": nk, "length": length, "reverse": bool(reverse)}, (body,))
    return pytree.unflatten(c_tree, list(outs[:nk])), pytree.unflatten(y_tree, list(outs[nk:]))


__all__ = ["cond", "fori_loop", "scan", "switch", "while_loop"]
