"""Absurd shapes fail at once, with a clear error, before anything is allocated.

Negative dimensions, non-integer dimensions, element counts beyond 2**62
(the limit in chainrule.ir.types: no buffer that large can exist, and index
arithmetic stays within int64) and huge reshape/broadcast/pad/iota/slice
targets are rejected where the type is made: by TensorType, cr.Spec,
cr.placeholder, the builder's type rules (IRTypeError) and the parser
(ParseError). Each case must raise ValueError or TypeError (IRTypeError is
a TypeError, ParseError a ValueError) within a fraction of a second and with
a small traced-allocation peak (tracemalloc sees NumPy's buffers too), so no
allocation of the absurd size was attempted. Shapes that are legal but too
big to materialise compile without allocating and fail at call time with
MemoryError (llvm, reference) or JAX's RESOURCE_EXHAUSTED, and the process
lives on.
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.backends import available_backends
from chainrule.ir import GraphBuilder, IRTypeError, TensorType, parse

HUGE = 2**62 + 1
PEAK_LIMIT = 4 << 20  # bytes of traced allocation any rejection may use


def _builder():
    b = GraphBuilder("absurd")
    return b, b.param(TensorType((3, 4), "float32"), "x")


def _pad(lo, hi, interior):
    b, x = _builder()
    return b.op("pad", x, b.constant(np.float32(0)), edge_padding_low=lo, edge_padding_high=hi,
                interior_padding=interior)


CASES = {
    # types and specs
    "negative_dim": lambda: TensorType((3, -1), "float32"),
    "int64_overflow_dim": lambda: TensorType((2**63,), "float32"),
    "product_overflows_int64": lambda: TensorType((2**32, 2**32, 2**32), "float64"),
    "product_just_over_2**62": lambda: TensorType((2**31, 2**31 + 1), "int32"),
    "float_dim": lambda: TensorType((3.0,), "float32"),
    "bool_dim": lambda: TensorType((True, 2), "float32"),
    "none_dim": lambda: TensorType((None, 2), "float32"),
    "string_shape": lambda: TensorType("abc", "float32"),
    "spec_negative": lambda: cr.Spec((-5,), "float32"),
    "spec_huge": lambda: cr.Spec((2**40, 2**40), "float32"),
    "placeholder_huge": lambda: cr.placeholder((2**31, 2**31, 2), "float64"),
    "placeholder_negative": lambda: cr.placeholder((4, -4), "float64"),
    "unsupported_dtype": lambda: cr.Spec((3,), "float128"),
    # builder type rules
    "reshape_huge": lambda: _builder()[0].op("reshape", _builder()[1], shape=(2**40, 2**40)),
    "reshape_negative": lambda: (lambda b, x: b.op("reshape", x, shape=(-1, 12)))(*_builder()),
    "reshape_wrong_count": lambda: (lambda b, x: b.op("reshape", x, shape=(2**40,)))(*_builder()),
    "broadcast_huge": lambda: (lambda b, x: b.op("broadcast_in_dim", x, shape=(2**31, 2**31, 3, 4),
                                                 broadcast_dimensions=(2, 3)))(*_builder()),
    "broadcast_negative": lambda: (lambda b, x: b.op("broadcast_in_dim", x, shape=(-2, 3, 4),
                                                     broadcast_dimensions=(1, 2)))(*_builder()),
    "iota_huge": lambda: _builder()[0].op("iota", shape=(2**62, 2), dtype="float32", dimension=0),
    "pad_huge": lambda: _pad((2**62, 0), (2**62, 0), (0, 0)),
    "pad_interior_huge": lambda: _pad((0, 0), (0, 0), (2**62, 0)),
    "pad_negative_beyond": lambda: _pad((-10, 0), (0, 0), (0, 0)),
    "slice_limit_huge": lambda: (lambda b, x: b.op("slice", x, start_indices=(0, 0), limit_indices=(2**63, 4),
                                                   strides=(1, 1)))(*_builder()),
    "slice_zero_stride": lambda: (lambda b, x: b.op("slice", x, start_indices=(0, 0), limit_indices=(3, 4),
                                                    strides=(0, 1)))(*_builder()),
    "dynamic_slice_huge": lambda: (lambda b, x: b.op("dynamic_slice", x, b.constant(np.int32(0)),
                                                     b.constant(np.int32(0)), slice_sizes=(2**62, 4)))(*_builder()),
    # the parser
    "parse_huge": lambda: parse("func @f(%x: f32[99999999999999999999999]) -> (f32[99999999999999999999999]) {\n"
                                "  return %x\n}\n"),
    "parse_negative": lambda: parse("func @f(%x: f32[-3]) -> (f32[-3]) {\n  return %x\n}\n"),
    # the NumPy-style frontend, tracing
    "broadcast_to_huge": lambda: cr.trace(lambda x: cnp.broadcast_to(x, (2**61, 4)), np.zeros(4, np.float32)),
    "tile_huge": lambda: cr.trace(lambda x: cnp.tile(x, (2**40, 2**30)), np.zeros(3, np.float32)),
    "repeat_huge": lambda: cr.trace(lambda x: cnp.repeat(x, 2**62, axis=0), np.zeros(3, np.float32)),
    "full_huge": lambda: cr.trace(lambda x: cnp.full((2**62, 4), x), np.float32(1)),
    "outer_huge": lambda: cr.trace(lambda x: cnp.outer(cnp.broadcast_to(x, (2**32,)), cnp.broadcast_to(x, (2**32,))),
                                   np.float32(1)),
    "reshape_method_huge": lambda: cr.trace(lambda x: x.reshape(2**40, 2**40, 3), np.zeros(3, np.float32)),
    "ones_negative": lambda: cnp.ones((-3,)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_absurd_shapes_fail_fast_without_allocating(case):
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        with pytest.raises((ValueError, TypeError)) as info:
            CASES[case]()
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0, f"{case} took {elapsed:.2f} s to fail"
    assert peak < PEAK_LIMIT, f"{case} allocated {peak} bytes before failing"
    msg = str(info.value)
    assert "shape" in msg or "dimension" in msg or "size" in msg or "dtype" in msg, msg


def test_type_errors_name_the_op_and_the_operand_types():
    b, x = _builder()
    with pytest.raises(IRTypeError) as info:
        b.op("broadcast_in_dim", x, shape=(2**40, 2**40, 3, 4), broadcast_dimensions=(2, 3))
    msg = str(info.value)
    assert "broadcast_in_dim" in msg and "f32[3,4]" in msg and "2**62" in msg


def test_shapes_at_the_limit_are_types_not_allocations():
    """2**62 elements is a legal type: building it costs nothing."""
    tracemalloc.start()
    try:
        t = TensorType((2**31, 2**31), "float32")
        b, x = _builder()
        y = b.op("broadcast_in_dim", b.op("reshape", x, shape=(12,)), shape=(2**50, 12), broadcast_dimensions=(1,))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert t.size == 2**62 and y.type.size == 12 * 2**50
    assert peak < PEAK_LIMIT


@pytest.mark.parametrize("backend", [b for b in ("llvm", "reference", "jax") if b in available_backends()])
def test_legal_but_unallocatable_results_fail_cleanly_at_call_time(backend):
    """A 12 TiB result: compiling allocates nothing; calling raises a memory error; the process lives on."""
    f = cr.jit(lambda x: cnp.broadcast_to(x, (2**40, 3)) + 1.0, backend=backend)
    x = np.zeros(3, np.float32)
    t0 = time.perf_counter()
    with pytest.raises(Exception) as info:
        f(x)
    assert time.perf_counter() - t0 < 30
    err = info.value
    assert isinstance(err, MemoryError) or "RESOURCE_EXHAUSTED" in str(err) or "memory" in str(err).lower(), repr(err)
    # the same function object still works on a sane signature afterwards
    g = cr.jit(lambda x: cnp.broadcast_to(x, (4, 3)) + 1.0, backend=backend)
    np.testing.assert_array_equal(g(x), np.ones((4, 3), np.float32))


def test_a_huge_fused_reduction_compiles_without_allocating():
    """sum(broadcast_to(x, (2**40, 3))) never materialises the broadcast: llvm compiles it in a small arena."""
    if "llvm" not in available_backends():
        pytest.skip("llvm backend unavailable")
    c = cr.jit(lambda x: cnp.sum(cnp.broadcast_to(x, (2**40, 3))), backend="llvm").lower(
        np.zeros(3, np.float32)).compile()
    assert c.executable.arena_size < 1 << 20
