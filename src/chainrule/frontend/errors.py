"""Point errors at the user's source line, not at chainrule's internals."""

from __future__ import annotations

import os
import sys

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_frame_location(skip: int = 1) -> str | None:
    """`file:line` of the innermost frame outside the chainrule package."""
    f = sys._getframe(skip)
    while f is not None:
        fn = f.f_code.co_filename
        if not fn.startswith(_PACKAGE_DIR) and not fn.startswith("<frozen"):
            return f"{fn}:{f.f_lineno}"
        f = f.f_back
    return None


def source_line(loc: str | None) -> str:
    if not loc:
        return ""
    try:
        import linecache
        fn, _, line = loc.rpartition(":")
        text = linecache.getline(fn, int(line)).strip()
    except Exception:
        text = ""
    return text


def with_user_location(exc: BaseException) -> BaseException:
    """Return `exc` with the user's source line added to its message (once)."""
    if getattr(exc, "_chainrule_located", False):
        return exc
    loc = user_frame_location(2)
    if loc is None:
        return exc
    text = source_line(loc)
    msg = str(exc.args[0]) if exc.args else str(exc)
    msg += f"\n  at {loc}" + (f": {text}" if text else "")
    try:
        new = type(exc).__new__(type(exc))
        new.__dict__.update(getattr(exc, "__dict__", {}))
        new.args = (msg,) + tuple(exc.args[1:])
    except Exception:
        return exc
    new._chainrule_located = True
    return new


class TracerBoolConversionError(TypeError):
    pass


class LeakedTensorError(RuntimeError):
    pass
