"""Symbolic tensors and the scopes they are built in.

A `Tensor` is an expression: the result of an `Apply` (op, input tensors,
attributes) or a placeholder. Define-then-run placeholders live in the root
scope; each trace (jit, grad, ...) opens a scope of its own, and tensors from
enclosing scopes that a trace uses become captured inputs of its graph.
"""

from __future__ import annotations

import itertools
import threading

from ..ir import Attrs, TensorType

_ids = itertools.count()


class Scope:
    __slots__ = ("id", "active", "parent", "name", "prints")

    def __init__(self, parent: "Scope | None", name: str):
        self.id = next(_ids)
        self.active = True
        self.parent = parent
        self.name = name
        self.prints = None  # a list where cr.debug.print may record run-time prints (jit's own trace)

    def __repr__(self):
        return f"<Scope {self.name}#{self.id}{'' if self.active else ' (finished)'}>"


class _State(threading.local):
    def __init__(self):
        self.root = Scope(None, "root")
        self.stack = [self.root]


_state = _State()


def current_scope() -> Scope:
    return _state.stack[-1]


def push_scope(name: str) -> Scope:
    s = Scope(current_scope(), name)
    _state.stack.append(s)
    return s


def pop_scope(scope: Scope):
    top = _state.stack.pop()
    assert top is scope, "trace scopes were closed out of order"
    scope.active = False


def in_trace() -> bool:
    return len(_state.stack) > 1


class Apply:
    """One op applied to input tensors; owns its output tensors."""

    __slots__ = ("op", "inputs", "attrs", "regions", "outputs", "loc")

    def __init__(self, op, inputs, attrs: Attrs, regions, out_types, scope, loc=None):
        self.op = op
        self.inputs = tuple(inputs)
        self.attrs = attrs
        self.regions = tuple(regions)
        self.loc = loc
        self.outputs = tuple(Tensor(t, scope, self, i) for i, t in enumerate(out_types))


class Tensor:
    """A symbolic tensor: a placeholder or the output of an op.

    Supports NumPy-style operators and methods; build graphs with
    `chainrule.numpy` functions, then compile them with `cr.function` or by
    tracing with `cr.jit`.
    """

    __slots__ = ("type", "scope", "apply", "index", "name", "weak", "__weakref__")
    __array_priority__ = 1000  # NumPy defers `ndarray op Tensor` to us

    def __init__(self, type: TensorType, scope: Scope, apply: Apply | None = None, index: int = 0, name=None,
                 weak: bool = False):
        self.type = type
        self.scope = scope
        self.apply = apply
        self.index = index
        self.name = name
        self.weak = weak  # a traced Python scalar: takes the other operand's dtype, as a literal would

    # -- metadata --
    @property
    def shape(self) -> tuple[int, ...]:
        return self.type.shape

    @property
    def dtype(self):
        return self.type.dtype.np

    @property
    def ndim(self) -> int:
        return len(self.type.shape)

    @property
    def size(self) -> int:
        return self.type.size

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        what = f"placeholder {self.name!r}" if self.apply is None else self.apply.op.name
        return f"Tensor({self.type}, {what})"

    def __bool__(self):
        from .errors import TracerBoolConversionError, with_user_location
        raise with_user_location(TracerBoolConversionError(
            f"a symbolic tensor {self.type} has no concrete truth value: Python `if`/`while`/`and`/`or` "
            "on it cannot be traced. Use cnp.where(...) for elementwise choices, or cr.cond / cr.while_loop "
            "for control flow (and static_argnums for arguments that steer Python control flow)."))

    def __index__(self):
        raise TypeError(f"a symbolic tensor {self.type} cannot be used as a Python integer (index or size)")

    def __float__(self):
        raise TypeError(f"a symbolic tensor {self.type} has no concrete value to convert to float; "
                        "return it from the function instead")

    __int__ = __float__

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __hash__(self):
        return id(self)

    def __array__(self, *args, **kwargs):
        raise TypeError(f"a symbolic tensor {self.type} cannot be converted to a NumPy array: it has no value "
                        "until the graph runs. Use chainrule.numpy functions on it, or compile with cr.function/cr.jit. "
                        "NumPy's random functions (np.random.normal(x), ...) cannot take it either: draw random "
                        "numbers with chainrule.random and a key, e.g. cr.random.normal(key, shape) * x.")
