"""Every op on every new real dtype (int8/16, uint8/16/32/64, float16, bfloat16), on the llvm and jax
backends against the reference backend (the oracle, itself checked against plain NumPy here).

One graph per dtype holds every op that accepts the dtype, so each backend compiles eight graphs.
Integer and exact float ops agree bit for bit; float16/bfloat16 results are a float32 computation
rounded once, so transcendental ops may differ by one ulp of the narrow type (the float32 libm
differs by an ulp there). XLA on CPU flushes subnormal results to zero: accepted on jax only.
"""

from __future__ import annotations

import zlib

import ml_dtypes
import numpy as np
import pytest

from chainrule.backends import compile
from chainrule.ir import REGISTRY, GraphBuilder, TensorType, parse, print_graph
from chainrule.testing import assert_same, bits_equal, sample_array
from op_tables import ACCEPTS

NEW = ["int8", "int16", "uint8", "uint16", "uint32", "uint64", "float16", "bfloat16"]
REAL = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "float16", "bfloat16", "float32", "float64"]
NARROW = ("float16", "bfloat16")
SHAPE = (4, 6)


def _np(name):
    return np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)


def _is_float(name):
    return name in ("float16", "bfloat16", "float32", "float64")


def build(dt: str):
    """(graph, labels, inputs): every op that accepts `dt`, each result labelled with what made it."""
    b = GraphBuilder(f"all_{dt}")
    T = TensorType(SHAPE, dt)
    x, y = b.param(T, "x"), b.param(T, "y")
    outs, labels = [], []
    shift = None

    def out(label, v):
        outs.append(v)
        labels.append(label)

    for op, accepted in sorted(ACCEPTS.items()):
        if dt not in accepted:
            continue
        if REGISTRY[op].num_operands == 1:
            out(op, b.op(op, x))
        elif op.startswith("shift"):
            if shift is None:
                shift = b.param(T, "s")
            out(op, b.op(op, x, shift))
        else:
            out(op, b.op(op, x, y))
    for d in ("EQ", "NE", "LT", "LE", "GT", "GE"):
        out(f"compare {d}", b.op("compare", x, y, direction=d))
    out("select", b.op("select", b.op("compare", x, y, direction="LT"), x, y))
    out("clamp", b.op("clamp", b.op("minimum", x, y), x, b.op("maximum", x, y)))
    for to in REAL:
        if to != dt:
            out(f"convert {to}", b.op("convert", x, dtype=to))
    for to in REAL:
        if to != dt and to != "bool" and _np(to).itemsize == _np(dt).itemsize:
            out(f"bitcast {to}", b.op("bitcast_convert", x, dtype=to))
    for kind in ("sum", "prod", "max", "min") + (() if _is_float(dt) else ("and", "or")):
        out(f"reduce {kind}", b.op("reduce", x, kind=kind, dimensions=(1,)))
    out("argmax", b.op("argmax", x, dimension=1))
    out("argmin", b.op("argmin", x, dimension=0, index_dtype="int32"))
    out("dot", b.op("dot_general", x, y, lhs_contracting=(1,), rhs_contracting=(1,)))
    wide = "float32" if _is_float(dt) else ("int" if dt.startswith("int") else "uint") + str(max(32, _np(dt).itemsize * 8))
    out(f"dot -> {wide}", b.op("dot_general", x, y, lhs_contracting=(0,), rhs_contracting=(0,),
                               preferred_element_type=wide))
    out("transpose", b.op("transpose", x, permutation=(1, 0)))
    out("slice", b.op("slice", x, start_indices=(1, 0), limit_indices=(4, 6), strides=(2, 3)))
    pv = b.op("reshape", b.op("slice", b.op("reshape", y, shape=(24,)), start_indices=(0,), limit_indices=(1,)),
              shape=())
    out("pad", b.op("pad", x, pv, edge_padding_low=(1, -1), edge_padding_high=(0, 2), interior_padding=(1, 0)))
    out("concatenate", b.op("concatenate", x, y, dimension=0))
    out("reverse", b.op("reverse", x, dimensions=(0, 1)))
    out("broadcast", b.op("broadcast_in_dim", b.op("reduce", x, kind="max", dimensions=(0,)), shape=(3, 6),
                          broadcast_dimensions=(1,)))
    idx = b.constant(np.array([3, 0, -1, 9], np.int32))
    out("gather", b.op("gather", x, idx, axis=1))
    out("scatter", b.op("scatter", x, idx, b.op("gather", y, idx, axis=1), axis=1, kind="set"))
    out("dynamic_slice", b.op("dynamic_slice", x, b.constant(np.array(2, np.int64)),
                              b.constant(np.array(-1, np.int64)), slice_sizes=(2, 3)))
    out("iota", b.op("iota", shape=(3, 5), dtype=dt, dimension=1))
    g = b.build(outs)
    rng = np.random.default_rng(zlib.crc32(dt.encode()))  # the same data in every process
    npd = _np(dt)
    lo, hi = (-6, 6) if _is_float(dt) else (-40, 40)
    xs = [sample_array(rng, SHAPE, npd, 0.3, lo, hi), sample_array(rng, SHAPE, npd, 0.3, lo, hi)]
    xs[1].reshape(-1)[:3] = 0  # integer division and remainder by zero never trap
    if "s" in [p.name for p in g.params]:
        bits = npd.itemsize * 8
        amounts = np.array([0, 1, 2, 3, bits - 1, bits, bits + 1, 100, 255]).astype(np.int64)
        s = rng.choice(amounts, SHAPE)
        if npd.kind == "i":
            s[0, 0] = -1  # an unsigned amount of all ones
        xs.append(s.astype(npd))
    return g, labels, xs


GRAPHS = {dt: build(dt) for dt in NEW}


_ZERO_TIES = ("maximum", "minimum", "clamp")  # max(-0.0, +0.0) may be either zero: passes may swap operands


def _unsigned_zeros(a):
    return a + a.dtype.type(0) if a.dtype.kind in "fV" else a  # -0.0 + 0.0 is +0.0; NaN stays NaN


def _close(got, want, label, dt, inexact, flush):
    got, want = np.asarray(got), np.asarray(want)
    if label.split()[0] in _ZERO_TIES:
        got, want = _unsigned_zeros(got), _unsigned_zeros(want)
    if label == "reduce prod" and want.dtype.kind in "fV":  # near overflow the order of the products decides
        w64 = want.astype(np.float64)
        got = np.where(np.abs(w64) > 1e30, want, got).astype(want.dtype)
    assert got.dtype == want.dtype, f"{label}: dtype {got.dtype}, expected {want.dtype}"
    if flush and want.dtype.name in NARROW + ("float32", "float64"):
        tiny = float(ml_dtypes.finfo(want.dtype).smallest_normal)
        w64 = want.astype(np.float64)
        sub = (w64 != 0) & (np.abs(w64) < tiny) & (got.astype(np.float64) == 0)
        got = np.where(sub, want, got).astype(want.dtype)
    if not inexact or want.dtype.name not in NARROW:
        assert_same(got, want, what=f"{dt} {label}")
        return
    # one ulp of the narrow type; two on jax, whose float16 logistic measured 2 ulps from the reference's
    ulps = 2 if flush else 1
    rel = ulps * (2.0 ** -7 if want.dtype.name == "bfloat16" else 2.0 ** -10)
    assert_same(got, want, rtol=rel, atol=1e-30, what=f"{dt} {label}")


def _inexact(label):
    op = label.split()[0]
    return (op in REGISTRY and REGISTRY[op].inexact) or op in ("reduce", "dot")


@pytest.mark.parametrize("dt", NEW)
def test_text_form_round_trips(dt):
    g = GRAPHS[dt][0]
    text = print_graph(g)
    assert print_graph(parse(text)) == text


@pytest.mark.parametrize("dt", NEW)
def test_reference_matches_numpy(dt):
    """The oracle itself, on the ops whose meaning is NumPy's (float16/bfloat16: in float32, rounded once)."""
    g, labels, xs = GRAPHS[dt]
    got = dict(zip(labels, compile(g, backend="reference")(*xs)))
    x, y = xs[0], xs[1]
    wide = (lambda a: a.astype(np.float32)) if dt in NARROW else (lambda a: a)
    with np.errstate(all="ignore"):
        want = {"add": x + y, "multiply": x * y, "subtract": x - y, "maximum": np.maximum(x, y),
                "compare LT": x < y, "transpose": x.T, "concatenate": np.concatenate([x, y])}
        if dt in NARROW:
            want.update({"sqrt": np.sqrt(wide(x)).astype(x.dtype), "divide": (wide(x) / wide(y)).astype(x.dtype),
                         "dot": (wide(x) @ wide(y).T).astype(x.dtype)})
        else:
            want.update({"and": x & y, "xor": x ^ y, "not": ~x, "dot": x @ y.T, "popcnt": np.bitwise_count(x.view(f"u{x.itemsize}")).astype(x.dtype)})
    for k, w in want.items():
        g, w = np.asarray(got[k]), np.asarray(w)
        if k in _ZERO_TIES:
            g, w = _unsigned_zeros(g), _unsigned_zeros(w)
        assert_same(g, w, what=f"{dt} {k}")


_JAX_SLOW = ("int16", "uint8", "uint16", "uint64")  # XLA's integer ops are alike: int8 and uint32 run by default
CASES = [pytest.param(dt, b, marks=[pytest.mark.slow] if b == "jax" and dt in _JAX_SLOW else [])
         for dt in NEW for b in ("llvm", "jax")]


@pytest.mark.parametrize("dt,backend", CASES)
def test_backend_matches_reference(dt, backend):
    if backend == "jax":
        pytest.importorskip("jax")
    g, labels, xs = GRAPHS[dt]
    if backend == "jax" and dt in NARROW:  # XLA on CPU reads subnormal inputs as zero: none here
        tiny = float(ml_dtypes.finfo(_np(dt)).smallest_normal)
        xs = [np.where((np.abs(a.astype(np.float64)) < tiny) & (a != 0), 0.25, a).astype(a.dtype) for a in xs]
    want = compile(g, backend="reference")(*xs)
    got = compile(g, backend=backend)(*xs)
    errors = []
    for label, gv, wv in zip(labels, got, want):
        try:
            _close(gv, wv, label, dt, _inexact(label), flush=backend == "jax")
        except AssertionError as e:
            errors.append(str(e)[:300])
    assert not errors, "\n".join(errors)


def test_unsigned_wraparound_and_division_by_zero():
    b = GraphBuilder("u")
    x, y = b.param(TensorType((4,), "uint32"), "x"), b.param(TensorType((4,), "uint32"), "y")
    g = b.build([b.op("add", x, y), b.op("multiply", x, y), b.op("subtract", y, x), b.op("divide", x, y),
                 b.op("remainder", x, y), b.op("negate", x)])
    xs = [np.array([4294967295, 3, 0, 2**31], np.uint32), np.array([2, 0, 5, 2**31], np.uint32)]
    for backend in ("reference", "llvm", "jax"):
        add, mul, sub, div, rem, neg = compile(g, backend=backend)(*xs)
        np.testing.assert_array_equal(add, [1, 3, 5, 0])
        np.testing.assert_array_equal(mul, [4294967294, 0, 0, 0])
        np.testing.assert_array_equal(sub, [3, 4294967293, 5, 0])
        np.testing.assert_array_equal(div, [2147483647, 4294967295, 0, 1])  # x / 0: all ones, as XLA
        np.testing.assert_array_equal(rem, [1, 3, 0, 0])  # x % 0 == x
        np.testing.assert_array_equal(neg, [1, 4294967293, 0, 2**31])


def test_shifts_follow_stablehlo_past_the_width():
    b = GraphBuilder("s")
    x, s = b.param(TensorType((5,), "int8"), "x"), b.param(TensorType((5,), "int8"), "s")
    g = b.build([b.op("shift_left", x, s), b.op("shift_right_logical", x, s), b.op("shift_right_arithmetic", x, s)])
    xs = [np.array([-128, -3, 5, 64, -1], np.int8), np.array([1, 8, 7, -1, 3], np.int8)]
    for backend in ("reference", "llvm", "jax"):
        sl, srl, sra = compile(g, backend=backend)(*xs)
        np.testing.assert_array_equal(sl, [0, 0, -128, 0, -8])
        np.testing.assert_array_equal(srl, [64, 0, 0, 0, 31])
        np.testing.assert_array_equal(sra, [-64, -1, 0, 0, -1])


def test_narrow_float_ops_round_once_per_op():
    """x * y + z in bfloat16 rounds the product, then the sum: no fused multiply-add, no float32 carry."""
    b = GraphBuilder("fma")
    x, y, z = (b.param(TensorType((1,), "bfloat16"), n) for n in "xyz")
    g = b.build([b.op("add", b.op("multiply", x, y), z)])
    bf = ml_dtypes.bfloat16
    xs = [np.array([1 + 2 ** -7], bf), np.array([1 + 2 ** -7], bf), np.array([-1], bf)]
    # exact: 2**-6 + 2**-14; the product rounds to 1 + 2**-6 first, so the answer is 2**-6
    for backend in ("reference", "llvm", "jax"):
        (r,) = compile(g, backend=backend)(*xs)
        assert bits_equal(np.asarray(r), np.array([2 ** -6], bf)).all(), (backend, r)


def test_from_jax_imports_bit_ops_and_narrow_floats():
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    import chainrule as cr

    def f(k, h):
        k = jax.lax.shift_right_logical(k, jnp.uint32(3)) ^ jax.lax.shift_left(k, jnp.uint32(29))
        return k, jax.lax.population_count(k), jax.lax.bitcast_convert_type(k, jnp.float32), h * h + 1
    k = np.array([1, 2**31 + 7, 12345, 2**32 - 1], np.uint32)
    h = np.array([0.5, -3.25, 7.0, 1e4], np.float16)
    g = cr.from_jax(f, cr.Spec((4,), "uint32"), cr.Spec((4,), "float16"))
    for got, want in zip(compile(g, backend="llvm")(k, h), f(k, h)):
        assert np.asarray(got).dtype == np.asarray(want).dtype
        assert bits_equal(np.asarray(got), np.asarray(want)).all()


@pytest.mark.parametrize("dt", ["float16", "bfloat16"])
def test_folding_and_simplifying_keep_every_narrow_rounding(dt):
    """Constants folded at compile time round exactly as the ops do at run time: every opt level gives
    the unoptimized graph's bits."""
    from chainrule.passes import optimize
    npd = _np(dt)
    b = GraphBuilder("fold")
    x = b.param(TensorType((5,), dt), "x")
    c = b.constant(np.array([1 + 2 ** -7, 3.0, 1e-3, 1e4, 1 / 3]).astype(npd))
    d = b.constant(np.array([1 - 2 ** -8, 7.0, 1e3, 1e-4, 3.0]).astype(npd))
    cd = b.op("add", b.op("multiply", c, d), b.op("divide", c, d))  # folds to a constant
    w = b.op("convert", b.op("convert", x, dtype="float32"), dtype=dt)  # convert(convert) -> x: lossless
    y = b.op("add", b.op("multiply", w, cd), b.op("multiply", b.op("sqrt", cd), x))
    s = b.op("reduce", y, kind="sum", dimensions=(0,))
    g = b.build([y, s, b.op("convert", b.op("convert", y, dtype="float32"), dtype="int8")])
    xs = [np.array([0.1, -2.0, 3.5, 1e-2, 250.0]).astype(npd)]
    want = compile(g, backend="reference")(*xs)
    for level in (1, 2, 3):
        og = optimize(g, opt_level=level)
        assert not any(n.op.name == "multiply" and all(o.node is not None and o.node.op.name == "constant"
                                                        for o in n.operands) for n in og.walk())
        for backend in ("reference", "llvm"):
            for got, w in zip(compile(og, backend=backend)(*xs), want):
                assert bits_equal(np.asarray(got), np.asarray(w)).all(), (level, backend, got, w)
