"""Random graphs (every op, regions included) batched with random in_axes, against a loop over the batch.

Graphs come from `chainrule.fuzz.generator`; results must agree exactly,
except float values that passed through an inexact op (transcendentals,
float sums and dots), which may round differently when computed on the
whole batch at once and are compared within the fuzzer's tolerance.
"""

import random

import numpy as np
import pytest

from chainrule.backends.reference import evaluate
from chainrule.fuzz.compare import describe_difference
from chainrule.fuzz.generator import generate_graph, inexact_values
from chainrule.ir import verify
from chainrule.passes.batching import batch_graph
from chainrule.testing import assert_roundtrip, sample_array


def check_random_graph(seed):
    rnd = random.Random(seed)
    g = generate_graph(rnd)
    rng = np.random.default_rng(seed)
    size = rnd.choice([0, 1, 2, 3, 3])
    in_axes = [rnd.choice([None, rnd.randint(0, p.ndim)]) for p in g.params]
    if g.params and all(ax is None for ax in in_axes):
        in_axes[0] = 0
    args = []
    for p, ax in zip(g.params, in_axes):
        shape = list(p.shape)
        if ax is not None:
            shape.insert(ax, size)
        args.append(sample_array(rng, shape, p.dtype.np, edge_fraction=0.3))
    bg = batch_graph(g, in_axes, size)
    verify(bg)
    assert_roundtrip(bg)
    got = evaluate(bg, args)
    inexact = inexact_values(g)
    per = [evaluate(g, [a if ax is None else np.asarray(np.take(a, i, axis=ax)) for a, ax in zip(args, in_axes)])
           for i in range(size)]
    for j, r in enumerate(g.results):
        want = np.stack([p[j] for p in per]) if size else np.zeros((0,) + r.shape, r.dtype.np)
        problem = describe_difference(got[j], want, id(r) in inexact)
        assert problem is None, f"seed {seed}, in_axes {in_axes}, size {size}, result {j}: {problem}\n{g}"


@pytest.mark.parametrize("block", range(4))
def test_random_graphs(block):
    for seed in range(block * 60, (block + 1) * 60):
        check_random_graph(seed)


@pytest.mark.slow
def test_random_graphs_long():
    for seed in range(1000, 4000):
        check_random_graph(seed)
