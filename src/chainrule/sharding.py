"""`chainrule.sharding`: meshes, partition specs and shardings, as `jax.sharding`; the collectives
(`psum`, `pmean`, `pmax`, `pmin`, `all_gather`, `psum_scatter`, `all_to_all`, `ppermute`,
`axis_index`, as `jax.lax`); `shard_map` and `with_sharding_constraint`. See docs/distributed.md.

    mesh = cr.sharding.make_mesh((2, 4), ("data", "model"))
    f = cr.jit(step, in_shardings=(NamedSharding(mesh, P("data")), NamedSharding(mesh, P(None, "model"))))
"""

from .frontend.sharding import (Mesh, NamedSharding, P, PartitionSpec, all_gather, all_to_all, axis_index,
                                make_mesh, pmax, pmean, pmin, ppermute, psum, psum_scatter, shard_map,
                                with_sharding_constraint)

__all__ = ["Mesh", "NamedSharding", "P", "PartitionSpec", "all_gather", "all_to_all", "axis_index", "make_mesh",
           "pmax", "pmean", "pmin", "ppermute", "psum", "psum_scatter", "shard_map", "with_sharding_constraint"]
