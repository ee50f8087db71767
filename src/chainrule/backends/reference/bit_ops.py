"""Reference evaluation of the bit-level ops: shifts, popcnt and bitcast_convert (StableHLO semantics:
a shift amount read as unsigned; `bits` or more shifts every bit out)."""

from __future__ import annotations

import numpy as np

from .rules import rule


def _unsigned(x):
    return x.view(np.dtype(f"u{x.dtype.itemsize}"))


def _amount(x, y):
    """(the shift amount as unsigned, where it is at least the bit width, the amount made safe)."""
    u = _unsigned(y)
    big = u >= x.dtype.itemsize * 8
    return big, np.where(big, 0, u).astype(_unsigned(x).dtype)


def _logical(shift):
    """A shift of the unsigned bits that gives 0 once every bit is shifted out."""
    def evaluate(args, attrs, out, regions):
        x, y = args
        big, s = _amount(x, y)
        r = shift(_unsigned(x), s)
        return (np.where(big, 0, r).astype(r.dtype).view(x.dtype),)
    return evaluate


rule("shift_left")(_logical(np.left_shift))
rule("shift_right_logical")(_logical(np.right_shift))


@rule("shift_right_arithmetic")
def _shift_right_arithmetic(args, attrs, out, regions):
    x, y = args
    big, s = _amount(x, y)
    signed = x.view(np.dtype(f"i{x.dtype.itemsize}"))
    r = np.right_shift(signed, np.where(big, x.dtype.itemsize * 8 - 1, s).astype(signed.dtype))
    return (r.astype(signed.dtype).view(x.dtype),)


@rule("popcnt")
def _popcnt(args, attrs, out, regions):
    (x,) = args
    return (np.bitwise_count(_unsigned(x)).astype(x.dtype),)


@rule("bitcast_convert")
def _bitcast_convert(args, attrs, out, regions):
    (x,) = args
    return (np.ascontiguousarray(x).view(out[0].dtype.np).reshape(out[0].shape).copy(),)
