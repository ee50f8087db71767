"""Higher order (the pass applied to its own output) and VJP/JVP consistency on random graphs.

Second order: jvp(vjp) (Hessian-vector products) and vjp(vjp); third order:
vjp(jvp(vjp)). Checked against finite differences of the lower-order graph
and against JAX (jax.hessian, nested jax.jvp/jax.grad) on the same
computation written in jax.lax.
"""

from __future__ import annotations

import numpy as np
import pytest

from chainrule.ir import GraphBuilder, TensorType
from chainrule.passes.autodiff import jvp_graph, vjp_graph
from test_autodiff_helpers import check_graph, fd_jvp, jax, jax_x64, run, to_jax
from test_autodiff_rules import mlp_squared_loss_graph

F64 = "float64"

UNARY = {  # op -> a domain where it is smooth
    "exponential": (-1, 1), "exponential_minus_one": (-1, 1), "log": (0.5, 2), "log_plus_one": (-0.5, 2),
    "sqrt": (0.5, 2), "rsqrt": (0.5, 2), "sine": (-2, 2), "cosine": (-2, 2), "tan": (-1, 1),
    "tanh": (-2, 2), "logistic": (-3, 3), "erf": (-2, 2), "negate": (-2, 2), "abs": (0.2, 2),
}
BINARY = {
    "multiply": ((-2, 2), (-2, 2)), "divide": ((-2, 2), (0.5, 2)), "power": ((0.5, 2), (-2, 2)),
    "atan2": ((-2, 2), (0.5, 2)), "maximum": ((-2, 2), (-2, 2)), "subtract": ((-2, 2), (-2, 2)),
    "remainder": ((0.1, 0.9), (1.0, 2.0)),
}


def _scalar_fn(build, shapes):
    """sum(build(params)) as a graph of float64 params of `shapes`."""
    b = GraphBuilder("f")
    ps = [b.param(TensorType(s, F64), f"x{i}") for i, s in enumerate(shapes)]
    y = build(b, *ps)
    return b.build([b.op("reduce", y, kind="sum", dimensions=tuple(range(y.ndim)))])


def _grad_graph(g):
    return check_graph(vjp_graph(g, seed_ones=True))  # params: x...; results: f, grad...


def _hvp_graph(g):
    return check_graph(jvp_graph(_grad_graph(g)))      # params: x..., v...; results: f, grad..., df, Hv...


def _jax_hvp(g, xs, vs):
    f = lambda *a: to_jax(g)(*a)[0]  # noqa: E731
    argn = tuple(range(len(xs)))
    return jax.jvp(jax.grad(f, argnums=argn), tuple(xs), tuple(vs))[1]


def _check_hvp(g, xs, rng):
    n = len(xs)
    vs = [rng.standard_normal(x.shape) for x in xs]
    out = run(_hvp_graph(g), xs + vs)
    hv = out[2 + n:]
    # against finite differences of our gradient graph
    gg = _grad_graph(g)
    h = 1e-6
    gp = run(gg, [x + h * v for x, v in zip(xs, vs)])[1:]
    gm = run(gg, [x - h * v for x, v in zip(xs, vs)])[1:]
    for a, p, m in zip(hv, gp, gm):
        np.testing.assert_allclose(a, (p - m) / (2 * h), rtol=1e-5, atol=1e-6)
    if jax is not None:
        with jax_x64():
            want = _jax_hvp(g, xs, vs)
        for a, w in zip(hv, want):
            np.testing.assert_allclose(a, np.asarray(w), rtol=1e-11, atol=1e-13)
    # vjp of vjp: the cotangent v on the gradient gives H v too (H is symmetric)
    vv = check_graph(vjp_graph(gg, wrt=list(range(n))))
    out2 = run(vv, xs + [np.zeros(())] + vs)
    for a, b in zip(out2[1 + n:], hv):  # results: f, grads..., then H v per input
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("op", sorted(UNARY))
def test_second_order_unary(op):
    rng = np.random.default_rng(1)
    g = _scalar_fn(lambda b, x: b.op("multiply", b.op(op, x), x), [(4,)])
    _check_hvp(g, [rng.uniform(*UNARY[op], (4,))], rng)


@pytest.mark.parametrize("op", sorted(BINARY))
def test_second_order_binary(op):
    rng = np.random.default_rng(2)
    (lo0, hi0), (lo1, hi1) = BINARY[op]
    g = _scalar_fn(lambda b, x, y: b.op("multiply", b.op(op, x, y), b.op(op, x, y)), [(3,), (3,)])
    _check_hvp(g, [rng.uniform(lo0, hi0, (3,)), rng.uniform(lo1, hi1, (3,))], rng)


def test_second_order_structural_ops():
    rng = np.random.default_rng(3)

    def build(b, x, w):
        m = b.op("dot_general", b.op("tanh", x), w, lhs_contracting=(1,), rhs_contracting=(0,))
        p = b.op("pad", m, b.constant(np.float64(0.0)), edge_padding_low=(1, 0), edge_padding_high=(0, -1),
                 interior_padding=(1, 0))
        s = b.op("slice", p, start_indices=(0, 0), limit_indices=(4, 1))
        mx = b.op("reduce", b.op("multiply", p, p), kind="max", dimensions=(1,))
        c = b.op("concatenate", b.op("reshape", s, shape=(4,)), mx, dimension=0)
        return b.op("multiply", c, b.op("sine", c))
    g = _scalar_fn(build, [(2, 3), (3, 2)])
    _check_hvp(g, [rng.standard_normal((2, 3)), rng.standard_normal((3, 2))], rng)


def test_third_order_against_jax():
    rng = np.random.default_rng(4)
    g = _scalar_fn(lambda b, x: b.op("multiply", b.op("tanh", x), b.op("exponential", b.op("sine", x))), [(5,)])
    x, v, w = (rng.standard_normal(5) for _ in range(3))
    hv = _hvp_graph(g)  # (x, v) -> (f, grad, df, Hv)
    t3 = check_graph(vjp_graph(hv, wrt=[0]))  # cotangent w on Hv: d/dx <w, H(x) v>
    out = run(t3, [x, v, np.zeros(()), np.zeros(5), np.zeros(()), w])
    ours = out[-1]
    if jax is not None:
        with jax_x64():
            f = lambda a: to_jax(g)(a)[0]  # noqa: E731
            want = jax.grad(lambda a: jax.numpy.vdot(w, jax.jvp(jax.grad(f), (a,), (v,))[1]))(x)
        np.testing.assert_allclose(ours, np.asarray(want), rtol=1e-11, atol=1e-13)
    # and against finite differences of the Hessian-vector product graph
    h = 1e-5
    d = rng.standard_normal(5)
    fp = run(hv, [x + h * d, v])[3]
    fm = run(hv, [x - h * d, v])[3]
    np.testing.assert_allclose(np.dot(ours, d), np.dot(w, (fp - fm) / (2 * h)), rtol=1e-6)
    # forward over forward over reverse agrees too
    t3f = check_graph(jvp_graph(hv, wrt=[0]))
    out_f = run(t3f, [x, v, d])
    np.testing.assert_allclose(np.dot(w, out_f[-1]), np.dot(ours, d), rtol=1e-11)


@pytest.mark.skipif(jax is None, reason="jax not installed")
def test_mlp_hessian_matches_jax_hessian():
    g = mlp_squared_loss_graph(F64, batch=5, sizes=(3, 4, 2))
    rng = np.random.default_rng(5)
    args = [rng.standard_normal(p.shape) for p in g.params]
    wrt = [1]  # the first weight matrix, 3x4: a 12x12 Hessian
    gg = check_graph(vjp_graph(g, wrt=wrt, seed_ones=True))
    hv = check_graph(jvp_graph(gg, wrt=wrt))
    n = 12
    H = np.empty((n, n))
    for k in range(n):
        e = np.zeros(n)
        e[k] = 1
        H[:, k] = run(hv, args + [e.reshape(3, 4)])[-1].reshape(-1)
    with jax_x64():
        def f(w):
            a = list(args)
            a[1] = w
            return to_jax(g)(*a)[0]
        want = np.asarray(jax.hessian(f)(args[1])).reshape(n, n)
    np.testing.assert_allclose(H, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)


# --- random graphs: <vjp(ct), t> == <ct, jvp(t)> ---------------------------------------------------------

SHAPE = (3, 4)
SMOOTH_UNARY = ["sine", "cosine", "tanh", "logistic", "erf", "negate"]
SMOOTH_BINARY = ["add", "subtract", "multiply", "maximum", "minimum", "atan2"]


def _random_graph(seed, n_ops=12):
    rng = np.random.default_rng(seed)
    b = GraphBuilder(f"rand{seed}")
    vals = [b.param(TensorType(SHAPE, F64), f"x{i}") for i in range(2)]
    vals.append(b.op("broadcast_in_dim", b.param(TensorType((4,), F64), "v"), shape=SHAPE,
                     broadcast_dimensions=(1,)))

    def pick():
        return vals[int(rng.integers(len(vals)))]
    for _ in range(n_ops):
        kind = rng.integers(12)
        if kind == 0:
            v = b.op(SMOOTH_UNARY[rng.integers(len(SMOOTH_UNARY))], pick())
        elif kind == 1:
            v = b.op(SMOOTH_BINARY[rng.integers(len(SMOOTH_BINARY))], pick(), pick())
        elif kind == 2:  # reduce and broadcast back
            r = b.op("reduce", pick(), kind=["sum", "max", "prod"][rng.integers(3)], dimensions=(1,))
            v = b.op("broadcast_in_dim", r, shape=SHAPE, broadcast_dimensions=(0,))
        elif kind == 3:  # (3,4) x (3,4)^T x (3,4)
            a = b.op("dot_general", pick(), pick(), lhs_contracting=(1,), rhs_contracting=(1,))
            v = b.op("dot_general", a, pick(), lhs_contracting=(1,), rhs_contracting=(0,))
        elif kind == 4:
            v = b.op("reshape", b.op("transpose", b.op("reverse", pick(), dimensions=(0,)), permutation=(1, 0)),
                     shape=SHAPE)
        elif kind == 5:  # slice and pad back
            s = b.op("slice", pick(), start_indices=(1, 0), limit_indices=(3, 4))
            v = b.op("pad", s, b.constant(np.float64(0.25)), edge_padding_low=(0, 0), edge_padding_high=(1, 0))
        elif kind == 6:
            x, y = pick(), pick()
            v = b.op("select", b.op("compare", x, y, direction="LT"), b.op("sine", x), y)
        elif kind == 7:
            c = b.op("concatenate", pick(), pick(), dimension=0)
            v = b.op("slice", c, start_indices=(2, 0), limit_indices=(5, 4))
        elif kind == 8:  # gather rows (with a duplicate and a clamped index), scatter-add them back
            idx = b.constant(np.array([2, 0, 2, 5], np.int32))
            rows = b.op("gather", pick(), idx, axis=1)
            v = b.op("scatter", pick(), idx, b.op("tanh", rows), axis=1)
        elif kind == 9:  # a clamped dynamic window written into another value
            i, j = b.constant(np.int32(int(rng.integers(-1, 4)))), b.constant(np.int32(int(rng.integers(-1, 5))))
            w = b.op("dynamic_slice", pick(), i, j, slice_sizes=(2, 2))
            v = b.op("dynamic_update_slice", pick(), b.op("sine", w), i, j)
        elif kind == 10:  # interior and negative padding, cropped back to shape
            p = b.op("pad", pick(), b.constant(np.float64(0.5)), edge_padding_low=(-1, 1), edge_padding_high=(1, 0),
                     interior_padding=(0, 1))
            v = b.op("slice", p, start_indices=(0, 1), limit_indices=(3, 8), strides=(1, 2))
        else:  # x / (1 + y^2), clamped between two values
            y = pick()
            q = b.op("divide", pick(), b.op("add", b.op("multiply", y, y),
                                             b.op("broadcast_in_dim", b.constant(np.float64(1.0)), shape=SHAPE,
                                                  broadcast_dimensions=())))
            v = b.op("clamp", b.op("negate", b.op("abs", pick())), q, b.op("abs", pick()))
        vals.append(v)
    outs = [vals[-1], vals[-2]]
    return b.build(outs)


@pytest.mark.parametrize("seed", range(32))
def test_vjp_is_the_transpose_of_jvp_on_random_graphs(seed):
    g = _random_graph(seed)
    rng = np.random.default_rng(100 + seed)
    args = [rng.standard_normal(p.shape) for p in g.params]
    ts = [rng.standard_normal(p.shape) for p in g.params]
    cts = [rng.standard_normal(r.shape) for r in g.results]
    jv = run(check_graph(jvp_graph(g)), args + ts)[len(g.results):]
    vj = run(check_graph(vjp_graph(g)), args + cts)[len(g.results):]
    lhs = sum(float(np.sum(a * t)) for a, t in zip(vj, ts))
    rhs = sum(float(np.sum(c * j)) for c, j in zip(cts, jv))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)
    # both against finite differences along t
    fd = fd_jvp(g, args, list(range(len(args))), ts)
    fd_dot = sum(float(np.sum(c * f)) for c, f in zip(cts, fd))
    np.testing.assert_allclose(rhs, fd_dot, rtol=1e-5, atol=1e-5 * (1 + abs(fd_dot)))
    # and the second-order graphs are consistent in the same way
    gg = vjp_graph(g)
    ts2 = [rng.standard_normal(p.shape) for p in gg.params]
    cts2 = [rng.standard_normal(r.shape) for r in gg.results]
    jv2 = run(jvp_graph(gg), args + cts + ts2)[len(gg.results):]
    vj2 = run(vjp_graph(gg), args + cts + cts2)[len(gg.results):]
    lhs2 = sum(float(np.sum(a * t)) for a, t in zip(vj2, ts2))
    rhs2 = sum(float(np.sum(c * j)) for c, j in zip(cts2, jv2))
    np.testing.assert_allclose(lhs2, rhs2, rtol=1e-9, atol=1e-9)


@pytest.mark.skipif(jax is None, reason="jax not installed")
@pytest.mark.parametrize("row", [[1.5, 0.0, 2.0, -1.0, 3.0], [0.0, 0.5, 0.0, 2.0, 1.0], [0.7, 1.1, -2.0, 0.9, 1.3]])
def test_prod_hessian_is_exact_at_zeros(row):
    # the product's derivatives of every order, with one, two or no zeros in the group
    b = GraphBuilder("f")
    x = b.param(TensorType((2, 5), F64), "x")
    p = b.op("reduce", x, kind="prod", dimensions=(1,))
    g = b.build([b.op("reduce", b.op("multiply", p, p), kind="sum", dimensions=(0,))])
    x0 = np.array([row, row[::-1]])
    hv = _hvp_graph(g)
    H = np.stack([run(hv, [x0, np.eye(10)[k].reshape(2, 5)])[-1].reshape(-1) for k in range(10)], axis=1)
    with jax_x64():
        want = np.asarray(jax.jit(jax.hessian(lambda a: to_jax(g)(a)[0]))(x0)).reshape(10, 10)
    np.testing.assert_allclose(H, want, rtol=1e-12, atol=1e-12)
