"""Passes scale: deep chains do not recurse, and 4x the nodes costs about 4x the time."""

import time

import numpy as np

from chainrule.backends.reference import evaluate
from chainrule.passes import OPT_PIPELINES, Instrumentation, optimize
from chainrule.passes.testing import chain_graph, wide_graph
from chainrule.testing import same_values


def test_a_12k_node_chain_goes_through_every_pass_without_recursion():
    g = chain_graph(12_000, size=4)  # far deeper than Python's recursion limit
    out = optimize(g, 3, instrumentation=Instrumentation(verify=True))
    out2 = optimize(g, 2, instrumentation=Instrumentation(verify=True))
    x = np.linspace(-1, 1, 4, dtype=np.float32)
    want = evaluate(g, [x])[0]
    assert same_values(want, evaluate(out, [x])[0]) and same_values(want, evaluate(out2, [x])[0])


def _cpu_seconds(graph, reps=2):
    best = float("inf")
    for _ in range(reps):
        t = time.process_time()
        optimize(graph, 2, instrumentation=Instrumentation())
        best = min(best, time.process_time() - t)
    return best


def test_pipeline_time_grows_about_linearly():
    # CPU time (not wall time: the machine is shared), best of 2; 4x the nodes must cost < 8x
    for make in (chain_graph, wide_graph):
        small, big = make(2_000), make(8_000)
        t_small, t_big = _cpu_seconds(small), _cpu_seconds(big)
        assert t_big < 8 * t_small + 0.05, (make.__name__, t_small, t_big)
    assert "fuse" in OPT_PIPELINES[2]
