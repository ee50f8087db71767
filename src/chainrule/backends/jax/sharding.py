"""Data parallelism in one call: a thin layer over Mesh and NamedSharding.

`data_parallel(step, batch_argnums=(0, 1))` compiles `step` so that the
arguments in `batch_argnums` are split along their leading dimension over
every device, the others (weights) are replicated, and results come back
replicated; XLA's SPMD partitioner inserts the all-reduces that a sum or
mean over the batch needs.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, PartitionSpec

from .executable import JaxExecutable


def make_mesh(devices=None, axis: str = "data") -> Mesh:
    """A one-axis mesh over `devices` (default: all of JAX's devices).

    The axis is `Auto` (the partitioner propagates shardings), not
    `Explicit` (which `jax.make_mesh` defaults to and which asks every op
    to state its output sharding).
    """
    devices = list(jax.devices() if devices is None else devices)
    return Mesh(np.array(devices), (axis,), axis_types=(AxisType.Auto,))


def data_parallel(graph, batch_argnums=(0,), mesh_axis: str = "data", devices=None, mesh: Mesh | None = None,
                  **options) -> JaxExecutable:
    """Compile `graph` split over devices along the leading (batch) dimension
    of the parameters in `batch_argnums`; other parameters and all results
    are replicated."""
    mesh = mesh if mesh is not None else make_mesh(devices, mesh_axis)
    if mesh_axis not in mesh.axis_names:
        raise ValueError(f"mesh has axes {mesh.axis_names}, not {mesh_axis!r}")
    n = mesh.shape[mesh_axis]
    batch_argnums = tuple(batch_argnums)
    specs = []
    for i, p in enumerate(graph.params):
        if i in batch_argnums:
            if p.type.ndim == 0 or p.type.shape[0] % n:
                raise ValueError(
                    f"data_parallel: parameter {i} ({p.name or ''}: {p.type}) has a leading dimension that does not "
                    f"split over {n} devices; expected a batch size divisible by {n}")
            specs.append(PartitionSpec(mesh_axis))
        else:
            specs.append(PartitionSpec())
    bad = [i for i in batch_argnums if not 0 <= i < len(graph.params)]
    if bad:
        raise ValueError(f"data_parallel: batch_argnums {bad} out of range for {len(graph.params)} parameters")
    return JaxExecutable(graph, mesh=mesh, in_shardings=tuple(specs), out_shardings=PartitionSpec(), **options)
