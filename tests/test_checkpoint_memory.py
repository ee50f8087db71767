"""Checkpointing bounds the memory of a scan's gradient, measured for real on two backends, and the
checkpointed gradients run on every backend that compiles the remat op.

The sqrt(T) scheme (an outer scan over chunks whose body is a checkpointed
inner scan) against the flat scan: the reference backend's peak allocation
(tracemalloc traces NumPy's allocations) and the llvm backend's planned
arena. A small instance of benchmarks/bench_checkpoint.py.
"""

import tracemalloc

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.backends import available_backends, compile as compile_graph
from chainrule.backends.reference import evaluate
from test_checkpoint import mlp

T, B, H, K = 144, 64, 16, 12   # one carry is 8 kB, W 2 kB; the plain gradient stores T carries


def loss(chunked):
    def f(W, xs):
        def cell(c, x):
            h, acc = c
            h = cnp.tanh(h @ W + x)
            return (h, acc + cnp.sum(h * h)), None

        h0 = cnp.zeros(xs.shape[-2:])
        step = cr.checkpoint(lambda c, xc: cr.scan(cell, c, xc)) if chunked else cell
        (_, acc), _ = cr.scan(step, (h0, cnp.sum(h0)), xs)
        return acc
    return f


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((T, B, H)) * 0.1
    W = rng.standard_normal((H, H)) / np.sqrt(H)
    out = {}
    for chunked in (False, True):
        x = xs.reshape(T // K, K, B, H) if chunked else xs
        out[chunked] = (cr.jit(cr.grad(loss(chunked))).lower(W, x).graph, (W, x))
    return out


def _peak(graph, args):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        res = evaluate(graph, list(args))
        return tracemalloc.get_traced_memory()[1] - base, res[0]
    finally:
        tracemalloc.stop()


def test_chunked_checkpointed_scan_peaks_far_below_the_flat_scan_on_the_reference_backend(case):
    plain, g_plain = _peak(*case[False])
    chunked, g_chunked = _peak(*case[True])
    np.testing.assert_allclose(g_chunked, g_plain, rtol=1e-12, atol=1e-14)
    carry = B * H * 8
    assert plain >= T * carry  # the flat gradient stacks every carry
    # T/K outer carries + K inner ones (the chunk's recomputation), plus small temporaries
    assert chunked < 0.45 * plain, (chunked, plain)


@pytest.mark.skipif("llvm" not in available_backends(), reason="llvm backend not available")
def test_llvm_arena_of_the_chunked_gradient_is_a_fraction_of_the_flat_one(case):
    exe = {c: compile_graph(g, backend="llvm") for c, (g, _) in case.items()}
    got = {c: exe[c](*args)[0] for c, (_, args) in case.items()}
    np.testing.assert_allclose(got[True], got[False], rtol=1e-12, atol=1e-14)
    g, args = case[True]
    np.testing.assert_allclose(got[True], evaluate(g, list(args))[0], rtol=1e-12, atol=1e-14)
    assert exe[False].arena_size >= T * B * H * 8
    assert exe[True].arena_size < 0.45 * exe[False].arena_size, (exe[True].arena_size, exe[False].arena_size)


@pytest.mark.parametrize("backend", [b for b in available_backends() if b != "reference"])
def test_checkpointed_gradients_on_compiled_backends_match_the_reference(rng, backend):
    w1, w2, x = rng.standard_normal((4, 5)), rng.standard_normal((5, 5)), rng.standard_normal((3, 4))
    for policy in (None, "dots_saveable"):
        f = cr.grad(mlp(cnp, lambda fn: cr.checkpoint(fn, policy=policy)), argnums=(0, 1, 2))
        want = cr.jit(f, backend="reference")(w1, w2, x)
        got = cr.jit(f, backend=backend)(w1, w2, x)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("backend", [b for b in available_backends() if b != "reference"])
def test_chunked_scan_gradient_on_compiled_backends_matches_the_reference(case, backend):
    g, args = case[True]
    got = compile_graph(g, backend=backend)(*args)[0]
    np.testing.assert_allclose(got, evaluate(g, list(args))[0], rtol=1e-12, atol=1e-14)
