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
from .errors import PACKAGE_DIR, describe_tree as _describe, filter_traceback, leaf_paths as _leaf_paths, \
    np_type as _np_type, source_line, user_error as _user_error, user_frame_location
from .located import LOCATED_ERRORS
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


# --- errors in the user's terms ----------------------------------------------------------------
#
# A mistake in a branch or a loop body is reported with the construct the user called (fori_loop's
# body is "fori_loop body_fun", even though it runs as a scan), the carry named after the body's
# own parameter (c, c[1], c['w']), NumPy's dtype names, what to do, the line that called the
# construct and, when it is elsewhere, the line that defines the function.

class _Construct:
    """What the user called, for messages: `op` ("fori_loop"), the function's role ("body_fun"),
    the function, which of its parameters is the carry, and the name of the initial value."""

    def __init__(self, op, role, fun, carry_param=0, init="init_val", short=None):
        self.op, self.role, self.fun, self.init = op, role, fun, init
        self.short = short or role  # the role in the middle of a sentence ("f" for "body function f")
        self.carry = _param_name(fun, carry_param) or "carry"

    @property
    def who(self):
        return f"{self.op} {self.role}"


def _param_name(fun, index):
    import inspect
    try:
        ps = list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):
        return None
    if index < len(ps) and ps[index].kind in (ps[index].POSITIONAL_ONLY, ps[index].POSITIONAL_OR_KEYWORD):
        return ps[index].name
    return None


def _mismatch(a, b) -> str:
    if a.shape != b.shape and a.dtype != b.dtype:
        return "so the shapes and the dtypes do not match"
    return "so the shapes do not match" if a.shape != b.shape else "so the dtypes do not match"


def _carry_advice(ctx, path, a, b, init_leaf) -> str:
    """What to do when the carry leaf `path` goes in as `a` and comes out as `b`."""
    if a.shape != b.shape:
        return (f"make {ctx.short} return shape {a.shape} for {path} (a carry keeps its shape through the "
                f"loop), or start {path} with shape {b.shape}")
    if a.dtype.is_int and b.dtype.is_float:
        start = ("e.g. 0.0 instead of 0" if type(init_leaf) in (int, bool)
                 else f"e.g. with .astype(cnp.{b.dtype.name})")
        return (f"start {path} as a float ({start}), or cast what {ctx.short} returns back with "
                f".astype(cnp.{a.dtype.name})")
    return f"cast what {ctx.short} returns with .astype(cnp.{a.dtype.name}), or start {path} as {b.dtype.name}"


def _check_carry(ctx: _Construct, in_tree, in_types, out_tree, out_types, init_leaves, *, as_carry=""):
    """The carry `ctx.fun` returns must have the structure and the types it was given."""
    if out_tree != in_tree:
        raise _user_error(TypeError, f"{ctx.who} must return the carry in the structure it was given: {ctx.init} "
                          f"is {_describe(in_tree)}, but {ctx.short} returns {_describe(out_tree)}{as_carry}",
                          (ctx.role, ctx.fun))
    bad = [(p, a, b, x) for p, a, b, x in zip(_leaf_paths(in_tree, ctx.carry), in_types, out_types, init_leaves)
           if a != b]
    if not bad:
        return
    items = [(f"the input carry {p} has type {_np_type(a)} but {ctx.short} returns {_np_type(b)} for it, "
              f"{_mismatch(a, b)}", _carry_advice(ctx, p, a, b, x)) for p, a, b, x in bad]
    if len(items) == 1:
        (what, advice), = items
        msg = f"{ctx.who} must return the carry with the type it was given: {what}. {advice[0].upper()}{advice[1:]}."
    else:
        msg = f"{ctx.who} must return the carry with the types it was given, but:\n" + "\n".join(
            f"  * {what}: {advice}" for what, advice in items)
    raise _user_error(TypeError, msg, (ctx.role, ctx.fun))


def _located_construct(fn):
    """A public control-flow function: errors chainrule raises in it name the user's line (once), and
    leave it with chainrule's frames hidden (see errors.api_boundary)."""
    import functools

    @functools.wraps(fn)
    def construct(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LOCATED_ERRORS as e:
            if not getattr(e, "_chainrule_located", False) and _raised_by_chainrule(e):
                _locate_in_place(e)
            filter_traceback(e)
            raise
        except Exception as e:
            filter_traceback(e)
            raise

    return construct


def _raised_by_chainrule(e) -> bool:
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code.co_filename.startswith(PACKAGE_DIR)


def _locate_in_place(e):
    """Add the user's line to `e`'s message, keeping the exception (and its traceback) as it is."""
    loc = user_frame_location(1)
    if loc is None or not e.args or not isinstance(e.args[0], str):
        return
    text = source_line(loc)
    e.args = (e.args[0] + f"\n  at {loc}" + (f": {text}" if text else ""),) + tuple(e.args[1:])
    e._chainrule_located = True


# --- cond and switch ---------------------------------------------------------------------

def _predicate(pred):
    t = type_of(pred) if is_tensor(pred) else spec_of(pred)
    if t.shape != ():
        raise _user_error(TypeError, f"cond: the predicate must be a scalar, got a {_np_type(t)} array (shape "
                          f"{t.shape}); reduce it first (e.g. cnp.all / cnp.any), or use cnp.where for elementwise "
                          "choices")
    if t.dtype == bool_:
        return pred if is_tensor(pred) else np.asarray(pred, dtype=np.bool_)
    if t.dtype.is_int:  # as JAX: an integer predicate means pred != 0
        return bind("compare", pred if is_tensor(pred) else canonical_array(pred),
                    np.zeros((), t.dtype.np), direction="NE")
    raise _user_error(TypeError, f"cond: the predicate's type must be either boolean or integer, got "
                      f"{t.dtype.name}; compare it to make a boolean (e.g. x > 0)")


def _trace_branches(op_name, funs, operands, roles):
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
    every = "true_fun and false_fun" if op_name == "cond" else "every branch"
    for k, t in enumerate(traced[1:], 1):
        pair = ((roles[0], funs[0]), (roles[k], funs[k]))
        if t.out_tree != first.out_tree:
            raise _user_error(TypeError, f"{op_name}: {every} must return the same type structure, but "
                              f"{roles[0]} returns {_describe(first.out_tree)} and {roles[k]} returns "
                              f"{_describe(t.out_tree)}", *pair)
        if t.graph.result_types != first.graph.result_types:
            items = [f"{p} is {_np_type(a)} from {roles[0]} and {_np_type(b)} from {roles[k]}, {_mismatch(a, b)}"
                     for p, a, b in zip(_leaf_paths(first.out_tree, "the output"), first.graph.result_types,
                                        t.graph.result_types) if a != b]
            msg = (f"{op_name}: {every} must return identical types, but "
                   + (items[0] if len(items) == 1 else "they differ:\n" + "\n".join(f"  * {i}" for i in items)
                      + "\n")
                   + ("; " if len(items) == 1 else "")
                   + "cast one of them (.astype) or reshape it so that they agree")
            raise _user_error(TypeError, msg, *pair)
    union = _union_captures(traced)
    regions = tuple(_with_captures(t, len(types), types, union, t.graph.name) for t in traced)
    return leaves, union, regions, first.out_tree


@_located_construct
def cond(pred, true_fun, false_fun, *operands):
    """`true_fun(*operands)` if pred else `false_fun(*operands)`, like jax.lax.cond.

    Both functions are traced and must return the same structure of the same
    types; only the chosen one runs (and gets derivatives) at run time.
    """
    if not callable(true_fun) or not callable(false_fun):
        raise TypeError("cond: true_fun and false_fun must be callable")
    p = _predicate(pred)
    leaves, caps, regions, out_tree = _trace_branches("cond", [true_fun, false_fun], operands,
                                                      ["true_fun", "false_fun"])
    outs = bind_multi("cond", [p, *leaves, *caps], {}, regions)
    return pytree.unflatten(out_tree, list(outs))


@_located_construct
def switch(index, branches, *operands):
    """`branches[index](*operands)`, like jax.lax.switch: the index is clamped into range."""
    branches = list(branches)
    if not branches:
        raise ValueError("switch: empty branch sequence")
    if not all(callable(b) for b in branches):
        raise TypeError("switch: every branch must be callable")
    t = type_of(index) if is_tensor(index) else spec_of(index)
    if t.shape != ():
        raise TypeError(f"switch: the branch index must be a scalar, got a {_np_type(t)} array (shape {t.shape})")
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
    leaves, caps, regions, out_tree = _trace_branches("switch", branches, operands,
                                                      [f"branches[{k}]" for k in range(len(branches))])
    outs = bind_multi("case", [idx, *leaves, *caps], {}, regions)
    return pytree.unflatten(out_tree, list(outs))


# --- while_loop and fori_loop -----------------------------------------------------------

def _user_part(tree, strip):
    """The user's carry: the whole carry, or the last item of fori_loop's internal (i, [upper,] val)."""
    return tree.children[-1] if strip else tree


@_located_construct
def while_loop(cond_fun, body_fun, init_val):
    """`while cond_fun(val): val = body_fun(val)`, like jax.lax.while_loop.

    Forward mode (jvp) differentiates through it; reverse mode does not (the
    trip count is not known ahead): use scan or fori_loop with static bounds.
    """
    return _while(cond_fun, body_fun, init_val, _Construct("while_loop", "body_fun", body_fun), strip=0)


def _while(cond_fun, body_fun, init_val, ctx: _Construct, strip: int):
    """while_loop, with errors about `ctx`; the first `strip` carry leaves are fori_loop's own
    (i, upper), the last item of the carry tuple is the user's carry."""
    leaves, tree = _leaves(init_val)
    types = [spec_of(x) for x in leaves]
    arg_tree = pytree.flatten((init_val,))[1]
    ct = trace_flat(cond_fun, types, arg_tree, name=_fname(cond_fun, "cond"))
    if ct.out_tree.kind != "leaf" or ct.graph.result_types != (TensorType((), bool_),):
        got = (_np_type(ct.graph.result_types[0]) if ct.out_tree.kind == "leaf"
               else _describe(ct.out_tree))
        hint = ("; reduce it with cnp.all or cnp.any" if ct.out_tree.kind == "leaf"
                and ct.graph.result_types[0].dtype == bool_ else "")
        raise _user_error(TypeError, f"while_loop cond_fun must return a boolean scalar (e.g. c < 10), but it "
                          f"returns {got}{hint}", ("cond_fun", cond_fun))
    bt = _trace_weak(body_fun, types, arg_tree, _fname(body_fun, "body"), targets=types)[0]
    user_init = pytree.flatten(init_val)[0][strip:]
    _check_carry(ctx, _user_part(tree, strip), types[strip:], _user_part(bt.out_tree, strip) if
                 bt.out_tree.kind == tree.kind else bt.out_tree, bt.graph.result_types[strip:], user_init)
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


@_located_construct
def fori_loop(lower, upper, body_fun, init_val):
    """`for i in range(lower, upper): val = body_fun(i, val)`, like jax.lax.fori_loop.

    Static bounds (Python ints or concrete integers) give a scan of
    upper - lower iterations, which reverse mode differentiates; traced
    bounds give a while loop (forward mode only).
    """
    ctx = _Construct("fori_loop", "body_fun", body_fun, carry_param=1)
    lo, hi = _static_int(lower), _static_int(upper)
    if lo is not None and hi is not None:
        def step(carry, _):
            i, val = carry
            return (i + np.int32(1), body_fun(i, val)), None

        (_, val), _ = _scan(step, (np.int32(lo), init_val), None, max(hi - lo, 0), False, ctx, strip=1)
        return val
    for name, b in (("lower", lower), ("upper", upper)):
        t = type_of(b) if is_tensor(b) else spec_of(b)
        if t.shape != () or not t.dtype.is_int:
            raise TypeError(f"fori_loop: {name} must be a scalar integer, got {_np_type(t)}")
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

    return _while(cond_fun, body, (lower, upper, init_val), ctx, strip=2)[2]


# --- scan ------------------------------------------------------------------------------

@_located_construct
def scan(f, init, xs=None, length=None, reverse=False, unroll=1):
    """Like jax.lax.scan: `carry, y = f(carry, x)` over the leading axis of xs; returns (carry, ys).

    xs may be None (or hold no arrays) when `length` is given. With
    reverse=True the iterations run from the last index down and y_i is
    stored at index i. `unroll` is accepted for compatibility; the loop stays
    a loop (backends decide how to run it).
    """
    return _scan(f, init, xs, length, reverse, _Construct("scan", "body function f", f, init="init", short="f"),
                 strip=0)


def _scan(f, init, xs, length, reverse, ctx: _Construct, strip: int):
    """scan, with errors about `ctx`; the first `strip` carry leaves are fori_loop's counter, the
    last item of the carry tuple is the user's carry."""
    c_leaves, c_tree = _leaves(init)
    x_leaves, x_tree = _leaves(xs)
    c_types = [spec_of(x) for x in c_leaves]
    x_types = [spec_of(x) for x in x_leaves]
    for t in x_types:
        if t.shape == ():
            raise ValueError(f"scan got value with no leading axis to scan over: a {_np_type(t)} scalar")
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
        raise _user_error(TypeError, f"{ctx.who} must return a pair (carry, y), but it returns "
                          f"{_describe(bt.out_tree)}; return (carry, None) when there is nothing to stack",
                          (ctx.role, ctx.fun))
    c_out_tree, y_tree = bt.out_tree.children
    nk = len(c_types)
    user_out = (_user_part(c_out_tree, strip) if strip and c_out_tree.kind == c_tree.kind else c_out_tree)
    user_init = pytree.flatten(init)[0][strip:]
    _check_carry(ctx, _user_part(c_tree, strip), c_types[strip:], user_out, bt.graph.result_types[strip:nk],
                 user_init, as_carry="" if strip else " as the carry")
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
