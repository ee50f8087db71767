"""Shardings and SPMD code in the frontend: `Mesh`, `PartitionSpec`, `NamedSharding`,
`with_sharding_constraint`, `shard_map` and the collectives, with JAX's meaning.

A chainrule `Mesh` is abstract: axis names and sizes (`Mesh((2, 4), ("data",
"model"))`, or `make_mesh` as `jax.make_mesh`); a backend picks the devices
when it compiles. JAX's own `Mesh`, `PartitionSpec` and `NamedSharding` are
accepted wherever these are. Shardings become IR (`sharding_constraint`
nodes, `shard_map` regions; see `chainrule.ir.sharding_ops`), so they survive
passes, the text form and artifacts.
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
import sys

from ..ir.sharding_ops import COLLECTIVES, check_spec
from ..ir import IRTypeError
from . import pytree
from .core import bind, bind_multi, canonical_array, is_tensor
from .errors import boundary_transform
from .tensor import in_trace
from .tracing import spec_of, trace_flat


class PartitionSpec(tuple):
    """How a value's leading dimensions split over mesh axes: one entry per dimension, None (not
    split), an axis name, or a tuple of names (split over their product). As jax.sharding.PartitionSpec."""

    def __new__(cls, *entries):
        return super().__new__(cls, entries)

    def __repr__(self):
        return f"PartitionSpec{tuple(self)!r}"


P = PartitionSpec


class Mesh:
    """An abstract device mesh: axis sizes and names, major to minor (devices are chosen at compile time)."""

    def __init__(self, axis_shapes, axis_names):
        axis_shapes, axis_names = tuple(int(s) for s in axis_shapes), tuple(axis_names)
        if isinstance(axis_names, str) or len(axis_shapes) != len(axis_names):
            raise ValueError(f"Mesh: {len(axis_shapes)} axis sizes but axis_names {axis_names!r}; expected one name "
                             "per size")
        self.axis_names = axis_names
        self.shape = dict(zip(axis_names, axis_shapes))
        check_mesh_attr(tuple(zip(axis_names, axis_shapes)))

    @property
    def size(self) -> int:
        return math.prod(self.shape.values())

    def __repr__(self):
        return f"Mesh({', '.join(f'{k}={v}' for k, v in self.shape.items())})"


def make_mesh(axis_shapes, axis_names) -> Mesh:
    """As jax.make_mesh: a mesh of these axis sizes and names."""
    return Mesh(axis_shapes, axis_names)


class NamedSharding:
    """A value laid out over `mesh` as `spec` says (as jax.sharding.NamedSharding)."""

    def __init__(self, mesh, spec=PartitionSpec()):
        self.mesh = mesh
        self.spec = spec

    def __repr__(self):
        return f"NamedSharding({self.mesh!r}, {self.spec!r})"


def check_mesh_attr(attr):
    from ..ir.sharding_ops import check_mesh
    try:
        check_mesh("Mesh", (), attr)
    except IRTypeError as e:
        raise ValueError(str(e)) from None


def mesh_attr(mesh) -> tuple:
    """((name, size), ...) of a chainrule or JAX mesh."""
    names, shape = getattr(mesh, "axis_names", None), getattr(mesh, "shape", None)
    if names is None or shape is None:
        raise TypeError(f"expected a mesh (cr.sharding.Mesh or jax.sharding.Mesh), got {type(mesh).__name__}")
    attr = tuple((str(a), int(shape[a])) for a in names)
    if type(mesh).__module__.startswith("jax") and hasattr(mesh, "devices"):
        # a JAX mesh names its devices: the jax backend lays graphs over this mesh out on them
        from ..backends.jax.collectives import remember_mesh
        remember_mesh(mesh)
    return attr


def _is_spec(x) -> bool:
    if isinstance(x, PartitionSpec):
        return True
    jax = sys.modules.get("jax")  # JAX's own PartitionSpec, when JAX is in use
    return jax is not None and isinstance(x, jax.sharding.PartitionSpec)


def spec_attr(spec) -> tuple:
    """A PartitionSpec (chainrule's or JAX's) or None as the IR's spec: entries None, a name or a tuple."""
    if spec is None:
        return ()
    if not _is_spec(spec):
        raise TypeError(f"expected a PartitionSpec (or None), got {spec!r}")
    out = []
    for e in spec:
        if isinstance(e, (tuple, list)):
            e = tuple(str(a) for a in e)
            e = e[0] if len(e) == 1 else (e or None)
        elif e is not None:
            e = str(e)
        out.append(e)
    while out and out[-1] is None:
        out.pop()  # P("data", None) is P("data")
    return tuple(out)


def sharding_attrs(sharding, what="sharding") -> dict:
    """{mesh, spec} of a NamedSharding (chainrule's or JAX's)."""
    mesh, spec = getattr(sharding, "mesh", None), getattr(sharding, "spec", None)
    if mesh is None:
        raise TypeError(f"{what}: expected a NamedSharding (cr.sharding.NamedSharding or jax.sharding.NamedSharding) "
                        f"with a mesh, got {sharding!r}; a bare PartitionSpec needs a mesh: NamedSharding(mesh, spec)")
    return {"mesh": mesh_attr(mesh), "spec": spec_attr(spec)}


def _is_sharding_leaf(x) -> bool:
    return x is None or _is_spec(x) or hasattr(x, "mesh")


def broadcast_prefix(prefix, tree, what):
    """One entry of the pytree `prefix` per leaf of `tree` (a leaf of prefix covers a whole subtree)."""
    if _is_sharding_leaf(prefix):
        return [prefix] * tree.num_leaves
    if isinstance(prefix, (tuple, list)) and tree.kind in ("tuple", "list"):
        if len(prefix) != len(tree.children):
            raise ValueError(f"{what}: got {len(prefix)} entries for {len(tree.children)} arguments/results")
        return [x for p, c in zip(prefix, tree.children) for x in broadcast_prefix(p, c, what)]
    if isinstance(prefix, dict) and tree.kind == "dict":
        return [x for k, c in zip(tree.aux, tree.children) for x in broadcast_prefix(prefix[k], c, what)]
    raise ValueError(f"{what}: {prefix!r} does not match the structure of the arguments/results")


# --- constraints -----------------------------------------------------------------------------------

def constrain(x, sharding, what="with_sharding_constraint"):
    if sharding is None:
        return x
    a = sharding_attrs(sharding, what)
    x = x if is_tensor(x) else canonical_array(x)
    try:
        check_spec("sharding_constraint", (spec_of(x),), a["spec"], dict(a["mesh"]), spec_of(x), divisible=False)
    except IRTypeError as e:
        raise ValueError(f"{what}: {e}") from None
    return bind("sharding_constraint", x, **a)


@boundary_transform
def with_sharding_constraint(x, shardings):
    """As jax.lax.with_sharding_constraint: `x` (a pytree) laid out as `shardings` (one NamedSharding,
    or a pytree prefix of `x`). Its value is `x`; backends without devices ignore the layout."""
    leaves, tree = pytree.flatten(x)
    per = broadcast_prefix(shardings, tree, "with_sharding_constraint")
    return pytree.unflatten(tree, [constrain(v, s) for v, s in zip(leaves, per)])


# --- axis names bound by shard_map and vmap -------------------------------------------------------

_AXES: list[dict] = []


@contextlib.contextmanager
def bound_axes(sizes: dict):
    """Axis names (name -> size) visible to the collectives traced inside the block."""
    _AXES.append(dict(sizes))
    try:
        yield
    finally:
        _AXES.pop()


def _axes(axis_name, op) -> tuple:
    axes = tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)
    sizes = {}
    for env in _AXES:
        sizes.update(env)
    for a in axes:
        if a not in sizes:
            raise NameError(f"{op}: unbound axis name: {a!r} (collectives run inside cr.shard_map over a mesh "
                            "with that axis, or cr.vmap(..., axis_name=...))")
    return tuple(str(a) for a in axes), math.prod(sizes[a] for a in axes)


def _map(x, fn):
    leaves, tree = pytree.flatten(x)
    return pytree.unflatten(tree, [fn(v if is_tensor(v) else canonical_array(v)) for v in leaves])


def psum(x, axis_name):
    """Sum over the devices (or vmapped elements) along `axis_name`, as jax.lax.psum."""
    axes, _ = _axes(axis_name, "psum")
    return _map(x, lambda v: bind("psum", v, axes=axes))


def pmean(x, axis_name):
    """Mean over `axis_name`, as jax.lax.pmean (psum, then divided by the axis size)."""
    axes, n = _axes(axis_name, "pmean")
    return _map(x, lambda v: bind("psum", v, axes=axes) / n)


def pmax(x, axis_name):
    axes, _ = _axes(axis_name, "pmax")
    return _map(x, lambda v: bind("pmax", v, axes=axes))


def pmin(x, axis_name):
    axes, _ = _axes(axis_name, "pmin")
    return _map(x, lambda v: bind("pmin", v, axes=axes))


def all_gather(x, axis_name, *, axis=0, tiled=False):
    axes, n = _axes(axis_name, "all_gather")
    return _map(x, lambda v: bind("all_gather", v, axes=axes, axis_size=n, dimension=axis % (v.ndim + (not tiled)),
                                  tiled=bool(tiled)))


def psum_scatter(x, axis_name, *, scatter_dimension=0, tiled=False):
    axes, n = _axes(axis_name, "psum_scatter")
    return _map(x, lambda v: bind("psum_scatter", v, axes=axes, axis_size=n,
                                  scatter_dimension=scatter_dimension % v.ndim, tiled=bool(tiled)))


def all_to_all(x, axis_name, split_axis, concat_axis, *, tiled=False):
    axes, n = _axes(axis_name, "all_to_all")
    if not tiled:
        raise NotImplementedError("all_to_all: only tiled=True is supported yet (split_axis is cut into axis-size "
                                  "blocks, concat_axis grows by the axis size)")
    return _map(x, lambda v: bind("all_to_all", v, axes=axes, axis_size=n, split_axis=split_axis % v.ndim,
                                  concat_axis=concat_axis % v.ndim))


def ppermute(x, axis_name, perm):
    axes, _ = _axes(axis_name, "ppermute")
    perm = tuple((int(s), int(d)) for s, d in perm)
    return _map(x, lambda v: bind("ppermute", v, axes=axes, perm=perm))


def axis_index(axis_name):
    """This device's (or vmapped element's) index along `axis_name` (int32), as jax.lax.axis_index."""
    axes, _ = _axes(axis_name, "axis_index")
    (out,) = bind_multi("axis_index", (), {"axes": axes}, force_symbolic=in_trace())
    return out


assert set(COLLECTIVES) == {"psum", "pmax", "pmin", "all_gather", "psum_scatter", "all_to_all", "ppermute",
                            "axis_index"}


# --- shard_map -----------------------------------------------------------------------------------

def _fname(fun) -> str:
    n = re.sub(r"[^A-Za-z0-9_]", "_", getattr(fun, "__name__", "shard_map")) or "shard_map"
    return n if not n[0].isdigit() else "f_" + n


@boundary_transform
def shard_map(f=None, *, mesh, in_specs, out_specs, check_vma=True, axis_names=None):
    """As jax.shard_map: `f` runs once per device of `mesh` on the local blocks of its arguments
    (split as `in_specs`, a pytree prefix of the positional arguments, says) and may call the
    collectives over the mesh's axes; its local results are put together as `out_specs` says.

    The semantics are JAX's with check_vma=False (values and derivatives alike; a result whose
    out_spec leaves a mesh axis unnamed must be the same on every device along it, and chainrule
    does not check that). `check_vma` is accepted for compatibility; `axis_names` (partial
    manual axes) is not supported yet."""
    if f is None:
        return functools.partial(shard_map, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_vma=check_vma,
                                 axis_names=axis_names)
    if axis_names:
        raise NotImplementedError("shard_map: axis_names (manual over some mesh axes only) is not supported yet")
    mattr = mesh_attr(mesh)
    sizes = dict(mattr)

    @functools.wraps(f)
    def mapped(*args):
        leaves, tree = pytree.flatten(args)
        specs = [spec_attr(s) for s in broadcast_prefix(in_specs, tree, "shard_map in_specs")]
        vals = [v if is_tensor(v) else canonical_array(v) for v in leaves]
        local = []
        for i, (v, s) in enumerate(zip(vals, specs)):
            t = spec_of(v)
            try:
                splits = check_spec("shard_map", (t,), s, sizes, t, f"in_specs for argument leaf {i}")
            except IRTypeError as e:
                raise ValueError(str(e)) from None
            local.append(type(t)(tuple(d // n for d, n in zip(t.shape, splits)), t.dtype))
        with bound_axes(sizes):
            traced = trace_flat(f, local, tree, name=_fname(f))
        outs_specs = [spec_attr(s) for s in broadcast_prefix(out_specs, traced.out_tree, "shard_map out_specs")]
        n_extra = len(traced.graph.results) - traced.out_tree.num_leaves
        if n_extra:
            raise NotImplementedError("shard_map: cr.debug.print inside the mapped function is not supported yet")
        attrs = {"mesh": mattr, "in_specs": tuple(specs) + ((),) * len(traced.captured),
                 "out_specs": tuple(outs_specs)}
        outs = bind_multi("shard_map", [*vals, *traced.captured], attrs, (traced.graph,))
        return pytree.unflatten(traced.out_tree, list(outs))

    return mapped


__all__ = ["Mesh", "NamedSharding", "P", "PartitionSpec", "all_gather", "all_to_all", "axis_index", "make_mesh",
           "pmax", "pmean", "pmin", "ppermute", "psum", "psum_scatter", "shard_map", "with_sharding_constraint"]


# --- cr.jit(in_shardings=, out_shardings=) ----------------------------------------------------------

def annotate(traced, in_shardings, out_shardings):
    """`traced` (a TracedFunction of (args, kwargs)) with its parameters and results constrained to the
    shardings (pytree prefixes of the positional arguments and of the results), written into the graph
    as `sharding_constraint` nodes right after the parameters and right before the results."""
    from ..ir import GraphBuilder, Node
    from .tracing import TracedFunction
    g = traced.graph
    args_tree, kw_tree = traced.in_tree.children
    ins = broadcast_prefix(in_shardings, args_tree, "jit in_shardings") + [None] * kw_tree.num_leaves
    nout = traced.out_tree.num_leaves
    outs = broadcast_prefix(out_shardings, traced.out_tree, "jit out_shardings") + [None] * (len(g.results) - nout)
    if all(s is None for s in ins + outs):
        return traced
    b = GraphBuilder(g.name)
    env = {}
    for k, (p, s) in enumerate(zip(g.params, ins)):
        v = b.param(p.type, p.name)
        env[id(p)] = b.emit("sharding_constraint", [v], sharding_attrs(s, f"jit in_shardings (leaf {k})")).results[0] \
            if s is not None else v
    for node in g.nodes:
        new = Node(node.op, [env.get(id(v), v) for v in node.operands], node.attrs, [r.type for r in node.results],
                   node.regions, node.loc)
        b.add_node(new)
        for r, nr in zip(node.results, new.results):
            env[id(r)] = nr
    results = []
    for k, (r, s) in enumerate(zip(g.results, outs)):
        v = env.get(id(r), r)
        results.append(b.emit("sharding_constraint", [v], sharding_attrs(s, f"jit out_shardings (leaf {k})")).results[0]
                       if s is not None else v)
    return TracedFunction(b.build(results), traced.in_tree, traced.out_tree, traced.captured, traced.prints)
