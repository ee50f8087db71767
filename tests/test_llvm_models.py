"""Whole programs on the llvm backend: autodiff + optimizer output against the reference,
vectorized code for fused transcendental loops, and corner cases of the planner."""

import re

import numpy as np
import pytest

from chainrule.backends.llvm import llvm_ir
from chainrule.backends.llvm.target import assembly
from chainrule.ir import GraphBuilder, TensorType
from chainrule.passes.testing import mlp_loss_graph

from test_llvm_util import check_graph, run_both


pytestmark = pytest.mark.usefixtures("private_llvm_cache")  # compiles land in a fresh cache


def test_fused_transcendental_loop_is_vectorized_without_libm_calls():
    b = GraphBuilder("vec")
    x = b.param(TensorType((1 << 16,), "float32"), "x")
    y = b.op("multiply", b.op("tanh", x), b.op("exponential", b.op("negate", b.op("multiply", x, x))))
    g = b.build([y, b.op("reduce", b.op("log_plus_one", b.op("multiply", y, y)), kind="sum", dimensions=(0,))])
    asm = assembly(llvm_ir(g), 2)
    assert re.search(r"\b[yz]mm\d", asm), "expected SIMD registers in the fused loop"
    assert not re.findall(r"call\s+\S*(exp|tanh|log)", asm), "transcendentals must be inline, not libm calls"


def mlp(batch, sizes):
    return mlp_loss_graph(batch, sizes, "float64", mean=False)


def test_mlp_value_and_grad_after_autodiff_and_fusion():
    autodiff = pytest.importorskip("chainrule.passes.autodiff")
    g = autodiff.vjp_graph(mlp(8, (12, 16, 16, 5)), seed_ones=True)
    graphs = [g]
    try:
        from chainrule.passes import optimize
        graphs.append(optimize(g, opt_level=2))
    except ImportError:  # pragma: no cover - optimizer not present
        pass
    rng = np.random.default_rng(0)
    sizes = (12, 16, 16, 5)
    args = []
    for i in range(3):
        args += [rng.standard_normal((sizes[i], sizes[i + 1])) / 3, rng.standard_normal(sizes[i + 1]) / 3]
    args += [rng.standard_normal((8, 12)), np.eye(5)[rng.integers(0, 5, 8)]]
    for gg in graphs:
        got, want = run_both(gg, args)
        for k, (a, w) in enumerate(zip(got, want)):
            np.testing.assert_allclose(a, w, rtol=1e-12, atol=1e-12, err_msg=f"result {k}")


def test_dot_with_constant_operands_and_region_results_that_are_not_computed():
    b = GraphBuilder("corner")
    x = b.param(TensorType((3, 4), "float32"), "x")
    ones = b.constant(np.ones((4, 2), np.float32))
    dense = b.constant(np.arange(8, dtype=np.float32).reshape(4, 2))
    d1 = b.op("dot_general", x, ones, lhs_contracting=(1,), rhs_contracting=(0,))
    d2 = b.op("dot_general", x, dense, lhs_contracting=(1,), rhs_contracting=(0,))
    p = b.param(TensorType((), "bool"), "p")
    T = TensorType((3, 2), "float32")

    def branch(const):
        rb = GraphBuilder("br")
        u = rb.param(T, "u")
        c = rb.constant(np.full((3, 2), const, np.float32))
        return rb.build([u, c, u])  # a parameter, a constant and a duplicate as results
    outs = b.emit("cond", [p, d1], {}, (branch(1.5), branch(-2.0))).results
    g = b.build([d1, d2] + list(outs))
    x0 = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    for pv in (True, False):
        check_graph(g, [x0, np.bool_(pv)], {0: 2, 1: 2, 2: 2, 4: 2})
