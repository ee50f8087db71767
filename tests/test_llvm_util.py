"""Shared helpers of the llvm backend tests (no tests here): compile on llvm, compare with the reference."""

from __future__ import annotations

import numpy as np

from chainrule.backends import llvm
from chainrule.backends.reference import evaluate
from chainrule.ir import GraphBuilder, TensorType
from chainrule.testing import assert_same


def ulp_error(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Error in units of the last place of `want` (its dtype); NaN/inf mismatches count as inf."""
    got = np.asarray(got)
    want = np.asarray(want)
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    sp = np.spacing(np.abs(want)).astype(np.float64)
    with np.errstate(all="ignore"):
        err = np.abs(g - w) / sp
    both_nan = np.isnan(g) & np.isnan(w)
    same_inf = np.isinf(w) & (g == w)
    err = np.where(both_nan | same_inf | (g == w), 0.0, err)
    err = np.where(np.isnan(err), np.inf, err)
    return err


def assert_ulp(got, want, max_ulp: float, what: str = "result"):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, expected {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    if got.size == 0:
        return
    err = ulp_error(got, want)
    worst = int(np.argmax(err.reshape(-1)))
    if err.reshape(-1)[worst] > max_ulp:
        g, w = got.reshape(-1)[worst], want.reshape(-1)[worst]
        bad = int(np.sum(err > max_ulp))
        raise AssertionError(f"{what}: {bad} of {got.size} elements exceed {max_ulp} ulp; worst "
                             f"{err.reshape(-1)[worst]:.3g} ulp: got {g!r}, expected {w!r}")


def run_both(graph, args):
    """(llvm results, reference results) of `graph` on `args`."""
    ex = llvm.compile(graph)
    got = ex(*args)
    want = evaluate(graph, [np.asarray(a) for a in args])
    return got, want


def check_graph(graph, args, tol=None):
    """Compile on llvm and compare every result with the reference backend.

    `tol` maps result index -> max ulp (floats); results not listed must be bit-exact.
    """
    got, want = run_both(graph, args)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        what = f"@{graph.name} result {i}"
        if tol and i in tol and w.dtype.kind == "f":
            assert_ulp(g, w, tol[i], what)
        else:
            assert_same(g, w, what=what)
    return got


def one_op_each(name, params, ops):
    """A graph with `params` (list of TensorType) and one result per (op, operand indices, attrs)."""
    b = GraphBuilder(name)
    ps = [b.param(t, f"p{i}") for i, t in enumerate(params)]
    results = []
    for op, idx, attrs in ops:
        results.append(b.op(op, *[ps[i] for i in idx], **attrs))
    return b.build(results)


__all__ = ["assert_ulp", "check_graph", "one_op_each", "run_both", "ulp_error", "TensorType", "GraphBuilder"]
