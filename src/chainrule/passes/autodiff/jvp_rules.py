"""JVP rules, one per op, written in IR ops so their output differentiates again.

`JVP_RULES[op](e, node, xs, ts, ys) -> list of tangents` where `e` is the
`Emitter`, `node` the original node (for its attributes), `xs` the primal
operands and `ys` the primal results in the new graph, `ts` the operand
tangents (`None` = symbolic zero). The driver calls a rule only when some
operand tangent is non-zero and the node has a float result.

Every rule applies to tangents only linear ops with exactly one linear
operand (`multiply(t, coef)` with `coef` built from primals, `add(t1, t2)`,
`select(p, t1, t2)`, shape ops...), so the linear part of a trace is
transposable (see `transpose_rules.py`). Numerics follow JAX's rules (cited
per rule), so results agree with `jax.jvp` to rounding; the deliberate
differences are x**0 (0 at x = 0, where jax 0.10 gives nan) and max over an
empty group (0, not nan); docs/autodiff.md lists the conventions at the edges.

`NON_DIFFERENTIABLE[op]` names ops whose derivative is zero everywhere it
exists, with the reason. Ops that are replaced by their expansion when
differentiated (fusion, custom_vjp_call) have rules in `trace.EXPANSIONS`
instead. The registry test checks every op is in one of these tables.
"""

from __future__ import annotations

import math

from ...ir import RuleTable
from .errors import NonDifferentiableError

# Ops replaced by their expansion when a tangent reaches them (fusion, remat, scan, custom_vjp_call):
# EXPANSIONS[op](e, node, xs, ts, trace) -> (primal results, tangents), `trace` being `trace.jvp_trace`.
EXPANSIONS = RuleTable("autodiff expansions", covers=None)
JVP_RULES = RuleTable("autodiff JVP", covers=lambda op: op.name not in EXPANSIONS)

# Ops whose derivative is zero wherever it exists: the JVP table's exemptions, with the reason.
for _op, _why in {
    "constant": "a leaf: its value does not depend on any input",
    "iota": "a leaf: its value does not depend on any input",
    "compare": "a bool result: piecewise constant",
    "argmax": "an integer index result: piecewise constant",
    "argmin": "an integer index result: piecewise constant",
    "floor": "piecewise constant: derivative zero almost everywhere (JAX: zero)",
    "ceil": "piecewise constant: derivative zero almost everywhere (JAX: zero)",
    "round_nearest_even": "piecewise constant: derivative zero almost everywhere (JAX: zero)",
    "sign": "piecewise constant: derivative zero almost everywhere (JAX: zero)",
    "is_finite": "a bool result",
    "not": "bool/integer only",
    "and": "bool/integer only",
    "or": "bool/integer only",
    "xor": "bool/integer only",
    "stop_gradient": "the identity whose derivative is defined to be zero",
    "shift_left": "integer only",
    "shift_right_logical": "integer only",
    "shift_right_arithmetic": "integer only",
    "popcnt": "integer only",
    "bitcast_convert": "reinterprets bits: not differentiable (JAX gives a zero tangent)",
}.items():
    JVP_RULES.exempt(_op, _why)
NON_DIFFERENTIABLE = JVP_RULES.exemptions


jvp = JVP_RULES.register


def expansion(name):
    return EXPANSIONS.register(name)


def _one(e, x):
    return e.full_like(1, x)


# --- elementwise unary: tangent = t * coef(x, y) ------------------------------------

def _unary(coef):
    def rule(e, node, xs, ts, ys):
        return [e.scale(ts[0], coef(e, xs[0], ys[0]))]
    return rule


UNARY_COEFS = {
    # JAX: select(x >= 0, t, -t), so d|x| = 1 at +-0 (and -1 at NaN), not sign(x) = 0
    "abs": lambda e, x, y: e.op("select", e.op("compare", x, e.zeros(x.type), direction="GE"), _one(e, x),
                                e.full_like(-1, x)),
    "exponential": lambda e, x, y: y,                                        # d exp = exp
    "exponential_minus_one": lambda e, x, y: e.op("add", y, _one(e, x)),     # d expm1 = expm1 + 1
    "sqrt": lambda e, x, y: e.op("divide", e.full_like(0.5, x), y),          # JAX: 0.5 / ans
    "rsqrt": lambda e, x, y: e.op("multiply", e.full_like(-0.5, x), e.op("divide", y, x)),  # JAX: -0.5*ans/x
    "sine": lambda e, x, y: e.op("cosine", x),
    "cosine": lambda e, x, y: e.op("negate", e.op("sine", x)),
    "tan": lambda e, x, y: e.op("add", _one(e, x), e.op("multiply", y, y)),  # JAX: 1 + ans^2
    # JAX: (1 + ans) * (1 - ans), more accurate than 1 - ans^2 near |ans| = 1
    "tanh": lambda e, x, y: e.op("multiply", e.op("add", _one(e, x), y), e.op("subtract", _one(e, x), y)),
    "logistic": lambda e, x, y: e.op("multiply", y, e.op("subtract", _one(e, x), y)),  # ans * (1 - ans)
    "cbrt": lambda e, x, y: e.op("divide", e.full_like(1.0 / 3.0, x), e.op("multiply", y, y)),  # JAX: ans**-2 / 3
    # 2/sqrt(pi) * exp(-x^2)
    "erf": lambda e, x, y: e.op("multiply", e.full_like(2.0 / math.sqrt(math.pi), x),
                                e.op("exponential", e.op("negate", e.op("multiply", x, x)))),
}

for _name, _coef in UNARY_COEFS.items():
    if _name != "abs":
        JVP_RULES[_name] = _unary(_coef)


@jvp("abs")
def _abs(e, node, xs, ts, ys):
    (x,), (y,) = xs, ys
    if not x.dtype.is_complex:
        return [e.scale(ts[0], UNARY_COEFS["abs"](e, x, y))]
    # JAX, complex x: real(t * conj(x) / replace_zero(|x|)), so d|x| at 0 is 0, not nan
    r = e.convert(y, x.dtype)
    coef = e.op("divide", e.op("conj", x), _replace_zero(e, r))
    return [e.op("real", e.scale(ts[0], coef))]


@jvp("log")
def _log(e, node, xs, ts, ys):
    # JAX: t / x (one rounding, and finite at subnormal x, where 1/x overflows)
    return [e.op("divide", ts[0], xs[0])]


@jvp("log_plus_one")
def _log_plus_one(e, node, xs, ts, ys):
    return [e.op("divide", ts[0], e.op("add", xs[0], _one(e, xs[0])))]  # JAX: t / (1 + x)


@jvp("negate")
def _negate(e, node, xs, ts, ys):
    return [e.neg(ts[0])]


@jvp("convert")
def _convert(e, node, xs, ts, ys):
    # float -> float passes the tangent (cast); to int/bool the driver already gives zero
    return [e.convert(ts[0], ys[0].dtype)]


# --- elementwise binary ------------------------------------------------------------

@jvp("add")
def _add(e, node, xs, ts, ys):
    return [e.add_any(ts[0], ts[1])]


@jvp("subtract")
def _subtract(e, node, xs, ts, ys):
    return [e.sub_any(ts[0], ts[1])]


@jvp("multiply")
def _multiply(e, node, xs, ts, ys):
    x, y = xs
    if x is y and ts[0] is not None:  # x * x: one term t * 2x instead of t*x + t*x
        return [e.scale(ts[0], e.op("add", x, x))]
    return [e.add_any(e.scale(ts[0], y), e.scale(ts[1], x))]


@jvp("divide")
def _divide(e, node, xs, ts, ys):
    x, y = xs
    tx = None if ts[0] is None else e.op("divide", ts[0], y)                     # t / y
    ty = e.scale(ts[1], e.op("negate", e.op("divide", ys[0], y)))                # -t * ans / y
    return [e.add_any(tx, ty)]


@jvp("remainder")
def _remainder(e, node, xs, ts, ys):
    # JAX: d/dx = 1; d/dy = -trunc(x / y) = -sign(x/y) * floor(|x/y|)
    x, y = xs
    ty = None
    if ts[1] is not None:
        q = e.op("divide", x, y)
        coef = e.op("negate", e.op("multiply", e.op("sign", q), e.op("floor", e.op("abs", q))))
        ty = e.scale(ts[1], coef)
    return [e.add_any(ts[0], ty)]


def _replace_zero(e, v):
    """select(v == 0, 1, v): keeps log and division away from zero where the result is discarded."""
    return e.op("select", e.where_eq_zero(v), _one(e, v), v)


@jvp("power")
def _power(e, node, xs, ts, ys):
    x, y = xs
    tx = ty = None
    if ts[0] is not None:
        # JAX: select(y == 0, 0, y * x^(y-1)), so 0^0 has derivative 0 instead of nan
        coef = e.op("select", e.where_eq_zero(y), e.zeros(y.type),
                    e.op("multiply", y, e.op("power", x, e.op("subtract", y, _one(e, y)))))
        tx = e.scale(ts[0], coef)
    if ts[1] is not None:
        # JAX: log(replace_zero(x)) * ans; only emitted when the exponent has a tangent
        ty = e.scale(ts[1], e.op("multiply", e.op("log", _replace_zero(e, x)), ys[0]))
    return [e.add_any(tx, ty)]


def _balanced_eq(e, x, z, y):
    """JAX's tie split for max/min: (x == z ? 1 : 0) / (y == z ? 2 : 1)."""
    one, zero, two = _one(e, z), e.zeros(z.type), e.full_like(2, z)
    num = e.op("select", e.op("compare", x, z, direction="EQ"), one, zero)
    den = e.op("select", e.op("compare", y, z, direction="EQ"), two, one)
    return e.op("divide", num, den)


@jvp("maximum", "minimum")
def _max_min(e, node, xs, ts, ys):
    x, y = xs
    z = ys[0]
    tx = None if ts[0] is None else e.scale(ts[0], _balanced_eq(e, x, z, y))
    ty = None if ts[1] is None else e.scale(ts[1], _balanced_eq(e, y, z, x))
    return [e.add_any(tx, ty)]


@jvp("atan2")
def _atan2(e, node, xs, ts, ys):
    # atan2(x, y): d/dx = y / (x^2 + y^2), d/dy = -x / (x^2 + y^2)
    x, y = xs
    denom = e.op("add", e.op("multiply", x, x), e.op("multiply", y, y))
    tx = None if ts[0] is None else e.scale(ts[0], e.op("divide", y, denom))
    ty = None if ts[1] is None else e.scale(ts[1], e.op("negate", e.op("divide", x, denom)))
    return [e.add_any(tx, ty)]


@jvp("select")
def _select(e, node, xs, ts, ys):
    return [e.select_zero(xs[0], ts[1], ts[2], ys[0].type)]


@jvp("clamp")
def _clamp(e, node, xs, ts, ys):
    # JAX's rule: lo gets the tangent where lo > x (and lo < hi), x where lo < x < hi, hi where hi < x
    lo, x, hi = xs
    t = ys[0].type

    def lt(a, b):
        return e.op("compare", a, b, direction="LT")

    out = []
    if ts[0] is not None:
        out.append(e.select_zero(e.op("and", lt(x, lo), lt(lo, hi)), ts[0], None, t))
    if ts[1] is not None:
        out.append(e.select_zero(e.op("and", lt(lo, x), lt(x, hi)), ts[1], None, t))
    if ts[2] is not None:
        out.append(e.select_zero(lt(hi, x), ts[2], None, t))
    return [e.sum_all(out)]


# --- structural ops: the tangent goes through the same op ------------------------------

def _same_op_unary(e, node, xs, ts, ys):
    return [e.emit(node.op, (ts[0],), node.attrs).results[0]]


for _name in ("broadcast_in_dim", "reshape", "transpose", "slice", "reverse"):
    JVP_RULES[_name] = _same_op_unary


@jvp("concatenate")
def _concatenate(e, node, xs, ts, ys):
    parts = [e.materialize(t, x.type) for t, x in zip(ts, xs)]
    return [e.emit(node.op, parts, node.attrs).results[0]]


@jvp("pad")
def _pad(e, node, xs, ts, ys):
    x, v = xs
    tx = e.materialize(ts[0], x.type)
    tv = e.materialize(ts[1], v.type)
    return [e.emit(node.op, (tx, tv), node.attrs).results[0]]


@jvp("dynamic_slice")
def _dynamic_slice(e, node, xs, ts, ys):
    return [e.emit(node.op, (ts[0],) + tuple(xs[1:]), node.attrs).results[0]]


@jvp("dynamic_update_slice")
def _dynamic_update_slice(e, node, xs, ts, ys):
    tx = e.materialize(ts[0], xs[0].type)
    tu = e.materialize(ts[1], xs[1].type)
    return [e.emit(node.op, (tx, tu) + tuple(xs[2:]), node.attrs).results[0]]


@jvp("gather")
def _gather(e, node, xs, ts, ys):
    return [e.emit(node.op, (ts[0], xs[1]), node.attrs).results[0]]


@jvp("scatter")
def _scatter(e, node, xs, ts, ys):
    # both kinds are linear in (operand, updates) jointly: the same scatter of the tangents
    tx = e.materialize(ts[0], xs[0].type)
    tu = e.materialize(ts[2], xs[2].type)
    return [e.emit(node.op, (tx, xs[1], tu), node.attrs).results[0]]


@jvp("dot_general")
def bilinear(e, node, xs, ts, ys):
    """The JVP of an op bilinear in its two operands (dot_general, convolution): f(ta, b) + f(a, tb)."""
    a, b = xs
    ta = None if ts[0] is None else e.emit(node.op, (ts[0], b), node.attrs).results[0]
    tb = None if ts[1] is None else e.emit(node.op, (a, ts[1]), node.attrs).results[0]
    return [e.add_any(ta, tb)]


# --- reductions ----------------------------------------------------------------------

def _kept_dims(ndim, dims):
    return tuple(i for i in range(ndim) if i not in dims)


@jvp("reduce")
def _reduce(e, node, xs, ts, ys):
    kind, dims = node.attrs["kind"], node.attrs["dimensions"]
    (x,), (t,), (y,) = xs, ts, ys
    keep = _kept_dims(x.ndim, dims)
    if kind == "sum":
        return [e.reduce_sum(t, dims)]
    if kind in ("max", "min"):
        # JAX: the tangent is shared equally by the positions that reach the extreme
        yb = e.bcast(y, x.shape, keep)
        mask = e.convert(e.op("compare", x, yb, direction="EQ"), x.dtype)
        count = e.bcast(e.reduce_sum(mask, dims), x.shape, keep)
        return [e.reduce_sum(e.scale(t, e.op("divide", mask, count)), dims)]
    if kind == "prod":
        return [_prod_tangent(e, x, t, dims, keep, y)]
    raise NonDifferentiableError(f"reduce kind={kind} has no derivative (it works on bool/integer values)")


def _prod_tangent(e, x, t, dims, keep, y):
    """Tangent of a product reduction as the JVP of a tree of pairwise products (JAX does the same).

    The group's elements are laid out on one last axis, padded to a power of two
    with ones, and halved log2(n) times by strided slices: x' = a*b,
    t' = t_a*b + a*t_b. Polynomial all the way, so it is exact with zeros and
    its derivatives of every order are too (a division by x would not be).
    """
    n = math.prod(x.shape[d] for d in dims)
    if n == 0:
        return None  # the empty product is the constant 1
    kshape = tuple(x.shape[i] for i in keep)
    perm = tuple(keep) + tuple(dims)

    def group(v):
        if perm != tuple(range(v.ndim)):
            v = e.op("transpose", v, permutation=perm)
        return v if v.shape == kshape + (n,) else e.op("reshape", v, shape=kshape + (n,))

    xg, tg = group(x), group(t)
    width = 1 << (n - 1).bit_length()
    if width > n:
        lo, hi = (0,) * (len(kshape) + 1), (0,) * len(kshape) + (width - n,)
        xg = e.op("pad", xg, e.scalar(1, x.dtype), edge_padding_low=lo, edge_padding_high=hi)
        tg = e.op("pad", tg, e.scalar(0, x.dtype), edge_padding_low=lo, edge_padding_high=hi)
    while width > 1:
        def half(v, first):
            return e.op("slice", v, start_indices=(0,) * len(kshape) + (first,), limit_indices=v.shape,
                        strides=(1,) * len(kshape) + (2,))
        xa, xb, ta, tb = half(xg, 0), half(xg, 1), half(tg, 0), half(tg, 1)
        tg = e.op("add", e.op("multiply", ta, xb), e.op("multiply", tb, xa))
        xg = e.op("multiply", xa, xb)
        width //= 2
    return e.op("reshape", tg, shape=y.shape)
