"""from_jax of `fft` (JAX's params: fft_type, an enum, and fft_lengths)."""

from __future__ import annotations

from .jax_primitives import prim


@prim("fft")
def _fft(ctx, eqn, ins):
    kind = getattr(eqn.params["fft_type"], "name", str(eqn.params["fft_type"]).split(".")[-1])
    return [ctx.op("fft", ins[0], fft_type=kind, fft_length=tuple(eqn.params["fft_lengths"]))]
