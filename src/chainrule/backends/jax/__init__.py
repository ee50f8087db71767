"""The JAX backend: a graph becomes `jax.lax` calls traced under `jax.jit`,
so XLA runs it on CPU, GPU or TPU, on one device or sharded over a mesh.

    exe = compile(graph)                       # default device
    exe = compile(graph, device="gpu:0")       # a named device
    exe = compile(graph, mesh=mesh, in_shardings=(P("data"), P()), out_shardings=P())
    exe = data_parallel(step, batch_argnums=(0, 1))
    exe(*arrays) -> list of NumPy arrays (JAX arrays with return_jax_arrays=True)
    exe.as_stablehlo(); blob = exe.export(); deserialize_and_call(blob, *arrays)
    jax_function(graph)                        # a JAX-traceable function (jax.grad, vmap, ...)

Every op lowers through the table in `table.py` (rules in `elementwise.py`
and `structural.py`); 64-bit dtypes work through a scoped x64 context (see
`executable.py`).
"""

from __future__ import annotations

import jax

from . import collectives as _collectives  # noqa: F401  (registers shardings, shard_map, collectives)
from .executable import JaxExecutable, x64
from .export import deserialize, deserialize_and_call
from .interpreter import lower_graph
from .jit_cache import clear_cache
from .sharding import data_parallel, make_mesh
from .table import LOWERINGS, UNSUPPORTED, UnsupportedOpError


def compile(graph, device=None, return_jax_arrays: bool = False, mesh=None, in_shardings=None,
            out_shardings=None, cache: bool = True, **options) -> JaxExecutable:
    """Compile `graph` with XLA through JAX.

    device: a jax Device or a string like "cpu" or "gpu:0" (default: JAX's default device).
    return_jax_arrays: return JAX arrays (no copy to the host) instead of NumPy arrays.
    mesh, in_shardings, out_shardings: run SPMD over a `jax.sharding.Mesh`; shardings are
        PartitionSpecs (or jax Shardings), one for all or one per parameter/result;
        unspecified ones are replicated.
    cache: reuse the jitted function (and XLA's executable) of an identical graph compiled
        before with the same options (keyed by the text form; the last 64 are kept).
    options: donate_argnums, passed to jax.jit.
    """
    return JaxExecutable(graph, device=device, return_jax_arrays=return_jax_arrays, mesh=mesh,
                         in_shardings=in_shardings, out_shardings=out_shardings, cache=cache, **options)


def stablehlo_text(graph, **options) -> str:
    """The StableHLO (MLIR text) of `graph`, traced but not compiled."""
    return JaxExecutable(graph, **options).as_stablehlo()


def jax_function(graph):
    """`graph` as a pure function of JAX arrays returning a tuple, for use inside
    `jax.jit`, `jax.grad`, `jax.vmap` or a larger JAX program. float64/int64
    graphs need x64 on where it is traced (`with jax.enable_x64(True):`)."""
    wide = _uses_64_bits(graph)

    def fn(*args):
        if wide and not jax.enable_x64.value:
            raise TypeError(f"graph {graph.name} uses 64-bit dtypes, which JAX truncates to 32 bits unless x64 is "
                            "on: call it inside `with jax.enable_x64(True):`")
        return tuple(lower_graph(graph, args))
    fn.__name__ = graph.name
    return fn


def _uses_64_bits(graph) -> bool:
    types = [p.type for p in graph.params] + [r.type for n in graph.walk() for r in n.results]
    return any(t.dtype.bits == 64 for t in types)


__all__ = ["LOWERINGS", "UNSUPPORTED", "JaxExecutable", "UnsupportedOpError", "clear_cache", "compile", "data_parallel",
           "deserialize", "deserialize_and_call", "jax_function", "lower_graph", "stablehlo_text", "make_mesh", "x64"]
