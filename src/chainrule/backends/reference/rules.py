"""Evaluation rules of the reference backend: each op with NumPy, readable first.

`RULES[op](args, attrs, out_types, regions) -> tuple of arrays`. These rules
define what every other backend must compute (XLA's semantics where NumPy
differs: integer division by zero, saturating float-to-int casts, clamped
indices).
"""

from __future__ import annotations

import math

import numpy as np

from ...ir import RuleTable, ops_with

RULES = RuleTable("reference evaluation", doc="what every op computes: the oracle of every test")
rule = RULES.register


def _np(t):
    return t.dtype.np


# --- leaves ---------------------------------------------------------------------

@rule("constant")
def _constant(args, attrs, out, regions):
    return (attrs["value"].array.copy(),)


@rule("iota")
def _iota(args, attrs, out, regions):
    (t,) = out
    d = attrs["dimension"]
    line = np.arange(t.shape[d], dtype=_np(t))
    shape = [1] * t.ndim
    shape[d] = t.shape[d]
    return (np.broadcast_to(line.reshape(shape), t.shape).copy(),)


# --- elementwise unary ------------------------------------------------------------

def _logistic(x):
    if x.dtype.kind == "c":
        return 1 / (1 + np.exp(-x))
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _erf(x):
    f = np.vectorize(math.erf, otypes=[np.float64])
    return f(x.astype(np.float64)) if x.size else x.astype(np.float64)


def _sign(x):
    """StableHLO sign: -0.0 stays -0.0 and NaN stays NaN (np.sign(-0.0) is +0.0)."""
    return np.where(x == 0, x, np.sign(x)) if x.dtype.kind == "f" else np.sign(x)


def _not(x):
    return np.logical_not(x) if x.dtype == np.bool_ else np.invert(x)


def _cbrt(x):
    # through float64: NumPy's float32 cbrt is an ulp off at exact cubes (cbrt(-27) = -2.9999998)
    return np.cbrt(x.astype(np.float64)).astype(x.dtype) if x.dtype == np.float32 else np.cbrt(x)


UNARY = {
    "negate": np.negative, "abs": np.abs, "sign": _sign,
    "exponential": np.exp, "exponential_minus_one": np.expm1, "log": np.log, "log_plus_one": np.log1p,
    "sqrt": np.sqrt, "rsqrt": lambda x: 1 / np.sqrt(x), "sine": np.sin, "cosine": np.cos, "tan": np.tan,
    "tanh": np.tanh, "logistic": _logistic, "erf": _erf, "floor": np.floor, "ceil": np.ceil,
    "round_nearest_even": np.rint, "not": _not, "is_finite": np.isfinite, "cbrt": _cbrt,
}


NARROW_FLOATS = (np.dtype(np.float16), np.dtype("bfloat16"))


def widened(args):
    """float16/bfloat16 operands as float32: a narrow float op is computed in float32 and its result
    rounded once to the narrow type (what NumPy's float16 loops and XLA's CPU backend do)."""
    return [a.astype(np.float32) if a.dtype in NARROW_FLOATS else a for a in args]


def _make_unary(fn):
    def apply(args, attrs, out, regions):
        with np.errstate(all="ignore"):
            return (np.asarray(fn(*widened(args[:1]))).astype(_np(out[0]), copy=False),)
    return apply


for _n, _f in UNARY.items():
    RULES[_n] = _make_unary(_f)


@rule("stop_gradient")
def _stop_gradient(args, attrs, out, regions):
    return (args[0].copy(),)


@rule(*sorted(ops_with("call_like")))
def _call(args, attrs, out, regions):
    """fusion, remat, custom_jvp_call, custom_vjp_call: region 0 applied to the operands (a custom
    rule or a checkpoint policy changes what autodiff does, never a value)."""
    from .interpreter import evaluate
    return tuple(evaluate(regions[0], list(args)))


@rule("custom_vjp_lin")
def _custom_vjp_lin(args, attrs, out, regions):
    raise NotImplementedError(
        "custom_vjp_lin cannot be evaluated: forward-mode differentiation (jvp, jacfwd) of a custom_vjp "
        "function is not supported, as in JAX; use cr.custom_jvp for forward mode")


# --- elementwise binary -----------------------------------------------------------

def _int_safe_divisor(x, y):
    """Divisor with 0 and the overflowing MIN / -1 case replaced by 1."""
    lo = np.iinfo(x.dtype).min
    bad = (y == 0) | ((x == lo) & (y == -1))
    return np.where(bad, np.ones_like(y), y)


def _unsigned_divide(x, y):
    """Unsigned x / 0 is all ones (2**bits - 1), as in XLA."""
    q = np.floor_divide(x, np.where(y == 0, np.ones_like(y), y))
    return np.where(y == 0, np.full_like(x, np.iinfo(x.dtype).max), q)


def _divide(x, y):
    if x.dtype.kind == "u":
        return _unsigned_divide(x, y)
    if x.dtype.kind != "i":
        return np.divide(x, y)
    sy = _int_safe_divisor(x, y)
    q = np.floor_divide(x, sy)
    r = x - q * sy
    q = q + ((r != 0) & ((x < 0) != (sy < 0))).astype(x.dtype)  # floor -> toward zero
    return np.where(y == 0, np.full_like(x, -1), q)


def _remainder(x, y):
    if x.dtype.kind == "u":
        return np.where(y == 0, x, np.fmod(x, np.where(y == 0, np.ones_like(y), y)))
    if x.dtype.kind != "i":
        return np.fmod(x, y)
    sy = _int_safe_divisor(x, y)
    return np.where(y == 0, x, np.fmod(x, sy))


def _int_power(x, y):
    base = x.copy()
    e = np.where(y < 0, 0, y).astype(np.uint64)
    result = np.ones_like(x)
    while np.any(e):
        odd = (e & np.uint64(1)).astype(bool)
        result = np.where(odd, result * base, result)
        base = base * base
        e = e >> np.uint64(1)
    neg = y < 0
    neg_val = np.where(x == 1, 1, np.where(x == -1, np.where(y % 2 == 0, 1, -1), 0)).astype(x.dtype)
    return np.where(neg, neg_val, result)


def _power(x, y):
    return _int_power(x, y) if x.dtype.kind in "iu" else np.power(x, y)


def _maximum(x, y):
    return np.logical_or(x, y) if x.dtype == np.bool_ else np.maximum(x, y)


def _minimum(x, y):
    return np.logical_and(x, y) if x.dtype == np.bool_ else np.minimum(x, y)


BINARY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": _divide,
    "remainder": _remainder, "power": _power, "maximum": _maximum, "minimum": _minimum,
    "atan2": np.arctan2, "and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor,
}


def _make_binary(fn):
    def apply(args, attrs, out, regions):
        with np.errstate(all="ignore"):
            return (np.asarray(fn(*widened(args[:2]))).astype(_np(out[0]), copy=False),)
    return apply


for _n, _f in BINARY.items():
    RULES[_n] = _make_binary(_f)

COMPARE = {"EQ": np.equal, "NE": np.not_equal, "LT": np.less, "LE": np.less_equal,
           "GT": np.greater, "GE": np.greater_equal}


@rule("compare")
def _compare(args, attrs, out, regions):
    return (np.asarray(COMPARE[attrs["direction"]](args[0], args[1])),)


@rule("select")
def _select(args, attrs, out, regions):
    return (np.where(args[0], args[1], args[2]).astype(_np(out[0]), copy=False),)


@rule("clamp")
def _clamp(args, attrs, out, regions):
    lo, x, hi = args
    return (np.asarray(np.minimum(np.maximum(x, lo), hi)),)


def convert_array(x: np.ndarray, to: np.dtype) -> np.ndarray:
    """XLA's convert: float->int truncates and saturates, NaN -> 0."""
    to = np.dtype(to)
    if to == np.bool_:
        return np.asarray(x != 0)
    if x.dtype.kind == "c" and to.kind != "c":  # complex -> real keeps the real part, as XLA
        x = x.real
    if (x.dtype.kind == "f" or x.dtype in NARROW_FLOATS) and to.kind in "iu":
        info = np.iinfo(to)
        xf = x.astype(np.float64)
        nan = np.isnan(xf)
        big = xf >= float(info.max)
        small = xf <= float(info.min)
        safe = np.where(nan | big | small, 0.0, xf)
        res = np.trunc(safe).astype(to)
        res = np.where(big, info.max, np.where(small, info.min, res)).astype(to)
        return res
    with np.errstate(all="ignore"):
        return x.astype(to)


@rule("convert")
def _convert(args, attrs, out, regions):
    return (convert_array(args[0], _np(out[0])),)


# --- shapes -------------------------------------------------------------------------

@rule("broadcast_in_dim")
def _broadcast_in_dim(args, attrs, out, regions):
    (x,) = args
    shape, dims = attrs["shape"], attrs["broadcast_dimensions"]
    expanded = [1] * len(shape)
    for i, d in enumerate(dims):
        expanded[d] = x.shape[i]
    return (np.broadcast_to(x.reshape(expanded), shape).copy(),)


@rule("reshape")
def _reshape(args, attrs, out, regions):
    return (args[0].reshape(attrs["shape"]).copy(),)


@rule("transpose")
def _transpose(args, attrs, out, regions):
    return (np.ascontiguousarray(np.transpose(args[0], attrs["permutation"])).reshape(out[0].shape),)


@rule("slice")
def _slice(args, attrs, out, regions):
    x = args[0]
    strides = attrs["strides"] or (1,) * x.ndim
    idx = tuple(slice(s, l, k) for s, l, k in zip(attrs["start_indices"], attrs["limit_indices"], strides))
    return (x[idx].copy(),)


def _clamped_starts(starts, shape, sizes):
    return [int(min(max(int(s), 0), n - k)) for s, n, k in zip(starts, shape, sizes)]


@rule("dynamic_slice")
def _dynamic_slice(args, attrs, out, regions):
    x, starts = args[0], args[1:]
    sizes = attrs["slice_sizes"]
    st = _clamped_starts(starts, x.shape, sizes)
    return (x[tuple(slice(s, s + k) for s, k in zip(st, sizes))].copy(),)


@rule("dynamic_update_slice")
def _dynamic_update_slice(args, attrs, out, regions):
    x, u, starts = args[0], args[1], args[2:]
    st = _clamped_starts(starts, x.shape, u.shape)
    res = x.copy()
    res[tuple(slice(s, s + k) for s, k in zip(st, u.shape))] = u
    return (res,)


@rule("concatenate")
def _concatenate(args, attrs, out, regions):
    return (np.concatenate(args, axis=attrs["dimension"]).astype(_np(out[0]), copy=False),)


@rule("pad")
def _pad(args, attrs, out, regions):
    x, v = args
    lo, hi = attrs["edge_padding_low"], attrs["edge_padding_high"]
    interior = attrs["interior_padding"] or (0,) * x.ndim
    res = x
    for d in range(x.ndim):
        n, i = res.shape[d], interior[d]
        if i > 0 and n > 1:
            shape = list(res.shape)
            shape[d] = n + (n - 1) * i
            tmp = np.full(shape, v, dtype=x.dtype)
            idx = [slice(None)] * x.ndim
            idx[d] = slice(None, None, i + 1)
            tmp[tuple(idx)] = res
            res = tmp
        a, b = lo[d], hi[d]
        # pad first, then crop: a negative edge may cut into the other edge's padding
        if a > 0 or b > 0:
            widths = [(0, 0)] * x.ndim
            widths[d] = (max(a, 0), max(b, 0))
            res = np.pad(res, widths, constant_values=v)
        if a < 0 or b < 0:
            idx = [slice(None)] * x.ndim
            idx[d] = slice(max(-a, 0), res.shape[d] - max(-b, 0))
            res = res[tuple(idx)]
    return (np.array(res, dtype=x.dtype).reshape(out[0].shape),)


@rule("reverse")
def _reverse(args, attrs, out, regions):
    return (np.flip(args[0], axis=attrs["dimensions"]).copy() if attrs["dimensions"] else args[0].copy(),)


# --- reductions ---------------------------------------------------------------------

def _lowest(dt):
    return -np.inf if dt.kind == "f" or dt in NARROW_FLOATS else (False if dt == np.bool_ else np.iinfo(dt).min)


def _highest(dt):
    return np.inf if dt.kind == "f" or dt in NARROW_FLOATS else (True if dt == np.bool_ else np.iinfo(dt).max)


@rule("reduce")
def _reduce(args, attrs, out, regions):
    (x,) = args
    dims = tuple(attrs["dimensions"])
    kind = attrs["kind"]
    dt = x.dtype
    if kind in ("sum", "prod") and dt in NARROW_FLOATS:  # accumulated in float32, rounded once
        x = x.astype(np.float32)
    with np.errstate(all="ignore"):
        if kind == "sum":
            r = np.sum(x, axis=dims, dtype=x.dtype)
        elif kind == "prod":
            r = np.prod(x, axis=dims, dtype=x.dtype)
        elif kind == "max":
            r = np.max(x, axis=dims, initial=_lowest(dt)) if dt != np.bool_ else np.any(x, axis=dims)
        elif kind == "min":
            r = np.min(x, axis=dims, initial=_highest(dt)) if dt != np.bool_ else np.all(x, axis=dims)
        elif kind == "and":
            r = np.all(x, axis=dims) if dt == np.bool_ else np.bitwise_and.reduce(x, axis=dims, initial=np.array(-1).astype(dt)[()])
        else:
            r = np.any(x, axis=dims) if dt == np.bool_ else np.bitwise_or.reduce(x, axis=dims, initial=0)
    return (np.asarray(r).astype(dt).reshape(out[0].shape),)


@rule("argmax")
def _argmax(args, attrs, out, regions):
    return (np.argmax(args[0], axis=attrs["dimension"]).astype(_np(out[0])).reshape(out[0].shape),)


@rule("argmin")
def _argmin(args, attrs, out, regions):
    return (np.argmin(args[0], axis=attrs["dimension"]).astype(_np(out[0])).reshape(out[0].shape),)


# --- contraction -------------------------------------------------------------------

@rule("dot_general")
def _dot_general(args, attrs, out, regions):
    lhs, rhs = args
    lb, rb = attrs["lhs_batch"], attrs["rhs_batch"]
    lc, rc = attrs["lhs_contracting"], attrs["rhs_contracting"]
    lf = [i for i in range(lhs.ndim) if i not in lb and i not in lc]
    rf = [i for i in range(rhs.ndim) if i not in rb and i not in rc]
    B = math.prod(lhs.shape[i] for i in lb)
    K = math.prod(lhs.shape[i] for i in lc)
    M = math.prod(lhs.shape[i] for i in lf)
    N = math.prod(rhs.shape[i] for i in rf)
    # accumulate in the result's dtype (preferred_element_type), float32 for float16/bfloat16
    acc = out[0].dtype.np
    acc = np.dtype(np.float32) if acc in NARROW_FLOATS else acc
    a = np.transpose(lhs, list(lb) + lf + list(lc)).reshape(B, M, K).astype(acc)
    b = np.transpose(rhs, list(rb) + list(rc) + rf).reshape(B, K, N).astype(acc)
    with np.errstate(all="ignore"):
        if K == 0:
            r = np.zeros((B, M, N), dtype=acc)
        else:
            r = np.matmul(a, b)
    return (np.asarray(r).astype(_np(out[0])).reshape(out[0].shape),)


# --- gather / scatter -----------------------------------------------------------------

def _clip_indices(idx, n):
    return np.clip(idx.astype(np.int64), 0, max(n - 1, 0))


@rule("gather")
def _gather(args, attrs, out, regions):
    x, idx = args
    axis, bd = attrs["axis"], attrs["batch_dims"]
    idx = _clip_indices(idx, x.shape[axis])
    if out[0].size == 0:
        return (np.zeros(out[0].shape, dtype=x.dtype),)
    if bd == 0:
        return (np.take(x, idx, axis=axis),)
    bshape = x.shape[:bd]
    nb = math.prod(bshape)
    xs = x.reshape((nb,) + x.shape[bd:])
    ids = idx.reshape((nb,) + idx.shape[bd:])
    parts = [np.take(xs[i], ids[i], axis=axis - bd) for i in range(nb)]
    return (np.stack(parts).reshape(out[0].shape) if parts else np.zeros(out[0].shape, x.dtype),)


def _scatter_one(res, idx, upd, axis, kind):
    """res: P+(n,)+Q (modified in place); idx: I; upd: P+I+Q."""
    p = axis
    view = np.moveaxis(res, p, 0)  # (n,) + P + Q
    ni = idx.ndim
    u = np.moveaxis(upd, list(range(p, p + ni)), list(range(ni)))  # I + P + Q
    u = u.reshape((-1,) + u.shape[ni:])
    flat = idx.reshape(-1)
    if kind == "add":
        np.add.at(view, flat, u)
    else:
        for k in range(flat.size):
            view[flat[k]] = u[k]


@rule("scatter")
def _scatter(args, attrs, out, regions):
    x, idx, upd = args
    axis, bd, kind = attrs["axis"], attrs["batch_dims"], attrs["kind"]
    res = x.copy()
    if upd.size == 0:
        return (res,)
    idx = _clip_indices(idx, x.shape[axis])
    with np.errstate(all="ignore"):
        if bd == 0:
            _scatter_one(res, idx, upd, axis, kind)
        else:
            nb = math.prod(x.shape[:bd])
            rs = res.reshape((nb,) + x.shape[bd:])
            ids = idx.reshape((nb,) + idx.shape[bd:])
            us = upd.reshape((nb,) + upd.shape[bd:])
            for i in range(nb):
                _scatter_one(rs[i], ids[i], us[i], axis - bd, kind)
            res = rs.reshape(x.shape)
    return (res,)
