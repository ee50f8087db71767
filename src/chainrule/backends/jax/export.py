"""Running a serialized `jax.export` artifact (what `JaxExecutable.export`
produces and the .crx stores) without the graph or chainrule's lowering."""

from __future__ import annotations

import jax
import numpy as np

from .executable import x64


def deserialize(blob: bytes):
    """The `jax.export.Exported` in `blob`."""
    return jax.export.deserialize(bytearray(blob))


def deserialize_and_call(blob: bytes, *args, return_jax_arrays: bool = False) -> list:
    """Deserialize `blob` and call it on `args`; returns a list of arrays
    (NumPy unless `return_jax_arrays`). A blob exported sharded over n devices
    runs over the first n devices here."""
    exported = deserialize(blob)
    want = exported.in_avals
    if len(args) != len(want):
        raise TypeError(f"the exported function takes {len(want)} argument(s), got {len(args)}")
    for i, (a, aval) in enumerate(zip(args, want)):
        shape, dtype = tuple(np.shape(a)), np.asarray(a).dtype if not isinstance(a, jax.Array) else a.dtype
        if shape != tuple(aval.shape) or dtype != aval.dtype:
            raise TypeError(f"argument {i}: expected {aval.dtype}{list(aval.shape)}, got {dtype}{list(shape)}")
    with x64():
        call = exported.call
        n = exported.nr_devices
        if n > 1:  # exported sharded: run it over the first n devices, as it was compiled
            devices = jax.devices()
            if len(devices) < n:
                raise ValueError(f"the exported function runs on {n} devices; {len(devices)} are available here")
            mesh = _mesh_for(exported, devices[:n])
            call = jax.jit(exported.call, in_shardings=exported.in_shardings_jax(mesh),
                           out_shardings=exported.out_shardings_jax(mesh))
        outs = call(*args)
        outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
        return outs if return_jax_arrays else [np.asarray(o) for o in outs]


def _mesh_for(exported, devices):
    """A mesh over `devices` shaped like the one the blob was exported with (JAX keeps its axis
    names and sizes with the blob's named shardings; a 1-D mesh serves plain HLO shardings)."""
    for s in list(getattr(exported, "_in_named_shardings", None) or ()) + \
            list(getattr(exported, "_out_named_shardings", None) or ()):
        mesh = getattr(s, "mesh", None)
        if mesh is not None and getattr(mesh, "axis_names", None):
            grid = np.array(devices).reshape(tuple(mesh.axis_sizes))
            return jax.sharding.Mesh(grid, mesh.axis_names, axis_types=tuple(mesh.axis_types))
    return jax.sharding.Mesh(np.array(devices), ("devices",))
