"""Errors from chainrule.numpy name the user's source line.

Every public function of the namespace is wrapped once: a ValueError,
TypeError, IndexError or NotImplementedError raised inside gets
"at <file>:<line>: <source>" of the innermost frame outside chainrule added to
its message, so a shape mismatch deep in a traced function points at the line
that caused it. IR type errors are located where ops are bound already.
"""

from __future__ import annotations

import functools
import types

from .errors import with_user_location

LOCATED_ERRORS = (ValueError, TypeError, IndexError, NotImplementedError)


def located(fn):
    """`fn` with the user's source line added to the errors it raises."""
    if getattr(fn, "__chainrule_located__", False):
        return fn

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LOCATED_ERRORS as e:
            raise with_user_location(e) from None

    wrapper.__chainrule_located__ = True
    return wrapper


def locate_namespace(namespace: dict, package_prefix: str = "chainrule.") -> None:
    """Wrap, in place, every public function in `namespace` that chainrule defines."""
    for name, value in list(namespace.items()):
        if name.startswith("_") or not isinstance(value, types.FunctionType):
            continue
        if not (getattr(value, "__module__", "") or "").startswith(package_prefix):
            continue
        namespace[name] = located(value)
