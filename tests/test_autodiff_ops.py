"""Every differentiable op: JVP and VJP against central finite differences (float64, reference
backend) and against jax.jvp / jax.vjp of the same computation written in jax.lax."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

from chainrule.ir import GraphBuilder, TensorType
from chainrule.passes.autodiff import jvp_graph, vjp_graph
from op_tables import BINARY_DOMAINS, UNARY_DOMAINS
from test_autodiff_helpers import check_graph, fd_jvp, jax, jax_partial, jax_x64, run

F64 = "float64"


@dataclass
class Case:
    name: str
    types: list                      # [(shape, dtype)]
    body: Callable                   # body(b, *params) -> Value or list of Values
    gen: Callable | None = None      # gen(rng) -> list of arrays
    fd: bool = True                  # finite differences valid (no kinks at the test points)
    use_jax: bool = True
    h: float = 1e-6
    rtol: float = 1e-6
    atol: float = 1e-7
    wrt: list | None = None

    def graph(self):
        b = GraphBuilder(self.name.replace("-", "_").replace("/", "_"))
        params = [b.param(TensorType(s, d), f"p{i}") for i, (s, d) in enumerate(self.types)]
        out = self.body(b, *params)
        return b.build(list(out) if isinstance(out, (list, tuple)) else [out])

    def args(self, rng):
        if self.gen is not None:
            return [np.asarray(a) for a in self.gen(rng)]
        out = []
        for s, d in self.types:
            if np.dtype(d).kind == "f":
                out.append(rng.standard_normal(s).astype(d))
            else:
                out.append(rng.integers(-1, 4, size=s).astype(d))
        return out


def bcast(b, v, shape, dims):
    return b.op("broadcast_in_dim", v, shape=shape, broadcast_dimensions=dims)


def const(b, v, dtype=np.float64):
    return b.constant(np.asarray(v, dtype=dtype))


CASES: list[Case] = []

# --- elementwise unary on several shapes, plus a size-1 broadcast -----------------------------------

for _op, _dom in UNARY_DOMAINS.items():
    for _s in [(), (5,), (2, 3)]:
        CASES.append(Case(f"{_op}-{len(_s)}d", [(_s, F64)], lambda b, x, op=_op: b.op(op, x),
                          None if _dom is None else _dom(_s)))
    CASES.append(Case(f"{_op}-bcast", [((1, 3), F64)],
                      lambda b, x, op=_op: b.op(op, bcast(b, x, (2, 3), (0, 1))),
                      None if _dom is None else _dom((1, 3))))


# --- elementwise binary: equal shapes, a (1,3) and a scalar operand broadcast -----------------------

for _op, _dom in BINARY_DOMAINS.items():
    for _tag, (_s0, _s1), _fix in [
        ("same", ((2, 3), (2, 3)), lambda b, x, y: (x, y)),
        ("bcast", ((1, 3), (2, 3)), lambda b, x, y: (bcast(b, x, (2, 3), (0, 1)), y)),
        ("scalar", ((2, 3), ()), lambda b, x, y: (x, bcast(b, y, (2, 3), ()))),
    ]:
        CASES.append(Case(f"{_op}-{_tag}", [(_s0, F64), (_s1, F64)],
                          lambda b, x, y, op=_op, fix=_fix: b.op(op, *fix(b, x, y)),
                          None if _dom is None else (lambda rng, d=_dom, s0=_s0, s1=_s1: d(rng, s0, s1))))

# a constant exponent on negative bases: no log(x) term, so no NaN
CASES.append(Case("power-const-exponent-negative-base", [((6,), F64)],
                  lambda b, x: b.op("power", x, bcast(b, const(b, 3.0), (6,), ())),
                  lambda rng: [np.array([-2.0, -1.5, -0.3, 0.4, 1.1, 2.0])]))
CASES.append(Case("power-const-exponent-at-zero", [((3,), F64)],
                  lambda b, x: b.op("power", x, bcast(b, const(b, 2.0), (3,), ())),
                  lambda rng: [np.array([0.0, 1.0, -2.0])]))
CASES.append(Case("square-by-multiply", [((4,), F64)], lambda b, x: b.op("multiply", x, x)))

# ties: JAX splits the derivative 0.5/0.5; finite differences are not valid at a kink
CASES.append(Case("maximum-ties", [((4,), F64), ((4,), F64)], lambda b, x, y: b.op("maximum", x, y),
                  lambda rng: [np.array([1.0, 2.0, -1.0, 0.0]), np.array([1.0, 3.0, -1.0, 0.0])], fd=False))
CASES.append(Case("minimum-self", [((4,), F64)], lambda b, x: b.op("minimum", x, x), fd=False))

CASES.append(Case("select", [((2, 3), F64), ((2, 3), F64), ((2, 3), F64)],
                  lambda b, p, x, y: b.op("select", b.op("compare", p, y, direction="GT"), x, y)))
CASES.append(Case("select-one-branch", [((5,), F64)],
                  lambda b, x: b.op("select", b.op("compare", x, bcast(b, const(b, 0.0), (5,), ()), direction="GT"),
                                    x, bcast(b, const(b, 0.1), (5,), ()))))
CASES.append(Case("clamp", [((6,), F64), ((6,), F64), ((6,), F64)],
                  lambda b, lo, x, hi: b.op("clamp", lo, x, hi),
                  lambda rng: [np.array([-1.0, -0.5, -0.3, -0.6, 0.7, -0.2]),   # x below, inside, above
                               np.array([-2.0, -0.1, 0.1, 2.0, 0.5, 1.5]),
                               np.array([0.5, 0.3, 0.9, 0.4, 0.9, 1.0])]))
CASES.append(Case("clamp-scalar-bounds", [((), F64), ((5,), F64), ((), F64)],
                  lambda b, lo, x, hi: b.op("clamp", bcast(b, lo, (5,), ()), x, bcast(b, hi, (5,), ())),
                  lambda rng: [np.array(-0.5), np.array([-1.0, -0.3, 0.2, 0.7, 1.5]), np.array(0.6)]))

# convert: float<->float passes the tangent, through an integer it is zero
CASES.append(Case("convert-f32-roundtrip", [((4,), F64)],
                  lambda b, x: b.op("convert", b.op("multiply", *(2 * [b.op("convert", x, dtype="float32")])),
                                    dtype="float64"),
                  h=1e-3, rtol=1e-3, atol=1e-3))
CASES.append(Case("convert-through-int", [((4,), F64)],
                  lambda b, x: b.op("multiply", x, b.op("convert", b.op("convert", x, dtype="int32"), dtype="float64")),
                  lambda rng: [np.array([0.5, 1.4, -2.3, 3.7])]))

# --- shapes ----------------------------------------------------------------------------------------
CASES += [
    Case("broadcast-vector", [((3,), F64)], lambda b, x: b.op("tanh", bcast(b, x, (2, 3), (1,)))),
    Case("broadcast-size1-3d", [((1, 3), F64)], lambda b, x: b.op("sine", bcast(b, x, (4, 2, 3), (1, 2)))),
    Case("broadcast-scalar", [((), F64)], lambda b, x: b.op("exponential", bcast(b, x, (2, 2), ()))),
    Case("reshape", [((2, 3), F64)], lambda b, x: b.op("sine", b.op("reshape", x, shape=(3, 2)))),
    Case("transpose", [((2, 3, 4), F64)], lambda b, x: b.op("tanh", b.op("transpose", x, permutation=(2, 0, 1)))),
    Case("slice-strided", [((5, 6), F64)],
         lambda b, x: b.op("sine", b.op("slice", x, start_indices=(1, 0), limit_indices=(5, 6), strides=(2, 3)))),
    Case("slice-plain", [((4, 4), F64)],
         lambda b, x: b.op("slice", x, start_indices=(1, 2), limit_indices=(3, 4))),
    Case("reverse", [((3, 4), F64)], lambda b, x: b.op("tanh", b.op("reverse", x, dimensions=(0, 1)))),
    Case("concatenate", [((2, 1), F64), ((2, 3), F64), ((2, 2), F64)],
         lambda b, x, y, z: b.op("sine", b.op("concatenate", x, y, z, dimension=1))),
    Case("concatenate-with-constant", [((2, 3), F64)],
         lambda b, x: b.op("concatenate", const(b, np.ones((1, 3))), x, dimension=0)),
    Case("pad-negative-interior", [((4, 5), F64), ((), F64)],
         lambda b, x, v: b.op("sine", b.op("pad", x, v, edge_padding_low=(-1, 2), edge_padding_high=(1, -2),
                                            interior_padding=(1, 2)))),
    Case("pad-const-value", [((3,), F64)],
         lambda b, x: b.op("pad", x, const(b, 0.5), edge_padding_low=(2,), edge_padding_high=(-1,))),
    Case("dynamic-slice", [((5, 6), F64), ((), "int32"), ((), "int32")],
         lambda b, x, i, j: b.op("tanh", b.op("dynamic_slice", x, i, j, slice_sizes=(3, 2))),
         lambda rng: [rng.standard_normal((5, 6)), np.int32(1), np.int32(3)]),
    Case("dynamic-slice-clamped", [((5, 6), F64), ((), "int32"), ((), "int32")],
         lambda b, x, i, j: b.op("tanh", b.op("dynamic_slice", x, i, j, slice_sizes=(3, 2))),
         lambda rng: [rng.standard_normal((5, 6)), np.int32(4), np.int32(-2)]),
    Case("dynamic-update-slice", [((5, 6), F64), ((2, 3), F64), ((), "int32"), ((), "int32")],
         lambda b, x, u, i, j: b.op("sine", b.op("dynamic_update_slice", x, u, i, j)),
         lambda rng: [rng.standard_normal((5, 6)), rng.standard_normal((2, 3)), np.int32(4), np.int32(1)]),
    Case("gather-clamped-duplicates", [((5, 3), F64), ((6,), "int32")],
         lambda b, x, i: b.op("sine", b.op("gather", x, i, axis=0)),
         lambda rng: [rng.standard_normal((5, 3)), np.array([0, 2, 2, -1, 7, 4], np.int32)]),
    Case("gather-axis1-2d-indices", [((3, 5), F64), ((2, 2), "int64")],
         lambda b, x, i: b.op("tanh", b.op("gather", x, i, axis=1)),
         lambda rng: [rng.standard_normal((3, 5)), np.array([[0, 4], [4, 1]], np.int64)]),
    Case("gather-batch", [((2, 5, 3), F64), ((2, 4), "int32")],
         lambda b, x, i: b.op("sine", b.op("gather", x, i, axis=1, batch_dims=1)),
         lambda rng: [rng.standard_normal((2, 5, 3)), np.array([[0, 1, 1, 9], [3, 3, 2, 0]], np.int32)]),
    Case("scatter-add", [((5, 3), F64), ((4,), "int32"), ((4, 3), F64)],
         lambda b, x, i, u: b.op("sine", b.op("scatter", x, i, u, axis=0)),
         lambda rng: [rng.standard_normal((5, 3)), np.array([1, 1, 6, 0], np.int32), rng.standard_normal((4, 3))]),
    Case("scatter-add-batch", [((2, 5), F64), ((2, 3), "int32"), ((2, 3), F64)],
         lambda b, x, i, u: b.op("tanh", b.op("scatter", x, i, u, axis=1, batch_dims=1)),
         lambda rng: [rng.standard_normal((2, 5)), np.array([[0, 0, 4], [2, 1, 2]], np.int32),
                      rng.standard_normal((2, 3))]),
    Case("scatter-set-unique", [((5, 3), F64), ((3,), "int32"), ((3, 3), F64)],
         lambda b, x, i, u: b.op("sine", b.op("scatter", x, i, u, axis=0, kind="set")),
         lambda rng: [rng.standard_normal((5, 3)), np.array([4, 0, 2], np.int32), rng.standard_normal((3, 3))]),
    # duplicates: the last update wins (reference semantics); JAX leaves the order unspecified
    Case("scatter-set-duplicates", [((4, 2), F64), ((4,), "int32"), ((2, 4, 2), F64)],
         lambda b, x, i, u: b.op("sine", b.op("scatter", b.op("broadcast_in_dim", x, shape=(2, 4, 2),
                                                                broadcast_dimensions=(1, 2)),
                                             i, u, axis=1, kind="set")),
         lambda rng: [rng.standard_normal((4, 2)), np.array([1, 3, 1, 9], np.int32),
                      rng.standard_normal((2, 4, 2))], use_jax=False),
]

# --- reductions ------------------------------------------------------------------------------------
CASES += [
    Case("reduce-sum", [((2, 3, 4), F64)], lambda b, x: b.op("reduce", b.op("sine", x), kind="sum", dimensions=(0, 2))),
    Case("reduce-sum-all", [((3, 4), F64)], lambda b, x: b.op("reduce", x, kind="sum", dimensions=(0, 1))),
    Case("reduce-prod", [((3, 4), F64)], lambda b, x: b.op("reduce", x, kind="prod", dimensions=(1,))),
    Case("reduce-prod-with-zeros", [((3, 4), F64)], lambda b, x: b.op("reduce", x, kind="prod", dimensions=(1,)),
         lambda rng: [np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 0.0, 3.0, 1.0], [0.5, 2.0, -1.0, 3.0]])]),
    Case("reduce-max", [((3, 4), F64)], lambda b, x: b.op("reduce", x, kind="max", dimensions=(1,))),
    Case("reduce-min", [((3, 4), F64)], lambda b, x: b.op("reduce", x, kind="min", dimensions=(0, 1))),
    Case("reduce-max-ties", [((2, 3), F64)], lambda b, x: b.op("reduce", x, kind="max", dimensions=(1,)),
         lambda rng: [np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])], fd=False),
]

# --- contraction -----------------------------------------------------------------------------------
CASES += [
    Case("dot-matmul", [((3, 4), F64), ((4, 5), F64)],
         lambda b, x, y: b.op("dot_general", x, y, lhs_contracting=(1,), rhs_contracting=(0,))),
    Case("dot-batch", [((2, 3, 4), F64), ((2, 4, 5), F64)],
         lambda b, x, y: b.op("dot_general", x, y, lhs_batch=(0,), rhs_batch=(0,), lhs_contracting=(2,),
                              rhs_contracting=(1,))),
    Case("dot-unsorted-dims", [((4, 2, 3, 6), F64), ((6, 2, 5, 3), F64)],
         lambda b, x, y: b.op("dot_general", x, y, lhs_batch=(1,), rhs_batch=(1,), lhs_contracting=(2, 3),
                              rhs_contracting=(3, 0))),
    Case("dot-vector", [((4,), F64), ((4,), F64)],
         lambda b, x, y: b.op("dot_general", x, y, lhs_contracting=(0,), rhs_contracting=(0,))),
    Case("dot-outer", [((3,), F64), ((2,), F64)], lambda b, x, y: b.op("dot_general", x, y)),
    Case("dot-constant-side", [((3, 4), F64)],
         lambda b, x: b.op("dot_general", const(b, np.arange(8.0).reshape(2, 4)), x, lhs_contracting=(1,),
                           rhs_contracting=(1,))),
]

# --- zero-derivative ops on a differentiated path, stop_gradient, fusion ------------------------------

def _fusion_body():
    r = GraphBuilder("fused")
    x = r.param(TensorType((2, 3), F64))
    y = r.param(TensorType((2, 3), F64))
    return r.build([r.op("multiply", r.op("tanh", x), y), r.op("exponential", y)])


CASES += [
    Case("floor-ceil-round-sign", [((4,), F64)],
         lambda b, x: b.op("multiply", x, b.op("add", b.op("add", b.op("floor", x), b.op("ceil", x)),
                                                b.op("add", b.op("round_nearest_even", x), b.op("sign", x)))),
         lambda rng: [np.array([0.3, 1.2, -2.7, 3.4])]),
    Case("argmax-gather", [((5,), F64)],
         lambda b, x: b.op("gather", x, b.op("argmax", x, dimension=0), axis=0)),
    Case("iota-times-x", [((4,), F64)],
         lambda b, x: b.op("multiply", x, b.op("iota", shape=(4,), dtype="float64"))),
    Case("stop-gradient", [((4,), F64)], lambda b, x: b.op("multiply", x, b.op("stop_gradient", b.op("sine", x))),
         fd=False),
    Case("fusion", [((2, 3), F64), ((2, 3), F64)],
         lambda b, x, y: list(b.emit("fusion", (x, y), {}, (_fusion_body(),)).results)),
    Case("int-and-float-results", [((3,), F64)],
         lambda b, x: [b.op("argmin", x, dimension=0), b.op("compare", x, x, direction="LT"), b.op("cosine", x)]),
]

# --- empty arrays: the rules must build valid graphs of size-0 tensors ---------------------------------
CASES += [
    Case("empty-reduce-sum", [((0, 3), F64)],
         lambda b, x: b.op("reduce", b.op("tanh", x), kind="sum", dimensions=(0,))),
    Case("empty-reduce-max", [((0, 3), F64)], lambda b, x: b.op("reduce", x, kind="max", dimensions=(0,)),
         fd=False, use_jax=False),  # -inf: finite differences give inf - inf, JAX's jvp 0/0 (see test_autodiff_rules)
    Case("empty-reduce-prod", [((3, 0), F64)], lambda b, x: b.op("reduce", x, kind="prod", dimensions=(1,))),
    Case("empty-gather", [((4, 3), F64), ((0,), "int32")], lambda b, x, i: b.op("gather", x, i, axis=0)),
    Case("empty-scatter-set", [((4, 3), F64), ((0,), "int32"), ((0, 3), F64)],
         lambda b, x, i, u: b.op("scatter", x, i, u, axis=0, kind="set")),
    Case("empty-dot-contraction", [((2, 0), F64), ((0, 3), F64)],
         lambda b, x, y: b.op("dot_general", x, y, lhs_contracting=(1,), rhs_contracting=(0,))),
    Case("empty-pad-interior", [((0,), F64), ((), F64)],
         lambda b, x, v: b.op("pad", x, v, edge_padding_low=(1,), edge_padding_high=(2,), interior_padding=(1,))),
]

IDS = [c.name for c in CASES]


def _float_results(graph):
    return [i for i, r in enumerate(graph.results) if r.dtype.is_float]


def _wrt(case, g):
    return case.wrt if case.wrt is not None else [i for i, p in enumerate(g.params) if p.dtype.is_float]


def _setup(case):
    rng = np.random.default_rng(abs(hash(case.name)) % 2**32)
    g = case.graph()
    args = case.args(rng)
    return g, args, _wrt(case, g), rng


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jvp(case):
    g, args, wrt, rng = _setup(case)
    jg = check_graph(jvp_graph(g, case.wrt))
    n = len(g.results)
    tangents = [rng.standard_normal(args[i].shape) for i in wrt]
    out = run(jg, args + tangents)
    primal = run(g, args)
    for a, b in zip(out[:n], primal):
        np.testing.assert_array_equal(a, b)
    for k, r in enumerate(g.results):
        assert out[n + k].dtype == r.dtype.np and out[n + k].shape == r.shape
        if not r.dtype.is_float:
            assert not out[n + k].any()
    if case.fd:
        fd = fd_jvp(g, args, wrt, tangents, case.h)
        for k in _float_results(g):
            np.testing.assert_allclose(out[n + k], fd[k], rtol=case.rtol * 10, atol=case.atol * 10,
                                       err_msg=f"{case.name}: jvp vs finite differences, result {k}")
    if case.use_jax and jax is not None:
        with jax_x64():
            f = jax_partial(g, args, wrt)
            _, jt = jax.jit(lambda p, t: jax.jvp(f, p, t))([args[i] for i in wrt], tangents)
        for k in _float_results(g):
            np.testing.assert_allclose(out[n + k], np.asarray(jt[k]), rtol=1e-12, atol=1e-14,
                                       err_msg=f"{case.name}: jvp vs jax.jvp, result {k}")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_vjp(case):
    g, args, wrt, rng = _setup(case)
    vg = check_graph(vjp_graph(g, case.wrt))
    n = len(g.results)
    cts = [rng.standard_normal(r.shape).astype(r.dtype.np) if r.dtype.is_float else np.zeros(r.shape, r.dtype.np)
           for r in g.results]
    out = run(vg, args + cts)
    assert len(out) == n + len(wrt)
    for a, b in zip(out[:n], run(g, args)):
        np.testing.assert_array_equal(a, b)
    grads = out[n:]
    for gr, i in zip(grads, wrt):
        assert gr.shape == args[i].shape and gr.dtype == args[i].dtype
    if case.fd:
        for _ in range(2):  # <vjp(ct), t> == <ct, fd_jvp(t)> along random directions
            tangents = [rng.standard_normal(args[i].shape) for i in wrt]
            fd = fd_jvp(g, args, wrt, tangents, case.h)
            lhs = sum(float(np.sum(gr * t)) for gr, t in zip(grads, tangents))
            rhs = sum(float(np.sum(cts[k] * fd[k])) for k in _float_results(g))
            np.testing.assert_allclose(lhs, rhs, rtol=case.rtol * 10, atol=case.atol * 100,
                                       err_msg=f"{case.name}: vjp vs finite differences")
    if case.use_jax and jax is not None:
        with jax_x64():
            f = jax_partial(g, args, wrt)
            float_out = _float_results(g)

            def pulled(p, c):
                _, pullback = jax.vjp(lambda *xs: [f(*xs)[k] for k in float_out], *p)
                return pullback(c)
            jgrads = jax.jit(pulled)([args[i] for i in wrt], [cts[k] for k in float_out])
        for k, (a, b) in enumerate(zip(grads, jgrads)):
            np.testing.assert_allclose(a, np.asarray(b), rtol=1e-12, atol=1e-14,
                                       err_msg=f"{case.name}: vjp vs jax.vjp, input {wrt[k]}")
