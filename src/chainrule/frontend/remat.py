"""`checkpoint` (alias `remat`): trade compute for memory in reverse mode, like `jax.checkpoint`.

`checkpoint(fun)(*args)` traces `fun` once to a graph and applies it as the
region of one `remat` node. Its value is `fun(*args)`; its difference shows
only under reverse-mode differentiation: the backward pass stores `fun`'s
inputs (plus what the policy saves) and recomputes `fun`'s intermediates
when they are needed, instead of keeping them alive from the forward pass.

Unlike XLA, no optimization_barrier is needed to keep the compiler from
merging the recomputation back into the forward values: the recomputation
lives inside a closed region, which CSE never looks across.

Policies (`policy=`): None or "nothing_saveable" (save only the inputs),
"dots_saveable" (also every dot_general result of `fun`),
"dots_with_no_batch_dims_saveable", "everything_saveable" (no
rematerialisation); as strings or as `checkpoint_policies.<name>`, the
counterpart of `jax.checkpoint_policies`.
"""

from __future__ import annotations

import functools
import re

from ..ir.remat import REMAT_POLICIES
from ..passes.autodiff import remat_rules as _remat_rules  # noqa: F401  (registers the derivative rules)
from . import pytree
from .core import bind_multi, canonical_array, is_tensor
from .errors import boundary_transform
from .tracing import spec_of, trace_flat


class Policy:
    """A named checkpoint policy (what the backward pass may save besides the inputs)."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self):
        return f"checkpoint_policies.{self.name}"


class _Policies:
    """`cr.checkpoint_policies`: the policies chainrule knows, by JAX's names."""

    def __init__(self):
        for name in REMAT_POLICIES:
            setattr(self, name, Policy(name))
        self.checkpoint_dots = self.dots_saveable  # JAX's older aliases
        self.checkpoint_dots_with_no_batch_dims = self.dots_with_no_batch_dims_saveable

    def __repr__(self):
        return f"checkpoint_policies({', '.join(REMAT_POLICIES)})"


checkpoint_policies = _Policies()


def policy_name(policy) -> str:
    """The `remat` policy attribute for `policy` (None, a name or a `checkpoint_policies` entry)."""
    if policy is None:
        return "nothing_saveable"
    if isinstance(policy, Policy):
        return policy.name
    if isinstance(policy, str) and policy in REMAT_POLICIES:
        return policy
    if callable(policy):
        raise NotImplementedError(
            f"checkpoint: custom policy functions ({policy!r}) are not supported yet: a policy must be stored "
            f"in the graph by name; use one of {', '.join(REMAT_POLICIES)} (cr.checkpoint_policies.<name>)")
    raise ValueError(f"checkpoint: unknown policy {policy!r}; expected None or one of {', '.join(REMAT_POLICIES)} "
                     "(as a string or cr.checkpoint_policies.<name>)")


def _fname(fun) -> str:
    n = re.sub(r"[^A-Za-z0-9_]", "_", getattr(fun, "__name__", "remat")) or "remat"
    return n if not n[0].isdigit() else "remat_" + n


def _is_static_scalar(x) -> bool:
    # a Python scalar is a concrete value: it becomes a constant of the region and keeps its weak type
    return type(x) in (bool, int, float)


@boundary_transform
def checkpoint(fun=None, *, prevent_cse: bool = True, policy=None, static_argnums=()):
    """Like `jax.checkpoint` / `jax.remat`: `fun` whose intermediates the backward pass recomputes.

    Usable as `checkpoint(fun, policy=...)` or as a decorator `@checkpoint` /
    `@checkpoint(policy=...)`. `prevent_cse` is accepted for compatibility
    and has no effect: the region already keeps the recomputation apart.
    Arguments listed in `static_argnums` (and Python scalars) are baked into
    the traced function as constants.
    """
    name = policy_name(policy)
    if isinstance(static_argnums, int):
        static_argnums = (static_argnums,)
    static_argnums = tuple(static_argnums)
    if fun is None:
        return functools.partial(checkpoint, prevent_cse=prevent_cse, policy=policy, static_argnums=static_argnums)
    if not callable(fun):
        raise TypeError(f"checkpoint: expected a function, got {fun!r}")

    @functools.wraps(fun)
    def remat_fun(*args, **kwargs):
        if kwargs:
            return checkpoint(lambda *a: fun(*a, **kwargs), policy=policy, static_argnums=static_argnums)(*args)
        nargs = len(args)
        static = {i % nargs for i in static_argnums if -nargs <= i < nargs} if nargs else set()
        bad = [i for i in static_argnums if not -nargs <= i < nargs]
        if bad:
            raise ValueError(f"checkpoint: static_argnums {bad} out of range for {nargs} positional argument(s)")
        dyn = tuple(a for i, a in enumerate(args) if i not in static)
        leaves, tree = pytree.flatten(dyn)
        traced_pos = [k for k, x in enumerate(leaves) if not _is_static_scalar(x)]
        vals = [x if is_tensor(x) else canonical_array(x) for x in (leaves[k] for k in traced_pos)]
        types = [spec_of(v) for v in vals]

        def flat_fun(*tvals):
            full = list(leaves)
            for k, v in zip(traced_pos, tvals):
                full[k] = v
            it = iter(pytree.unflatten(tree, full))
            call = [args[i] if i in static else next(it) for i in range(nargs)]
            return fun(*call)

        t = trace_flat(lambda *a: flat_fun(*a), types, pytree.flatten(tuple(vals))[1], name=_fname(fun))
        outs = bind_multi("remat", [*vals, *t.captured], {"policy": name}, (t.graph,))
        return pytree.unflatten(t.out_tree, list(outs))

    return remat_fun


remat = checkpoint

__all__ = ["checkpoint", "checkpoint_policies", "policy_name", "remat"]
