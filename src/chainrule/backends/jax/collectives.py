"""Lowerings of shardings and collectives: `jax.sharding`, `jax.shard_map`, `jax.lax` collectives.

A mesh attribute (`[[data,2],[model,4]]`) becomes a `jax.sharding.Mesh`: the
one passed to `compile(mesh=...)` when its axes are the same, else the
first devices of `jax.devices()` laid out row-major (on several processes
that is the global device list, so the mesh spans them all). Axes are
`Auto`: XLA's partitioner propagates shardings between constraints.

`graph_shardings(graph)` reads a graph's parameter and result shardings
back from the constraints that `cr.jit(in_shardings=, out_shardings=)`
wrote, for `jax.jit`.
"""

from __future__ import annotations

import math

import jax
import numpy as np
from jax import lax
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from ...ir.sharding_ops import COLLECTIVES
from .interpreter import lower_graph
from .table import lowering

_MESHES: dict = {}  # mesh attribute -> jax Mesh


def mesh_attr(mesh: Mesh) -> tuple:
    return tuple((str(a), int(mesh.shape[a])) for a in mesh.axis_names)


def remember_mesh(mesh: Mesh):
    """Use `mesh` for every graph whose mesh attribute has its axes and sizes."""
    _MESHES[mesh_attr(mesh)] = mesh


def jax_mesh(attr) -> Mesh:
    m = _MESHES.get(attr)
    if m is None:
        names, sizes = [a for a, _ in attr], [s for _, s in attr]
        n = math.prod(sizes)
        devices = jax.devices()
        if len(devices) < n:
            raise ValueError(f"the mesh {dict(attr)} needs {n} devices, JAX has {len(devices)} "
                             f"({devices[0].platform}); on CPU, simulate more with "
                             f"XLA_FLAGS=--xla_force_host_platform_device_count={n} set before jax is imported")
        m = _MESHES[attr] = Mesh(np.array(devices[:n]).reshape(sizes), tuple(names),
                                 axis_types=(AxisType.Auto,) * len(names))
    return m


def partition_spec(spec) -> PartitionSpec:
    return PartitionSpec(*spec)


def named_sharding(attrs) -> NamedSharding:
    return NamedSharding(jax_mesh(attrs["mesh"]), partition_spec(attrs["spec"]))


@lowering("sharding_constraint")
def _constraint(args, attrs, out, regions):
    return (lax.with_sharding_constraint(args[0], named_sharding(attrs)),)


@lowering("shard_map")
def _shard_map(args, attrs, out, regions):
    (body,) = regions
    fn = jax.shard_map(lambda *a: tuple(lower_graph(body, a)), mesh=jax_mesh(attrs["mesh"]),
                       in_specs=tuple(map(partition_spec, attrs["in_specs"])),
                       out_specs=tuple(map(partition_spec, attrs["out_specs"])), check_vma=False)
    return tuple(fn(*args))


def _axes(attrs):
    axes = attrs["axes"]
    return axes[0] if len(axes) == 1 else tuple(axes)


@lowering("psum")
def _psum(args, attrs, out, regions):
    return (lax.psum(args[0], _axes(attrs)),)


@lowering("pmax")
def _pmax(args, attrs, out, regions):
    return (lax.pmax(args[0], _axes(attrs)),)


@lowering("pmin")
def _pmin(args, attrs, out, regions):
    return (lax.pmin(args[0], _axes(attrs)),)


@lowering("all_gather")
def _all_gather(args, attrs, out, regions):
    return (lax.all_gather(args[0], _axes(attrs), axis=attrs["dimension"], tiled=attrs["tiled"]),)


@lowering("psum_scatter")
def _psum_scatter(args, attrs, out, regions):
    return (lax.psum_scatter(args[0], _axes(attrs), scatter_dimension=attrs["scatter_dimension"],
                             tiled=attrs["tiled"]),)


@lowering("all_to_all")
def _all_to_all(args, attrs, out, regions):
    return (lax.all_to_all(args[0], _axes(attrs), attrs["split_axis"], attrs["concat_axis"], tiled=True),)


@lowering("ppermute")
def _ppermute(args, attrs, out, regions):
    return (lax.ppermute(args[0], _axes(attrs), [tuple(p) for p in attrs["perm"]]),)


@lowering("axis_index")
def _axis_index(args, attrs, out, regions):
    return (lax.axis_index(_axes(attrs)).astype(np.int32),)


assert set(COLLECTIVES) <= {"psum", "pmax", "pmin", "all_gather", "psum_scatter", "all_to_all", "ppermute",
                            "axis_index"}


def graph_shardings(graph):
    """(in_shardings, out_shardings) read from the graph's constraints on parameters and results,
    or (None, None) when it has none. Unannotated ones are replicated over the same mesh."""
    param_ids = {id(p): i for i, p in enumerate(graph.params)}
    ins = [None] * len(graph.params)
    for node in graph.nodes:
        if node.op.name == "sharding_constraint" and id(node.operands[0]) in param_ids:
            i = param_ids[id(node.operands[0])]
            if ins[i] is None:
                ins[i] = named_sharding(node.attrs)
    outs = [named_sharding(r.node.attrs) if r.node is not None and r.node.op.name == "sharding_constraint"
            else None for r in graph.results]
    found = [s for s in ins + outs if s is not None]
    if not found:
        return None, None
    mesh = found[0].mesh
    rep = NamedSharding(mesh, PartitionSpec())
    return tuple(s or rep for s in ins), tuple(s or rep for s in outs)
