"""The op registry: every op is defined once, with its attributes and type rule.

Passes and backends keep their own tables keyed by op name (JVP rules,
evaluation, lowering); `tests/test_registry.py` checks those tables cover
every op registered here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .attrs import Attrs, Literal, freeze
from .dtypes import dtype as as_dtype
from .errors import IRTypeError
from .types import TensorType, check_shape

REQUIRED = object()

@dataclass(frozen=True)
class AttrSpec:
    kind: str  # int, ints, float, bool, str, enum, dtype, shape, literal, types or any
    default: object = REQUIRED
    choices: tuple = ()

    def normalize(self, op: str, name: str, value):
        k = self.kind
        try:
            if k == "int":
                if isinstance(value, bool) or not hasattr(value, "__index__"):
                    raise TypeError
                return int(value.__index__())
            if k in ("ints", "shape"):
                if isinstance(value, (str, bytes)):
                    raise TypeError
                vals = tuple(int(v.__index__()) for v in value if not isinstance(v, bool))
                if len(vals) != len(tuple(value)):
                    raise TypeError
                if k == "shape":
                    vals = check_shape(vals)
                return vals
            if k == "float":
                return float(value)
            if k == "bool":
                if not isinstance(value, bool):
                    raise TypeError
                return value
            if k == "str":
                if not isinstance(value, str):
                    raise TypeError
                return value
            if k == "enum":
                if value not in self.choices:
                    raise ValueError
                return value
            if k == "dtype":
                return None if value is None and self.default is None else as_dtype(value)
            if k == "literal":
                return value if isinstance(value, Literal) else Literal(value)
            if k == "types":
                vals = tuple(value)
                if not all(isinstance(v, TensorType) for v in vals):
                    raise TypeError
                return vals
            return freeze(value)
        except (TypeError, ValueError, AttributeError) as e:
            want = {
                "int": "an integer",
                "ints": "a sequence of integers",
                "shape": "a shape (a sequence of non-negative integers)",
                "float": "a float",
                "bool": "True or False",
                "str": "a string",
                "enum": "one of " + ", ".join(map(str, self.choices)),
                "dtype": "a dtype name",
                "literal": "an array",
                "types": "a sequence of TensorType",
            }.get(k, "a hashable value")
            detail = f": {e}" if str(e) else ""
            raise IRTypeError(op, (), f"attribute {name}={value!r} is invalid{detail}", want) from None


TypeRule = Callable[..., tuple]


@dataclass(frozen=True, eq=False)
class OpDef:
    """One op: its name, operand count, attributes, traits and type rule.

    `infer(operand_types, attrs, regions)` returns the tuple of result types or
    raises IRTypeError. `num_operands` is None for variadic ops, whose minimum
    is `min_operands`.

    Traits, which passes, backends and tests ask instead of keeping lists of names:
    - elementwise: the result element i depends on operand elements i only;
    - commutative: swapping the two operands gives the same value (up to NaN payloads);
    - linear: the operand positions the op is linear in, each with the others held fixed
      (multiply and dot_general are bilinear; `reduce` is linear when its kind is sum); the
      transpose table must have a rule for every op with this trait;
    - call_like: the op runs its one region on its operands, like a function call (fusion,
      remat, custom derivatives); backends may open the region into the caller;
    - cse: False for ops whose every evaluation must stay distinct (never merged by CSE);
    - fold: False for ops constant folding must leave alone (leaves, identities with meaning);
    - inexact: the result rounds a transcendental function, so backends may differ by a few
      ulp (tests compare in ulp, the fuzzer taints the values);
    - discontinuous: an operand change of one ulp can move the result a long way (the
      fuzzer feeds such ops exact operands only).
    """

    name: str
    infer: TypeRule
    num_operands: int | None = 1
    min_operands: int = 0
    attrs: dict = field(default_factory=dict)
    category: str = "other"
    elementwise: bool = False
    commutative: bool = False
    num_regions: int | None = 0
    doc: str = ""
    linear: tuple = ()
    call_like: bool = False
    cse: bool = True
    fold: bool = True
    inexact: bool = False
    discontinuous: bool = False

    TRAITS = ("elementwise", "commutative", "linear", "call_like", "cse", "fold", "inexact", "discontinuous")

    def traits(self) -> dict:
        """The traits that differ from the default, for docs and error messages."""
        defaults = {"cse": True, "fold": True}
        return {t: getattr(self, t) for t in self.TRAITS if getattr(self, t) != defaults.get(t, type(getattr(self, t))())}

    def normalize_attrs(self, attrs) -> Attrs:
        attrs = dict(attrs or {})
        out = {}
        for name, spec in self.attrs.items():
            if name in attrs:
                out[name] = spec.normalize(self.name, name, attrs.pop(name))
            elif spec.default is REQUIRED:
                raise IRTypeError(self.name, (), f"attribute {name!r} is missing", f"attributes {', '.join(self.attrs)}")
            else:
                out[name] = spec.default
        if attrs:
            raise IRTypeError(
                self.name, (), f"unknown attribute(s) {', '.join(sorted(attrs))}",
                f"attributes {', '.join(self.attrs) or '(none)'}",
            )
        return Attrs(out)

    def check_arity(self, operand_types):
        n = len(operand_types)
        if self.num_operands is None:
            if n < self.min_operands:
                raise IRTypeError(self.name, operand_types, f"got {n} operands", f"at least {self.min_operands}")
        elif n != self.num_operands:
            raise IRTypeError(self.name, operand_types, f"got {n} operands", f"exactly {self.num_operands}")

    def result_types(self, operand_types, attrs: Attrs, regions=()) -> tuple[TensorType, ...]:
        self.check_arity(operand_types)
        if self.num_regions is not None and len(regions) != self.num_regions:
            raise IRTypeError(self.name, operand_types, f"got {len(regions)} regions", f"{self.num_regions}")
        out = self.infer(tuple(operand_types), attrs, tuple(regions))
        return tuple(out)

    def __repr__(self):
        return f"<op {self.name}>"


REGISTRY: dict[str, OpDef] = {}


def register(op: OpDef) -> OpDef:
    if op.name in REGISTRY:
        raise ValueError(f"op {op.name!r} is defined twice")
    REGISTRY[op.name] = op
    return op


def get_op(name: str) -> OpDef:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}") from None


def all_ops() -> list[OpDef]:
    return list(REGISTRY.values())
