"""Point errors at the user's source line, not at chainrule's internals."""

from __future__ import annotations

import functools
import os
import sys
import types

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_frame_location(skip: int = 1) -> str | None:
    """`file:line` of the innermost frame outside the chainrule package."""
    f = sys._getframe(skip)
    while f is not None:
        fn = f.f_code.co_filename
        if not fn.startswith(PACKAGE_DIR) and not fn.startswith("<frozen"):
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


# --- naming the user's things in messages ------------------------------------------------------

def np_type(t) -> str:
    """int64[] / float32[3,4]: NumPy's dtype names, as JAX's messages write types."""
    return f"{t.dtype.name}[{','.join(map(str, t.shape))}]"


def leaf_paths(tree, root: str) -> list[str]:
    """A name per leaf, as a user would index it: c, c[1], c['w'], c.field."""
    if tree.kind == "leaf":
        return [root]
    out = []
    for k, child in enumerate(tree.children):
        if tree.kind == "dict":
            sub = f"{root}[{tree.aux[k]!r}]"
        elif tree.kind == "namedtuple":
            sub = f"{root}.{tree.aux._fields[k]}"
        else:
            sub = f"{root}[{k}]"
        out += leaf_paths(child, sub)
    return out


def describe_tree(tree) -> str:
    """A pytree structure in words: "a single array", "a tuple of 2 arrays (*, *)"."""
    if tree.kind == "leaf":
        return "a single array"
    if tree.kind == "none":
        return "None"
    n = len(tree.children)
    kind = {"namedtuple": getattr(tree.aux, "__name__", "namedtuple")}.get(tree.kind, tree.kind)
    what = "arrays" if all(c.kind == "leaf" for c in tree.children) else "items"
    return f"a {kind} of {n} {what[:-1] if n == 1 else what} {tree!r}"


def _definition(fun) -> tuple[str, int] | None:
    while isinstance(fun, functools.partial):
        fun = fun.func
    code = getattr(getattr(fun, "__wrapped__", fun), "__code__", None)
    return (code.co_filename, code.co_firstlineno) if code is not None else None


def user_error(cls, message: str, *funs) -> BaseException:
    """`cls(message)` with the line that called the construct and, for each (role, function) in
    `funs` defined on another line, where that function is defined."""
    loc = user_frame_location(2)
    lines = [message]
    if loc:
        text = source_line(loc)
        lines.append(f"  at {loc}" + (f": {text}" if text else ""))
    for role, fun in funs:
        d = _definition(fun)
        if d is None or f"{d[0]}:{d[1]}" == loc or d[0].startswith(PACKAGE_DIR):
            continue
        text = source_line(f"{d[0]}:{d[1]}")
        lines.append(f"  {role} is defined at {d[0]}:{d[1]}" + (f": {text}" if text else ""))
    exc = cls("\n".join(lines))
    exc._chainrule_located = True
    return exc


# --- tracebacks without chainrule's internal frames ------------------------------------------

TRACEBACK_ENV = "CHAINRULE_TRACEBACK"
HIDDEN_NOTE = (f"(chainrule internal frames were hidden from this traceback; set {TRACEBACK_ENV}=full to "
               "see them)")


def _internal(filename: str) -> bool:
    return filename.startswith(PACKAGE_DIR)


def _caller_is_doctest() -> bool:
    """Whether the innermost frame outside chainrule on the current stack runs a doctest example."""
    f = sys._getframe(2)
    while f is not None and _internal(f.f_code.co_filename):
        f = f.f_back
    return f is not None and f.f_code.co_filename.startswith("<doctest ")


def filter_traceback(exc: BaseException) -> BaseException:
    """Drop the frames of files inside the chainrule package from `exc`'s traceback (and from those
    of the exceptions it was raised from), as jax._src.traceback_util does; in place.

    Unless CHAINRULE_TRACEBACK=full. The type, the message and the user's own frames (the function
    being traced, its callbacks) are kept; a note says how to see everything. Doctest examples get
    no note: Python 3.11's doctest compares only the last line of an exception, which would be the note.
    """
    if os.environ.get(TRACEBACK_ENV, "").strip().lower() in ("full", "off", "0"):
        return exc
    try:  # never lose the user's exception to a failure here
        hid = False
        seen = set()
        e = exc
        while e is not None and id(e) not in seen:
            seen.add(id(e))
            hid |= _filter_one(e)
            e = e.__cause__ if e.__cause__ is not None else (None if e.__suppress_context__ else e.__context__)
        if hid and HIDDEN_NOTE not in getattr(exc, "__notes__", ()) and not _caller_is_doctest():
            exc.add_note(HIDDEN_NOTE)
    except Exception:
        pass
    return exc


def _filter_one(exc: BaseException) -> bool:
    tb, kept, dropped = exc.__traceback__, [], False
    while tb is not None:
        if _internal(tb.tb_frame.f_code.co_filename):
            dropped = True
        else:
            kept.append(tb)
        tb = tb.tb_next
    if not dropped:
        return False
    new = None
    for t in reversed(kept):
        new = types.TracebackType(new, t.tb_frame, t.tb_lasti, t.tb_lineno)
    exc.__traceback__ = new
    return True


def api_boundary(fn):
    """`fn` (a public entry point) with chainrule's frames filtered out of the tracebacks of the
    exceptions that escape it (see filter_traceback). Costs nothing until something is raised."""
    if getattr(fn, "__code__", None) in _BOUNDARY_CODES:
        return fn

    @functools.wraps(fn)
    def boundary(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as e:
            filter_traceback(e)
            raise  # a bare raise adds no frame of this wrapper to the traceback

    _BOUNDARY_CODES.add(boundary.__code__)
    return boundary


def boundary_transform(transform):
    """A function transformation (grad, vmap...) whose result is wrapped by `api_boundary` too."""

    @functools.wraps(transform)
    def wrapped(*args, **kwargs):
        try:
            out = transform(*args, **kwargs)
        except Exception as e:
            filter_traceback(e)
            raise
        return api_boundary(out) if callable(out) and not isinstance(out, type) else out

    return wrapped


_BOUNDARY_CODES: set = set()  # code objects of the wrappers above: a function wrapped once is not wrapped again


class TracerBoolConversionError(TypeError):
    pass


class LeakedTensorError(RuntimeError):
    pass
