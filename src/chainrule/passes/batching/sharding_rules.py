"""Batching rules of shardings, collectives and `shard_map`.

* `sharding_constraint`: the batch dimension is not split (`none` inserted in the spec), as JAX does.
* A collective over mesh axes other than the vmapped one runs on the batched
  value, its dimension attributes shifted past the batch dimension.
* Under `vmap(..., axis_name=n)`, a collective over `n` alone works across
  the batch, as in JAX: `psum`/`pmax`/`pmin` reduce the batch dimension (the
  result is the same for every element), `all_gather` moves the batch
  dimension to `dimension` (merged into it when tiled), `psum_scatter` sums and
  hands element i its block, `ppermute` reorders the batch, `axis_index` is the
  element's index. A collective over `n` together with other axes, and
  `all_to_all` over `n`, are not supported yet.
* `shard_map`: its region is batched on the operands that vary, with a new
  unsplit leading dimension in their specs (batch dimension 0).
"""

from __future__ import annotations

from ...ir.sharding_ops import COLLECTIVES
from .region_util import batch_region, batched_outputs, front
from .table import batching_rule


@batching_rule("sharding_constraint")
def _constraint(ctx, node, args):
    ((x, b),) = args
    spec = node.attrs["spec"]
    if b < len(spec):
        spec = spec[:b] + (None,) + spec[b:]
    return [(ctx.op("sharding_constraint", x, mesh=node.attrs["mesh"], spec=spec), b)]


_DIM_ATTRS = ("dimension", "scatter_dimension", "split_axis", "concat_axis")


@batching_rule(*COLLECTIVES)
def _collective(ctx, node, args):
    name, axes = node.op.name, node.attrs["axes"]
    if not ctx.binds(node):  # another axis: the same collective on the batched value
        ((x, b),) = args
        if not any(k in node.attrs for k in _DIM_ATTRS):
            return [(ctx.emit(node.op, [x], node.attrs).results[0], b)]
        x = ctx.materialize(x, b, 0)
        a = {k: (v + 1 if k in _DIM_ATTRS else v) for k, v in node.attrs.items()}
        return [(ctx.op(name, x, **a), 0)]
    if len(axes) != 1:
        raise NotImplementedError(f"vmap: {name} over the vmapped axis {ctx.axis_name!r} together with other axes "
                                  f"{[a for a in axes if a != ctx.axis_name]} is not supported yet")
    return _over_batch(ctx, node, args)


def _over_batch(ctx, node, args):
    name, n = node.op.name, ctx.size
    if name == "axis_index":
        return [(ctx.iota((n,), 0, node.results[0].dtype), 0)]
    ((x, b),) = args
    t = node.operands[0].type
    if name in ("psum", "pmax", "pmin"):
        if b is None:
            return [(x if name != "psum" else ctx.op("multiply", x, ctx.full(n, x.shape, x.dtype)), None)]
        kind = {"psum": "sum", "pmax": "max", "pmin": "min"}[name]
        return [(ctx.op("reduce", x, kind=kind, dimensions=(b,)), None)]
    if name == "all_gather":
        d = node.attrs["dimension"]
        x = ctx.materialize(x, b, d)
        if node.attrs["tiled"]:
            shape = list(t.shape)
            shape[d] *= n
            x = ctx.op("reshape", x, shape=tuple(shape))
        return [(x, None)]
    if name == "psum_scatter":
        d = node.attrs["scatter_dimension"]
        total = ctx.op("reduce", x, kind="sum", dimensions=(b,)) if b is not None else \
            ctx.op("multiply", x, ctx.full(n, x.shape, x.dtype))
        if not node.attrs["tiled"]:
            return [(total, d)]  # dimension d (of size n) becomes the batch dimension
        shape = list(t.shape)
        shape[d:d + 1] = [n, shape[d] // n]
        return [(ctx.op("reshape", total, shape=tuple(shape)), d)]
    if name == "ppermute":
        x = ctx.materialize(x, b, 0)
        src = {dst: s for s, dst in node.attrs["perm"]}
        one = (1,) + t.shape
        parts = []
        for j in range(n):
            if j in src:
                s = src[j]
                parts.append(ctx.op("slice", x, start_indices=(s,) + (0,) * t.ndim,
                                    limit_indices=(s + 1,) + t.shape))
            else:
                parts.append(ctx.full(0, one, t.dtype))
        return [(ctx.op("concatenate", *parts, dimension=0) if n > 1 else parts[0], 0)]
    raise NotImplementedError(f"vmap: {name} over the vmapped axis {ctx.axis_name!r} is not supported yet")


@batching_rule("shard_map")
def _shard_map(ctx, node, args):
    ops, flags = front(ctx, args)
    (body,) = node.regions
    out = batched_outputs(body, flags)
    ins = tuple(((None,) + s) if f else s for s, f in zip(node.attrs["in_specs"], flags))
    outs = tuple(((None,) + s) if f else s for s, f in zip(node.attrs["out_specs"], out))
    new = ctx.emit(node.op, ops, node.attrs.replace(in_specs=ins, out_specs=outs),
                   (batch_region(ctx, body, flags, out),))
    return [(r, 0 if f else None) for r, f in zip(new.results, out)]

