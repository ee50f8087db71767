"""The shapes the optimizer rewrites, as makers for the pass tests (GenConfig.pass_patterns).

Special-constant splats, double negations, transposes of transposes, full
slices, selects on constant predicates, reductions and dots fusion must not
cross: `PASS_PATTERNS` are drawn by the generator in place of an op's maker
when `GenConfig.pass_patterns` says so (generator.pass_test_config()).
"""

from __future__ import annotations

import numpy as np

from ..ir import TensorType, Value
from ..ir.dtypes import bool_

# --- patterns the optimizer looks for (GenConfig.pass_patterns) ---------------------------------

SPECIAL_FLOATS = (0.0, -0.0, 1.0, -1.0, 2.0, 0.5, -0.5, 4.0, 3.0, float("nan"), float("inf"), float("-inf"))
SPECIAL_INTS = (0, 1, -1, 2, 3)
# Exponents whose power rewrites are bit-exact in the reference (see passes/simplify.py for 1, 2, -1).
SAFE_EXPONENTS = (0.0, 3.0, 1.5, -2.0)
FLOAT_BINARY = ("add", "subtract", "multiply", "divide", "maximum", "minimum", "power", "atan2", "remainder")
INT_BINARY = ("add", "subtract", "multiply", "maximum", "minimum", "and", "or", "xor")


def _one(results):
    return results[0]


def _splat(gen, t: TensorType, scalar) -> Value:
    """`scalar` filling type `t`: a broadcast scalar constant, sometimes a dense literal."""
    c = gen.b.constant(np.asarray(scalar, dtype=t.dtype.np).reshape(()))
    if t.shape == ():
        return c
    if gen.rnd.random() < 0.25:
        return gen.b.constant(np.full(t.shape, scalar, dtype=t.dtype.np))
    return _one(gen.emit("broadcast_in_dim", [c], {"shape": t.shape, "broadcast_dimensions": ()}))


def _special(gen, t: TensorType) -> Value:
    return _splat(gen, t, gen.rnd.choice(SPECIAL_FLOATS if t.dtype.is_float else SPECIAL_INTS))


def _float(gen, pred=lambda v: True, exact=False) -> Value:
    return gen.operand("f", exact, pred)


def _same_type(gen, x, exact=False) -> Value:
    return gen.like(x.type, exact)


def _p_special_operand(gen, op=None):  # x op c, c op x with c a special constant (or x op y)
    x = _float(gen)
    op = gen.rnd.choice(FLOAT_BINARY)
    if op == "power":
        y = _splat(gen, x.type, gen.rnd.choice(SAFE_EXPONENTS))
    else:
        y = _same_type(gen, x) if gen.rnd.random() < 0.5 else _special(gen, x.type)
    return gen.emit(op, [x, y] if gen.rnd.random() < 0.67 else [y, x], {})


def _p_scale(gen, op=None):  # x * {1, -1, 0.5, 2}, x / {1, -1, 2, 0.25, 3}, x + ±0, ±0 - x
    x = _float(gen)
    op, consts = gen.rnd.choice((("multiply", (1.0, -1.0, 0.5, 2.0)), ("divide", (1.0, -1.0, 2.0, 0.25, 3.0)),
                                 ("add", (0.0, -0.0)), ("subtract", (0.0, -0.0))))
    c = _splat(gen, x.type, gen.rnd.choice(consts))
    return gen.emit(op, [c, x] if op == "subtract" else [x, c], {})


def _p_divide_negations(gen, op=None):  # (-x) / (-y)
    x = _float(gen)
    y = _same_type(gen, x)
    return gen.emit("divide", [_one(gen.emit("negate", [x], {})), _one(gen.emit("negate", [y], {}))], {})


def _p_double_negation(gen, op=None):  # -(-x)
    return gen.emit("negate", [_one(gen.emit("negate", [_float(gen)], {}))], {})


def _p_transpose_twice(gen, op=None):
    x = _float(gen, lambda v: v.ndim >= 2)
    p = tuple(reversed(range(x.ndim)))
    return gen.emit("transpose", [_one(gen.emit("transpose", [x], {"permutation": p}))], {"permutation": p})


def _p_reshape_twice(gen, op=None):
    x = _float(gen)
    flat = _one(gen.emit("reshape", [x], {"shape": (x.type.size,)}))
    return gen.emit("reshape", [flat], {"shape": x.shape})


def _p_convert_same(gen, op=None):  # convert to the same dtype, or through float64 and back
    x = _float(gen)
    if gen.rnd.random() < 0.5:
        return gen.emit("convert", [x], {"dtype": x.dtype})
    wide = _one(gen.emit("convert", [x], {"dtype": "float64"}))
    return gen.emit("convert", [wide], {"dtype": x.dtype})


def _p_full_slice(gen, op=None):
    x = _float(gen)
    return gen.emit("slice", [x], {"start_indices": (0,) * x.ndim, "limit_indices": x.shape,
                                   "strides": (1,) * x.ndim})


def _p_empty_reduce(gen, op=None):
    return gen.emit("reduce", [_float(gen)], {"kind": gen.rnd.choice(("sum", "max")), "dimensions": ()})


def _p_select_compare(gen, op=None):  # select(x < y, x, y), select(splat bool, x, y), select(not not not p, x, y)
    x = _float(gen, exact=True)
    y = _same_type(gen, x, exact=True)
    k = gen.rnd.randrange(3)
    if k == 1:
        return gen.emit("select", [_splat(gen, x.type.with_dtype(bool_), gen.rnd.random() < 0.5), x, y], {})
    p = _one(gen.emit("compare", [x, y], {"direction": gen.rnd.choice(("LT", "EQ", "GE", "NE"))}))
    if k == 2:
        for _ in range(3):
            p = _one(gen.emit("not", [p], {}))
    return gen.emit("select", [p, x, y], {})


def _p_slice_twice(gen, op=None):
    x = _float(gen, lambda v: v.ndim >= 1 and v.shape[-1] >= 3)
    n = x.ndim
    s1 = _one(gen.emit("slice", [x], {"start_indices": (0,) * (n - 1) + (1,), "limit_indices": x.shape,
                                      "strides": (1,) * n}))
    return gen.emit("slice", [s1], {"start_indices": (0,) * n, "limit_indices": s1.shape,
                                    "strides": (1,) * (n - 1) + (2,)})


def _p_reduce_broadcast(gen, op=None):
    x = _float(gen, lambda v: v.ndim >= 1)
    big = _one(gen.emit("broadcast_in_dim", [x], {"shape": (2,) + x.shape,
                                                 "broadcast_dimensions": tuple(range(1, x.ndim + 1))}))
    return gen.emit("reduce", [big], {"kind": gen.rnd.choice(("sum", "max", "min")), "dimensions": (0,)})


def _p_trivial_moves(gen, op=None):  # reverse of size-1 dimensions, one-operand concatenate, zero padding, constant slices
    x = _float(gen)
    k = gen.rnd.randrange(3)
    if k == 0:
        y = _one(gen.emit("concatenate", [x], {"dimension": 0})) if x.ndim else x
        return gen.emit("reverse", [y], {"dimensions": tuple(d for d in range(x.ndim) if x.shape[d] == 1)})
    if k == 1:
        zero = gen.b.constant(np.zeros((), x.dtype.np))
        return gen.emit("pad", [x, zero], {"edge_padding_low": (0,) * x.ndim, "edge_padding_high": (0,) * x.ndim})
    starts = [gen.b.constant(np.int32(gen.rnd.randrange(3))) for _ in range(x.ndim)]
    return gen.emit("dynamic_slice", [x, *starts], {"slice_sizes": x.shape})


def _p_constant_reduce(gen, op=None):  # sum(exp(a dense special constant)): folding
    dt = gen.dtype("f")
    big = gen.b.constant(np.full((4, 5), gen.rnd.choice(SPECIAL_FLOATS), dtype=dt.np))
    return gen.emit("reduce", [_one(gen.emit("exponential", [big], {}))], {"kind": "sum", "dimensions": (0, 1)})


def _p_repeated(gen, op=None):  # op(x, y) - op(y, x): CSE of commuted operands
    x = _float(gen)
    y = _same_type(gen, x)
    op = gen.rnd.choice(("add", "multiply", "maximum"))
    return gen.emit("subtract", [_one(gen.emit(op, [x, y], {})), _one(gen.emit(op, [y, x], {}))], {})


def _p_reduce_back(gen, op=None):  # x - broadcast(reduce(x)): softmax-like, fusion must not make a cycle
    x = _float(gen, lambda v: v.ndim >= 1)
    dims = tuple(d for d in range(x.ndim) if gen.rnd.random() < 0.5) or (0,)
    r = _one(gen.emit("reduce", [x], {"kind": gen.rnd.choice(("sum", "max", "min", "prod")), "dimensions": dims}))
    keep = tuple(d for d in range(x.ndim) if d not in dims)
    back = _one(gen.emit("broadcast_in_dim", [r], {"shape": x.shape, "broadcast_dimensions": keep}))
    return gen.emit("subtract", [x, back], {})


def _p_broadcast_twice(gen, op=None):
    x = _float(gen, lambda v: v.ndim == 1)
    y = _one(gen.emit("broadcast_in_dim", [x], {"shape": (2, x.shape[0]), "broadcast_dimensions": (1,)}))
    return gen.emit("broadcast_in_dim", [y], {"shape": (2, 2, x.shape[0]), "broadcast_dimensions": (0, 2)})


def _p_dot_transposed(gen, op=None):  # x @ x.T: fusion must not cross a dot
    x = _float(gen, lambda v: v.ndim == 2)
    xt = _one(gen.emit("transpose", [x], {"permutation": (1, 0)}))
    return gen.emit("dot_general", [x, xt], {"lhs_contracting": (1,), "rhs_contracting": (0,)})


def _p_integer(gen, op=None):  # i op c; then r == r, r - r or r * c
    i = gen.operand("i")
    op = gen.rnd.choice(INT_BINARY)
    y = _same_type(gen, i) if gen.rnd.random() < 0.5 else _special(gen, i.type)
    r = _one(gen.emit(op, [i, y], {}))
    k = gen.rnd.randrange(4)
    if k == 0:
        return gen.emit("compare", [r, r], {"direction": gen.rnd.choice(("EQ", "LT", "GE"))})
    if k == 1:
        return gen.emit("subtract", [r, r], {})
    if k == 2:
        return gen.emit("multiply", [r, _special(gen, i.type)], {})
    return (r,)


PASS_PATTERNS = (_p_special_operand, _p_special_operand, _p_scale, _p_divide_negations, _p_double_negation,
                 _p_transpose_twice, _p_reshape_twice, _p_convert_same, _p_full_slice, _p_empty_reduce,
                 _p_select_compare, _p_slice_twice, _p_reduce_broadcast, _p_trivial_moves, _p_constant_reduce,
                 _p_repeated, _p_reduce_back, _p_broadcast_twice, _p_dot_transposed, _p_integer)

# The ops the pass tests' graphs are drawn from besides the patterns: elementwise math, the data
# movement the simplifier rewrites, reductions and dots fusion must not cross.
PASS_TEST_OPS = ("negate", "abs", "sign", "exponential", "exponential_minus_one", "log", "log_plus_one", "sqrt",
                 "rsqrt", "sine", "cosine", "tanh", "logistic", "floor", "ceil", "round_nearest_even", "is_finite",
                 *FLOAT_BINARY, "and", "or", "xor", "not", "compare", "select", "convert", "broadcast_in_dim",
                 "reshape", "transpose", "slice", "dynamic_slice", "concatenate", "pad", "reverse", "reduce",
                 "dot_general", "constant")


