"""`JaxExecutable`: a graph traced into `jax.jit`, compiled by XLA on first use.

64-bit types: chainrule graphs use float64/int64 freely, JAX drops them
unless x64 is on. The process-wide `jax_enable_x64` flag would change the
dtypes of every other JAX user in the process, so tracing, compiling and
every call run inside the scoped `jax.enable_x64(True)` context instead
(thread-local, restored on exit). float32 graphs are unaffected: every
lowering names its dtypes explicitly.
"""

from __future__ import annotations

import jax
import numpy as np

from ..common import Executable, check_array
from .collectives import graph_shardings, remember_mesh
from .devices import resolve_device, shardings_for, single_device
from .jit_cache import jit_graph

_JIT_OPTIONS = ("donate_argnums",)


def x64():
    """The scoped x64 context every trace, compile and call runs in."""
    return jax.enable_x64(True)


def arg_specs(graph, shardings=None):
    shardings = shardings or (None,) * len(graph.params)
    return [jax.ShapeDtypeStruct(p.type.shape, p.type.dtype.np, sharding=s) for p, s in zip(graph.params, shardings)]


class JaxExecutable(Executable):
    """Runs a graph through XLA; see `chainrule.backends.jax.compile`."""

    backend = "jax"
    device_array_type = jax.Array  # arguments it takes as they are: no copy to the host and back

    def __init__(self, graph, device=None, return_jax_arrays=False, mesh=None,
                 in_shardings=None, out_shardings=None, cache=True, **options):
        super().__init__(graph)
        unknown = sorted(set(options) - set(_JIT_OPTIONS))
        if unknown:
            raise TypeError(f"unknown option(s) for the jax backend: {', '.join(unknown)}; "
                            f"expected device, return_jax_arrays, mesh, in_shardings, out_shardings, cache, "
                            f"{', '.join(_JIT_OPTIONS)}")
        if device is not None and (mesh is not None or in_shardings is not None or out_shardings is not None):
            raise ValueError("pass either device= or mesh=/in_shardings=/out_shardings=, not both")
        self.device = resolve_device(device)
        self.mesh = mesh
        self.return_jax_arrays = return_jax_arrays
        n_in, n_out = len(graph.params), len(graph.results)
        if self.device is not None:
            self.in_shardings = single_device(self.device, n_in)
            self.out_shardings = single_device(self.device, n_out)
        elif mesh is None and in_shardings is None and out_shardings is None:
            # the graph's own shardings (constraints on parameters and results), if it has any
            self.in_shardings, self.out_shardings = graph_shardings(graph)
        else:
            if mesh is not None:
                remember_mesh(mesh)  # constraints and shard_maps over the same axes use it too
            self.in_shardings = shardings_for(in_shardings, n_in, mesh, "in_shardings")
            self.out_shardings = shardings_for(out_shardings, n_out, mesh, "out_shardings")
        jit_kwargs = {"keep_unused": True}
        if self.in_shardings is not None:
            jit_kwargs["in_shardings"] = self.in_shardings
        if self.out_shardings is not None:
            jit_kwargs["out_shardings"] = self.out_shardings
        jit_kwargs.update(options)
        jitted = jit_graph(graph, jit_kwargs, cache)
        self.jitted = jitted
        self._compiled = None

    # --- stages ------------------------------------------------------------------

    def lower(self):
        """The `jax.stages.Lowered` of this graph (traced, not compiled)."""
        with x64():
            return self.jitted.lower(*arg_specs(self.graph, self.in_shardings))

    @property
    def compiled(self):
        """The ahead-of-time `jax.stages.Compiled` (for its HLO, cost and memory analyses);
        calls go through `jax.jit`, which compiles on the first call."""
        if self._compiled is None:
            with x64():
                self._compiled = self.lower().compile()
        return self._compiled

    def as_stablehlo(self) -> str:
        """The StableHLO (MLIR text) that XLA compiles."""
        return self.lower().as_text()

    def export(self, platforms=None) -> bytes:
        """A `jax.export` serialization: loads and runs later without chainrule
        (see `deserialize_and_call`). `platforms`, e.g. ("cpu", "cuda"),
        defaults to the platform of the devices in use."""
        with x64():
            exported = jax.export.export(self.jitted, platforms=platforms)(*arg_specs(self.graph, self.in_shardings))
            return bytes(exported.serialize())

    # --- calls -------------------------------------------------------------------

    def __call__(self, *args):
        params = self.graph.params
        if len(args) != len(params):
            raise TypeError(f"{self.graph.name} takes {len(params)} argument(s), got {len(args)}")
        checked = []
        for i, (p, a) in enumerate(zip(params, args)):
            if type(a) is np.ndarray and a.dtype == p.type.dtype.np and a.shape == p.type.shape:
                checked.append(a)  # the common case, checked cheaply (XLA copies it anyway)
            elif isinstance(a, jax.Array):  # already on a device: check without a copy to the host
                name = p.name or f"argument {i}"
                if a.dtype != p.type.dtype.np:
                    raise TypeError(f"{name}: expected dtype {p.type.dtype.name}, got {a.dtype} (cast it with .astype)")
                if a.shape != p.type.shape:
                    raise ValueError(f"{name}: expected shape {p.type.shape}, got {a.shape}")
                checked.append(a)
            else:
                checked.append(check_array(a, p.type, p.name or f"argument {i}"))
        return self.run(checked)

    def run(self, args):
        # through jax.jit's own dispatch (its C++ fast path), not the AOT `compiled` object
        with x64():
            outs = self.jitted(*args)
            if self.return_jax_arrays:
                return list(outs)
            return [np.asarray(o) for o in outs]
