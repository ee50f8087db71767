"""Graphs for the pass tests and benchmarks: long chains, wide graphs, an MLP loss; `ulp_close`.

Random graphs come from the fuzzer's generator (`chainrule.fuzz.generator`,
with `pass_test_config()`: the patterns the passes look for); the tests
import it from there, since passes sit below the fuzzer.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, GraphBuilder, TensorType


def ulp_close(a: np.ndarray, b: np.ndarray, ulps: int = 2) -> bool:
    """Equal NaN positions, equal infinities and zero signs, finite values within `ulps` ulps.

    For rewrites exact in IEEE arithmetic that the reference computes slightly
    differently (NumPy's power is not correctly rounded: see simplify.py).
    """
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind != "f":
        return bool(np.array_equal(a, b))
    na, nb = np.isnan(a), np.isnan(b)
    if not np.array_equal(na, nb):
        return False
    fa, fb = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(fa, fb) or not np.array_equal(a[~fa & ~na], b[~fb & ~nb]):
        return False
    if not np.array_equal(np.signbit(a[a == 0]), np.signbit(b[a == 0])):
        return False
    x, y = a[fa], b[fb]
    with np.errstate(over="ignore"):  # the spacing of the largest float is inf
        tol = ulps * np.spacing(np.maximum(np.abs(x), np.abs(y)))
    return bool(np.all(np.abs(x - y) <= tol))


def chain_graph(n: int, size: int = 64, dtype: str = "float32") -> Graph:
    """A long chain of about `n` elementwise nodes (deep: no pass may recurse on depth)."""
    b = GraphBuilder("chain")
    x = b.param(TensorType((size,), dtype), "x")
    half = b.op("broadcast_in_dim", b.constant(np.asarray(0.5, dtype)), shape=(size,), broadcast_dimensions=())
    v = x
    ops = ("tanh", "mul", "add_x", "negate", "sine", "mul")
    for k in range(max(n - 3, 1)):
        op = ops[k % len(ops)]
        if op == "mul":
            v = b.op("multiply", v, half)
        elif op == "add_x":
            v = b.op("add", v, x)
        else:
            v = b.op(op, v)
    return b.build([b.op("reduce", v, kind="sum", dimensions=(0,))])


def wide_graph(n: int, size: int = 64, dtype: str = "float32") -> Graph:
    """About `n` nodes in many short independent branches of one input, summed by a tree."""
    b = GraphBuilder("wide")
    x = b.param(TensorType((size,), dtype), "x")
    branches = []
    count = max(n // 5, 1)
    for k in range(count):  # distinct constants, so no branch is a duplicate of another
        c = b.op("broadcast_in_dim", b.constant(np.asarray(1 + k / count, dtype)), shape=(size,),
                 broadcast_dimensions=())
        branches.append(b.op("tanh", b.op("multiply", x, c)))
    while len(branches) > 1:
        nxt = [b.op("add", branches[i], branches[i + 1]) for i in range(0, len(branches) - 1, 2)]
        if len(branches) % 2:
            nxt.append(branches[-1])
        branches = nxt
    return b.build([b.op("reduce", branches[0], kind="sum", dimensions=(0,))])


def mlp_loss_graph(batch: int = 256, sizes=(784, 512, 512, 10), dtype: str = "float32",
                   mean: bool = True) -> Graph:
    """Softmax cross-entropy of a tanh MLP, built with the builder (no frontend), parameters
    w0, b0, w1, b1, ..., x, y (one-hot labels); the mean over the batch, or the sum."""
    b = GraphBuilder("mlp")
    ws = []
    for i in range(len(sizes) - 1):
        ws.append(b.param(TensorType((sizes[i], sizes[i + 1]), dtype), f"w{i}"))
        ws.append(b.param(TensorType((sizes[i + 1],), dtype), f"b{i}"))
    x = b.param(TensorType((batch, sizes[0]), dtype), "x")
    y = b.param(TensorType((batch, sizes[-1]), dtype), "y")
    h = x
    for i in range(len(sizes) - 1):
        z = b.op("dot_general", h, ws[2 * i], lhs_contracting=(1,), rhs_contracting=(0,))
        z = b.op("add", z, b.op("broadcast_in_dim", ws[2 * i + 1], shape=(batch, sizes[i + 1]),
                                broadcast_dimensions=(1,)))
        h = b.op("tanh", z) if i < len(sizes) - 2 else z
    shape = (batch, sizes[-1])
    m = b.op("reduce", h, kind="max", dimensions=(1,))
    sh = b.op("subtract", h, b.op("broadcast_in_dim", m, shape=shape, broadcast_dimensions=(0,)))
    lse = b.op("log", b.op("reduce", b.op("exponential", sh), kind="sum", dimensions=(1,)))
    picked = b.op("reduce", b.op("multiply", y, sh), kind="sum", dimensions=(1,))
    loss = b.op("reduce", b.op("subtract", lse, picked), kind="sum", dimensions=(0,))
    if mean:
        loss = b.op("multiply", loss, b.constant(np.asarray(1.0 / batch, dtype)))
    return b.build([loss])
