"""chainrule.random: counter-based, functional random numbers with jax.random's names and bits.

Every sampler takes a key (`PRNGKey(seed)`, `split`, `fold_in`) and a static shape and is built from
IR ops on the key's words (see random_bits), so it runs inside `jit`, batches under `vmap` and
differentiates around (the bits carry no derivative; `uniform`'s bounds and `normal`'s transforms
do). The samplers follow jax.random's algorithms step by step: for the same key, shape and dtype
`bits`, `uniform`, `bernoulli`, `randint`, `permutation`, `choice`, `split` and `fold_in` give
JAX's exact values; the samplers that go through a transcendental function (`normal`, `gumbel`,
`exponential`, `gamma`, ...) agree to within the last bits of those functions.
"""

from __future__ import annotations

import math

import numpy as np

from ..ir import dtype as as_dtype
from .core import bind, is_tensor, type_of
from .lax import broadcast_to, convert, default_float_type, default_int_type, normalize_axis, operand
from .random_bits import PRNGKey, bits32, bits_pair, fold_in, key, key_data, split, w_shr
from .numpy.ufuncs import greater, less, maximum, minimum, where
from .numpy.reductions import argmax, cumsum
from .numpy.indexing import take, take_along_axis
from .numpy.sorting import argsort, searchsorted
from .numpy.special_normal import erfinv
from .numpy.special import erf
from .control_flow import while_loop
from .lax_scan import top_k
from .vmap import vmap

_UINTS = {8: "uint8", 16: "uint16", 32: "uint32", 64: "uint64"}


def _shape(name, shape):
    if shape is None:
        return None
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shape = tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"{name}: shape must be a tuple of non-negative integers, got {shape!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"{name}: shape must be non-negative, got {shape}")
    return shape


def _float_dtype(name, dtype):
    dt = default_float_type() if dtype is None else as_dtype(dtype)
    if not dt.is_float:
        raise ValueError(f"dtype argument to `{name}` must be a float dtype, got {dt}")
    if dt.bits not in (32, 64):
        raise NotImplementedError(f"{name}: dtype {dt} is not supported yet (float32 and float64 are)")
    return dt


def _check_broadcast(name, shape, *params):
    for p in params:
        ps = type_of(p).shape if not isinstance(p, (int, float)) else ()
        try:
            if tuple(np.broadcast_shapes(shape, ps)) != shape:
                raise ValueError
        except ValueError:
            raise ValueError(f"{name}: parameter of shape {ps} does not broadcast to the requested shape {shape}") from None


# --- raw bits -------------------------------------------------------------------------------------------

def bits(key, shape=(), dtype=None):
    """Uniform random bits, as jax.random.bits; dtype uint8/16/32/64 (default uint64, JAX's default
    with x64, as chainrule's integers are 64-bit by default)."""
    shape = _shape("bits", shape)
    name = "uint64" if dtype is None else as_dtype(dtype).name
    width = {v: k for k, v in _UINTS.items()}.get(name)
    if width is None:
        raise TypeError(f"bits: dtype must be an unsigned integer dtype, got {name}")
    if width == 64:
        hi, lo = bits_pair(key, shape)
        return bind("or", bind("shift_left", convert(hi, name), _full_of(hi, 32, as_dtype(name))), convert(lo, name))
    b = bits32(key, shape)
    return b if width == 32 else convert(b, name)


def _unit_float(key, shape, dt, name):
    """Floats m * 2**-nmant in [0, 1) from the top mantissa bits, exactly as JAX's bit trick gives."""
    if dt.bits == 32:
        m = w_shr(bits32(key, shape, name), 9)
        return bind("multiply", convert(m, dt), _full_of(m, 2.0 ** -23, dt))
    hi, lo = bits_pair(key, shape, name)
    # the top 52 of the 64 bits hi << 32 | lo: hi * 2**20 + (lo >> 12), exact in float64
    f = bind("add", bind("multiply", convert(hi, dt), _full_of(hi, 2.0 ** 20, dt)), convert(w_shr(lo, 12), dt))
    return bind("multiply", f, _full_of(f, 2.0 ** -52, dt))


def _full_of(x, v, dt):
    shape = type_of(x).shape
    c = np.asarray(v, dtype=as_dtype(dt).np)
    return c if not shape else bind("broadcast_in_dim", c, shape=shape, broadcast_dimensions=())


def _param(x, dt):
    if isinstance(x, (bool, int, float)):
        return np.asarray(x, dt.np)
    return convert(operand(x), dt)


def uniform(key, shape=(), dtype=None, minval=0.0, maxval=1.0):
    """Uniform floats in [minval, maxval), as jax.random.uniform."""
    shape = _shape("uniform", shape)
    dt = _float_dtype("uniform", dtype)
    lo, hi = _param(minval, dt), _param(maxval, dt)
    _check_broadcast("uniform", shape, lo, hi)
    f = _unit_float(key, shape, dt, "uniform")
    lo_b, hi_b = broadcast_to(lo, shape), broadcast_to(hi, shape)
    r = bind("add", bind("multiply", f, bind("subtract", hi_b, lo_b)), lo_b)
    return bind("maximum", lo_b, r)


def normal(key, shape=(), dtype=None):
    """Standard normal floats: sqrt(2) * erf_inv(u) with u uniform in (-1, 1), as jax.random.normal."""
    shape = _shape("normal", shape)
    dt = _float_dtype("normal", dtype)
    lo = np.nextafter(np.asarray(-1.0, dt.np), np.asarray(0.0, dt.np))
    u = uniform(key, shape, dt, lo, 1.0)
    return bind("multiply", _full_of(u, np.sqrt(2), dt), erfinv(u))


def truncated_normal(key, lower, upper, shape=None, dtype=None):
    """Normal floats conditioned on lower < x < upper, as jax.random.truncated_normal."""
    dt = _float_dtype("truncated_normal", dtype)
    lo, hi = _param(lower, dt), _param(upper, dt)
    if shape is None:
        shape = tuple(np.broadcast_shapes(type_of(lo).shape, type_of(hi).shape))
    shape = _shape("truncated_normal", shape)
    _check_broadcast("truncated_normal", shape, lo, hi)
    sqrt2 = np.asarray(np.sqrt(2), dt.np)
    a = erf(bind("divide", lo, sqrt2) if is_tensor(lo) else np.asarray(lo / sqrt2, dt.np))
    b = erf(bind("divide", hi, sqrt2) if is_tensor(hi) else np.asarray(hi / sqrt2, dt.np))
    u = uniform(key, shape, dt, a, b)
    out = bind("multiply", _full_of(u, sqrt2, dt), erfinv(u))
    if is_tensor(lo) or is_tensor(hi):
        # no nextafter op yet: traced bounds clip to the closed interval
        low = bind("stop_gradient", broadcast_to(lo, shape))
        high = bind("stop_gradient", broadcast_to(hi, shape))
    else:
        low = broadcast_to(np.nextafter(lo, np.asarray(np.inf, dt.np)), shape)
        high = broadcast_to(np.nextafter(hi, np.asarray(-np.inf, dt.np)), shape)
    return minimum(maximum(out, low), high)


def bernoulli(key, p=0.5, shape=None):
    """Booleans that are True with probability p, as jax.random.bernoulli (mode='low')."""
    pp = operand(p) if not isinstance(p, float) else np.asarray(p, default_float_type().np)
    dt = type_of(pp).dtype
    if not dt.is_float:
        raise TypeError(f"bernoulli: probability p must have a floating dtype, got {dt}")
    shape = type_of(pp).shape if shape is None else _shape("bernoulli", shape)
    _check_broadcast("bernoulli", shape, pp)
    return less(uniform(key, shape, dt), pp)


def _int_dtype(name, dtype):
    dt = default_int_type() if dtype is None else as_dtype(dtype)
    if dt.kind not in "iu":
        raise TypeError(f"{name} only accepts integer dtypes, got {dt}")
    return dt


def _as_i64(x):
    return convert(x, "int64")


def _split2(key):
    ks = split(key)
    return [bind("reshape", bind("slice", ks, start_indices=(i, 0), limit_indices=(i + 1, 2), strides=()), shape=(2,))
            for i in (0, 1)]


def randint(key, shape, minval, maxval, dtype=None):
    """Integers uniform in [minval, maxval), as jax.random.randint (the same values for the same key):
    two draws of the dtype's width combined modulo the span, in unsigned arithmetic."""
    shape = _shape("randint", shape)
    dt = _int_dtype("randint", dtype)
    nbits = dt.bits
    info = np.iinfo(dt.np)
    mn, mx = operand(minval), operand(maxval)
    for v, what in ((mn, "minval"), (mx, "maxval")):
        if type_of(v).dtype.kind not in "iu":
            raise TypeError(f"randint: {what} must be an integer, got {type_of(v).dtype}")
    if nbits < 32:  # JAX samples 8- and 16-bit integers at 32 bits (less bias), then casts
        lo32 = minimum(maximum(convert(mn, "int32"), int(info.min)), int(info.max))
        hi32 = minimum(maximum(convert(mx, "int32"), int(info.min)), int(info.max) + 1)
        return convert(randint(key, shape, lo32, hi32, "int32"), dt)
    _check_broadcast("randint", shape, mn, mx)
    udt = as_dtype(_UINTS[nbits])

    def clip_to(v):
        """v converted to dt, clipped to its range instead of wrapping."""
        vt = type_of(v).dtype
        wide = "uint64" if vt.kind == "u" else "int64"
        vv = convert(v, wide)
        if vt.kind == "u":
            vv = minimum(vv, np.asarray(int(info.max), np.uint64))
        else:
            vv = minimum(maximum(vv, int(max(info.min, np.iinfo(np.int64).min))), int(min(info.max, 2 ** 63 - 1)))
        return convert(vv, dt)

    out_of_range = greater(convert(mx, "int64") if type_of(mx).dtype.kind != "u" else convert(mx, "uint64"),
                           int(info.max)) if nbits < 64 or type_of(mx).dtype.kind == "u" else \
        broadcast_to(np.asarray(False), type_of(mx).shape)
    lo, hi = broadcast_to(clip_to(mn), shape), broadcast_to(clip_to(mx), shape)
    out_of_range = broadcast_to(out_of_range, shape)
    k1, k2 = _split2(key)
    higher, lower = bits(k1, shape, udt), bits(k2, shape, udt)
    span = convert(bind("subtract", hi, lo), udt)
    le = bind("compare", hi, lo, direction="LE")
    one = broadcast_to(np.asarray(1, udt.np), shape)
    span = bind("select", le, one, span)
    span = bind("select", bind("and", out_of_range, bind("not", le)), bind("add", span, one), span)
    mult = bind("remainder", broadcast_to(np.asarray(1 << (nbits // 2), udt.np), shape), span)
    mult = bind("remainder", bind("multiply", mult, mult), span)
    off = bind("add", bind("multiply", bind("remainder", higher, span), mult), bind("remainder", lower, span))
    off = bind("remainder", off, span)
    return bind("add", lo, convert(off, dt))


def _sort_by_bits(key, x, axis):
    n = type_of(x).size
    rounds = int(np.ceil(3 * np.log(max(1, n)) / np.log(np.iinfo(np.uint32).max)))
    for _ in range(rounds):
        ks = split(key)
        key = bind("reshape", bind("slice", ks, start_indices=(0, 0), limit_indices=(1, 2), strides=()), shape=(2,))
        sub = bind("reshape", bind("slice", ks, start_indices=(1, 0), limit_indices=(2, 2), strides=()), shape=(2,))
        sort_keys = _as_i64(bits32(sub, type_of(x).shape, "permutation"))
        x = take_along_axis(x, argsort(sort_keys, axis=axis), axis=axis)
    return x


def permutation(key, x, axis=0, independent=False):
    """A random permutation of arange(x) (x an int) or of x along `axis`, as jax.random.permutation."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return _sort_by_bits(key, np.arange(int(x), dtype=default_int_type().np), 0)
    x = operand(x)
    t = type_of(x)
    if t.ndim == 0:
        raise TypeError("permutation: x must be an integer or at least 1-dimensional")
    axis = normalize_axis(axis, t.ndim)
    if independent or t.ndim == 1:
        return _sort_by_bits(key, x, axis)
    ind = _sort_by_bits(key, np.arange(t.shape[axis], dtype=default_int_type().np), 0)
    return take(x, ind, axis=axis)


def choice(key, a, shape=(), replace=True, p=None, axis=0):
    """Samples from `a` (an int n means arange(n)), as jax.random.choice."""
    shape = _shape("choice", shape)
    arr = a if isinstance(a, (int, np.integer)) and not isinstance(a, bool) else operand(a)
    scalar = isinstance(arr, (int, np.integer))
    if scalar:
        n = int(arr)
    else:
        t = type_of(arr)
        if t.ndim == 0:
            raise ValueError("choice: a must be an integer or an array of at least one dimension")
        axis = normalize_axis(axis, t.ndim)
        n = t.shape[axis]
    draws = math.prod(shape)
    if n <= 0 and draws:
        raise ValueError("choice: a must be greater than 0 unless no samples are taken")
    if not replace and draws > n:
        raise ValueError(f"choice: cannot take a larger sample (size {draws}) than population (size {n}) "
                         "when replace=False")
    if p is None:
        if replace:
            ind = randint(key, shape, 0, n)
            res = ind if scalar else take(arr, ind, axis=axis)
        else:
            perm = permutation(key, n if scalar else arr, axis)
            res = bind("slice", perm, start_indices=(0,) * type_of(perm).ndim,
                       limit_indices=tuple(draws if d == (0 if scalar else axis) else s
                                           for d, s in enumerate(type_of(perm).shape)), strides=())
            ind = None
    else:
        pp = operand(p)
        if not type_of(pp).dtype.is_float:
            pp = convert(pp, default_float_type())
        if type_of(pp).shape != (n,):
            raise ValueError(f"choice: p must be None or a 1D vector with the same size as a.shape[axis] ({n}); "
                             f"got shape {type_of(pp).shape}")
        if not replace:  # the n_draws largest of log(p) + Gumbel noise, as JAX
            g = bind("add", gumbel(key, (n,), type_of(pp).dtype), bind("log", pp))
            ind = convert(top_k(g, draws)[1], default_int_type())
            res = ind if scalar else take(arr, ind, axis=axis)
            if scalar:
                return bind("reshape", res, shape=shape)
            t = type_of(arr)
            return bind("reshape", res, shape=t.shape[:axis] + shape + t.shape[axis + 1:])
        c = cumsum(pp)
        last = bind("reshape", bind("slice", c, start_indices=(n - 1,), limit_indices=(n,), strides=()), shape=())
        u = uniform(key, shape, type_of(pp).dtype)
        r = bind("multiply", broadcast_to(last, shape), bind("subtract", _full_of(u, 1.0, type_of(u).dtype), u))
        ind = searchsorted(c, r)
        res = ind if scalar else take(arr, ind, axis=axis)
    if scalar:
        return bind("reshape", res, shape=shape) if type_of(res).shape != shape else res
    t = type_of(arr)
    out_shape = t.shape[:axis] + shape + t.shape[axis + 1:]
    return bind("reshape", res, shape=out_shape) if type_of(res).shape != out_shape else res


def gumbel(key, shape=(), dtype=None):
    """Standard Gumbel floats -log(-log(u)), as jax.random.gumbel (mode='low')."""
    shape = _shape("gumbel", shape)
    dt = _float_dtype("gumbel", dtype)
    u = uniform(key, shape, dt, np.finfo(dt.np).tiny, 1.0)
    return bind("negate", bind("log", bind("negate", bind("log", u))))


def categorical(key, logits, axis=-1, shape=None):
    """Category indices drawn with probabilities softmax(logits) along `axis`, as jax.random.categorical."""
    lg = operand(logits)
    t = type_of(lg)
    if not t.dtype.is_float:
        lg = convert(lg, default_float_type())
        t = type_of(lg)
    axis = normalize_axis(axis, t.ndim)
    batch = t.shape[:axis] + t.shape[axis + 1:]
    shape = batch if shape is None else _shape("categorical", shape)
    if tuple(np.broadcast_shapes(shape, batch)) != shape:
        raise ValueError(f"categorical: shape {shape} is not compatible with the batch shape {batch} of the logits")
    prefix = shape[:len(shape) - len(batch)]
    full = list(shape[len(shape) - len(batch):])
    full.insert(axis, t.shape[axis])
    full = tuple(prefix) + tuple(full)
    g = gumbel(key, full, t.dtype)
    return argmax(bind("add", g, broadcast_to(lg, full)), axis=len(prefix) + axis)


def exponential(key, shape=(), dtype=None):
    """Standard exponential floats -log1p(-u), as jax.random.exponential."""
    shape = _shape("exponential", shape)
    u = uniform(key, shape, _float_dtype("exponential", dtype))
    return bind("negate", bind("log_plus_one", bind("negate", u)))


def laplace(key, shape=(), dtype=None):
    """Standard Laplace floats, as jax.random.laplace."""
    shape = _shape("laplace", shape)
    dt = _float_dtype("laplace", dtype)
    u = uniform(key, shape, dt, -1.0 + float(np.finfo(dt.np).epsneg), 1.0)
    return bind("multiply", bind("sign", u), bind("log_plus_one", bind("negate", bind("abs", u))))


def logistic(key, shape=(), dtype=None):
    """Standard logistic floats log(u) - log1p(-u), as jax.random.logistic."""
    shape = _shape("logistic", shape)
    dt = _float_dtype("logistic", dtype)
    x = uniform(key, shape, dt, np.finfo(dt.np).tiny, 1.0)
    return bind("subtract", bind("log", x), bind("log_plus_one", bind("negate", x)))


def _row(keys, i):
    return bind("reshape", bind("slice", keys, start_indices=(i, 0), limit_indices=(i + 1, 2), strides=()), shape=(2,))


def _gamma_one(key, alpha):
    """Marsaglia and Tsang's rejection sampler for one Gamma(alpha) draw, step for step as JAX's."""
    dt = type_of(alpha).dtype

    def c(v):
        return np.asarray(v, dt.np)

    boost = bind("compare", alpha, c(1), direction="GE")
    a = where(boost, alpha, bind("add", alpha, c(1)))
    d = bind("subtract", a, c(1 / 3))
    cc = bind("divide", c(1 / 3), bind("sqrt", d))

    def cond(state):
        _, x, v, u = state
        first = bind("compare", u, bind("subtract", c(1), bind("multiply", c(0.0331), bind("multiply", x, x))),
                     direction="GE")
        second = bind("compare", bind("log", u), bind("add", bind("multiply", x, c(0.5)), bind(
            "multiply", d, bind("add", bind("subtract", c(1), v), bind("log", v)))), direction="GE")
        return bind("and", first, second)

    def next_xv(kxv):
        ks = split(kxv[0])
        x = normal(_row(ks, 1), (), dt)
        return _row(ks, 0), x, bind("add", c(1), bind("multiply", x, cc))

    def body(state):
        ks = split(state[0], 3)
        _, x, v = while_loop(lambda kxv: bind("compare", kxv[2], c(0), direction="LE"), next_xv,
                             (_row(ks, 1), c(0), c(-1)))
        u = uniform(_row(ks, 2), (), dt)
        return _row(ks, 0), bind("multiply", x, x), bind("multiply", bind("multiply", v, v), v), u

    ks = split(key)
    _, _, v, _ = while_loop(cond, body, (_row(ks, 0), c(0), c(1), c(2)))
    samples = bind("subtract", c(1), uniform(_row(ks, 1), (), dt))
    scale = where(boost, c(1), bind("power", samples, bind("divide", c(1), alpha)))
    return bind("multiply", bind("multiply", d, v), scale)


def gamma(key, a, shape=None, dtype=None):
    """Gamma(a, 1) floats by Marsaglia and Tsang's method with JAX's key schedule (one split key per
    element, a rejection loop per draw), as jax.random.gamma. The draws follow JAX's step for step;
    they match to within the last bits of log/pow/erf_inv, not bit for bit."""
    dt = _float_dtype("gamma", dtype)
    aa = _param(a, dt)
    shape = type_of(aa).shape if shape is None else _shape("gamma", shape)
    _check_broadcast("gamma", shape, aa)
    n = math.prod(shape)
    if n == 0:
        return np.zeros(shape, dt.np)
    keys = split(key, n)
    alphas = bind("reshape", broadcast_to(aa, shape), shape=(n,))
    draws = vmap(_gamma_one)(keys, alphas)
    return bind("reshape", draws, shape=shape)


__all__ = ["PRNGKey", "key", "key_data", "split", "fold_in", "bits", "uniform", "normal", "truncated_normal",
           "bernoulli", "randint", "permutation", "choice", "gumbel", "categorical", "exponential", "laplace",
           "logistic", "gamma"]

