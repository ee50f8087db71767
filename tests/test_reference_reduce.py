"""Reductions, arg-reductions, dot_general, fusion and stop_gradient against plain-Python oracles.

Integer sums and products wrap; empty max/min give -inf/+inf (the lowest or
highest integer); NaN propagates through max/min and is the first extreme
of argmax/argmin, as in XLA and NumPy.
"""

import math

import numpy as np
import pytest

from chainrule.ir import GraphBuilder, TensorType
from chainrule.backends import compile
from chainrule.testing import assert_roundtrip, assert_same, run_op, sample_array
from chainrule.testing import wrap_int as wrap

SHAPES_DIMS = [((5,), (0,)), ((2, 3), (1,)), ((2, 3), (0,)), ((2, 3), (0, 1)), ((2, 3, 4), (0, 2)), ((3,), ()),
               ((0,), (0,)), ((2, 0, 3), (1,)), ((2, 0, 3), (0, 2)), ((1, 1), (0, 1)), ((), ())]


def arr(shape, dt, seed=0, edge_fraction=0.3):
    return sample_array(np.random.default_rng(seed), shape, dt, edge_fraction)


def _fmax(a, b):
    return math.nan if math.isnan(a) or math.isnan(b) else max(a, b)


def _fmin(a, b):
    return math.nan if math.isnan(a) or math.isnan(b) else min(a, b)


def reduce_oracle(x, dims, kind):
    dt = x.dtype
    kept = [d for d in range(x.ndim) if d not in dims]
    out_shape = tuple(x.shape[d] for d in kept)
    out = np.empty(out_shape, dtype=dt)
    is_f, is_b = dt.kind == "f", dt == np.bool_
    if is_b:
        init = {"and": True, "min": True, "or": False, "max": False}[kind]
        step = {"and": lambda a, b: a and b, "min": lambda a, b: a and b,
                "or": lambda a, b: a or b, "max": lambda a, b: a or b}[kind]
    elif is_f:
        init = {"sum": 0.0, "prod": 1.0, "max": -math.inf, "min": math.inf}[kind]
        step = {"sum": lambda a, b: a + b, "prod": lambda a, b: a * b, "max": _fmax, "min": _fmin}[kind]
    else:
        info = np.iinfo(dt)
        init = {"sum": 0, "prod": 1, "max": int(info.min), "min": int(info.max), "and": -1, "or": 0}[kind]
        step = {"sum": lambda a, b: a + b, "prod": lambda a, b: a * b, "max": max, "min": min,
                "and": lambda a, b: a & b, "or": lambda a, b: a | b}[kind]
    for o in np.ndindex(*out_shape):
        acc = init
        for r in np.ndindex(*[x.shape[d] for d in dims]):
            ix = [0] * x.ndim
            for d, v in zip(kept, o):
                ix[d] = v
            for d, v in zip(dims, r):
                ix[d] = v
            acc = step(acc, x[tuple(ix)].item())
        out[o] = wrap(acc, dt) if dt.kind == "i" else acc
    return out


KINDS_BY_DTYPE = {"bool": ["and", "or", "max", "min"], "int32": ["sum", "prod", "max", "min", "and", "or"],
                  "int64": ["sum", "prod", "max", "min", "and", "or"], "float32": ["sum", "prod", "max", "min"],
                  "float64": ["sum", "prod", "max", "min"]}


@pytest.mark.parametrize("dt,kind", [(d, k) for d, ks in KINDS_BY_DTYPE.items() for k in ks])
def test_reduce(dt, kind):
    for k, (shape, dims) in enumerate(SHAPES_DIMS):
        x = arr(shape, dt, k, edge_fraction=0.1)
        if kind == "prod" and dt.startswith("float"):
            x = np.where(np.abs(x) > 1e3, 1.5, x).astype(dt)
        with np.errstate(all="ignore"):
            want = reduce_oracle(x, dims, kind)
        got = run_op("reduce", x, kind=kind, dimensions=dims)[0]
        tol = {"float32": {"rtol": 1e-5, "atol": 1e-5}, "float64": {"rtol": 1e-12, "atol": 1e-12}}.get(dt, {})
        assert_same(got, want, **tol, what=f"reduce {kind} {dt}{list(shape)} over {dims}")


@pytest.mark.parametrize("dt", ["int32", "int64", "float32", "float64"])
def test_reduce_of_empty_gives_identities(dt):
    x = np.zeros((3, 0), dt)
    lowest = -np.inf if dt.startswith("float") else np.iinfo(dt).min
    highest = np.inf if dt.startswith("float") else np.iinfo(dt).max
    for kind, v in [("sum", 0), ("prod", 1), ("max", lowest), ("min", highest)]:
        assert_same(run_op("reduce", x, kind=kind, dimensions=(1,))[0], np.full((3,), v, dt), what=kind)


def test_reduce_integer_sum_wraps_and_max_propagates_nan():
    big = np.array([2**31 - 1, 1, 2], np.int32)
    assert_same(run_op("reduce", big, kind="sum", dimensions=(0,))[0], np.array(-2**31 + 2, np.int32))
    assert_same(run_op("reduce", np.array([1.0, np.nan, 3.0]), kind="max", dimensions=(0,))[0], np.array(np.nan))
    assert_same(run_op("reduce", np.array([1.0, np.nan, -np.inf]), kind="min", dimensions=(0,))[0], np.array(np.nan))


def test_reduce_signed_zeros():
    """A float sum starts from +0.0 (so the sum of -0.0s is +0.0); max/min start from -inf/+inf."""
    z = np.array([-0.0, -0.0])
    assert_same(run_op("reduce", z, kind="sum", dimensions=(0,))[0], np.array(0.0))
    assert_same(run_op("reduce", z, kind="max", dimensions=(0,))[0], np.array(-0.0))
    assert_same(run_op("reduce", z, kind="prod", dimensions=(0,))[0], np.array(0.0))
    assert_same(run_op("reduce", np.array([-0.0], np.float32), kind="min", dimensions=(0,))[0], np.array(-0.0, np.float32))


def arg_oracle(x, dim, is_max, idt):
    out_shape = x.shape[:dim] + x.shape[dim + 1:]
    out = np.empty(out_shape, dtype=idt)
    for o in np.ndindex(*out_shape):
        best, best_i = None, 0
        for i in range(x.shape[dim]):
            v = x[o[:dim] + (i,) + o[dim:]].item()
            if best is None:
                best, best_i = v, i
            elif isinstance(best, float) and math.isnan(best):
                break  # the first NaN wins
            elif isinstance(v, float) and math.isnan(v) or (v > best if is_max else v < best):
                best, best_i = v, i
        out[o] = best_i
    return out


@pytest.mark.parametrize("idt", ["int32", "int64"])
@pytest.mark.parametrize("dt", ["int32", "int64", "float32", "float64"])
@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_argmin_first_extreme(op, dt, idt):
    cases = [((5,), 0), ((3, 4), 1), ((3, 4), 0), ((2, 1, 3), 2), ((0, 3), 1), ((1,), 0), ((40,), 0)]
    for k, (shape, dim) in enumerate(cases):
        x = arr(shape, dt, k)
        x = np.where(arr(shape, "bool", k + 50), x, x.reshape(-1)[:1].reshape(()) if x.size else x).astype(dt)  # ties
        got = run_op(op, x, dimension=dim, index_dtype=idt)[0]
        assert_same(got, arg_oracle(x, dim, op == "argmax", idt), what=f"{op} {dt}{list(shape)} dim {dim}")
    f = np.array([1.0, np.nan, 5.0, np.nan, -np.inf])
    assert run_op(op, f, dimension=0)[0] == 1


# --- dot_general -----------------------------------------------------------------------------

DOTS = [  # lhs shape, rhs shape, lhs_batch, rhs_batch, lhs_contracting, rhs_contracting
    ((2, 3), (3, 4), (), (), (1,), (0,)),
    ((3,), (3,), (), (), (0,), (0,)),
    ((2, 3), (4,), (), (), (), ()),
    ((5, 2, 3), (5, 3, 4), (0,), (0,), (2,), (1,)),
    ((2, 3, 4), (4, 3), (), (), (1, 2), (1, 0)),
    ((2, 0), (0, 3), (), (), (1,), (0,)),
    ((0, 3), (3, 2), (), (), (1,), (0,)),
    ((3, 2, 5), (2, 5, 3), (0, 1), (2, 0), (2,), (1,)),
    ((1, 1), (1, 1), (), (), (1,), (0,)),
]


def dot_oracle(lhs, rhs, lb, rb, lc, rc, dt):
    lf = [i for i in range(lhs.ndim) if i not in lb + lc]
    rf = [i for i in range(rhs.ndim) if i not in rb + rc]
    shape = tuple([lhs.shape[i] for i in lb] + [lhs.shape[i] for i in lf] + [rhs.shape[i] for i in rf])
    out = np.empty(shape, dtype=dt)
    csizes = [lhs.shape[i] for i in lc]
    for o in np.ndindex(*shape):
        b, l, r = o[:len(lb)], o[len(lb):len(lb) + len(lf)], o[len(lb) + len(lf):]
        acc = 0 if np.dtype(dt).kind == "i" else 0.0
        for c in np.ndindex(*csizes):
            li, ri = [0] * lhs.ndim, [0] * rhs.ndim
            for dims, vals, tgt in ((lb, b, li), (rb, b, ri), (lf, l, li), (rf, r, ri), (lc, c, li), (rc, c, ri)):
                for d, v in zip(dims, vals):
                    tgt[d] = v
            acc += lhs[tuple(li)].item() * rhs[tuple(ri)].item()
        out[o] = wrap(acc, dt) if np.dtype(dt).kind == "i" else acc
    return out


@pytest.mark.parametrize("dt", ["int32", "int64", "float32", "float64"])
@pytest.mark.parametrize("ls,rs,lb,rb,lc,rc", DOTS)
def test_dot_general(ls, rs, lb, rb, lc, rc, dt):
    lhs, rhs = arr(ls, dt, 1, 0.0), arr(rs, dt, 2, 0.0)
    got = run_op("dot_general", lhs, rhs, lhs_batch=lb, rhs_batch=rb, lhs_contracting=lc, rhs_contracting=rc)[0]
    tol = {"float32": {"rtol": 1e-5, "atol": 1e-4}, "float64": {"rtol": 1e-12, "atol": 1e-12}}.get(dt, {})
    assert_same(got, dot_oracle(lhs, rhs, lb, rb, lc, rc, dt), **tol)


def test_dot_general_integer_wraps():
    a = np.array([[2**30, 2**30]], np.int32)
    b = np.array([[2], [2]], np.int32)
    assert_same(run_op("dot_general", a, b, lhs_contracting=(1,), rhs_contracting=(0,))[0], np.array([[0]], np.int32))


# --- fusion and stop_gradient -----------------------------------------------------------------

def test_stop_gradient_is_identity():
    x = arr((2, 3), "float32", 3)
    assert_same(run_op("stop_gradient", x)[0], x)


def test_fusion_runs_its_region():
    t = TensorType((3,), "float64")
    rb = GraphBuilder("body")
    a, c = rb.param(t, "a"), rb.param(t, "c")
    body = rb.build([rb.op("multiply", rb.op("add", a, c), c), rb.op("negate", a)])
    b = GraphBuilder("outer")
    x, y = b.param(t, "x"), b.param(t, "y")
    node = b.emit("fusion", [x, y], {"kind": "loop"}, [body])
    g = b.build(list(node.results))
    assert_roundtrip(g)
    xv, yv = np.array([1.0, -2.0, np.inf]), np.array([3.0, 0.5, -1.0])
    got = compile(g, backend="reference")(xv, yv)
    assert_same(got[0], np.array([(1 + 3) * 3.0, (-2 + 0.5) * 0.5, -np.inf]))
    assert_same(got[1], -xv)
