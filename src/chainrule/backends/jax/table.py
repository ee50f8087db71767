"""The lowering table: op name -> function building `jax.lax` calls.

`LOWERINGS[op](args, attrs, out_types, regions) -> tuple of jax arrays`, the
same signature as the reference backend's rules, so the two read side by
side. Ops that this backend knowingly cannot lower are listed in
`UNSUPPORTED` with the reason; the registry test fails for any op that is in
neither table.
"""

from __future__ import annotations

from ...ir import RuleTable

LOWERINGS = RuleTable("jax lowering")
lowering = LOWERINGS.register  # register one function as the lowering of the ops it names
# op name -> why it is not lowered (yet): the table's exemptions
UNSUPPORTED: dict[str, str] = LOWERINGS.exemptions


class UnsupportedOpError(NotImplementedError):
    """Raised when a graph holds an op the JAX backend cannot lower."""


def get_lowering(name: str):
    fn = LOWERINGS.get(name)
    if fn is None:
        why = UNSUPPORTED.get(name, "no lowering is registered for it")
        raise UnsupportedOpError(f"the jax backend cannot lower op {name!r}: {why} (not supported yet)")
    return fn
