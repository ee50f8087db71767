"""The tests' per-op tables, as `RuleTable`s: the registry test checks them like the package's own.

Each table says which ops it must cover (by trait), so adding an op that a
table needs fails `tests/test_registry.py` with the table's name, instead of
leaving the op silently untested. Lists of op names the tests iterate over
are derived from the registry and the traits, not written out.
"""

from __future__ import annotations

from chainrule.ir import REGISTRY, RuleTable, TensorType, dtype

_FLOATS = (dtype("float32"), dtype("float64"))


def _accepts(op, d) -> bool:
    try:
        op.result_types((TensorType((2,), d),) * op.num_operands, op.normalize_attrs({}))
        return True
    except Exception:  # noqa: BLE001  (any type error: not accepted)
        return False


def _plain_elementwise(op, n) -> bool:
    """An elementwise op of n operands without attributes (the generic unary/binary shape)."""
    return op.elementwise and op.num_operands == n and not op.attrs and op.num_regions == 0


def _float(op) -> bool:
    return all(_accepts(op, d) for d in _FLOATS)


def _differentiable(op) -> bool:
    from chainrule.passes.autodiff import JVP_RULES
    return op.name in JVP_RULES


FLOAT_UNARY = sorted(n for n, op in REGISTRY.items() if _plain_elementwise(op, 1) and _float(op))
FLOAT_BINARY = sorted(n for n, op in REGISTRY.items() if _plain_elementwise(op, 2) and _float(op))

# Worst error of the llvm backend against NumPy, in ulp of the result: every inexact op has a bound.
LLVM_ULP = RuleTable("tests: llvm ulp bounds", covers=lambda op: op.inexact)
LLVM_ULP.update({"exponential": 2, "exponential_minus_one": 3, "log": 2, "log_plus_one": 3, "tanh": 3,
                 "logistic": 3, "sine": 2, "cosine": 2, "tan": 3, "erf": 3, "atan2": 2, "power": 2,
                 "cbrt": 1, "rsqrt": 0})  # 0: correctly rounded here (other backends may approximate it)
for _op in ("cholesky", "triangular_solve", "lu", "qr", "eigh", "eig", "svd"):
    LLVM_ULP.exempt(_op, "a factorization's error scales with the matrix's condition number, not in ulp: "
                         "tests/test_linalg_* compare it with a relative tolerance")


def _pos(s):
    return lambda rng: [rng.uniform(0.5, 2.0, s)]


def _signed(rng, s, lo=0.5, hi=2.0):
    return rng.uniform(lo, hi, s) * rng.choice([-1.0, 1.0], s)


# Where each differentiable float op is smooth, for the derivative tests (None: any normal values).
# Unary: shape -> rng -> [x]; binary: (rng, shape0, shape1) -> [x, y].
UNARY_DOMAINS = RuleTable("tests: derivative domains (unary)",
                          covers=lambda op: _plain_elementwise(op, 1) and _float(op) and _differentiable(op))
UNARY_DOMAINS.update({
    "negate": None, "abs": None, "exponential": None, "exponential_minus_one": None,
    "log": _pos, "log_plus_one": lambda s: lambda rng: [rng.uniform(-0.5, 2.0, s)],
    "sqrt": _pos, "rsqrt": _pos, "sine": None, "cosine": None,
    "tan": lambda s: lambda rng: [rng.uniform(-1.2, 1.2, s)], "tanh": None, "logistic": None, "erf": None,
    "cbrt": lambda s: lambda rng: [_signed(rng, s)],
})
for _op in ("real", "imag", "conj"):
    UNARY_DOMAINS.exempt(_op, "jax.lax has no float twin of it (lax.real takes complex only): "
                              "tests/test_complex_autodiff.py tests its derivatives on complex inputs against JAX")
BINARY_DOMAINS = RuleTable("tests: derivative domains (binary)",
                           covers=lambda op: _plain_elementwise(op, 2) and _float(op) and _differentiable(op))
BINARY_DOMAINS.update({
    "add": None, "subtract": None, "multiply": None,
    "divide": lambda rng, s0, s1: [rng.standard_normal(s0), _signed(rng, s1)],
    "remainder": lambda rng, s0, s1: [rng.uniform(-5, 5, s0), _signed(rng, s1, 0.7, 2.0)],
    "power": lambda rng, s0, s1: [rng.uniform(0.5, 2.0, s0), rng.standard_normal(s1)],
    "maximum": None, "minimum": None, "atan2": None,
})
BINARY_DOMAINS.exempt("complex", "its result is complex: tests/test_complex_autodiff.py tests its derivatives against JAX")

# The dtypes each plain elementwise op accepts, from the StableHLO spec: the type rules' oracle
# (real dtypes here; complex ones join with complex support).
_SIGNED = ("int8", "int16", "int32", "int64")
_UNSIGNED = ("uint8", "uint16", "uint32", "uint64")
_FLOAT = ("float16", "bfloat16", "float32", "float64")
_INT = _SIGNED + _UNSIGNED
_INT_FLOAT, _SIGNED_FLOAT, _ALL = _INT + _FLOAT, _SIGNED + _FLOAT, ("bool",) + _INT + _FLOAT
ACCEPTS = RuleTable("tests: accepted dtypes (StableHLO spec)",
                    covers=lambda op: _plain_elementwise(op, 1) or _plain_elementwise(op, 2))
_COMPLEX = ("complex64", "complex128")
ACCEPTS.update({
    "negate": _INT_FLOAT + _COMPLEX,
    **{op: _SIGNED_FLOAT + _COMPLEX for op in ("abs", "sign")},
    **{op: _FLOAT + _COMPLEX for op in ("exponential", "exponential_minus_one", "log", "log_plus_one", "sqrt",
                                        "rsqrt", "sine", "cosine", "tan", "tanh", "logistic")},
    **{op: _FLOAT for op in ("erf", "floor", "ceil", "round_nearest_even", "is_finite", "cbrt")},
    **{op: _FLOAT + _COMPLEX for op in ("real", "imag", "conj")}, "complex": ("float32", "float64"),
    "not": ("bool",) + _INT,
    "stop_gradient": _ALL + _COMPLEX,
    **{op: _INT_FLOAT + _COMPLEX for op in ("add", "subtract", "multiply", "divide", "power")},
    "remainder": _INT_FLOAT,
    **{op: _ALL for op in ("maximum", "minimum")},
    "atan2": _FLOAT,
    **{op: ("bool",) + _INT for op in ("and", "or", "xor")},
    **{op: _INT for op in ("shift_left", "shift_right_logical", "shift_right_arithmetic", "popcnt")},
})

# The jax.lax function computing each plain elementwise op: the oracle of the autodiff helper tests.
LAX_NAMES = RuleTable("tests: jax.lax oracle", covers=lambda op: _plain_elementwise(op, 1) or _plain_elementwise(op, 2))
LAX_NAMES.update({
    "negate": "neg", "abs": "abs", "sign": "sign", "exponential": "exp", "exponential_minus_one": "expm1",
    "log": "log", "log_plus_one": "log1p", "sqrt": "sqrt", "rsqrt": "rsqrt", "sine": "sin", "cosine": "cos",
    "tan": "tan", "tanh": "tanh", "logistic": "logistic", "erf": "erf", "floor": "floor", "ceil": "ceil",
    "cbrt": "cbrt", "not": "bitwise_not", "is_finite": "is_finite",
    "stop_gradient": "stop_gradient", "add": "add", "subtract": "sub", "multiply": "mul", "divide": "div",
    "remainder": "rem", "power": "pow", "maximum": "max", "minimum": "min", "atan2": "atan2",
    "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
    "complex": "complex",
    "shift_left": "shift_left", "shift_right_logical": "shift_right_logical",
    "shift_right_arithmetic": "shift_right_arithmetic", "popcnt": "population_count",
})
for _op in ("real", "imag", "conj"):
    LAX_NAMES.exempt(_op, "lax.real/imag/conj take complex operands only, and the helper tests draw floats")
LAX_NAMES.exempt("round_nearest_even", "lax.round needs its rounding method: the helper tests call it themselves")
