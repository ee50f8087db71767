"""Bit-level ops on integers (StableHLO semantics): shifts, popcnt and bitcast_convert.

Shift amounts are read as unsigned: an amount of `bits` or more (a negative
signed amount included) shifts every bit out, giving 0, or the sign fill for
`shift_right_arithmetic`, as StableHLO specifies.
"""

from __future__ import annotations

from .errors import IRTypeError
from .opdefs import _require_kind, _require_same
from .ops import AttrSpec, OpDef, register

SHIFT_DOCS = {
    "shift_left": "x << y; 0 when y >= bits (y read as unsigned).",
    "shift_right_logical": "x >> y filling zeros; 0 when y >= bits (y read as unsigned).",
    "shift_right_arithmetic": "x >> y filling the sign bit; the sign fill (0 or -1) when y >= bits (y read as unsigned).",
}


def _make_shift(name):
    def infer(types, attrs, regions):
        _require_same(name, types)
        _require_kind(name, types, types[0], "iu")
        return (types[0],)
    return infer


for _name, _doc in SHIFT_DOCS.items():
    register(OpDef(_name, _make_shift(_name), num_operands=2, category="binary", elementwise=True, doc=_doc))


def _popcnt(types, attrs, regions):
    (t,) = types
    _require_kind("popcnt", types, t, "iu")
    return (t,)


register(OpDef("popcnt", _popcnt, category="unary", elementwise=True,
               doc="The number of bits set in each element (the result has the operand's dtype)."))


def _bitcast_convert(types, attrs, regions):
    (t,) = types
    to = attrs["dtype"]
    _require_kind("bitcast_convert", types, t, "biuf")
    if to.kind not in "biuf":
        raise IRTypeError("bitcast_convert", types, f"result dtype {to.name} is not supported",
                          "a bool, integer or float result dtype")
    if to.itemsize != t.dtype.itemsize:
        raise IRTypeError("bitcast_convert", types,
                          f"{t.dtype.name} has {t.dtype.itemsize * 8} bits, {to.name} has {to.itemsize * 8}",
                          "a result dtype of the operand's bit width (widths that differ are not supported yet)")
    if (to.kind == "b") != (t.dtype.kind == "b"):
        raise IRTypeError("bitcast_convert", types, "bool is only bitcast to bool",
                          "a non-bool operand and result (convert casts bools)")
    return (t.with_dtype(to),)


register(OpDef("bitcast_convert", _bitcast_convert, attrs={"dtype": AttrSpec("dtype")}, category="unary",
               elementwise=True, discontinuous=True,
               doc="Reinterprets each element's bits as `dtype` of the same width (NumPy's `view`)."))
