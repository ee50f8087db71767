"""Split (parallel-region) loop kernels are shared like single-call ones (codegen.KernelTable.shared):
two layers' identical large loops become one ranged kernel and one pool chunk function, called
twice, so LLVM optimises and compiles that body once; loops that differ (a constant) stay apart.
Oracles: the same graph compiled with threads=1 (no regions) and the reference backend."""

import re

import numpy as np
import pytest

from chainrule.backends import llvm
from chainrule.backends.reference import evaluate
from chainrule.ir import GraphBuilder, TensorType

pytestmark = [pytest.mark.usefixtures("private_llvm_cache"),
              pytest.mark.skipif(not llvm.runtime.blas_available(), reason="needs NumPy's OpenBLAS")]

N = (1 << 18) + 5  # above emitter.PARALLEL_LOOP_ELEMENTS: the loops are split over the pool


def _two_loops(second_scale=2.0):
    """y_i = tanh(x_i) * exp(-x_i) * s_i for two parameters, with s_0 = 2 and s_1 = second_scale."""
    b = GraphBuilder("two_split_loops")
    outs = []
    for i, s in enumerate((2.0, second_scale)):
        x = b.param(TensorType((N,), "float32"), f"x{i}")
        c = b.op("broadcast_in_dim", b.constant(np.float32(s)), shape=(N,), broadcast_dimensions=())
        outs.append(b.op("multiply", b.op("multiply", b.op("tanh", x), b.op("exponential", b.op("negate", x))), c))
    return b.build(outs)


def _ranged(text):
    """Names of the defined kernels that take a [lo, hi) range (alwaysinline: their chunk calls them), and
    of the chunk functions."""
    kernels = re.findall(r'define internal void @"(k\d+_loop)"\(.*i64 %".*", i64 %".*"\) alwaysinline', text)
    chunks = re.findall(r'define internal void @"(k\d+_loop_chunk)"', text)
    return kernels, chunks


def _check(g, threads=2):
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(p.type.shape).astype(np.float32) for p in g.params]
    par, seq = llvm.compile(g, threads=threads), llvm.compile(g, threads=1)
    got, whole = par(*args), seq(*args)
    want = evaluate(g, args)
    for a, w, r in zip(got, whole, want):
        np.testing.assert_array_equal(a, w)
        np.testing.assert_allclose(a, r, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("threads", [2, 3])
def test_identical_split_loops_share_one_kernel_and_chunk(threads):
    g = _two_loops()
    text = llvm.llvm_ir(g, threads=threads)
    kernels, chunks = _ranged(text)
    assert len(kernels) == 1 and chunks == [kernels[0] + "_chunk"], (kernels, chunks)
    assert len(re.findall(r'call void @"chainrule_pool_run"\(', text)) == 2
    assert len(re.findall(rf'call void @"{kernels[0]}"\(', text)) == 1  # inside the chunk function only
    _check(g, threads)


def test_split_loops_that_differ_are_not_merged():
    g = _two_loops(second_scale=3.0)
    kernels, chunks = _ranged(llvm.llvm_ir(g, threads=2))
    assert len(kernels) == 2 and len(chunks) == 2, (kernels, chunks)
    _check(g)
