"""JAX's cumsum / cumprod / cummax / cummin, in two forms by axis length.

Short axes (n <= MASKED_MAX): a masked reduction over an n x n broadcast,
out[.., j, ..] = reduce_{k <= j} x[.., k, ..]: O(n^2) work, but plain
elementwise and reduce ops that fuse and vectorize. Longer axes: chainrule's
`scan` op carrying the running value, O(n) work and memory.
"""

from __future__ import annotations

import numpy as np

from ..ir import TensorType
from .jax_control_flow import region
from .jax_primitives import PRIMITIVES

MASKED_MAX = 64
_COMBINE = {"sum": "add", "prod": "multiply", "max": "maximum", "min": "minimum"}


def _identity(kind, dt):
    if dt.is_int and kind in ("max", "min"):
        info = np.iinfo(dt.np)
        return info.min if kind == "max" else info.max
    return {"sum": 0, "prod": 1, "max": -np.inf, "min": np.inf}[kind]


def _masked(ctx, x, axis, reverse, kind):
    n = x.shape[axis]
    shape = x.shape[:axis] + (n, n) + x.shape[axis + 1:]  # [.., j (out), k (in), ..]
    dims = tuple(d if d < axis else d + 1 for d in range(x.ndim))
    xb = ctx.op("broadcast_in_dim", x, shape=shape, broadcast_dimensions=dims)
    j = ctx.op("iota", shape=(n, n), dtype="int64", dimension=0)
    k = ctx.op("iota", shape=(n, n), dtype="int64", dimension=1)
    keep = ctx.op("compare", k, j, direction="GE" if reverse else "LE")
    keep = ctx.op("broadcast_in_dim", keep, shape=shape, broadcast_dimensions=(axis, axis + 1))
    masked = ctx.op("select", keep, xb, ctx.full(_identity(kind, x.dtype), TensorType(shape, x.dtype)))
    return ctx.op("reduce", masked, kind=kind, dimensions=(axis + 1,))


def _scanned(ctx, x, axis, reverse, kind):
    perm = [axis] + [d for d in range(x.ndim) if d != axis]  # the scanned axis first
    xt = x if axis == 0 else ctx.op("transpose", x, permutation=perm)
    slice_t = TensorType(xt.shape[1:], x.dtype)

    def body(c, ps):
        acc = c.op(_COMBINE[kind], ps[0], ps[1])
        return [acc, acc]

    init = ctx.full(_identity(kind, x.dtype), slice_t)
    attrs = {"num_consts": 0, "num_carry": 1, "length": x.shape[axis], "reverse": bool(reverse)}
    ys = ctx.b.emit("scan", [init, xt], attrs, (region("step", [slice_t, slice_t], body, ctx),)).results[1]
    return ys if axis == 0 else ctx.op("transpose", ys, permutation=[perm.index(d) for d in range(x.ndim)])


def _cumulative(kind):
    def rule(ctx, eqn, ins):
        (x,), axis, reverse = ins, eqn.params["axis"], eqn.params["reverse"]
        form = _masked if x.shape[axis] <= MASKED_MAX else _scanned
        return [form(ctx, x, axis, reverse, kind)]
    return rule


for _j, _k in (("cumsum", "sum"), ("cumprod", "prod"), ("cummax", "max"), ("cummin", "min")):
    PRIMITIVES[_j] = _cumulative(_k)
