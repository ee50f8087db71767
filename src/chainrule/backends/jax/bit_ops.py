"""Lowerings of the bit-level ops: shifts, popcnt and bitcast_convert (XLA has each, with StableHLO's
semantics for shift amounts of the bit width or more)."""

from __future__ import annotations

from jax import lax

from .table import lowering

SHIFTS = {"shift_left": lax.shift_left, "shift_right_logical": lax.shift_right_logical,
          "shift_right_arithmetic": lax.shift_right_arithmetic}


def _make_shift(fn):
    def lower(args, attrs, out, regions):
        return (fn(args[0], args[1]),)
    return lower


for _name, _fn in SHIFTS.items():
    lowering(_name)(_make_shift(_fn))


@lowering("popcnt")
def _popcnt(args, attrs, out, regions):
    return (lax.population_count(args[0]),)


@lowering("bitcast_convert")
def _bitcast_convert(args, attrs, out, regions):
    return (lax.bitcast_convert_type(args[0], out[0].dtype.np),)
