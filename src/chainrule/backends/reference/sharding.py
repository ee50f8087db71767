"""Reference evaluation of shardings and collectives: the oracle of their semantics.

The reference backend has one device, so a `sharding_constraint` passes its
value through. A `shard_map` is *simulated*: its operands are cut into the
local blocks of every device of the mesh (as `in_specs` say), the region runs
on all the devices in lockstep, node by node (an ordinary op once per device,
a collective across the devices at once), and the local results are put
together as `out_specs` say. See `chainrule.ir.sharding_ops` for what each
collective means.
"""

from __future__ import annotations

import math

import numpy as np

from ...ir.sharding_ops import COLLECTIVES, spec_axes
from .rules import rule


class Mesh:
    """Device coordinates on a mesh given as ((name, size), ...), devices numbered row-major."""

    def __init__(self, mesh):
        self.names = [a for a, _ in mesh]
        self.sizes = dict(mesh)
        self.count = math.prod(self.sizes.values())
        self.coords = [dict(zip(self.names, np.unravel_index(d, [s for _, s in mesh]))) for d in range(self.count)]

    def index(self, d: int, axes) -> int:
        """Device d's index along `axes` (the first major)."""
        i = 0
        for a in axes:
            i = i * self.sizes[a] + int(self.coords[d][a])
        return i

    def groups(self, axes):
        """The devices that differ only along `axes`, each group ordered by index along them."""
        out = {}
        for d in range(self.count):
            key = tuple(int(self.coords[d][a]) for a in self.names if a not in axes)
            out.setdefault(key, []).append(d)
        return [sorted(g, key=lambda d: self.index(d, axes)) for g in out.values()]


def _block(x, spec, mesh: Mesh, d: int):
    idx = []
    for dim, entry in enumerate(spec):
        axes = spec_axes(entry)
        n = math.prod(mesh.sizes[a] for a in axes)
        size = x.shape[dim] // n
        i = mesh.index(d, axes)
        idx.append(slice(i * size, (i + 1) * size))
    return np.ascontiguousarray(x[tuple(idx)])


def _assemble(locals_, spec, mesh: Mesh, t):
    out = np.empty(t.shape, t.dtype.np)
    named = {a for entry in spec for a in spec_axes(entry)}
    for d, x in enumerate(locals_):
        if any(int(mesh.coords[d][a]) for a in mesh.names if a not in named):
            continue  # replicated along that axis: the first device's copy is the result
        idx = []
        for dim, entry in enumerate(spec):
            i, size = mesh.index(d, spec_axes(entry)), x.shape[dim]
            idx.append(slice(i * size, (i + 1) * size))
        out[tuple(idx)] = x
    return out


# --- collectives across the devices of one group ------------------------------------------------

def _collective(name, attrs, xs, mesh: Mesh, out_type):
    axes = attrs["axes"]
    outs = [None] * mesh.count
    for group in mesh.groups(axes):
        vals = [xs[d] for d in group] if xs is not None else None
        n = len(group)
        for i, d in enumerate(group):
            outs[d] = _one(name, attrs, vals, i, n)
    return [np.asarray(o, out_type.dtype.np).reshape(out_type.shape) for o in outs]


def _one(name, attrs, vals, i, n):
    if name == "axis_index":
        return np.int32(i)
    if name == "psum":
        return _sum(vals)
    if name == "pmax":
        return np.maximum.reduce(np.stack(vals))
    if name == "pmin":
        return np.minimum.reduce(np.stack(vals))
    if name == "all_gather":
        d = attrs["dimension"]
        return np.concatenate(vals, axis=d) if attrs["tiled"] else np.stack(vals, axis=d)
    if name == "psum_scatter":
        d, total = attrs["scatter_dimension"], _sum(vals)
        if not attrs["tiled"]:
            return np.take(total, i, axis=d)
        size = total.shape[d] // n
        return np.take(total, np.arange(i * size, (i + 1) * size), axis=d)
    if name == "all_to_all":
        s, c = attrs["split_axis"], attrs["concat_axis"]
        return np.concatenate([np.array_split(v, n, axis=s)[i] for v in vals], axis=c)
    if name == "ppermute":
        src = {dst: s for s, dst in attrs["perm"]}
        return vals[src[i]].copy() if i in src else np.zeros_like(vals[i])
    raise AssertionError(name)


def _sum(vals):
    total = vals[0].copy()
    for v in vals[1:]:
        total = total + v
    return total


def _has_collective(region) -> bool:
    return any(n.op.name in COLLECTIVES or n.op.name == "shard_map" for n in region.walk())


def simulate(body, mesh: Mesh, per_device_args):
    """Run `body` on every device in lockstep; per_device_args[k][d] is operand k on device d.
    Returns per_device_results[k][d]."""
    from .interpreter import evaluate_op
    env = {id(p): list(a) for p, a in zip(body.params, per_device_args)}
    for node in body.nodes:
        name = node.op.name
        types = [r.type for r in node.results]
        if name in COLLECTIVES:
            xs = env[id(node.operands[0])] if node.operands else None
            env[id(node.results[0])] = _collective(name, node.attrs, xs, mesh, types[0])
            continue
        if any(_has_collective(r) for r in node.regions):
            raise NotImplementedError(
                f"the reference backend's shard_map simulation runs collectives in the top level of the "
                f"shard_map region only; this {name} holds one in its region (not supported yet)")
        per = [evaluate_op(node.op, [env[id(v)][d] for v in node.operands], node.attrs, types, node.regions)
               for d in range(mesh.count)]
        for k, r in enumerate(node.results):
            env[id(r)] = [p[k] for p in per]
    return [env[id(r)] for r in body.results]


@rule("shard_map")
def _shard_map(args, attrs, out, regions):
    (body,) = regions
    mesh = Mesh(attrs["mesh"])
    per_device = [[_block(np.asarray(a), spec, mesh, d) for d in range(mesh.count)]
                  for a, spec in zip(args, attrs["in_specs"])]
    results = simulate(body, mesh, per_device)
    return tuple(_assemble(r, spec, mesh, t) for r, spec, t in zip(results, attrs["out_specs"], out))


@rule("sharding_constraint")
def _constraint(args, attrs, out, regions):
    return (args[0],)  # one device: placement is ignored


@rule(*COLLECTIVES)
def _unbound(args, attrs, out, regions):
    raise NameError(f"unbound axis name(s) {', '.join(attrs['axes'])}: a collective runs inside cr.shard_map "
                    "(over mesh axes) or cr.vmap(..., axis_name=...)")
