"""Interoperability with other frameworks: `from_jax` imports a JAX function
as a chainrule graph. JAX is imported only when `from_jax` is first called."""

from __future__ import annotations


def from_jax(fun, *specs, name=None):
    """Trace the JAX function `fun` on `specs` and return the chainrule Graph;
    see `chainrule.interop.jax_import.from_jax`."""
    from .jax_import import from_jax as _from_jax
    return _from_jax(fun, *specs, name=name)


__all__ = ["from_jax"]
