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
    (NumPy unless `return_jax_arrays`)."""
    exported = deserialize(blob)
    want = exported.in_avals
    if len(args) != len(want):
        raise TypeError(f"the exported function takes {len(want)} argument(s), got {len(args)}")
    for i, (a, aval) in enumerate(zip(args, want)):
        shape, dtype = tuple(np.shape(a)), np.asarray(a).dtype if not isinstance(a, jax.Array) else a.dtype
        if shape != tuple(aval.shape) or dtype != aval.dtype:
            raise TypeError(f"argument {i}: expected {aval.dtype}{list(aval.shape)}, got {dtype}{list(shape)}")
    with x64():
        outs = exported.call(*args)
        outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
        return outs if return_jax_arrays else [np.asarray(o) for o in outs]
