"""`cr.debug.print`: print values while a function runs, as jax.debug.print.

    cr.debug.print("x = {x}, step {}", i, x=x)

The format string is Python's `str.format`, applied to the values as NumPy arrays.

* On concrete values (eager code) it prints at once.
* Inside `cr.jit` (the jitted function's own trace, or a function it calls), the values become
  extra, hidden results of the compiled graph and the host prints them after each call returns,
  on every backend (llvm, jax, reference): the graph itself has no print node, so the passes and
  backends need nothing special, and the prints come out in the order they were traced, once per
  call, after the call's own computation.
* Inside `grad`, `value_and_grad`, `jvp`, `vjp`, `linearize` and the jacobians, the function's
  primal values are printed (once per call), eagerly or, inside jit, at run time as above;
  inside `vmap`, once per batch element, as JAX does.
* Inside control-flow bodies (scan, while_loop, fori_loop, cond, switch), checkpoint and
  custom_jvp/custom_vjp functions, values are per iteration or per branch and are not carried
  out yet: there it prints the traced types once, at trace time, with a warning that says so
  (JAX prints the run-time values there; chainrule does not yet).
"""

from __future__ import annotations

import builtins
import warnings

import numpy as np

from . import pytree
from .tensor import Tensor, current_scope


SLOT = object()  # marks a traced value's place among a recorded print's leaves


def _show(fmt, args, kwargs):
    builtins.print(fmt.format(*args, **kwargs))


def print(fmt: str, *args, **kwargs) -> None:  # noqa: A001 - JAX's name
    """Print `fmt.format(*args, **kwargs)` with the values of the arrays (see the module doc)."""
    if not isinstance(fmt, str):
        raise TypeError(f"cr.debug.print takes a format string first, got {type(fmt).__name__}")
    leaves, tree = pytree.flatten((args, kwargs))
    traced = [x for x in leaves if isinstance(x, Tensor)]
    if not traced:
        a, k = pytree.unflatten(tree, [np.asarray(x) if isinstance(x, np.ndarray) else x for x in leaves])
        _show(fmt, a, k)
        return
    scope = current_scope()
    if scope.prints is not None and all(x.scope is scope for x in traced):
        scope.prints.append((fmt, tree, leaves))
        return
    warnings.warn("cr.debug.print inside a control-flow body (scan, while_loop, cond, ...), checkpoint or a custom "
                  "derivative prints the traced types once at trace time, not the run-time values (those are "
                  "printed in jit, grad, vmap and the other transformations, and on concrete values)",
                  stacklevel=2)
    a, k = pytree.unflatten(tree, [f"<traced {x.type}>" if isinstance(x, Tensor) else x for x in leaves])
    _show(fmt, a, k)


def replay(prints, values) -> None:
    """The recorded `prints` of an inner trace (grad's), with `values` computed from its graph in the
    enclosing context: printed now when concrete, else printed again by cr.debug.print there."""
    it = iter(values)
    for fmt, tree, slots in prints:
        a, kw = pytree.unflatten(tree, [next(it) if s is SLOT else s for s in slots])
        print(fmt, *a, **kw)


def show_recorded(prints, values) -> None:
    """Print the recorded `prints` (fmt, tree, leaves) with their run-time `values`, in order."""
    it = iter(values)
    for fmt, tree, slots in prints:
        a, kw = pytree.unflatten(tree, [np.asarray(next(it)) if s is SLOT else s for s in slots])
        _show(fmt, a, kw)


__all__ = ["print"]
