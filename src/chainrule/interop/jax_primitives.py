"""JAX primitives -> chainrule ops, one rule per primitive name.

`PRIMITIVES[name](ctx, eqn, ins) -> list of Values` builds the equation's
results from the already converted operands `ins`; `INLINE[name](eqn) ->
(jaxpr, consts)` names the sub-jaxpr of a call-like primitive that is
inlined instead. JAX lets a rank-0 operand of an elementwise primitive
stand for a tensor of the other's shape (weak-typed Python scalars become
such literals); chainrule's elementwise ops take identical types, so those
operands are broadcast here.
"""

from __future__ import annotations

import math

import numpy as np

from ..ir import RuleTable, TensorType, dtype as as_dtype, get_op


class UnsupportedPrimitiveError(NotImplementedError):
    """A JAX primitive (or a form of one) that chainrule's op set cannot express."""


class Context:
    """The builder and small helpers shared by the rules."""

    def __init__(self, builder):
        self.b = builder
        self.inside_rule = False  # True while converting a custom_jvp rule (see jax_custom.py)

    def op(self, name, *operands, **attrs):
        return self.b.op(name, *operands, **attrs)

    def constant(self, value, dtype=None):
        a = np.asarray(value, dtype=dtype)
        return self.b.constant(a, as_dtype(a.dtype))

    def full(self, value, t: TensorType):
        c = self.b.constant(np.asarray(value, dtype=t.dtype.np))
        return c if t.shape == () else self.op("broadcast_in_dim", c, shape=t.shape, broadcast_dimensions=())

    def broadcast_to(self, v, shape):
        shape = tuple(shape)
        if v.shape == shape:
            return v
        # JAX's elementwise primitives broadcast rank-0 operands and size-1 dimensions (NumPy-style,
        # aligned on the right); chainrule's take identical types, so spell the broadcast out.
        lead = len(shape) - v.ndim
        if lead < 0 or any(n not in (1, shape[lead + i]) for i, n in enumerate(v.shape)):
            raise UnsupportedPrimitiveError(f"from_jax: cannot broadcast {v.type} to shape {list(shape)}")
        return self.op("broadcast_in_dim", v, shape=shape, broadcast_dimensions=tuple(range(lead, len(shape))))

    def convert(self, v, dt):
        dt = as_dtype(dt)
        return v if v.dtype == dt else self.op("convert", v, dtype=dt)

    def elementwise(self, name, *vals, **attrs):
        shape = np.broadcast_shapes(*(v.shape for v in vals))
        return self.op(name, *[self.broadcast_to(v, shape) for v in vals], **attrs)


def chainrule_dtype(dt, what: str):
    """Our dtype for a JAX/NumPy dtype, or UnsupportedPrimitiveError naming it."""
    try:
        return as_dtype(np.dtype(dt))
    except TypeError as e:
        raise UnsupportedPrimitiveError(f"from_jax: {what} has dtype {dt}, which chainrule lacks: {e}") from None


def out_type(eqn, i=0) -> TensorType:
    aval = eqn.outvars[i].aval
    return TensorType(aval.shape, chainrule_dtype(aval.dtype, f"the result of {eqn.primitive.name!r}"))


class _Primitives(dict):
    """JAX primitive name -> import rule; a second rule for one primitive fails at import instead of
    silently replacing the first (a composite left behind when its op became a primitive, say)."""

    def __setitem__(self, name, rule):
        if name in self:
            raise ValueError(f"from_jax: JAX primitive {name!r} has two import rules")
        super().__setitem__(name, rule)


PRIMITIVES: dict = _Primitives()
INLINE: dict = {}


def prim(*names):
    def deco(fn):
        for n in names:
            PRIMITIVES[n] = fn
        return fn
    return deco


# --- calls: inlined -------------------------------------------------------------------

def _closed(j):
    return (j.jaxpr, j.consts) if hasattr(j, "consts") else (j, ())


INLINE["jit"] = INLINE["pjit"] = lambda eqn: _closed(eqn.params["jaxpr"])
INLINE["closed_call"] = INLINE["core_call"] = lambda eqn: _closed(eqn.params["call_jaxpr"])
INLINE["remat"] = lambda eqn: _closed(eqn.params["jaxpr"])
# custom_jvp_call, custom_vjp_call and remat2/checkpoint have rules in jax_custom.py that keep the
# custom derivative or the policy; these entries give those rules the function's own jaxpr
INLINE["custom_vjp_call"] = lambda eqn: _closed(eqn.params["call_jaxpr"])
INLINE["custom_jvp_call"] = lambda eqn: _closed(eqn.params["call_jaxpr"])
INLINE["remat2"] = INLINE["checkpoint"] = lambda eqn: _closed(eqn.params["jaxpr"])
RULE_FIRST = {"custom_jvp_call", "custom_vjp_call", "remat2", "checkpoint"}  # PRIMITIVES rule, not INLINE
INLINE["custom_vjp_call_jaxpr"] = lambda eqn: _closed(eqn.params["fun_jaxpr"])


@prim("copy", "copy_p", "device_put", "sharding_constraint", "mesh_cast", "reshard", "optimization_barrier")
def _identity(ctx, eqn, ins):
    return list(ins)


# --- elementwise ------------------------------------------------------------------------

# The JAX primitive of each elementwise op (without attributes), where its name differs from the op's
# (StableHLO) name; every other such op is imported from the JAX primitive of its own name, so a new
# elementwise op needs an entry only when JAX calls it something else.
JAX_NAMES = RuleTable("from_jax elementwise", covers=lambda op: op.elementwise and not op.attrs
                      and op.num_operands in (1, 2))
JAX_NAMES.update({"negate": "neg", "exponential": "exp", "exponential_minus_one": "expm1",
                  "log_plus_one": "log1p", "sine": "sin", "cosine": "cos", "subtract": "sub", "multiply": "mul",
                  "divide": "div", "remainder": "rem", "maximum": "max", "minimum": "min", "power": "pow",
                  "popcnt": "population_count"})
JAX_NAMES.exempt("round_nearest_even", "JAX's `round` carries a rounding method: imported by its own rule")
for _op in sorted(JAX_NAMES.required()):
    if _op not in JAX_NAMES and _op not in JAX_NAMES.exemptions:
        JAX_NAMES[_op] = _op
UNARY = {j: op for op, j in JAX_NAMES.items() if get_op(op).num_operands == 1}
BINARY = {j: op for op, j in JAX_NAMES.items() if get_op(op).num_operands == 2 and op != "power"}  # pow: own rule
COMPARE = {"eq": "EQ", "ne": "NE", "lt": "LT", "le": "LE", "gt": "GT", "ge": "GE"}


def _unary(op):
    return lambda ctx, eqn, ins: [ctx.op(op, ins[0])]


def _binary(op):
    return lambda ctx, eqn, ins: [ctx.elementwise(op, *ins)]


def _compare(direction):
    return lambda ctx, eqn, ins: [ctx.elementwise("compare", *ins, direction=direction)]


for _j, _c in UNARY.items():
    PRIMITIVES[_j] = _unary(_c)
for _j, _c in BINARY.items():
    PRIMITIVES[_j] = _binary(_c)
for _j, _d in COMPARE.items():
    PRIMITIVES[_j] = _compare(_d)


@prim("add_any")
def _add_any(ctx, eqn, ins):
    return [ctx.elementwise("add", *ins)]


@prim("pow")
def _pow(ctx, eqn, ins):
    x, y = ins
    return [ctx.elementwise("power", x, ctx.convert(y, x.dtype))]  # JAX allows an integer exponent


def _int_power(ctx, x, n: int):
    """x**n for a static n >= 0 by square-and-multiply (what lax.integer_pow does)."""
    if n == 0:
        return ctx.full(1, x.type)
    acc, base = None, x
    while n:
        if n & 1:
            acc = base if acc is None else ctx.op("multiply", acc, base)
        n >>= 1
        if n:
            base = ctx.op("multiply", base, base)
    return acc


@prim("integer_pow")
def _integer_pow(ctx, eqn, ins):
    (x,), y = ins, eqn.params["y"]
    r = _int_power(ctx, x, abs(y))
    return [ctx.op("divide", ctx.full(1, x.type), r) if y < 0 else r]


@prim("square")
def _square(ctx, eqn, ins):
    return [ctx.op("multiply", ins[0], ins[0])]


@prim("exp2")
def _exp2(ctx, eqn, ins):
    (x,) = ins
    return [ctx.op("exponential", ctx.op("multiply", x, ctx.full(math.log(2.0), x.type)))]


@prim("erfc")
def _erfc(ctx, eqn, ins):
    (x,) = ins
    return [ctx.op("subtract", ctx.full(1, x.type), ctx.op("erf", x))]


# --- functions chainrule composes from its primitives (they inherit their derivatives) ---

class _Ops:
    """Terse arithmetic on Values of one type, for the composite rules below."""

    def __init__(self, ctx, t):
        self.ctx, self.t = ctx, t

    def c(self, v):
        return self.ctx.full(v, self.t)

    def __getattr__(self, op):
        return lambda *xs, **attrs: self.ctx.op(op, *xs, **attrs)


def _composite(fn):
    def rule(ctx, eqn, ins):
        return [fn(_Ops(ctx, ins[0].type), ins[0])]
    return rule


def _sqrt_one_minus_sq(o, x):
    return o.sqrt(o.multiply(o.subtract(o.c(1), x), o.add(o.c(1), x)))  # sqrt(1 - x^2), (1-x)(1+x) keeps digits


COMPOSITES = {
    # atan(x) = atan2(x, 1)
    "atan": lambda o, x: o.atan2(x, o.c(1)),
    # asin(x) = 2 atan2(x, 1 + sqrt(1 - x^2))  (JAX's and XLA's form)
    "asin": lambda o, x: o.multiply(o.c(2), o.atan2(x, o.add(o.c(1), _sqrt_one_minus_sq(o, x)))),
    # acos(x) = 2 atan2(sqrt(1 - x^2), 1 + x)
    "acos": lambda o, x: o.multiply(o.c(2), o.atan2(_sqrt_one_minus_sq(o, x), o.add(o.c(1), x))),
    # sinh(x) = (expm1(x) - expm1(-x)) / 2  (accurate near 0)
    "sinh": lambda o, x: o.multiply(o.c(0.5), o.subtract(o.exponential_minus_one(x),
                                                           o.exponential_minus_one(o.negate(x)))),
    # cosh(x) = (exp(x) + exp(-x)) / 2
    "cosh": lambda o, x: o.multiply(o.c(0.5), o.add(o.exponential(x), o.exponential(o.negate(x)))),
    # asinh(x) = sign(x) log1p(|x| + x^2 / (1 + sqrt(1 + x^2)))
    "asinh": lambda o, x: o.multiply(o.sign(x), o.log_plus_one(o.add(o.abs(x), o.divide(
        o.multiply(x, x), o.add(o.c(1), o.sqrt(o.add(o.c(1), o.multiply(x, x)))))))),
    # acosh(x) = log(x + sqrt((x - 1)(x + 1)))
    "acosh": lambda o, x: o.log(o.add(x, o.sqrt(o.multiply(o.subtract(x, o.c(1)), o.add(x, o.c(1)))))),
    # atanh(x) = log1p(2x / (1 - x)) / 2
    "atanh": lambda o, x: o.multiply(o.c(0.5), o.log_plus_one(o.divide(o.multiply(o.c(2), x),
                                                                         o.subtract(o.c(1), x)))),
    # one_minus_square(x) = 1 - x^2 (JAX >= 0.11 writes tanh's derivative with it)
    "one_minus_square": lambda o, x: o.subtract(o.c(1), o.multiply(x, x)),
}
for _j, _fn in COMPOSITES.items():
    PRIMITIVES[_j] = _composite(_fn)


@prim("round")
def _round(ctx, eqn, ins):
    (x,) = ins
    if int(eqn.params["rounding_method"]) == 1:  # TO_NEAREST_EVEN
        return [ctx.op("round_nearest_even", x)]
    # AWAY_FROM_ZERO: the truncation plus sign(x) where the fraction is exactly one half
    zero, half = ctx.full(0, x.type), ctx.full(0.5, x.type)
    trunc = ctx.op("select", ctx.op("compare", x, zero, direction="LT"), ctx.op("ceil", x), ctx.op("floor", x))
    frac = ctx.op("abs", ctx.op("subtract", x, trunc))
    away = ctx.op("add", trunc, ctx.op("sign", x))
    is_half = ctx.op("compare", frac, half, direction="EQ")
    return [ctx.op("select", is_half, away, ctx.op("round_nearest_even", x))]


@prim("select_n")
def _select_n(ctx, eqn, ins):
    pred, cases = ins[0], ins[1:]
    shape = out_type(eqn).shape
    cases = [ctx.broadcast_to(c, shape) for c in cases]
    pred = ctx.broadcast_to(pred, shape)
    if pred.dtype.is_bool:
        return [ctx.op("select", pred, cases[1], cases[0])] if len(cases) == 2 else [cases[0]]
    res = cases[0]
    for k in range(1, len(cases)):
        hit = ctx.op("compare", pred, ctx.full(k, pred.type), direction="EQ")
        res = ctx.op("select", hit, cases[k], res)
    return [res]


@prim("clamp")
def _clamp(ctx, eqn, ins):
    return [ctx.elementwise("clamp", *ins)]


@prim("bitcast_convert_type")
def _bitcast_convert_type(ctx, eqn, ins):
    return [ctx.op("bitcast_convert", ins[0], dtype=out_type(eqn).dtype)]


@prim("convert_element_type")
def _convert_element_type(ctx, eqn, ins):
    return [ctx.convert(ins[0], out_type(eqn).dtype)]


# --- shapes --------------------------------------------------------------------------------

@prim("broadcast_in_dim")
def _broadcast_in_dim(ctx, eqn, ins):
    return [ctx.op("broadcast_in_dim", ins[0], shape=eqn.params["shape"],
                   broadcast_dimensions=eqn.params["broadcast_dimensions"])]


@prim("reshape")
def _reshape(ctx, eqn, ins):
    x = ins[0]
    dims = eqn.params.get("dimensions")
    if dims is not None:
        x = ctx.op("transpose", x, permutation=dims)
    return [ctx.op("reshape", x, shape=eqn.params["new_sizes"])]


@prim("squeeze", "expand_dims")
def _squeeze(ctx, eqn, ins):
    return [ctx.op("reshape", ins[0], shape=out_type(eqn).shape)]


@prim("transpose")
def _transpose(ctx, eqn, ins):
    return [ctx.op("transpose", ins[0], permutation=eqn.params["permutation"])]


@prim("rev")
def _rev(ctx, eqn, ins):
    return [ctx.op("reverse", ins[0], dimensions=tuple(sorted(eqn.params["dimensions"])))]


@prim("slice")
def _slice(ctx, eqn, ins):
    p = eqn.params
    return [ctx.op("slice", ins[0], start_indices=p["start_indices"], limit_indices=p["limit_indices"],
                   strides=p["strides"] or ())]


@prim("split")
def _split(ctx, eqn, ins):
    (x,), axis = ins, eqn.params["axis"]
    outs, start = [], 0
    for size in eqn.params["sizes"]:
        lo = [0] * x.ndim
        hi = list(x.shape)
        lo[axis], hi[axis] = start, start + int(size)
        outs.append(ctx.op("slice", x, start_indices=lo, limit_indices=hi))
        start += int(size)
    return outs


@prim("dynamic_slice")
def _dynamic_slice(ctx, eqn, ins):
    return [ctx.op("dynamic_slice", *ins, slice_sizes=eqn.params["slice_sizes"])]


@prim("dynamic_update_slice")
def _dynamic_update_slice(ctx, eqn, ins):
    return [ctx.op("dynamic_update_slice", *ins)]


@prim("concatenate")
def _concatenate(ctx, eqn, ins):
    return [ctx.op("concatenate", *ins, dimension=eqn.params["dimension"])]


@prim("stack")
def _stack(ctx, eqn, ins):
    axis = eqn.params["axis"]
    parts = [ctx.op("reshape", v, shape=v.shape[:axis] + (1,) + v.shape[axis:]) for v in ins]
    return [ctx.op("concatenate", *parts, dimension=axis)]


@prim("pad")
def _pad(ctx, eqn, ins):
    config = eqn.params["padding_config"]
    return [ctx.op("pad", ins[0], ins[1], edge_padding_low=[c[0] for c in config],
                   edge_padding_high=[c[1] for c in config], interior_padding=[c[2] for c in config])]


@prim("iota")
def _iota(ctx, eqn, ins):
    t = out_type(eqn)
    return [ctx.op("iota", shape=t.shape, dtype=t.dtype, dimension=eqn.params["dimension"])]


# --- reductions ----------------------------------------------------------------------------

def _reduction(kind):
    def rule(ctx, eqn, ins):
        return [ctx.op("reduce", ins[0], kind=kind, dimensions=tuple(sorted(eqn.params["axes"])))]
    return rule


for _j, _k in (("reduce_sum", "sum"), ("reduce_prod", "prod"), ("reduce_max", "max"), ("reduce_min", "min"),
               ("reduce_and", "and"), ("reduce_or", "or")):
    PRIMITIVES[_j] = _reduction(_k)


def _arg(op):
    def rule(ctx, eqn, ins):
        (axis,) = eqn.params["axes"]
        return [ctx.op(op, ins[0], dimension=axis, index_dtype=out_type(eqn).dtype)]
    return rule


PRIMITIVES["argmax"] = _arg("argmax")
PRIMITIVES["argmin"] = _arg("argmin")


# --- contraction ------------------------------------------------------------------------------

@prim("dot_general")
def _dot_general(ctx, eqn, ins):
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    dt = out_type(eqn).dtype
    lhs, rhs = (ctx.convert(v, dt) for v in ins)
    return [ctx.op("dot_general", lhs, rhs, lhs_batch=lb, rhs_batch=rb, lhs_contracting=lc, rhs_contracting=rc)]


# --- gather / scatter ---------------------------------------------------------------------------

from .jax_indexing import gather_rule, scatter_rule  # noqa: E402

PRIMITIVES["gather"] = gather_rule
PRIMITIVES["scatter-add"] = scatter_rule("add")
PRIMITIVES["scatter_add"] = scatter_rule("add")
PRIMITIVES["scatter"] = scatter_rule("set")
