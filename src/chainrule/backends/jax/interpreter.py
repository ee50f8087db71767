"""Turn a graph into `jax.lax` calls by interpreting it on traced values.

Called inside `jax.jit`, this traces the graph once into a jaxpr; XLA then
compiles the whole thing. Region ops (`fusion`) interpret their region the
same way, so XLA sees through them and fuses as it likes.
"""

from __future__ import annotations

import jax

from . import complex as _complex  # noqa: F401  (real, imag, complex, conj, fft)
from . import control_flow as _control_flow  # noqa: F401  (registers lowerings)
from . import elementwise as _elementwise  # noqa: F401
from . import bit_ops as _bit_ops  # noqa: F401  (shifts, popcnt, bitcast_convert)
from . import linalg as _linalg  # noqa: F401
from . import sort as _sort  # noqa: F401
from . import structural as _structural  # noqa: F401
from . import windows as _windows  # noqa: F401  (convolution, reduce_window, select_and_*_add)
from ...ir import ops_with
from .table import LOWERINGS, get_lowering, lowering


def lower_graph(graph, args) -> list:
    """Evaluate `graph` on JAX values (traced or concrete); returns its results."""
    if len(args) != len(graph.params):
        raise TypeError(f"{graph.name} takes {len(graph.params)} argument(s), got {len(args)}")
    env = {id(p): a for p, a in zip(graph.params, args)}
    for node in graph.nodes:
        fn = get_lowering(node.op.name)
        vals = [env[id(v)] for v in node.operands]
        outs = fn(vals, node.attrs, tuple(r.type for r in node.results), node.regions)
        if len(outs) != len(node.results):
            raise AssertionError(f"lowering of {node.op.name} gave {len(outs)} results, expected {len(node.results)}")
        for r, o in zip(node.results, outs):
            env[id(r)] = o
    return [env[id(r)] for r in graph.results]


@lowering(*sorted(ops_with("call_like") - {"remat"}))
def _call(args, attrs, out, regions):
    # region 0 is the function itself; custom rule regions matter only to chainrule's autodiff,
    # which has already run by the time a graph is compiled
    return tuple(lower_graph(regions[0], args))


@lowering("remat")
def _remat(args, attrs, out, regions):
    # jax.checkpoint with the same policy: the region runs as is, and if JAX differentiates the
    # lowered function (jax_function), it rematerializes as chainrule's autodiff would
    policy = getattr(jax.checkpoint_policies, attrs["policy"], None)
    body = regions[0]
    return tuple(jax.checkpoint(lambda *a: tuple(lower_graph(body, a)), policy=policy)(*args))


LOWERINGS.exempt("custom_vjp_lin", (
    "it is known only through its transpose (forward-mode differentiation of a custom_vjp function "
    "is not supported, as in JAX); reverse mode consumes it before lowering"))


__all__ = ["LOWERINGS", "lower_graph"]
