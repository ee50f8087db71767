"""Sort keys and loops shared by the radix sort (sort.py) and the vectorised quicksort (sort_simd.py).

A key is an unsigned integer of the element's width whose unsigned order is the
sort op's order (chainrule.ir.sort_ops): a float's bits with the sign bit set
for positives and every bit flipped for negatives, -0.0 read as 0.0 and every
NaN as the largest key; a signed integer with its sign bit flipped; bools and
unsigned integers as they are. The helpers take scalars or vectors alike.
"""

from __future__ import annotations

import llvmlite.ir as ir
import numpy as np

from .emitter import no_vectorize
from .lltypes import I64, i64


def const(ty, x):
    """The constant x of an integer type, splat when ty is a vector type."""
    return ir.Constant(ty, [x] * ty.count) if isinstance(ty, ir.VectorType) else ir.Constant(ty, x)


def _width(ty) -> int:
    return (ty.element if isinstance(ty, ir.VectorType) else ty).width


def float_bits(dt) -> tuple:
    """(sign bit, +inf's bits) of float dtype dt, as integers."""
    w = dt.bits
    return 1 << (w - 1), int(np.array(np.inf, dt.np).view(np.dtype(f"u{w // 8}")))


def is_nan(b, dt, bits):
    sign, inf = float_bits(dt)
    return b.icmp_unsigned(">", b.and_(bits, const(bits.type, sign - 1)), const(bits.type, inf))


def key_of(b: ir.IRBuilder, dt, bits):
    """The key of elements of dt given as their bits (an iW, or a vector of them)."""
    ty, w = bits.type, _width(bits.type)
    if dt.is_bool or dt.kind == "u":
        return bits
    sign = const(ty, 1 << (w - 1))
    if dt.kind == "i":
        return b.xor(bits, sign)
    ones = const(ty, (1 << w) - 1)
    nan = is_nan(b, dt, bits)
    bits = b.select(b.icmp_unsigned("==", bits, sign), const(ty, 0), bits)  # -0.0 -> 0.0
    neg = b.icmp_signed("<", bits, const(ty, 0))
    return b.select(nan, ones, b.select(neg, b.xor(bits, ones), b.or_(bits, sign)))


def value_of(b: ir.IRBuilder, dt, k):
    """The bits of the value whose key is k: `key_of`'s inverse, +0.0 for 0.0's key and the NaN with
    every payload bit set for the largest (the quicksort restores -0.0 and NaN payloads afterwards)."""
    ty, w = k.type, _width(k.type)
    if dt.is_bool or dt.kind == "u":
        return k
    flipped = b.xor(k, const(ty, 1 << (w - 1)))
    if dt.kind == "i":
        return flipped
    nonneg = b.icmp_signed("<", k, const(ty, 0))  # the key's top bit: a value >= 0
    return b.select(nonneg, flipped, b.xor(k, const(ty, (1 << w) - 1)))


def forgotten(b, dt, bits):
    """i1 (per lane): bits are -0.0 or a NaN, which keys do not tell apart from 0.0 and one NaN."""
    sign, _ = float_bits(dt)
    return b.or_(b.icmp_unsigned("==", bits, const(bits.type, sign)), is_nan(b, dt, bits))


class Loop:
    """for i in range(lo, hi) on a plain IRBuilder (i64 counter)."""

    def __init__(self, b, lo, hi, name="i", vectorize=False):
        self.b, self.lo, self.hi, self.name, self.vectorize = b, lo, hi, name, vectorize

    def __enter__(self):
        b = self.b
        fn = b.function
        self.pre = b.block
        self.body = fn.append_basic_block(self.name + ".body")
        self.done = fn.append_basic_block(self.name + ".done")
        b.cbranch(b.icmp_signed("<", self.lo, self.hi), self.body, self.done)
        b.position_at_end(self.body)
        self.i = b.phi(I64, self.name)
        self.i.add_incoming(self.lo, self.pre)
        return self.i

    def __exit__(self, *exc):
        b = self.b
        nxt = b.add(self.i, i64(1))
        self.i.add_incoming(nxt, b.block)
        latch = b.cbranch(b.icmp_signed("<", nxt, self.hi), self.body, self.done)
        if not self.vectorize:  # counting and scattering do not vectorize: spare LLVM the attempt
            latch.set_metadata("llvm.loop", no_vectorize(b.function.module))
        b.position_at_end(self.done)
        return False
