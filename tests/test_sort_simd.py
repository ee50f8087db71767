"""The vectorised quicksort of long single-operand rows (backends/llvm/sort_simd.py).

It is emitted only for CPUs with 512-bit vectors and rows of MIN_ROW or more; here it is forced on for
every row (LLVM lowers its vector operations on any x86 target, slowly where there is no AVX-512), so
these tests run on every machine. The oracle is NumPy's stable sort, compared bit for bit: -0.0 and NaN
payloads keep their input order, as the radix sort and the reference backend keep them.
"""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.backends import llvm
from chainrule.backends.llvm import sort_simd
from chainrule.ir import GraphBuilder, TensorType

pytestmark = pytest.mark.usefixtures("private_llvm_cache")

FLOATS = (np.float32, np.float64)
INTS = (np.int32, np.int64, np.uint32, np.uint64)


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setattr(sort_simd, "applies", lambda w, vbytes, n: w in (32, 64) and n >= 2)


def _sort(x, dimension=0, threads=1):
    """x sorted by the llvm backend, compiled afresh (the cache keys do not see the patched constants)."""
    b = GraphBuilder("f")
    p = b.param(TensorType(x.shape, x.dtype.name))
    g = b.build(list(b.emit("sort", [p], {"dimension": dimension}).results))
    return llvm.compile(g, cache=False, threads=threads)(x)[0]


def _want(x, axis=0):
    keyed = np.where(x == 0, 0, x) if x.dtype.kind == "f" else x
    return np.take_along_axis(x, np.argsort(keyed, axis=axis, kind="stable"), axis=axis)


def _bits(a):
    return np.ascontiguousarray(a).view(np.uint8)


def _data(dtype, n, rng):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        x = np.round(rng.standard_normal(n) * 3, 1).astype(dt)
        x[::5] = np.nan
        x[1::7] = -0.0
        x[2::9] = 0.0
        x[3::11] = np.inf
        x[4::13] = -np.inf
        x[6::17] = -np.nan
        u = x.view(f"u{dt.itemsize}")
        u[8::19] = u[8::19] | 1 | (np.array(np.nan, dt).view(u.dtype))  # NaNs with other payloads
        return x
    info = np.iinfo(dt)
    x = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
    x[::7] = info.min
    x[1::11] = info.max
    x[2::5] = 0
    return x


@pytest.mark.parametrize("dtype", FLOATS + INTS)
@pytest.mark.parametrize("n", [2, 15, 16, 17, 100, 129, 1000, 4099])
def test_rows_of_every_length_bit_for_bit(quick, dtype, n, rng):
    x = _data(dtype, n, rng)
    assert np.array_equal(_bits(_sort(x)), _bits(_want(x)))


PATTERNS = {
    "sorted": lambda n, rng: np.arange(n),
    "reversed": lambda n, rng: np.arange(n)[::-1],
    "equal": lambda n, rng: np.full(n, 7),
    "two values": lambda n, rng: rng.integers(0, 2, n),
    "few values": lambda n, rng: rng.integers(-3, 4, n),
    "organ pipe": lambda n, rng: np.minimum(np.arange(n), n - np.arange(n)),
    "sawtooth": lambda n, rng: np.arange(n) % 37,
    "one outlier": lambda n, rng: np.where(np.arange(n) == n // 2, -1, 5),
}


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_patterns(quick, dtype, pattern, rng):
    x = PATTERNS[pattern](3001, rng).astype(dtype)
    assert np.array_equal(_bits(_sort(x)), _bits(_want(x)))


@pytest.mark.parametrize("limit", [1, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.uint32])
def test_depth_limit_hands_ranges_to_the_radix_sort(quick, monkeypatch, limit, dtype, rng):
    monkeypatch.setattr(sort_simd, "depth_limit", lambda n: limit)
    x = _data(dtype, 5000, rng)
    assert np.array_equal(_bits(_sort(x)), _bits(_want(x)))


@pytest.mark.parametrize("limit", [None, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_two_threads_sort_the_sides_of_the_first_partition(quick, monkeypatch, limit, dtype, rng):
    monkeypatch.setattr(sort_simd, "PARALLEL_ROW", 256)
    if limit is not None:  # both sides reach the radix sort at once: each has its own counters
        monkeypatch.setattr(sort_simd, "depth_limit", lambda n: limit)
    x = _data(dtype, 6000, rng)
    assert np.array_equal(_bits(_sort(x, threads=2)), _bits(_want(x)))


def test_strided_and_batched_rows(quick, rng):
    x = np.stack([_data(np.float32, 700, rng) for _ in range(3)], axis=1)  # rows along dimension 0
    assert np.array_equal(_bits(_sort(x, 0)), _bits(_want(x, 0)))
    y = np.ascontiguousarray(x.T)
    assert np.array_equal(_bits(_sort(y, 1)), _bits(_want(y, 1)))


def test_only_wide_vectors_and_long_rows_take_it():
    assert sort_simd.applies(32, 64, sort_simd.MIN_ROW) and sort_simd.applies(64, 64, 1 << 20)
    assert not sort_simd.applies(32, 32, 1 << 20)  # AVX2: the radix sort
    assert not sort_simd.applies(16, 64, 1 << 20)  # 16-bit keys: two radix passes are cheaper
    assert not sort_simd.applies(32, 64, sort_simd.MIN_ROW - 1)


def test_code_for_narrower_vectors_keeps_the_radix_sort(monkeypatch):
    """An artifact built for an AVX2 CPU level on an AVX-512 machine: the quicksort's 512-bit vectors
    would be emulated there (slower than the radix sort), so its module does not use it."""
    from chainrule.backends.llvm import sort
    from chainrule.backends.llvm.export import module_text
    monkeypatch.setattr(sort, "host_vector_bytes", lambda: 64)
    b = GraphBuilder("f")
    p = b.param(TensorType((sort_simd.MIN_ROW,), "float32"))
    g = b.build(list(b.emit("sort", [p], {"dimension": 0}).results))
    assert "chainrule_qsort" in module_text(g, "f", vbytes=64)[0]
    assert "chainrule_qsort" not in module_text(g, "f", vbytes=32)[0]
