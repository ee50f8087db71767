"""Derivatives of shardings, collectives and `shard_map` (as JAX defines them).

* `sharding_constraint` is linear: the tangent and the cotangent get the same
  constraint (JAX's with_sharding_constraint does the same).
* Collectives, as JAX's rules: `psum` is linear and its transpose is `psum`
  (JAX's psum_p under `check_vma=False`); `all_gather` and `psum_scatter`
  transpose into each other; `all_to_all` into the one with split and concat
  axes swapped; `ppermute` into the inverse permutation. `pmax`/`pmin` have
  no derivative in JAX and none here; `axis_index` is an integer.
* `shard_map` is differentiated as `remat` is (the region is closed): reverse
  mode emits a primal shard_map and a tangent shard_map linear in its tangent
  operands (its region recomputes the primal), and the transpose of that is a
  shard_map of the region's transpose. With `check_vma=False` semantics, as in
  JAX, a result the out_spec leaves unsplit along mesh axes holds the same value on
  each of their N devices: its cotangent enters the transposed region divided by
  N, and the cotangent of an operand left unsplit along axes is summed over them
  (`psum`), so `grad` of a shard_map'ped function equals the gradient of the
  same computation on one device.
"""

from __future__ import annotations

import math

import numpy as np

from ...ir.sharding_ops import spec_axes
from .control_flow_rules import as_list, inline_graph, make_region, nonzero_tangents, transposed_branch
from .jvp_rules import JVP_RULES, jvp
from .remat_rules import _needed, _tangent_region as _saving_tangent_region, _with_saved_results
from .trace import expansion
from .transpose_rules import TRANSPOSE_RULES

LINEAR_ONE = ("sharding_constraint", "psum", "all_gather", "psum_scatter", "all_to_all", "ppermute")


@jvp(*LINEAR_ONE)
def _linear_jvp(e, node, xs, ts, ys):
    return [e.emit(node.op, [ts[0]], node.attrs).results[0]]  # linear: the same op on the tangent


JVP_RULES.exempt("pmax", "not differentiable in JAX either (jax.lax.pmax has no JVP rule)")
JVP_RULES.exempt("pmin", "not differentiable in JAX either (jax.lax.pmin has no JVP rule)")
JVP_RULES.exempt("axis_index", "an integer result: piecewise constant")


def _transposed(e, node, ct, op, **changes):
    a = dict(node.attrs)
    for k in ("dimension", "scatter_dimension", "split_axis", "concat_axis", "tiled", "perm"):
        a.pop(k, None)
    a.update(changes)
    return [e.op(op, ct, **a)]


TRANSPOSE_RULES["sharding_constraint"] = lambda e, node, ct, linear: [e.emit(node.op, [ct], node.attrs).results[0]]
TRANSPOSE_RULES["psum"] = lambda e, node, ct, linear: [e.emit(node.op, [ct], node.attrs).results[0]]
TRANSPOSE_RULES["all_gather"] = lambda e, node, ct, linear: _transposed(
    e, node, ct, "psum_scatter", scatter_dimension=node.attrs["dimension"], tiled=node.attrs["tiled"])
TRANSPOSE_RULES["psum_scatter"] = lambda e, node, ct, linear: _transposed(
    e, node, ct, "all_gather", dimension=node.attrs["scatter_dimension"], tiled=node.attrs["tiled"])
TRANSPOSE_RULES["all_to_all"] = lambda e, node, ct, linear: _transposed(
    e, node, ct, "all_to_all", split_axis=node.attrs["concat_axis"], concat_axis=node.attrs["split_axis"])
TRANSPOSE_RULES["ppermute"] = lambda e, node, ct, linear: _transposed(
    e, node, ct, "ppermute", perm=tuple((d, s) for s, d in node.attrs["perm"]))


# --- shard_map ---------------------------------------------------------------------------------

@expansion("shard_map")
def _shard_map_jvp(e, node, xs, ts, trace):
    (body,) = node.regions
    attrs, m = node.attrs, node.attrs["num_tangents"]
    n = len(body.results)
    k = len(xs) - m
    if m and all(t is None for t in ts[:k]):  # a tangent node, differentiated in its tangents only: linear
        ys = list(e.emit("shard_map", xs, attrs, node.regions).results)
        tans = [e.materialize(t, x.type) for t, x in zip(ts[k:], xs[k:])]
        tn = e.emit("shard_map", [*xs[:k], *tans], attrs, node.regions)
        return ys, [r if r.dtype.is_float else None for r in tn.results]
    attrs = attrs.replace(num_tangents=0)
    wrt = [i for i, (x, t) in enumerate(zip(xs, ts)) if t is not None and x.dtype.is_float]
    nz = nonzero_tangents(body, set(wrt)) if wrt else [False] * n
    keep = [j for j, r in enumerate(body.results) if r.dtype.is_float and nz[j]]
    ys = list(e.emit("shard_map", xs, attrs, (body,)).results)
    if not keep:
        return ys, [None] * n
    ins, outs = attrs["in_specs"], attrs["out_specs"]
    # residuals: the primal node also returns the region-free intermediates the tangent region reads
    # (as JAX's partial evaluation of shard_map does), so the tangent node does not recompute them
    saved = [nd for nd in body.nodes if not nd.regions]
    tangent = _saving_tangent_region(body, saved, wrt, keep)
    needed = _needed(saved, tangent, len(xs))
    if len(needed) != len(saved):
        saved, tangent = needed, _saving_tangent_region(body, needed, wrt, keep)
    residuals = []
    if saved:
        ys, residuals = _primal_with_residuals(e, body, attrs, xs, saved)
    tattrs = attrs.replace(in_specs=tuple(ins) + (_every_device(attrs["mesh"]),) * len(residuals)
                           + tuple(ins[i] for i in wrt), out_specs=tuple(outs[j] for j in keep), num_tangents=len(wrt))
    tn = e.emit("shard_map", [*xs, *residuals, *(ts[i] for i in wrt)], tattrs,
                (_unstacked(tangent, len(xs), len(residuals)),))
    touts = [None] * n
    for j, r in zip(keep, tn.results):
        touts[j] = r
    return ys, touts


def _every_device(mesh):
    """The spec of a leading dimension with one entry per device (residuals are per-device values)."""
    names = tuple(a for a, _ in mesh)
    return (names[0] if len(names) == 1 else names,)


def _primal_with_residuals(e, body, attrs, xs, saved):
    """The primal shard_map, also returning the saved nodes' results, each with a new leading
    dimension of 1 locally (so one per device globally); returns (results, residuals)."""
    n = len(body.results)
    region = _with_saved_results(body, saved)

    def fn(b, ps):
        outs = inline_graph(b, region, ps)
        return outs[:n] + [b.op("reshape", r, shape=(1,) + r.shape) for r in outs[n:]]

    wrapped = make_region(f"{body.name}_res", body.param_types, fn)
    k = len(region.results) - n
    pn = e.emit("shard_map", xs, attrs.replace(out_specs=tuple(attrs["out_specs"]) +
                                               (_every_device(attrs["mesh"]),) * k), (wrapped,))
    return list(pn.results[:n]), list(pn.results[n:])


def _unstacked(tangent, nparams, nres):
    """`tangent` taking each residual with the leading dimension of 1 that the primal node gave it."""
    if not nres:
        return tangent
    types = list(tangent.param_types)
    for i in range(nparams, nparams + nres):
        types[i] = type(types[i])((1,) + types[i].shape, types[i].dtype)

    def fn(b, ps):
        args = list(ps)
        for i in range(nparams, nparams + nres):
            args[i] = b.op("reshape", ps[i], shape=tangent.param_types[i].shape)
        return inline_graph(b, tangent, args)

    return make_region(tangent.name, types, fn)


def _unmentioned(mesh, spec):
    named = {a for entry in spec for a in spec_axes(entry)}
    return tuple(a for a, _ in mesh if a not in named)


def _shard_map_transpose(e, node, ct, linear):
    (region,) = node.regions
    mesh, ins, outs = node.attrs["mesh"], node.attrs["in_specs"], node.attrs["out_specs"]
    sizes = dict(mesh)
    cts = [e.materialize(c, r.type) for c, r in zip(as_list(ct, node), node.results, strict=True)]
    nonlin = [i for i, f in enumerate(linear) if not f]
    lin = [i for i, f in enumerate(linear) if f]
    back = transposed_branch(region, nonlin, lin)

    def body(b, ps):
        args = list(ps[:len(nonlin)])
        for c, spec in zip(ps[len(nonlin):], outs):
            n = math.prod(sizes[a] for a in _unmentioned(mesh, spec))
            if n > 1:  # the same value on n devices: each holds 1/n of its cotangent
                scale = b.constant(np.asarray(1 / n, c.dtype.np))
                c = b.op("multiply", c, b.op("broadcast_in_dim", scale, shape=c.shape, broadcast_dimensions=()))
            args.append(c)
        res = inline_graph(b, back, args)
        out = []
        for r, i in zip(res, lin):
            axes = _unmentioned(mesh, ins[i])
            out.append(b.op("psum", r, axes=axes) if axes else r)  # an unsplit operand: sum over its copies
        return out

    wrapped = make_region(f"{region.name}_t", back.param_types, body)
    tattrs = node.attrs.replace(in_specs=tuple(ins[i] for i in nonlin) + tuple(outs),
                                out_specs=tuple(ins[i] for i in lin), num_tangents=0)
    tn = e.emit("shard_map", [*(node.operands[i] for i in nonlin), *cts], tattrs, (wrapped,))
    res = [None] * len(node.operands)
    for i, r in zip(lin, tn.results):
        res[i] = r
    return res


TRANSPOSE_RULES["shard_map"] = _shard_map_transpose
assert "shard_map" not in JVP_RULES  # an expansion: it emits its own primal node
