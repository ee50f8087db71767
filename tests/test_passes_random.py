"""Passes keep meaning: random graphs run on the reference backend before and after.

Every standard pipeline and every single pass is checked bit-exactly (NaN
equals NaN), on inputs full of NaN, inf and -0.0. Fast-math pipelines are
checked where the inputs are finite and tolerantly.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from chainrule.backends.reference import evaluate
from chainrule.ir import parse, verify
from chainrule.passes import PASSES, Instrumentation, fusion_is_well_formed, optimize
from chainrule.fuzz.generator import graphs, pass_test_config, random_inputs
from chainrule.testing import same_values

PIPELINES = ["dce", "fold", "cse", "simplify", "canonicalize", "fuse", "dce,fold,cse,simplify,cse,fuse",
             "fuse,canonicalize,cse,dce,fuse"]
# the fuzzer's graphs, half of their steps patterns the optimizer looks for
CONFIG = pass_test_config()
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(graph, out, seed):
    verify(out)
    assert str(parse(str(out))) == str(out)
    for node in out.walk():
        if node.op.name == "fusion":
            assert fusion_is_well_formed(node), str(out)
    rng = np.random.default_rng(seed)
    for _ in range(2):
        args = random_inputs(graph, rng)
        want = evaluate(graph, args)
        got = evaluate(out, args)
        for k, (w, g) in enumerate(zip(want, got)):
            assert same_values(w, g), f"result {k} differs\n{graph}\n--- after ---\n{out}\nargs={args}\nwant={w}\ngot={g}"


@SETTINGS
@given(graphs(CONFIG), st.integers(0, 2**31))
def test_opt_levels_keep_meaning(graph, seed):
    before = str(graph)
    for level in (1, 2, 3):
        out = optimize(graph, level, instrumentation=Instrumentation(verify=True))
        _check(graph, out, seed)
    assert str(graph) == before, "a pass changed its input graph"


@SETTINGS
@given(graphs(CONFIG), st.integers(0, 2**31), st.sampled_from(PIPELINES))
def test_each_pass_keeps_meaning(graph, seed, pipeline):
    out = optimize(graph, passes=pipeline, instrumentation=Instrumentation(verify=True))
    _check(graph, out, seed)


@settings(max_examples=40, deadline=None)
@given(graphs(CONFIG), st.integers(0, 2**31))
def test_fast_math_close_on_finite_inputs(graph, seed):
    out = optimize(graph, 3, fast_math=True, instrumentation=Instrumentation(verify=True))
    rng = np.random.default_rng(seed)
    args = [np.nan_to_num(a, nan=0.5, posinf=3.0, neginf=-3.0) if a.dtype.kind == "f" else a
            for a in random_inputs(graph, rng)]
    with np.errstate(all="ignore"):
        for w, g in zip(evaluate(graph, args), evaluate(out, args)):
            if w.dtype.kind != "f":
                continue
            fin = np.isfinite(w) & (np.abs(w) < 1e6)
            assert np.allclose(w[fin], g[fin], rtol=1e-4, atol=1e-5, equal_nan=True), f"{graph}\n{out}"


def test_registry_has_the_standard_passes():
    assert {"dce", "fold", "cse", "simplify", "canonicalize", "fuse"} <= set(PASSES)
