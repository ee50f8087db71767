"""Shardings and collectives: `sharding_constraint`, `shard_map` and the collectives inside it.

A *mesh* is written as an attribute, `mesh=[[data,2],[model,4]]`: the axis
names and sizes, major to minor (the devices are chosen when a backend
compiles the graph: the first 8 devices here, laid out row-major). A
*partition spec* is `spec=[data,none]` or `spec=[[data,model]]`: one entry per
leading dimension of the value, `none` (not split), one mesh axis or several
(split over their product, the first axis major), as JAX's `PartitionSpec`.

* `sharding_constraint %x {mesh=..., spec=...}` is the identity whose result
  is laid out as `spec` says (StableHLO's `@Sharding` custom call; JAX's
  `with_sharding_constraint`). Shardings of a function's parameters and
  results are constraints too: on a parameter right where it enters, on a
  result right before it leaves (`cr.jit(..., in_shardings=, out_shardings=)`
  writes them so; the jax backend reads them back as jit's in/out shardings).
  It is neither folded nor fused (CSE merges only two identical constraints of
  the same value), so every pass keeps it where it is.
* `shard_map %a, %b {mesh=..., in_specs=[...], out_specs=[...]} regions {...}`
  runs its region once per device on the local blocks of the operands
  (`in_specs`), and assembles the region's local results into global ones
  (`out_specs`; a mesh axis an out_spec does not name means the result is the
  same on every device along it: the first device's is taken). As JAX's
  `shard_map` with `check_vma=False`.
* Collectives name mesh axes (`axes=[model]`) and run across the devices
  that differ only along those axes; several axes act as one axis of their
  product size (the first major). `all_gather`, `psum_scatter` and
  `all_to_all` carry that size (`axis_size`) so that their result type is
  known without the mesh; `shard_map` checks it against its mesh. Inside
  `vmap(..., axis_name=n)` a collective over `n` works across the batch.
"""

from __future__ import annotations

import math

from .dtypes import int32
from .errors import IRTypeError
from .ops import AttrSpec, OpDef, register
from .types import TensorType

_RESERVED = ("none", "true", "false")


# --- meshes and specs ------------------------------------------------------------------------

def check_mesh(op, types, mesh):
    """`mesh` is ((name, size), ...) with distinct names and positive sizes; returns {name: size}."""
    ok = isinstance(mesh, tuple) and mesh and all(
        isinstance(a, tuple) and len(a) == 2 and isinstance(a[0], str) and isinstance(a[1], int)
        and not isinstance(a[1], bool) and a[1] > 0 and a[0] not in _RESERVED and a[0] for a in mesh)
    if not ok:
        raise IRTypeError(op, types, f"mesh={mesh!r} is invalid",
                          "a non-empty list of [axis_name, size] pairs, e.g. [[data,2],[model,4]]")
    names = [a[0] for a in mesh]
    if len(set(names)) != len(names):
        raise IRTypeError(op, types, f"mesh axes {names} repeat a name", "distinct axis names")
    return dict(mesh)


def spec_axes(entry) -> tuple:
    """The mesh axes of one spec entry (None, a name, or a tuple of names)."""
    if entry is None:
        return ()
    return entry if isinstance(entry, tuple) else (entry,)


def check_spec(op, types, spec, sizes: dict, t: TensorType, what="spec", divisible=True):
    """A partition spec for a value of type `t` over a mesh of `sizes`; returns the per-dimension split."""
    if not isinstance(spec, tuple):
        raise IRTypeError(op, types, f"{what}={spec!r} is invalid", "a list with one entry per leading dimension")
    if len(spec) > t.ndim:
        raise IRTypeError(op, types, f"{what} {list(spec)} has {len(spec)} entries for a value of rank {t.ndim}",
                          f"at most {t.ndim} entries")
    used, splits = [], []
    for d, entry in enumerate(spec):
        axes = spec_axes(entry)
        for a in axes:
            if not isinstance(a, str) or a not in sizes:
                raise IRTypeError(op, types, f"{what} names {a!r}, not an axis of the mesh",
                                  f"one of {', '.join(sizes)} or none")
            if a in used:
                raise IRTypeError(op, types, f"{what} {list(spec)} uses mesh axis {a} twice", "each axis at most once")
            used.append(a)
        n = math.prod(sizes[a] for a in axes)
        if divisible and t.shape[d] % n:
            raise IRTypeError(op, types, f"dimension {d} of {t} does not split over {n} devices ({what} {list(spec)})",
                              f"a size divisible by {n}")
        splits.append(n)
    return splits + [1] * (t.ndim - len(spec))


def local_type(t: TensorType, splits) -> TensorType:
    return TensorType(tuple(s // n for s, n in zip(t.shape, splits)), t.dtype)


def global_type(t: TensorType, splits) -> TensorType:
    return TensorType(tuple(s * n for s, n in zip(t.shape, splits)), t.dtype)


MESH = {"mesh": AttrSpec("any")}


def _constraint(types, attrs, regions):
    sizes = check_mesh("sharding_constraint", types, attrs["mesh"])
    check_spec("sharding_constraint", types, attrs["spec"], sizes, types[0], divisible=False)
    return (types[0],)


register(OpDef("sharding_constraint", _constraint, attrs={**MESH, "spec": AttrSpec("any")}, category="sharding",
               linear=(0,), fold=False,
               doc="The identity, laid out over the mesh as `spec` says (JAX's with_sharding_constraint; "
                   "StableHLO's @Sharding). On a parameter it is the parameter's sharding, on a result the "
                   "result's. Never folded or fused (CSE merges only identical constraints of one value); its derivative is the same constraint on the "
                   "tangent and on the cotangent. Backends without devices (reference, llvm) pass the value through."))


# --- collectives ---------------------------------------------------------------------------

def check_axes(op, types, axes):
    if not isinstance(axes, tuple) or not axes or not all(isinstance(a, str) and a for a in axes) \
            or len(set(axes)) != len(axes):
        raise IRTypeError(op, types, f"axes={axes!r} is invalid", "a non-empty list of distinct axis names")


def _dim(op, types, d, ndim, what):
    if not 0 <= d < ndim:
        raise IRTypeError(op, types, f"{what}={d} out of range for rank {ndim}", f"a value in [0, {ndim})")


def _same_type(name):
    def infer(types, attrs, regions):
        check_axes(name, types, attrs["axes"])
        return (types[0],)
    return infer


_AXES = {"axes": AttrSpec("any")}
_SIZED = {**_AXES, "axis_size": AttrSpec("int")}

for _name, _doc, _linear in (
        ("psum", "The sum over the devices along `axes`; every one of them gets it (an all-reduce).", (0,)),
        ("pmax", "The elementwise maximum over the devices along `axes` (not differentiable, as in JAX).", ()),
        ("pmin", "The elementwise minimum over the devices along `axes` (not differentiable, as in JAX).", ())):
    register(OpDef(_name, _same_type(_name), attrs=_AXES, category="collective", linear=_linear, fold=False,
                   doc=_doc))


def _check_size(op, types, attrs):
    check_axes(op, types, attrs["axes"])
    if attrs["axis_size"] < 1:
        raise IRTypeError(op, types, f"axis_size={attrs['axis_size']}", "a positive device count")
    return attrs["axis_size"]


def _all_gather(types, attrs, regions):
    n, (t,), d = _check_size("all_gather", types, attrs), types, attrs["dimension"]
    shape = list(t.shape)
    if attrs["tiled"]:
        _dim("all_gather", types, d, t.ndim, "dimension")
        shape[d] *= n
    else:
        _dim("all_gather", types, d, t.ndim + 1, "dimension")
        shape.insert(d, n)
    return (TensorType(tuple(shape), t.dtype),)


register(OpDef("all_gather", _all_gather, attrs={**_SIZED, "dimension": AttrSpec("int", 0),
                                                 "tiled": AttrSpec("bool", False)},
               category="collective", linear=(0,), fold=False,
               doc="Every device gets the blocks of all devices along `axes`, in device order: stacked along a "
                   "new dimension `dimension` (tiled=false) or concatenated along it (tiled=true)."))


def _psum_scatter(types, attrs, regions):
    n, (t,), d = _check_size("psum_scatter", types, attrs), types, attrs["scatter_dimension"]
    _dim("psum_scatter", types, d, t.ndim, "scatter_dimension")
    shape = list(t.shape)
    if attrs["tiled"]:
        if shape[d] % n:
            raise IRTypeError("psum_scatter", types, f"dimension {d} of size {shape[d]} does not split {n} ways",
                              f"a size divisible by axis_size={n}")
        shape[d] //= n
    else:
        if shape[d] != n:
            raise IRTypeError("psum_scatter", types, f"dimension {d} has size {shape[d]}",
                              f"axis_size={n} (or tiled=true)")
        shape.pop(d)
    return (TensorType(tuple(shape), t.dtype),)


register(OpDef("psum_scatter", _psum_scatter, attrs={**_SIZED, "scatter_dimension": AttrSpec("int", 0),
                                                     "tiled": AttrSpec("bool", False)},
               category="collective", linear=(0,), fold=False,
               doc="A reduce-scatter: the sum over the devices along `axes`, of which device i keeps block i "
                   "along `scatter_dimension` (tiled=true), or row i of it (tiled=false: that dimension's size "
                   "is axis_size and it is removed)."))


def _all_to_all(types, attrs, regions):
    n, (t,) = _check_size("all_to_all", types, attrs), types
    s, c = attrs["split_axis"], attrs["concat_axis"]
    _dim("all_to_all", types, s, t.ndim, "split_axis")
    _dim("all_to_all", types, c, t.ndim, "concat_axis")
    shape = list(t.shape)
    if shape[s] % n:
        raise IRTypeError("all_to_all", types, f"split_axis {s} of size {shape[s]} does not split {n} ways",
                          f"a size divisible by axis_size={n}")
    shape[s] //= n
    shape[c] *= n
    return (TensorType(tuple(shape), t.dtype),)


register(OpDef("all_to_all", _all_to_all, attrs={**_SIZED, "split_axis": AttrSpec("int"),
                                                 "concat_axis": AttrSpec("int")},
               category="collective", linear=(0,), fold=False,
               doc="Device i splits its value into axis_size blocks along `split_axis` and sends block j to "
                   "device j, which concatenates what it receives along `concat_axis` in device order (JAX's "
                   "all_to_all with tiled=True)."))


def _ppermute(types, attrs, regions):
    check_axes("ppermute", types, attrs["axes"])
    perm = attrs["perm"]
    ok = isinstance(perm, tuple) and all(isinstance(p, tuple) and len(p) == 2 and all(
        isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in p) for p in perm)
    if not ok or len({p[0] for p in perm}) != len(perm) or len({p[1] for p in perm}) != len(perm):
        raise IRTypeError("ppermute", types, f"perm={perm!r} is invalid",
                          "a list of [source, destination] device indices, each source and destination at most once")
    return (types[0],)


register(OpDef("ppermute", _ppermute, attrs={**_AXES, "perm": AttrSpec("any")}, category="collective",
               linear=(0,), fold=False,
               doc="Device `source` sends its value to device `destination` for each pair of `perm` (indices "
                   "along `axes`); a device no pair sends to gets zeros."))


def _axis_index(types, attrs, regions):
    check_axes("axis_index", types, attrs["axes"])
    return (TensorType((), int32),)


register(OpDef("axis_index", _axis_index, num_operands=0, attrs=_AXES, category="collective", fold=False,
               doc="This device's index along `axes` (int32; several axes count as one, the first major)."))


COLLECTIVES = ("psum", "pmax", "pmin", "all_gather", "psum_scatter", "all_to_all", "ppermute", "axis_index")


# --- shard_map -----------------------------------------------------------------------------

def _check_collectives(body, sizes, types):
    """Every collective in `body` (nested regions too, but not a nested shard_map's) names axes of
    the mesh, and a sized one the product of their sizes."""
    stack = [body]
    while stack:
        g = stack.pop()
        for node in g.nodes:
            name = node.op.name
            if name in COLLECTIVES:
                axes = node.attrs["axes"]
                bad = [a for a in axes if a not in sizes]
                if bad:
                    raise IRTypeError("shard_map", types, f"{name} names axes {list(bad)}, not in the mesh",
                                      f"axes among {', '.join(sizes)}")
                if "axis_size" in node.attrs and node.attrs["axis_size"] != math.prod(sizes[a] for a in axes):
                    raise IRTypeError("shard_map", types,
                                      f"{name} over {list(axes)} says axis_size={node.attrs['axis_size']}",
                                      f"{math.prod(sizes[a] for a in axes)}, the product of those mesh axes")
            if name != "shard_map":
                stack.extend(node.regions)


def _shard_map(types, attrs, regions):
    (body,) = regions
    sizes = check_mesh("shard_map", types, attrs["mesh"])
    ins, outs = attrs["in_specs"], attrs["out_specs"]
    if not isinstance(ins, tuple) or len(ins) != len(types):
        raise IRTypeError("shard_map", types, f"{len(ins) if isinstance(ins, tuple) else ins!r} in_specs",
                          f"one spec per operand ({len(types)})")
    local = tuple(local_type(t, check_spec("shard_map", types, s, sizes, t, f"in_specs[{i}]"))
                  for i, (t, s) in enumerate(zip(types, ins)))
    if tuple(body.param_types) != local:
        raise IRTypeError("shard_map", types, f"region parameters ({', '.join(map(str, body.param_types))})",
                          f"the local blocks ({', '.join(map(str, local))})")
    if not isinstance(outs, tuple) or len(outs) != len(body.results):
        raise IRTypeError("shard_map", types, f"{len(outs) if isinstance(outs, tuple) else outs!r} out_specs",
                          f"one spec per region result ({len(body.results)})")
    res = []
    for k, (t, s) in enumerate(zip(body.result_types, outs)):
        res.append(global_type(t, check_spec("shard_map", types, s, sizes, t, f"out_specs[{k}]", divisible=False)))
    m = attrs["num_tangents"]
    if not 0 <= m <= len(types):
        raise IRTypeError("shard_map", types, f"num_tangents={m}", f"0 <= num_tangents <= {len(types)}")
    _check_collectives(body, sizes, types)
    return tuple(res)


register(OpDef("shard_map", _shard_map, num_operands=None, num_regions=1, category="sharding", fold=False,
               attrs={**MESH, "in_specs": AttrSpec("any"), "out_specs": AttrSpec("any"),
                      "num_tangents": AttrSpec("int", 0)},
               doc="SPMD code: the region runs on every device of the mesh on the local blocks of the operands "
                   "(split as `in_specs` say) and may call collectives over mesh axes; its local results are "
                   "assembled as `out_specs` say (JAX's shard_map with check_vma=False). num_tangents > 0 marks "
                   "a tangent node made by autodiff: linear in its last num_tangents operands."))
