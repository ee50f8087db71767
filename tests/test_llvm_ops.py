"""Shape, index, reduction, contraction and fusion ops on llvm against the reference backend,
plus the registry walk: every op lowers or is listed unsupported with a reason."""

import numpy as np
import pytest

from chainrule.backends import llvm
from chainrule.ir import REGISTRY, GraphBuilder, TensorType
from chainrule.testing import assert_table_complete, sample_array

from test_llvm_util import check_graph, run_both


pytestmark = pytest.mark.usefixtures("private_llvm_cache")  # compiles land in a fresh cache


def test_every_registered_op_lowers_or_is_declared_unsupported():
    assert_table_complete(llvm.lowering_table(), "llvm lowering table", exempt=llvm.UNSUPPORTED)


def arr(rng, shape, dt="float32"):
    return sample_array(rng, shape, dt, edge_fraction=0.1)


@pytest.mark.parametrize("dt", ["float32", "int64", "bool"])
def test_shape_ops(dt):
    rng = np.random.default_rng(0)
    x = arr(rng, (2, 3, 4), dt)
    v = arr(rng, (), dt)
    b = GraphBuilder("shapes")
    p = b.param(TensorType(x.shape, dt), "x")
    pv = b.param(TensorType((), dt), "v")
    res = [
        b.op("broadcast_in_dim", p, shape=(5, 2, 3, 4), broadcast_dimensions=(1, 2, 3)),
        b.op("broadcast_in_dim", b.op("reshape", p, shape=(2, 1, 12)), shape=(2, 7, 12), broadcast_dimensions=(0, 1, 2)),
        b.op("reshape", p, shape=(4, 6)),
        b.op("transpose", p, permutation=(2, 0, 1)),
        b.op("slice", p, start_indices=(0, 1, 1), limit_indices=(2, 3, 4), strides=(1, 1, 2)),
        b.op("reverse", p, dimensions=(0, 2)),
        b.op("pad", p, pv, edge_padding_low=(1, -1, 0), edge_padding_high=(0, 2, -2), interior_padding=(1, 0, 2)),
        b.op("concatenate", p, b.op("reverse", p, dimensions=(1,)), p, dimension=1),
        b.op("broadcast_in_dim", pv, shape=(3, 2), broadcast_dimensions=()),
        b.op("transpose", b.op("slice", p, start_indices=(0, 0, 0), limit_indices=(2, 3, 4), strides=(2, 2, 3)),
             permutation=(1, 2, 0)),
    ]
    if dt != "bool":
        res.append(b.op("iota", shape=(3, 4), dtype=dt, dimension=1))
    check_graph(b.build(res), [x, v])


def test_dynamic_slice_and_update_clamp_indices():
    rng = np.random.default_rng(1)
    x = arr(rng, (5, 6))
    u = arr(rng, (2, 3))
    b = GraphBuilder("dyn")
    p = b.param(TensorType(x.shape, "float32"), "x")
    pu = b.param(TensorType(u.shape, "float32"), "u")
    i = b.param(TensorType((), "int32"), "i")
    j = b.param(TensorType((), "int64"), "j")
    res = [b.op("dynamic_slice", p, i, j, slice_sizes=(2, 3)),
           b.op("dynamic_update_slice", p, pu, i, j),
           b.op("dynamic_update_slice", p, b.op("exponential", pu), j, i),
           b.op("dynamic_slice", b.op("tanh", p), j, i, slice_sizes=(5, 1))]
    g = b.build(res)
    for si, sj in [(0, 0), (2, 1), (-7, 100), (2**31 - 1, -2**62), (4, 5)]:
        check_graph(g, [x, u, np.int32(si), np.int64(sj)], {2: 2, 3: 3})


@pytest.mark.parametrize("idt", ["int32", "int64"])
def test_gather_scatter_clamp_indices(idt):
    rng = np.random.default_rng(2)
    x = arr(rng, (4, 5, 3))
    ind = np.array([[0, 3, -1], [7, 2, 2]], dtype=idt)
    upd0 = arr(rng, (4, 2, 3, 3))
    bind = np.array([[1, 9], [0, 0], [-5, 2], [4, 4]], dtype=idt)
    upd1 = arr(rng, (4, 2, 3))
    b = GraphBuilder("gs")
    p = b.param(TensorType(x.shape, "float32"), "x")
    pi = b.param(TensorType(ind.shape, idt), "ind")
    pu = b.param(TensorType(upd0.shape, "float32"), "u")
    pb = b.param(TensorType(bind.shape, idt), "bind")
    pu1 = b.param(TensorType(upd1.shape, "float32"), "u1")
    res = [b.op("gather", p, pi, axis=1),
           b.op("gather", p, pi, axis=0),
           b.op("gather", p, pb, axis=1, batch_dims=1),
           b.op("scatter", p, pi, pu, axis=1, kind="add"),
           b.op("scatter", p, pi, pu, axis=1, kind="set"),
           b.op("scatter", p, pb, pu1, axis=1, batch_dims=1, kind="add")]
    check_graph(b.build(res), [x, ind, upd0, bind, upd1])


@pytest.mark.parametrize("dt", ["float32", "float64", "int32", "bool"])
def test_reductions(dt):
    rng = np.random.default_rng(3)
    x = arr(rng, (3, 4, 5), dt)
    if dt.startswith("float"):  # positive values: ulp bounds of sums/products are meaningful
        x = rng.uniform(0.5, 1.5, (3, 4, 5)).astype(dt)
    kinds = {"float32": ["sum", "prod", "max", "min"], "float64": ["sum", "prod", "max", "min"],
             "int32": ["sum", "prod", "max", "min", "and", "or"], "bool": ["max", "min", "and", "or"]}[dt]
    b = GraphBuilder("red")
    p = b.param(TensorType(x.shape, dt), "x")
    e = b.param(TensorType((0, 3), dt), "e")
    res, tol = [], {}
    for kind in kinds:
        for dims in [(0, 1, 2), (2,), (1, 2), (0,), (0, 2), (1,), ()]:
            if kind in ("sum", "prod") and dt.startswith("float"):
                tol[len(res)] = 4
            res.append(b.op("reduce", p, kind=kind, dimensions=dims))
        res.append(b.op("reduce", e, kind=kind, dimensions=(0,)))
        res.append(b.op("reduce", e, kind=kind, dimensions=(0, 1)))
    if dt != "bool":
        for d in range(3):
            res.append(b.op("argmax", p, dimension=d))
            res.append(b.op("argmin", p, dimension=d, index_dtype="int32"))
    check_graph(b.build(res), [x, np.zeros((0, 3), dt)], tol)


def test_reductions_propagate_nan_and_inf():
    x = np.array([[1.0, np.nan, 3.0], [np.inf, 2.0, -np.inf], [-0.0, 0.0, 5.0]], dtype=np.float64)
    b = GraphBuilder("rnan")
    p = b.param(TensorType(x.shape, "float64"), "x")
    g = b.build([b.op("reduce", p, kind=k, dimensions=d) for k in ("sum", "prod", "max", "min")
                 for d in [(0,), (1,), (0, 1)]])
    check_graph(g, [x], {i: 1 for i in range(12)})


def test_argmax_nan_and_ties():
    x = np.array([[1.0, np.nan, 3.0, np.nan], [2.0, 2.0, -np.inf, -np.inf], [np.nan, 0, 0, 5]], dtype=np.float32)
    b = GraphBuilder("arg")
    p = b.param(TensorType(x.shape, "float32"), "x")
    g = b.build([b.op("argmax", p, dimension=1), b.op("argmin", p, dimension=1),
                 b.op("argmax", p, dimension=0), b.op("argmin", p, dimension=0)])
    check_graph(g, [x])


def test_float32_sum_accuracy_matches_pairwise():
    """A float32 sum of 2**22 elements is at least as accurate as NumPy's pairwise sum."""
    rng = np.random.default_rng(4)
    n = 1 << 22
    x = (rng.random(n, dtype=np.float32) + np.float32(0.5))
    b = GraphBuilder("acc")
    p = b.param(TensorType(x.shape, "float32"), "x")
    g = b.build([b.op("reduce", p, kind="sum", dimensions=(0,)),
                 b.op("reduce", b.op("reshape", p, shape=(4, n // 4)), kind="sum", dimensions=(1,))])
    got, want = run_both(g, [x])
    exact = np.sum(x.astype(np.float64))
    err_ours = abs(float(got[0]) - exact)
    err_numpy = abs(float(np.sum(x)) - exact)
    assert err_ours <= max(err_numpy, 2 * np.spacing(np.float32(exact))), (err_ours, err_numpy)
    rows = x.reshape(4, -1).astype(np.float64).sum(axis=1)
    assert np.all(np.abs(got[1] - rows) <= 4 * np.spacing(rows.astype(np.float32)))


DOTS = [
    # (lhs shape, rhs shape, attrs)
    ((5, 7), (7, 3), dict(lhs_contracting=(1,), rhs_contracting=(0,))),
    ((7, 5), (7, 3), dict(lhs_contracting=(0,), rhs_contracting=(0,))),
    ((5, 7), (3, 7), dict(lhs_contracting=(1,), rhs_contracting=(1,))),
    ((7, 5), (3, 7), dict(lhs_contracting=(0,), rhs_contracting=(1,))),
    ((2, 5, 7), (2, 7, 3), dict(lhs_batch=(0,), rhs_batch=(0,), lhs_contracting=(2,), rhs_contracting=(1,))),
    ((5, 2, 7), (7, 3, 2), dict(lhs_batch=(1,), rhs_batch=(2,), lhs_contracting=(2,), rhs_contracting=(0,))),
    ((4, 3, 2), (3, 2, 6), dict(lhs_contracting=(1, 2), rhs_contracting=(0, 1))),
    ((5,), (5,), dict(lhs_contracting=(0,), rhs_contracting=(0,))),
    ((3,), (4,), dict()),
    ((3, 0), (0, 4), dict(lhs_contracting=(1,), rhs_contracting=(0,))),
    ((0, 3), (3, 4), dict(lhs_contracting=(1,), rhs_contracting=(0,))),
]


@pytest.mark.parametrize("dt", ["float32", "float64", "int32"])
def test_dot_general_layouts(dt):
    rng = np.random.default_rng(5)
    b = GraphBuilder("dots")
    args, res = [], []
    for k, (ls, rs, attrs) in enumerate(DOTS):
        lhs = b.param(TensorType(ls, dt), f"l{k}")
        rhs = b.param(TensorType(rs, dt), f"r{k}")
        args += [sample_array(rng, ls, dt, edge_fraction=0, low=-3, high=3),
                 sample_array(rng, rs, dt, edge_fraction=0, low=-3, high=3)]
        res.append(b.op("dot_general", lhs, rhs, **attrs))
    g = b.build(res)
    got, want = run_both(g, args)
    for k, (gg, ww) in enumerate(zip(got, want)):
        if dt == "int32":
            np.testing.assert_array_equal(gg, ww, err_msg=str(DOTS[k]))
        else:
            np.testing.assert_allclose(gg, ww, rtol=1e-5 if dt == "float32" else 1e-12, atol=1e-5,
                                       err_msg=str(DOTS[k]))


def _fusion(b, operands, body_fn, kind="loop"):
    """A fusion node whose region applies body_fn to fresh parameters."""
    rb = GraphBuilder("fused")
    ps = [rb.param(v.type, f"a{i}") for i, v in enumerate(operands)]
    region = rb.build(list(body_fn(rb, *ps)))
    node = b.emit("fusion", operands, {"kind": kind}, (region,))
    return node.results


def test_fusion_nodes_compute_their_region():
    rng = np.random.default_rng(6)
    x = arr(rng, (8, 16))
    w = arr(rng, (16,))
    b = GraphBuilder("fus")
    px = b.param(TensorType(x.shape, "float32"), "x")
    pw = b.param(TensorType(w.shape, "float32"), "w")

    def body(rb, a, c):
        t = rb.op("tanh", a)
        cb = rb.op("broadcast_in_dim", c, shape=(8, 16), broadcast_dimensions=(1,))
        y = rb.op("multiply", t, cb)
        z = rb.op("add", y, t)
        s = rb.op("reduce", z, kind="sum", dimensions=(1,))
        mx = rb.op("reduce", y, kind="max", dimensions=(0,))
        return z, rb.op("exponential", y), s, mx

    z, e, s, mx = _fusion(b, [px, pw], body)
    out = b.op("multiply", e, z)
    g = b.build([z, e, s, mx, out])
    check_graph(g, [x, w], {0: 8, 1: 64, 2: 64, 3: 8, 4: 64})  # errors of tanh grow through exp


def test_constants_splat_and_dense_and_results_aliasing_params():
    b = GraphBuilder("consts")
    p = b.param(TensorType((2, 3), "float64"), "x")
    dense = b.constant(np.arange(6.0).reshape(2, 3))
    splat = b.constant(np.full((2, 3), 2.5))
    y = b.op("add", b.op("multiply", p, splat), dense)
    g = b.build([y, p, dense, y, b.op("reduce", dense, kind="sum", dimensions=(0, 1))])
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    got = check_graph(g, [x])
    got[1][0, 0] = 99.0  # results never alias the arguments
    assert x[0, 0] == -1.0
    assert got[0] is not got[3]
    # a large constant (written into the module text by the fast path) with special values
    big = np.random.default_rng(8).standard_normal((20, 30))
    big[0, :4] = [np.nan, -0.0, np.inf, -np.inf]
    b2 = GraphBuilder("bigconst")
    q = b2.param(TensorType((20, 30), "float64"), "q")
    c = b2.constant(big)
    check_graph(b2.build([b2.op("add", q, c), b2.op("reduce", c, kind="max", dimensions=(1,))]), [big.T.T.copy()])


def test_unsupported_region_op_raises_clearly():
    from chainrule.ir import OpDef, register, REGISTRY as R
    if "test_llvm_region_op" not in R:
        register(OpDef("test_llvm_region_op", lambda t, a, r: (t[0],), num_operands=1, num_regions=1))
    try:
        b = GraphBuilder("r")
        p = b.param(TensorType((2,), "float32"), "x")
        rb = GraphBuilder("body")
        q = rb.param(TensorType((2,), "float32"), "y")
        node = b.emit("test_llvm_region_op", [p], {}, (rb.build([q]),))
        with pytest.raises(NotImplementedError, match="test_llvm_region_op"):
            llvm.compile(b.build([node.results[0]]))
    finally:
        R.pop("test_llvm_region_op", None)


def test_dot_read_through_a_transpose_is_folded_and_correct():
    from chainrule.backends.llvm.plan import make_plan
    rng = np.random.default_rng(7)
    b = GraphBuilder("dott")
    x = b.param(TensorType((2, 5, 7), "float64"), "x")
    w = b.param(TensorType((2, 7, 3), "float64"), "w")
    d = b.op("dot_general", x, w, lhs_batch=(0,), rhs_batch=(0,), lhs_contracting=(2,), rhs_contracting=(1,))
    t = b.op("transpose", d, permutation=(0, 2, 1))  # batch, rhs free, lhs free: folded into the GEMM
    u = b.op("transpose", b.op("dot_general", x, w, lhs_batch=(0,), rhs_batch=(0,), lhs_contracting=(2,),
                                rhs_contracting=(1,)), permutation=(2, 1, 0))  # not foldable
    g = b.build([t, u])
    kinds = [k.kind for k in make_plan(g).kernels]
    assert kinds.count("dot_general") == 2 and kinds.count("loop") == 1, kinds
    args = [rng.standard_normal((2, 5, 7)), rng.standard_normal((2, 7, 3))]
    check_graph(g, args, {0: 4, 1: 4})
