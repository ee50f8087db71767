"""Every op's batching rule against an explicit loop over the batch (reference backend).

For each op, a one-node graph is batched with `batch_graph` for many
`in_axes` combinations (each operand unbatched, batched in front, batched
last); the batched graph's result must equal, bit for bit, the unbatched
graph run on each batch element in turn and stacked. Every batched graph
also passes the verifier and round-trips through the text form.
"""

import itertools

import numpy as np
import pytest

from chainrule.backends.reference import evaluate
from chainrule.ir import GraphBuilder, TensorType, verify
from chainrule.ir.opdefs import BINARY_KINDS, COMPARE_DIRECTIONS, REDUCE_KINDS, UNARY_KINDS
from chainrule.passes.batching import BATCH_RULES, BatchingError, batch_graph
from chainrule.testing import assert_roundtrip, assert_same, assert_table_complete, op_graph, sample_array

B = 3  # batch size


def test_every_op_has_a_batching_rule():
    assert_table_complete(BATCH_RULES, "BATCH_RULES")


def loop_oracle(g, in_axes, args, size, out_axes=0):
    """Run `g` on each batch element and stack the results at `out_axes`."""
    per = []
    for i in range(size):
        elem = [a if ax is None else np.asarray(np.take(a, i, axis=ax)) for a, ax in zip(args, in_axes)]
        per.append(evaluate(g, elem))
    return [np.stack([p[j] for p in per], axis=out_axes) if size else None for j in range(len(g.results))]


def check_batching(g, in_axes, args, size=B, rtol=0.0):
    bg = batch_graph(g, in_axes, size)
    verify(bg)
    assert_roundtrip(bg)
    got = evaluate(bg, args)
    want = loop_oracle(g, in_axes, args, size)
    for j, (a, w) in enumerate(zip(got, want)):
        assert_same(a, w, rtol=rtol, what=f"{g.name} in_axes={in_axes} result {j}")
    return bg


def make_args(rng, types, in_axes, gens, size=B):
    out = []
    for k, (t, ax) in enumerate(zip(types, in_axes)):
        shape = list(t.shape)
        if ax is not None:
            shape.insert(ax, size)
        gen = gens.get(k) if gens else None
        out.append(gen(rng, tuple(shape)) if gen else sample_array(rng, shape, t.dtype.np, edge_fraction=0.2))
    return out


def axes_combos(types, positions=("none", "first", "last")):
    """in_axes combinations with at least one batched operand; 'last' is given as -1."""
    choices = []
    for t in types:
        c = []
        for p in positions:
            ax = {"none": None, "first": 0, "last": -1}[p]
            if ax == -1 and t.ndim == 0:
                continue  # same as 0 for a scalar
            c.append(ax)
        choices.append(c)
    for combo in itertools.product(*choices):
        if any(ax is not None for ax in combo):
            yield list(combo)


def normalized(in_axes, types):
    return [None if ax is None else ax % (t.ndim + 1) for ax, t in zip(in_axes, types)]


def run_op_cases(rng, op, types, attrs=None, gens=None, rtol=0.0, regions=()):
    types = [t if isinstance(t, TensorType) else TensorType(*t) for t in types]
    g = op_graph(op, types, attrs, regions)
    n = 0
    for in_axes in axes_combos(types):
        ax = normalized(in_axes, types)
        args = make_args(rng, types, ax, gens)
        check_batching(g, in_axes, args, rtol=rtol)
        n += 1
    assert n > 0


def ints(lo, hi, dt=np.int32):
    return lambda rng, shape: rng.integers(lo, hi, size=shape).astype(dt)


def floats(lo=-3, hi=3, dt=np.float64):
    return lambda rng, shape: rng.uniform(lo, hi, size=shape).astype(dt)


# --- elementwise ------------------------------------------------------------------

def _unary_dtype(kinds):
    return "float64" if "f" in kinds else "int32"


@pytest.mark.parametrize("op", sorted(UNARY_KINDS))
def test_unary(rng, op):
    run_op_cases(rng, op, [((2, 3), _unary_dtype(UNARY_KINDS[op]))])


@pytest.mark.parametrize("op", sorted(BINARY_KINDS))
def test_binary(rng, op):
    dt = "float64" if "f" in BINARY_KINDS[op] else "int32"
    run_op_cases(rng, op, [((2, 3), dt), ((2, 3), dt)])


@pytest.mark.parametrize("direction", COMPARE_DIRECTIONS)
def test_compare(rng, direction):
    gen = ints(-2, 3)
    run_op_cases(rng, "compare", [((2, 3), "int32")] * 2, {"direction": direction}, gens={0: gen, 1: gen})


def test_select_clamp_convert_stop_gradient(rng):
    run_op_cases(rng, "select", [((2, 3), "bool"), ((2, 3), "float32"), ((2, 3), "float32")])
    run_op_cases(rng, "clamp", [((2, 3), "float64")] * 3)
    run_op_cases(rng, "convert", [((2, 3), "float64")], {"dtype": "int32"})
    run_op_cases(rng, "stop_gradient", [((4,), "float64")])
    run_op_cases(rng, "add", [((), "float64"), ((), "float64")])


# --- shapes -------------------------------------------------------------------------

@pytest.mark.parametrize("in_shape,shape,dims", [
    ((3,), (2, 3, 4), (1,)), ((2, 1), (2, 5), (0, 1)), ((), (2, 3), ()), ((3, 4), (3, 2, 4), (0, 2)),
    ((1, 4), (3, 5, 4), (0, 2)),
])
def test_broadcast_in_dim(rng, in_shape, shape, dims):
    run_op_cases(rng, "broadcast_in_dim", [(in_shape, "float64")], {"shape": shape, "broadcast_dimensions": dims})


def test_reshape_transpose_slice_reverse(rng):
    run_op_cases(rng, "reshape", [((2, 3, 4), "float64")], {"shape": (6, 4)})
    run_op_cases(rng, "reshape", [((2, 3), "float64")], {"shape": (6,)})
    run_op_cases(rng, "reshape", [((1,), "int32")], {"shape": ()})
    run_op_cases(rng, "transpose", [((2, 3, 4), "float64")], {"permutation": (2, 0, 1)})
    run_op_cases(rng, "transpose", [((2, 3), "int64")], {"permutation": (1, 0)})
    run_op_cases(rng, "slice", [((5, 6), "float64")],
                 {"start_indices": (1, 0), "limit_indices": (4, 6), "strides": (2, 3)})
    run_op_cases(rng, "slice", [((5, 6), "float64")], {"start_indices": (1, 2), "limit_indices": (3, 6)})
    run_op_cases(rng, "reverse", [((3, 4), "float64")], {"dimensions": (0, 1)})
    run_op_cases(rng, "reverse", [((3, 4), "float64")], {"dimensions": (1,)})


def test_concatenate(rng):
    run_op_cases(rng, "concatenate", [((2, 3), "float64"), ((2, 1), "float64"), ((2, 2), "float64")],
                 {"dimension": 1})
    run_op_cases(rng, "concatenate", [((2,), "int32"), ((3,), "int32")], {"dimension": 0})


@pytest.mark.parametrize("lo,hi,interior", [((1, -1), (0, 2), (1, 0)), ((0, 0), (2, 1), ()), ((-1, 1), (1, -2), (0, 2))])
def test_pad(rng, lo, hi, interior):
    run_op_cases(rng, "pad", [((3, 4), "float64"), ((), "float64")],
                 {"edge_padding_low": lo, "edge_padding_high": hi, "interior_padding": interior})


# --- reductions ---------------------------------------------------------------------

@pytest.mark.parametrize("kind", REDUCE_KINDS)
@pytest.mark.parametrize("dims", [(0, 2), (1,), (), (0, 1, 2)])
def test_reduce(rng, kind, dims):
    dt = "bool" if kind in ("and", "or") else "float64"
    # sums and products of small integers are exact in any order; max/min get the edge values
    gens = {0: ints(-3, 4, np.float64)} if kind in ("sum", "prod") else None
    run_op_cases(rng, "reduce", [((2, 3, 4), dt)], {"kind": kind, "dimensions": dims}, gens=gens)


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@pytest.mark.parametrize("dim", [0, 1])
def test_arg_extremes(rng, op, dim):
    run_op_cases(rng, op, [((3, 4), "float64")], {"dimension": dim, "index_dtype": "int32"},
                 gens={0: ints(-2, 3, np.float64)})  # ties: the first index must win


@pytest.mark.parametrize("lt,rt,attrs", [
    ((3, 4), (4, 5), dict(lhs_contracting=(1,), rhs_contracting=(0,))),
    ((2, 3, 4), (2, 4, 5), dict(lhs_batch=(0,), rhs_batch=(0,), lhs_contracting=(2,), rhs_contracting=(1,))),
    ((4,), (4,), dict(lhs_contracting=(0,), rhs_contracting=(0,))),
    ((3,), (2,), {}),
    ((4, 3, 2), (2, 5, 4), dict(lhs_contracting=(0, 2), rhs_contracting=(2, 0))),
    ((3, 2, 4), (4, 3), dict(lhs_batch=(0,), rhs_batch=(1,), lhs_contracting=(2,), rhs_contracting=(0,))),
])
def test_dot_general(rng, lt, rt, attrs):
    gen = ints(-3, 4, np.float64)  # small integers: sums are exact in any order
    run_op_cases(rng, "dot_general", [(lt, "float64"), (rt, "float64")], attrs, gens={0: gen, 1: gen})


# --- indexing -----------------------------------------------------------------------

@pytest.mark.parametrize("ot,it,axis,bd", [
    ((5, 3), (4,), 0, 0), ((2, 5), (2, 2), 1, 0), ((2, 5, 3), (2, 4), 1, 1), ((2, 3, 5), (2, 3, 2), 2, 2),
    ((4,), (), 0, 0),
])
def test_gather(rng, ot, it, axis, bd):
    n = ot[axis]
    run_op_cases(rng, "gather", [(ot, "float64"), (it, "int32")], {"axis": axis, "batch_dims": bd},
                 gens={1: ints(-2, n + 2)})  # out-of-range indices are clamped


@pytest.mark.parametrize("kind", ["add", "set"])
@pytest.mark.parametrize("ot,it,axis,bd", [((5, 3), (4,), 0, 0), ((2, 5), (2, 2), 1, 0), ((2, 5, 3), (2, 4), 1, 1)])
def test_scatter(rng, kind, ot, it, axis, bd):
    ut = ot[:axis] + it[bd:] + ot[axis + 1:]
    n = ot[axis]
    gen = ints(-3, 4, np.float64)
    run_op_cases(rng, "scatter", [(ot, "float64"), (it, "int32"), (ut, "float64")],
                 {"axis": axis, "batch_dims": bd, "kind": kind},
                 gens={0: gen, 1: ints(-1, n + 1), 2: gen})  # repeated and out-of-range indices


@pytest.mark.parametrize("shape,sizes", [((5, 6), (2, 3)), ((5, 6), (5, 2)), ((4,), (4,)), ((3, 0), (2, 0))])
def test_dynamic_slice(rng, shape, sizes):
    starts = [((), "int32")] * len(shape)
    run_op_cases(rng, "dynamic_slice", [(shape, "float64")] + starts, {"slice_sizes": sizes},
                 gens={k + 1: ints(-2, max(shape) + 2) for k in range(len(shape))})


def test_dynamic_slice_int64_starts(rng):
    run_op_cases(rng, "dynamic_slice", [((6, 4), "float32"), ((), "int64"), ((), "int32")], {"slice_sizes": (3, 2)},
                 gens={1: ints(-2, 8, np.int64), 2: ints(-2, 6)})


@pytest.mark.parametrize("shape,ushape", [((5, 6), (2, 3)), ((5, 6), (5, 2)), ((4,), (4,)), ((3, 4), (0, 2)),
                                          ((4,), (1,))])
def test_dynamic_update_slice(rng, shape, ushape):
    starts = [((), "int32")] * len(shape)
    run_op_cases(rng, "dynamic_update_slice", [(shape, "float64"), (ushape, "float64")] + starts,
                 gens={k + 2: ints(-2, max(shape) + 2) for k in range(len(shape))})


# --- leaves and regions -------------------------------------------------------------

def test_leaves_stay_unbatched_and_results_broadcast(rng):
    b = GraphBuilder("leaves")
    x = b.param(TensorType((3,), "float64"), "x")
    c = b.constant(np.array([1.0, 2.0, 3.0]))
    i = b.op("convert", b.op("iota", shape=(3,), dimension=0, dtype="int32"), dtype="float64")
    g = b.build([b.op("add", b.op("multiply", x, c), i), c, i])
    args = [rng.standard_normal((B, 3))]
    bg = check_batching(g, [0], args)
    kinds = [n.op.name for n in bg.nodes]
    assert kinds.count("iota") == 1 and kinds.count("constant") == 1  # computed once, not per element


def _fusion_graph():
    rb = GraphBuilder("body")
    p, q = rb.param(TensorType((3,), "float64")), rb.param(TensorType((3,), "float64"))
    e = rb.op("exponential", rb.op("multiply", p, q))
    body = rb.build([rb.op("reduce", e, kind="sum", dimensions=(0,)), e])
    return op_graph("fusion", [((3,), "float64"), ((3,), "float64")], {"kind": "reduce"}, regions=(body,))


def test_fusion_is_inlined_and_batched(rng):
    g = _fusion_graph()
    for in_axes in ([0, None], [None, 1], [1, 0]):
        args = make_args(rng, g.param_types, normalized(in_axes, g.param_types), {})
        bg = check_batching(g, in_axes, args)
        assert "fusion" not in [n.op.name for n in bg.nodes]
    bg = batch_graph(g, [None, None], B)  # nothing batched: the fusion stays, results are broadcast
    assert [n.op.name for n in bg.nodes].count("fusion") == 1


def test_empty_batch(rng):
    g = op_graph("add", [((2,), "float64"), ((2,), "float64")])
    bg = batch_graph(g, [0, None], 0)
    (out,) = evaluate(bg, [np.zeros((0, 2)), np.ones(2)])
    assert out.shape == (0, 2)


# --- the pass's interface -------------------------------------------------------------

def test_out_axes_and_unbatched_results(rng):
    b = GraphBuilder("two")
    x = b.param(TensorType((2, 3), "float64"), "x")
    y = b.param(TensorType((4,), "float64"), "y")
    g = b.build([b.op("tanh", x), b.op("negate", y)])
    args = [rng.standard_normal((2, 3, B)), rng.standard_normal(4)]
    bg = batch_graph(g, [2, None], B, out_axes=[-1, None])
    got = evaluate(bg, args)
    assert_same(got[0], np.tanh(args[0]))
    assert_same(got[1], -args[1])
    with pytest.raises(BatchingError, match="varies over the batch"):
        batch_graph(g, [0, 0], B, out_axes=[0, None])


def test_bad_arguments_name_the_problem():
    g = op_graph("negate", [((2,), "float64")])
    with pytest.raises(BatchingError, match="1 parameter.*2 entries"):
        batch_graph(g, [0, 0], B)
    with pytest.raises(BatchingError, match=r"in_axes\[0\] is 2, out of range for a batched value of rank 2"):
        batch_graph(g, [2], B)
    with pytest.raises(BatchingError, match="axis_size"):
        batch_graph(g, [0], -1)


def test_missing_rule_is_named(monkeypatch):
    g = op_graph("negate", [((2,), "float64")])
    monkeypatch.delitem(BATCH_RULES, "negate")
    with pytest.raises(NotImplementedError, match="'negate' is not supported yet"):
        batch_graph(g, [0], B)
    assert str(batch_graph(g, [None], B))  # unbatched nodes need no rule


def test_input_graph_untouched(rng):
    g = _fusion_graph()
    before = str(g)
    batch_graph(g, [0, 0], B)
    assert str(g) == before


@pytest.mark.parametrize("backend", ["jax", "llvm"])
def test_batched_index_ops_run_on_other_backends(rng, backend):
    """The forms the rules emit (gather/scatter batch_dims, the select-based update) lower elsewhere too."""
    from chainrule.backends import BackendUnavailableError, compile
    cases = [
        ("gather", [((2, 5, 3), "float64"), ((2, 4), "int32")], {"axis": 1, "batch_dims": 1}, [0, 0], {1: ints(-2, 7)}),
        ("scatter", [((5, 3), "float64"), ((4,), "int32"), ((4, 3), "float64")], {"axis": 0, "kind": "add"},
         [0, 0, None], {0: floats(), 1: ints(-1, 6), 2: floats()}),
        ("dynamic_slice", [((5, 6), "float64"), ((), "int32"), ((), "int32")], {"slice_sizes": (2, 3)},
         [None, 0, None], {1: ints(-2, 8), 2: ints(-2, 8)}),
        ("dynamic_update_slice", [((5, 6), "float64"), ((2, 3), "float64"), ((), "int32"), ((), "int32")], {},
         [-1, None, 0, 0], {2: ints(-2, 8), 3: ints(-2, 8)}),
    ]
    for op, types, attrs, in_axes, gens in cases:
        types = [TensorType(*t) for t in types]
        bg = batch_graph(op_graph(op, types, attrs), in_axes, B)
        args = make_args(rng, types, normalized(in_axes, types), gens)
        try:
            exe = compile(bg, backend=backend)
        except BackendUnavailableError:
            pytest.skip(f"backend {backend} is not available")
        for got, want in zip(exe(*args), evaluate(bg, args)):
            np.testing.assert_allclose(got, want, rtol=1e-13, err_msg=f"{op} on {backend}")


def test_shared_value_is_broadcast_once(rng):
    b = GraphBuilder("shared")
    x = b.param(TensorType((4,), "float64"), "x")
    w = b.param(TensorType((4,), "float64"), "w")
    acc = x
    for _ in range(20):
        acc = b.op("add", b.op("multiply", acc, w), x)
    g = b.build([acc])
    bg = check_batching(g, [0, None], [rng.standard_normal((B, 4)), rng.standard_normal(4)])
    assert [n.op.name for n in bg.nodes].count("broadcast_in_dim") == 1
    assert len(bg.nodes) == len(g.nodes) + 1


def test_custom_vjp_lin_batches_its_bwd_rule(rng):
    """custom_vjp_lin cannot be evaluated (it exists between linearize and transpose), so check its
    batched form: well typed, and its bwd region is the bwd rule batched, checked against a loop."""
    rb = GraphBuilder("bwd")
    res, ct = rb.param(TensorType((), "float64")), rb.param(TensorType((2,), "float64"))
    bwd = rb.build([rb.op("multiply", ct, rb.op("broadcast_in_dim", res, shape=(2,), broadcast_dimensions=()))])
    g = op_graph("custom_vjp_lin", [((), "float64"), ((2,), "float64")],
                 {"num_residuals": 1, "output_index": 0}, regions=(bwd,))
    for in_axes in ([0, None], [None, 1], [0, 0]):
        bg = batch_graph(g, in_axes, B)
        verify(bg)
        assert_roundtrip(bg)
        (lin,) = [n for n in bg.nodes if n.op.name == "custom_vjp_lin"]
        (region,) = lin.regions
        args = [rng.standard_normal(B), rng.standard_normal((B, 2))]
        got = evaluate(region, args)[0]
        want = np.stack([evaluate(bwd, [np.asarray(args[0][i]), args[1][i]])[0] for i in range(B)])
        assert_same(got, want)
