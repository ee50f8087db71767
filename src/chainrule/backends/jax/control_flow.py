"""Lowerings of cond, case, while and scan to lax.cond/switch/while_loop/scan.

Each region becomes a Python function that interprets the region with
`lower_graph`, so JAX traces it once into the structured control flow XLA
keeps as a loop or conditional (nothing is unrolled). The one semantic
difference fixed here: `lax.switch` clamps an out-of-range index, while
`case` runs its last branch for any index outside [0, n) (StableHLO).
"""

from __future__ import annotations

import numpy as np
from jax import lax

from .table import lowering


def _fn(region):
    from .interpreter import lower_graph

    def run(*args):
        return tuple(lower_graph(region, args))
    return run


@lowering("cond")
def _cond(args, attrs, out, regions):
    true_branch, false_branch = regions
    pred, operands = args[0], args[1:]
    return tuple(lax.cond(pred, _fn(true_branch), _fn(false_branch), *operands))


@lowering("case")
def _case(args, attrs, out, regions):
    index, operands = args[0], args[1:]
    n = len(regions)
    last = np.asarray(n - 1, dtype=index.dtype)
    outside = lax.bitwise_or(lax.lt(index, np.asarray(0, index.dtype)), lax.gt(index, last))
    index = lax.select(outside, last, index)
    return tuple(lax.switch(index, [_fn(r) for r in regions], *operands))


@lowering("while")
def _while(args, attrs, out, regions):
    cond, body = regions
    cond_fn, body_fn = _fn(cond), _fn(body)
    return tuple(lax.while_loop(lambda carry: cond_fn(*carry)[0], lambda carry: body_fn(*carry), tuple(args)))


@lowering("scan")
def _scan(args, attrs, out, regions):
    (body,) = regions
    nc, nk, length = attrs["num_consts"], attrs["num_carry"], attrs["length"]
    consts, carry, xs = tuple(args[:nc]), tuple(args[nc:nc + nk]), tuple(args[nc + nk:])
    body_fn = _fn(body)

    def step(c, x):
        res = body_fn(*consts, *c, *x)
        return tuple(res[:nk]), tuple(res[nk:])

    final, ys = lax.scan(step, carry, xs, length=length, reverse=attrs["reverse"])
    return tuple(final) + tuple(ys)
