"""From Python to graphs and back: tracing, extracting graphs, inlining graphs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import Graph, GraphBuilder, TensorType, dtype as as_dtype, verify
from . import pytree
from .core import bind_multi, canonical_array, constant_tensor, is_tensor
from .tensor import Tensor, current_scope, in_trace, pop_scope, push_scope


@dataclass(frozen=True)
class Spec:
    """An abstract argument: a shape and a dtype (like jax.ShapeDtypeStruct)."""

    shape: tuple
    dtype: object = "float32"

    def __init__(self, shape, dtype="float32"):
        from ..ir.types import check_shape
        object.__setattr__(self, "shape", check_shape(shape))
        object.__setattr__(self, "dtype", as_dtype(dtype))

    @property
    def type(self) -> TensorType:
        return TensorType(self.shape, self.dtype)

    def __repr__(self):
        return f"Spec({self.shape}, {self.dtype.name})"


def spec_of(x) -> TensorType:
    """The abstract type of an argument leaf: Spec, Tensor, array or Python scalar."""
    if isinstance(x, Spec):
        return x.type
    if isinstance(x, TensorType):
        return x
    if isinstance(x, Tensor):
        return x.type
    if hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, np.ndarray) and not isinstance(x, np.generic):
        try:
            return TensorType(tuple(x.shape), as_dtype(np.dtype(x.dtype)))
        except TypeError:
            pass
    if isinstance(x, (bool, int, float, np.ndarray, np.generic, list, tuple)):
        a = canonical_array(x)
        return TensorType(a.shape, as_dtype(a.dtype))
    raise TypeError(f"cannot use a {type(x).__name__} as an array argument; expected an array, a Python "
                    "scalar or a cr.Spec")


class TracedFunction:
    """A graph traced from a Python function, with its pytree structure."""

    def __init__(self, graph: Graph, in_tree, out_tree, captured: list[Tensor], prints=()):
        self.graph = graph
        self.in_tree = in_tree
        self.out_tree = out_tree
        self.captured = captured  # tensors of enclosing scopes, passed after the arguments
        # cr.debug.print calls recorded in the trace: (fmt, tree of the arguments, their leaves with
        # debug.SLOT for each traced one); the traced values are extra results of `graph`, after
        # out_tree's leaves (see frontend/debug.py)
        self.prints = tuple(prints)


def trace_flat(fun, flat_types, in_tree, name="main", arg_names=None, weak=None, prints=False) -> TracedFunction:
    """Call `fun` on fresh symbolic tensors of `flat_types`; return its graph.

    `weak[i]` marks inputs that stand for Python scalars: weakly typed, as JAX does. With `prints`,
    the values of `cr.debug.print` calls in the trace become extra results (see TracedFunction)."""
    scope = push_scope(name)
    if prints:
        scope.prints = []
    try:
        inputs = [Tensor(t, scope, None, i, (arg_names[i] if arg_names else None), bool(weak and weak[i]))
                  for i, t in enumerate(flat_types)]
        out = fun(*pytree.unflatten(in_tree, inputs))
        out_leaves, out_tree = pytree.flatten(out)
        outs = []
        for o in out_leaves:
            if not isinstance(o, Tensor) or o.scope is not scope:
                # constants and values of enclosing scopes pass through an identity-free constant or capture
                o = o if isinstance(o, Tensor) else constant_tensor(canonical_array(o))
            outs.append(o)
        recorded = []
        if scope.prints:
            from .debug import SLOT
            for fmt, tree, leaves in scope.prints:
                outs.extend(x for x in leaves if isinstance(x, Tensor))
                recorded.append((fmt, tree, tuple(SLOT if isinstance(x, Tensor) else x for x in leaves)))
    finally:
        pop_scope(scope)
    graph, captured = build_graph(inputs, outs, scope=scope, name=name)
    return TracedFunction(graph, in_tree, out_tree, captured, recorded)


def build_graph(inputs: list[Tensor], outputs: list[Tensor], scope=None, name="main",
                collect_free=False) -> tuple[Graph, list[Tensor]]:
    """Extract the graph computing `outputs` from `inputs`.

    With `scope` set, tensors of other (enclosing) scopes are captured: they
    become extra parameters after `inputs`, returned as the second item. In
    define-then-run mode (`scope=None`) every placeholder reached must be one of
    `inputs`, unless `collect_free`, which makes the others extra parameters too.
    """
    b = GraphBuilder(name)
    env: dict[int, object] = {}
    for i, t in enumerate(inputs):
        if id(t) in env:
            raise ValueError(f"input {i} ({t!r}) is given twice")
        env[id(t)] = b.param(t.type, t.name if isinstance(t.name, str) else None)
    captured: list[Tensor] = []

    def leaf_value(t: Tensor):
        if scope is not None and t.scope is not scope:
            captured.append(t)
            return b.param(t.type, None)
        if t.apply is None:
            if collect_free:
                captured.append(t)
                return b.param(t.type, t.name if isinstance(t.name, str) else None)
            nm = f" {t.name!r}" if t.name else ""
            raise ValueError(
                f"the outputs depend on placeholder{nm} ({t.type}) which is not among the inputs; "
                "add it to the inputs of cr.function")
        return None

    applies = []
    seen_apply = set()
    for out in outputs:
        stack = [(out, False)]
        while stack:
            t, expanded = stack.pop()
            if id(t) in env:
                continue
            if not expanded:
                lv = leaf_value(t)
                if lv is not None:
                    env[id(t)] = lv
                    continue
                ap = t.apply
                if id(ap) in seen_apply:
                    continue
                stack.append((t, True))
                for x in reversed(ap.inputs):
                    if id(x) not in env:
                        stack.append((x, False))
            else:
                ap = t.apply
                if id(ap) in seen_apply:
                    continue
                seen_apply.add(id(ap))
                applies.append(ap)
                node = b.emit(ap.op, [env[id(x)] for x in ap.inputs], ap.attrs, ap.regions, ap.loc)
                for o, v in zip(ap.outputs, node.results):
                    env[id(o)] = v
    g = b.build([env[id(o)] for o in outputs])
    return g, captured


def inline(graph: Graph, inputs) -> list:
    """Apply `graph` to `inputs` (tensors or arrays): symbolic in a trace, eager otherwise."""
    if len(inputs) != len(graph.params):
        raise TypeError(f"{graph.name} takes {len(graph.params)} inputs, got {len(inputs)}")
    env = {}
    for p, x in zip(graph.params, inputs):
        env[id(p)] = x
    # inside a trace every node stays symbolic (constant subgraphs are left to the fold pass,
    # which caps their size); outside one, the graph is evaluated eagerly
    symbolic = in_trace() or any(is_tensor(x) for x in inputs)
    for node in graph.nodes:
        outs = bind_multi(node.op, [env[id(v)] for v in node.operands], node.attrs, node.regions,
                          force_symbolic=symbolic)
        for r, o in zip(node.results, outs):
            env[id(r)] = o
    return [env[id(r)] for r in graph.results]


def inline_checked(graph: Graph, leaves, what=None) -> list:
    """`inline` for a graph called like a function inside a trace: checks the number and types of
    the arguments first (concrete ones are converted to the parameter's dtype, as a compiled call
    converts them) and names the mismatch."""
    what = what or graph.name
    if len(leaves) != len(graph.params):
        raise TypeError(f"{what} takes {len(graph.params)} array argument(s), got {len(leaves)}")
    ins = []
    for i, (x, p) in enumerate(zip(leaves, graph.params)):
        if is_tensor(x):
            if x.type != p.type:
                raise TypeError(f"{what}: argument {i} ({p.name or 'unnamed'}) has type {x.type}, expected "
                                f"{p.type}")
        else:
            a = np.asarray(x)
            if a.shape != p.type.shape:
                raise ValueError(f"{what}: argument {i} ({p.name or 'unnamed'}) has shape {a.shape}, expected "
                                 f"{p.type.shape}")
            x = a.astype(p.type.dtype.np, copy=False)
        ins.append(x)
    return inline(graph, ins)


def graph_function(graph: Graph):
    """A Graph as a Python function of its parameters, one positional argument each (the form
    `cr.grad`, `cr.vmap`, `cr.jvp` ... take a Graph in): it returns the only result of a
    one-result graph, else the list of results (as `cr.jit(graph)` does)."""
    single = len(graph.results) == 1

    def fn(*args):
        outs = inline_checked(graph, list(args))
        return outs[0] if single else outs

    fn.__name__ = fn.__qualname__ = graph.name
    fn.__doc__ = f"The graph {graph.name} as a function."
    fn.graph = graph
    return fn


def as_function(fun):
    """`fun` itself, or a Graph made into a function (see graph_function)."""
    return graph_function(fun) if isinstance(fun, Graph) else fun


def check_graph(graph: Graph) -> Graph:
    return verify(graph)


__all__ = ["Spec", "TracedFunction", "as_function", "build_graph", "current_scope", "graph_function", "inline",
           "inline_checked", "spec_of", "trace_flat"]
