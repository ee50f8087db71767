"""Type rules: every op rejects wrong operands and attributes with an IRTypeError that
names the op, the operand types it got and what it expected.

The accepted dtypes are written out here from the StableHLO spec, independently
of `ir/opdefs.py`, so a rule that accepts too much or too little fails.
"""

import numpy as np
import pytest

from chainrule.ir import ALL_DTYPES, GraphBuilder, IRTypeError, REGISTRY, TensorType
from chainrule.testing import assert_roundtrip, assert_table_complete, op_graph
from op_tables import ACCEPTS

T = TensorType
f32, f64, i32, i64, b = "float32", "float64", "int32", "int64", "bool"
ALL = [d.name for d in ALL_DTYPES if d.kind != "c"]  # every real dtype (complex: the complex tests)


def region(param_types, result_fn=None):
    rb = GraphBuilder("region")
    ps = [rb.param(t, f"p{i}") for i, t in enumerate(param_types)]
    return rb.build([result_fn(rb, *ps)] if result_fn else ps[:1])


# op -> list of (operand types, attrs, regions, fragment the message must contain)
ERRORS = {
    "constant": [([], {}, (), "attribute 'value' is missing"), ([], {"value": np.array(["a"])}, (), "value")],
    "iota": [([], {"shape": (3,), "dtype": b}, (), "dtype bool"), ([], {"shape": (3,), "dtype": f32, "dimension": 1}, (), "dimension 1"),
             ([], {"shape": (), "dtype": f32}, (), "out of range")],
    "bitcast_convert": [([T((2,), f32)], {"dtype": "int64"}, (), "float32 has 32 bits, int64 has 64"),
                        ([T((2,), b)], {"dtype": "uint8"}, (), "bool is only bitcast to bool")],
    "convert": [([T((2,), f32)], {"dtype": "float8"}, (), "dtype"), ([T((2,), f32), T((2,), f32)], {"dtype": f64}, (), "2 operands")],
    "compare": [([T((2,), f32), T((3,), f32)], {"direction": "LT"}, (), "types differ"),
                ([T((2,), f32), T((2,), f32)], {"direction": "XX"}, (), "direction"),
                ([T((2,), f32), T((2,), f64)], {"direction": "EQ"}, (), "types differ")],
    "select": [([T((2,), i32), T((2,), f32), T((2,), f32)], {}, (), "predicate dtype int32"),
               ([T((3,), b), T((2,), f32), T((2,), f32)], {}, (), "predicate shape"),
               ([T((2,), b), T((2,), f32), T((2,), f64)], {}, (), "branch types differ")],
    "clamp": [([T((), f32), T((2,), f32), T((), f32)], {}, (), "types differ"),
              ([T((2,), b)] * 3, {}, (), "dtype bool")],
    "broadcast_in_dim": [([T((3,), f32)], {"shape": (2, 3), "broadcast_dimensions": ()}, (), "one entry per operand dimension"),
                         ([T((3,), f32)], {"shape": (2, 3), "broadcast_dimensions": (2,)}, (), "out of range"),
                         ([T((2, 3), f32)], {"shape": (3, 2), "broadcast_dimensions": (1, 0)}, (), "not increasing"),
                         ([T((3,), f32)], {"shape": (2, 4), "broadcast_dimensions": (1,)}, (), "cannot broadcast")],
    "reshape": [([T((2, 3), f32)], {"shape": (4,)}, (), "cannot reshape 6 elements"),
                ([T((2, 3), f32)], {"shape": (-6,)}, (), "shape")],
    "transpose": [([T((2, 3), f32)], {"permutation": (0, 0)}, (), "permutation [0, 0]"),
                  ([T((2, 3), f32)], {"permutation": (1,)}, (), "permutation")],
    "slice": [([T((4,), f32)], {"start_indices": (1,), "limit_indices": (5,)}, (), "invalid for size 4"),
              ([T((4,), f32)], {"start_indices": (3,), "limit_indices": (1,)}, (), "start 3, limit 1"),
              ([T((4,), f32)], {"start_indices": (0,), "limit_indices": (4,), "strides": (0,)}, (), "stride 0"),
              ([T((4, 2), f32)], {"start_indices": (0,), "limit_indices": (4,)}, (), "lengths differ")],
    "dynamic_slice": [([T((4,), f32)], {"slice_sizes": (2,)}, (), "got 0 start indices"),
                      ([T((4,), f32), T((), f32)], {"slice_sizes": (2,)}, (), "scalar integer start"),
                      ([T((4,), f32), T((1,), i32)], {"slice_sizes": (2,)}, (), "scalar integer start"),
                      ([T((4,), f32), T((), i32)], {"slice_sizes": (5,)}, (), "slice_sizes [5]")],
    "dynamic_update_slice": [([T((4,), f32), T((5,), f32), T((), i32)], {}, (), "does not fit"),
                             ([T((4,), f32), T((2,), f64), T((), i32)], {}, (), "does not fit"),
                             ([T((4,), f32), T((2,), f32)], {}, (), "got 0 start indices")],
    "concatenate": [([T((2,), f32), T((3,), f32)], {"dimension": 1}, (), "dimension 1 out of range"),
                    ([T((2, 3), f32), T((2, 4), f32)], {"dimension": 0}, (), "disagree"),
                    ([T((2,), f32), T((2,), f64)], {"dimension": 0}, (), "disagree"),
                    ([], {"dimension": 0}, (), "at least 1")],
    "pad": [([T((3,), f32), T((1,), f32)], {"edge_padding_low": (0,), "edge_padding_high": (0,)}, (), "not a scalar"),
            ([T((3,), f32), T((), f64)], {"edge_padding_low": (0,), "edge_padding_high": (0,)}, (), "not a scalar"),
            ([T((3,), f32), T((), f32)], {"edge_padding_low": (0,), "edge_padding_high": (0,), "interior_padding": (-1,)}, (), "negative"),
            ([T((3,), f32), T((), f32)], {"edge_padding_low": (-3,), "edge_padding_high": (-1,)}, (), "removes more"),
            ([T((3,), f32), T((), f32)], {"edge_padding_low": (0, 0), "edge_padding_high": (0,)}, (), "differ from the rank")],
    "reverse": [([T((3,), f32)], {"dimensions": (1,)}, (), "out of range"), ([T((3, 2), f32)], {"dimensions": (0, 0)}, (), "repeat")],
    "reduce": [([T((2, 3), f32)], {"kind": "sum", "dimensions": (1, 0)}, (), "not sorted"),
               ([T((2, 3), f32)], {"kind": "sum", "dimensions": (2,)}, (), "out of range"),
               ([T((2,), b)], {"kind": "sum", "dimensions": (0,)}, (), "dtype bool"),
               ([T((2,), f32)], {"kind": "and", "dimensions": (0,)}, (), "dtype float32"),
               ([T((2,), f32)], {"kind": "mean", "dimensions": (0,)}, (), "kind")],
    "argmax": [([T((2, 0), f32)], {"dimension": 1}, (), "is empty"), ([T((2,), f32)], {"dimension": 0, "index_dtype": f32}, (), "index_dtype"),
               ([T((2,), b)], {"dimension": 0}, (), "dtype bool"), ([T((2,), f32)], {"dimension": 1}, (), "out of range")],
    "argmin": [([T((0,), i32)], {"dimension": 0}, (), "is empty"), ([T((2,), f32)], {}, (), "'dimension' is missing")],
    "dot_general": [([T((2, 3), f32), T((3, 4), f64)], {"lhs_contracting": (1,), "rhs_contracting": (0,)}, (), "dtypes differ"),
                    ([T((2, 3), f32), T((4, 4), f32)], {"lhs_contracting": (1,), "rhs_contracting": (0,)}, (), "does not match"),
                    ([T((2, 3), f32), T((3, 4), f32)], {"lhs_contracting": (1,), "rhs_contracting": ()}, (), "counts differ"),
                    ([T((2, 3), f32), T((3, 4), f32)], {"lhs_contracting": (2,), "rhs_contracting": (0,)}, (), "out of range"),
                    ([T((2,), b), T((2,), b)], {}, (), "dtype bool")],
    "gather": [([T((4,), f32), T((2,), f32)], {"axis": 0}, (), "indices dtype float32"),
               ([T((4,), f32), T((2,), i32)], {"axis": 1}, (), "axis 1"),
               ([T((2, 4), f32), T((3, 1), i32)], {"axis": 1, "batch_dims": 1}, (), "batch dimensions"),
               ([T((0,), f32), T((2,), i32)], {"axis": 0}, (), "is empty")],
    "scatter": [([T((4,), f32), T((2,), i32), T((3,), f32)], {"axis": 0}, (), "updates type f32[3]"),
                ([T((4,), f32), T((2,), i32), T((2,), f64)], {"axis": 0}, (), "updates type"),
                ([T((0,), f32), T((2,), i32), T((2,), f32)], {"axis": 0}, (), "is empty"),
                ([T((4,), f32), T((2,), i32), T((2,), f32)], {"axis": 0, "kind": "mul"}, (), "kind")],
    "fusion": [([T((2,), f32)], {}, (region([T((3,), f32)]),), "parameters (f32[3]) do not match"),
               ([T((2,), f32)], {}, (), "got 0 regions")],
    "stop_gradient": [([T((2,), f32), T((2,), f32)], {}, (), "got 2 operands")],
}

# dtypes each elementwise op accepts, from the StableHLO spec (tests/op_tables.py)
UNARY_ACCEPTS = {op: list(ds) for op, ds in ACCEPTS.items() if REGISTRY[op].num_operands == 1}
BINARY_ACCEPTS = {op: list(ds) for op, ds in ACCEPTS.items() if REGISTRY[op].num_operands == 2}
for _op, _accepts in list(UNARY_ACCEPTS.items()) + list(BINARY_ACCEPTS.items()):
    _n = 1 if _op in UNARY_ACCEPTS else 2
    _bad = [d for d in ALL if d not in _accepts]
    ERRORS.setdefault(_op, []).extend([([T((2,), d)] * _n, {}, (), f"dtype {d} is not supported") for d in _bad])
    ERRORS[_op].append(([T((2,), _accepts[0])] * (_n + 1), {}, (), f"got {_n + 1} operands"))
    if _n == 2:
        ERRORS[_op].append(([T((2,), _accepts[0]), T((1,), _accepts[0])], {}, (), "types differ"))

# linear algebra (more cases in test_linalg_ops.py)
ERRORS["cholesky"] = [([T((3, 4), f64)], {}, (), "square matrices"), ([T((3, 3), i32)], {}, (), "dtype int32")]
ERRORS["triangular_solve"] = [([T((3, 3), f64), T((4, 2), f64)], {"left_side": True}, (), "b has 4 rows"),
                              ([T((2, 3, 3), f64), T((3, 3, 2), f64)], {"left_side": True}, (), "batch dimensions")]
ERRORS["lu"] = [([T((3,), f64)], {}, (), "rank 1")]
ERRORS["qr"] = [([T((3, 2), i64)], {}, (), "dtype int64")]
ERRORS["eigh"] = [([T((2, 3), f32)], {}, (), "2x3")]
ERRORS["eig"] = [([T((2, 3), f32)], {}, (), "square matrices"), ([T((3, 3), i32)], {}, (), "dtype int32")]
ERRORS["svd"] = [([T((3,), f32)], {}, (), "rank 1")]
ERRORS["lu_pivots_to_permutation"] = [([T((3,), i32)], {"permutation_size": 2}, (), "permutation_size=2 < 3")]
ERRORS["sort"] = [([T((3,), f32), T((4,), f32)], {"dimension": 0}, (), "shape"),
                  ([T((3,), f32)], {"dimension": 1}, (), "dimension 1 out of range"),
                  ([T((), f32)], {"dimension": 0}, (), "scalar"),
                  ([T((3,), f32)], {"dimension": 0, "num_keys": 2}, (), "num_keys")]

# control flow (more cases in test_control_flow_ir.py)
_ID = region([T((), f64)])
ERRORS["cond"] = [([T((), f64), T((), f64)], {}, (_ID, _ID), "predicate has type f64[]")]
ERRORS["case"] = [([T((), i64), T((), f64)], {}, (_ID, _ID), "index has type i64[]")]
ERRORS["while"] = [([T((), f64)], {}, (_ID, _ID), "cond returns (f64[])")]
ERRORS["scan"] = [([T((), f64), T((2,), f64)], {"num_carry": 1, "length": 3}, (region([T((), f64)] * 2),),
                   "length=3")]

# convolution and windows (more cases in test_conv.py and test_reduce_window.py)
_CONV = {"lhs_spec": (0, 1, 2), "rhs_spec": (0, 1, 2), "out_spec": (0, 1, 2)}
ERRORS["convolution"] = [
    ([T((2, 3, 5), f32), T((4, 3, 2), f64)], _CONV, (), "dtypes differ"),
    ([T((2, 3, 5), f32), T((4, 3, 2), f32)], {**_CONV, "window_strides": (0,)}, (), "window_strides"),
    ([T((2, 3, 5), f32), T((4, 3, 2), f32)], {**_CONV, "lhs_spec": (0, 0, 2)}, (), "not a permutation"),
    ([T((2, 3, 5), f32), T((4, 3, 2), f32)], {**_CONV, "feature_group_count": 3}, (), "feature_group_count=3"),
    ([T((2, 3, 5), f32), T((4, 3, 2), f32)], {**_CONV, "padding": ((-6, 0),)}, (), "crops no more"),
    ([T((2, 3, 5), b), T((4, 3, 2), b)], _CONV, (), "dtype bool"),
]
_WIN = {"kind": "max", "window_dimensions": (2, 2)}
ERRORS["reduce_window"] = [
    ([T((3, 4), f32)], {"kind": "max", "window_dimensions": (2,)}, (), "window_dimensions=[2]"),
    ([T((3, 4), f32)], {**_WIN, "window_strides": (1, 0)}, (), "window_strides"),
    ([T((3, 4), f32)], {**_WIN, "padding": ((0, 0),)}, (), "padding"),
    ([T((3, 4), b)], _WIN, (), "dtype bool"),
]
ERRORS["select_and_gather_add"] = [([T((3, 4), f32), T((3, 4), f64)], _WIN, (), "types differ"),
                                   ([T((3, 4), f32), T((3, 4), f32)], {**_WIN, "kind": "sum"}, (), "kind")]
ERRORS["select_and_scatter_add"] = [([T((3, 4), f32), T((3, 4), f32)], _WIN, (), "source type f32[3,4]"),
                                    ([T((2, 3), i32), T((3, 4), i32)], _WIN, (), "source type")]

# custom derivatives
_F2 = T((2,), f32)
_SIN = region([_F2], lambda rb, a: rb.op("sine", a))
ERRORS["custom_jvp_call"] = [
    ([_F2], {}, (_SIN, _SIN), "jvp rule (primals, tangents) parameters (f32[2]) do not match"),
    ([T((3,), f32)], {}, (_SIN, region([_F2, _F2])), "primal function parameters (f32[2]) do not match"),
    ([_F2], {}, (_SIN, region([_F2, _F2])), "jvp rule returns (f32[2])"),
]
ERRORS["custom_vjp_call"] = [
    ([_F2], {}, (_SIN, region([T((), f32)]), region([_F2])), "fwd rule parameters (f32[]) do not match"),
    ([_F2], {}, (_SIN, region([_F2], lambda rb, a: rb.op("convert", a, dtype=f64)), region([_F2])),
     "fwd rule outputs differ"),
    ([_F2], {}, (_SIN, _SIN, region([_F2], lambda rb, g: rb.op("convert", g, dtype=f64))), "bwd rule returns (f64[2])"),
]
# checkpointing (more cases in test_checkpoint.py)
ERRORS["remat"] = [
    ([T((3,), f32)], {}, (_SIN,), "checkpointed function parameters (f32[2]) do not match"),
    ([_F2], {"policy": "sometimes"}, (_SIN,), "policy='sometimes' is invalid"),
]
# fft (more cases in test_fft_ops.py)
ERRORS["fft"] = [
    ([T((8,), f32)], {"fft_type": "FFT", "fft_length": (8,)}, (), "FFT operand dtype float32"),
    ([T((8,), "complex64")], {"fft_type": "RFFT", "fft_length": (8,)}, (), "RFFT operand dtype complex64"),
    ([T((8,), "complex64")], {"fft_type": "FFT", "fft_length": (4,)}, (), "do not fit fft_length"),
    ([T((2, 5), "complex64")], {"fft_type": "IRFFT", "fft_length": (2, 10)}, (), "trailing dimensions [2, 6]"),
    ([T((2, 2, 2, 2), "complex64")], {"fft_type": "FFT", "fft_length": (2, 2, 2, 2)}, (), "1 to 3"),
    ([T((8,), "complex64")], {"fft_type": "DCT", "fft_length": (8,)}, (), "fft_type='DCT' is invalid"),
]
ERRORS["custom_vjp_lin"] = [
    ([_F2, _F2], {"num_residuals": 1, "output_index": 0}, (region([T((), f32), _F2]),), "operands do not match the bwd rule"),
    ([_F2, _F2], {"num_residuals": 1, "output_index": 3}, (region([_F2, _F2], lambda rb, r, g: rb.op("multiply", r, g)),),
     "output_index 3 out of range"),
]


def test_every_op_has_type_error_cases():
    assert_table_complete(ERRORS, "type-error cases")


CASES = [(op, k, case) for op, cases in sorted(ERRORS.items()) for k, case in enumerate(cases)]


@pytest.mark.parametrize("op,k,case", CASES, ids=[f"{op}-{k}" for op, k, _ in CASES])
def test_type_error_names_op_types_and_expectation(op, k, case):
    types, attrs, regions, fragment = case
    with pytest.raises(IRTypeError) as info:
        op_graph(op, types, attrs, regions)
    msg = str(info.value)
    assert msg.startswith(f"{op}: "), msg
    assert fragment in msg, f"{fragment!r} not in {msg!r}"
    assert "expected" in msg, msg
    if types:
        assert "operand types: " + ", ".join(map(str, types)) in msg, msg
    else:
        assert "no operands" in msg
    assert info.value.op == op and info.value.operand_types == tuple(types)


@pytest.mark.parametrize("op", sorted(UNARY_ACCEPTS))
def test_unary_accepts_exactly_its_dtypes(op):
    for d in ALL:
        shape = (2, 0, 3)
        if d in UNARY_ACCEPTS[op]:
            g = op_graph(op, [T(shape, d)])
            want = b if op == "is_finite" else d
            assert g.result_types == (T(shape, want),)
            assert_roundtrip(g)
        else:
            with pytest.raises(IRTypeError):
                op_graph(op, [T(shape, d)])


@pytest.mark.parametrize("op", sorted(BINARY_ACCEPTS))
def test_binary_accepts_exactly_its_dtypes(op):
    for d in ALL:
        if d in BINARY_ACCEPTS[op]:
            g = op_graph(op, [T((), d), T((), d)])
            want = {f32: "complex64", f64: "complex128"}[d] if op == "complex" else d
            assert g.result_types == (T((), want),)
            assert_roundtrip(g)
        else:
            with pytest.raises(IRTypeError):
                op_graph(op, [T((), d), T((), d)])


RESULT_TYPES = [  # op, operand types, attrs, the result type StableHLO gives
    ("compare", [T((2, 3), i64)] * 2, {"direction": "GE"}, T((2, 3), b)),
    ("convert", [T((4,), f32)], {"dtype": "i32"}, T((4,), i32)),
    ("broadcast_in_dim", [T((1, 3), f32)], {"shape": (5, 2, 3), "broadcast_dimensions": (1, 2)}, T((5, 2, 3), f32)),
    ("slice", [T((10, 4), f32)], {"start_indices": (1, 0), "limit_indices": (10, 4), "strides": (3, 5)}, T((3, 1), f32)),
    ("pad", [T((3, 0), f32), T((), f32)], {"edge_padding_low": (-1, 2), "edge_padding_high": (0, 1), "interior_padding": (2, 4)}, T((6, 3), f32)),
    ("concatenate", [T((2, 3), i32), T((2, 0), i32), T((2, 1), i32)], {"dimension": 1}, T((2, 4), i32)),
    ("reduce", [T((2, 3, 4), f64)], {"kind": "max", "dimensions": (0, 2)}, T((3,), f64)),
    ("argmin", [T((2, 3), f32)], {"dimension": 1, "index_dtype": i32}, T((2,), i32)),
    ("dot_general", [T((5, 2, 3), f32), T((3, 5, 7), f32)], {"lhs_batch": (0,), "rhs_batch": (1,), "lhs_contracting": (2,), "rhs_contracting": (0,)}, T((5, 2, 7), f32)),
    ("gather", [T((2, 5, 3), f32), T((2, 4, 6), i64)], {"axis": 1, "batch_dims": 1}, T((2, 4, 6, 3), f32)),
    ("dynamic_slice", [T((4, 5), f32), T((), i32), T((), i64)], {"slice_sizes": (2, 0)}, T((2, 0), f32)),
    ("transpose", [T((2, 3, 4), b)], {"permutation": (2, 0, 1)}, T((4, 2, 3), b)),
    ("iota", [], {"shape": (2, 3), "dtype": f64, "dimension": 1}, T((2, 3), f64)),
]


@pytest.mark.parametrize("op,types,attrs,want", RESULT_TYPES, ids=[r[0] for r in RESULT_TYPES])
def test_result_types(op, types, attrs, want):
    g = op_graph(op, types, attrs)
    assert g.result_types == (want,)
    assert_roundtrip(g)


def test_attribute_errors_name_the_attribute():
    with pytest.raises(IRTypeError, match=r"unknown attribute\(s\) bogus"):
        op_graph("add", [T((2,), f32)] * 2, {"bogus": 1})
    with pytest.raises(IRTypeError, match=r"attribute dimension=1.5 is invalid.*expected an integer"):
        op_graph("concatenate", [T((2,), f32)], {"dimension": 1.5})
    with pytest.raises(IRTypeError, match=r"attribute dimensions=True is invalid"):
        op_graph("reverse", [T((2,), f32)], {"dimensions": True})


def test_every_registered_op_names_itself_in_errors():
    """The arity check fires for every fixed-arity op with the op's name."""
    for name, op in sorted(REGISTRY.items()):
        if op.num_operands is None:
            continue
        types = [T((), f32)] * (op.num_operands + 1)
        with pytest.raises(IRTypeError) as info:
            op.result_types(types, None)
        assert str(info.value).startswith(name + ":")

# shardings and collectives (more cases in test_sharding_ir.py)
_MESH = (("d", 2),)
ERRORS["sharding_constraint"] = [
    ([_F2], {"mesh": _MESH, "spec": ("e",)}, (), "names 'e', not an axis of the mesh"),
    ([_F2], {"mesh": (("d", 0),), "spec": ()}, (), "mesh=(('d', 0),) is invalid"),
]
ERRORS["shard_map"] = [
    ([_F2], {"mesh": _MESH, "in_specs": (("d",),), "out_specs": (("d",),)}, (_SIN,), "region parameters (f32[2])"),
    ([T((3,), f32)], {"mesh": _MESH, "in_specs": (("d",),), "out_specs": ()}, (region([T((1,), f32)]),),
     "does not split over 2 devices"),
]
for _op in ("psum", "pmax", "pmin"):
    ERRORS[_op] = [([_F2], {"axes": ()}, (), "axes=() is invalid")]
ERRORS["all_gather"] = [([_F2], {"axes": ("d",), "axis_size": 2, "dimension": 2, "tiled": True}, (),
                         "dimension=2 out of range")]
ERRORS["psum_scatter"] = [([T((3,), f32)], {"axes": ("d",), "axis_size": 2, "tiled": True}, (),
                           "does not split 2 ways")]
ERRORS["all_to_all"] = [([T((3,), f32)], {"axes": ("d",), "axis_size": 2, "split_axis": 0, "concat_axis": 0}, (),
                         "does not split 2 ways")]
ERRORS["ppermute"] = [([_F2], {"axes": ("d",), "perm": ((0, 1), (1, 1))}, (), "perm=((0, 1), (1, 1)) is invalid")]
ERRORS["axis_index"] = [([], {"axes": ("d", "d")}, (), "axes=('d', 'd') is invalid")]
