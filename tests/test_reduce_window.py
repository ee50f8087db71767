"""reduce_window (sum, max, min) and pooling: values, derivatives (max pooling's gradient goes to the
first maximum of each window, as JAX's select_and_scatter_add), second derivatives, vmap, every
backend, against the reference backend and jax.lax.reduce_window; hostile arguments; the text form."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.frontend import lax_conv as L
from chainrule.frontend import nn_pooling as P
from chainrule.ir import IRTypeError, parse

pytestmark = pytest.mark.usefixtures("jax_x64")  # float64 references; restored after the module

RNG = np.random.default_rng(1)
LAX = {"sum": (jax.lax.add, 0.0), "max": (jax.lax.max, -np.inf), "min": (jax.lax.min, np.inf)}

# (name, shape, keyword arguments of reduce_window after the computation)
CASES = [
    ("pool2x2", (2, 6, 6, 3), dict(window_dimensions=(1, 2, 2, 1), window_strides=(1, 2, 2, 1), padding="VALID")),
    ("overlap_same", (2, 3, 7, 6), dict(window_dimensions=(1, 1, 3, 3), window_strides=(1, 1, 2, 1),
                                        padding="SAME")),
    ("padded_dilated", (3, 8, 5), dict(window_dimensions=(1, 3, 2), window_strides=(1, 2, 1),
                                       padding=((0, 0), (1, 2), (0, 1)), window_dilation=(1, 2, 1))),
    ("base_dilated", (2, 5, 4), dict(window_dimensions=(2, 2, 2), window_strides=(1, 2, 1),
                                     padding=((0, 1), (1, 0), (0, 0)), base_dilation=(1, 2, 1))),
    ("big_window", (2, 9, 8), dict(window_dimensions=(1, 7, 6), window_strides=(1, 1, 2), padding="VALID")),
]
NO_JAX_GRAD = {"padded_dilated"}  # JAX has no VJP of a max/min window with window dilation


_DEFAULT_GRADS = {("pool2x2", "max"), ("pool2x2", "min"), ("overlap_same", "max"), ("overlap_same", "sum"),
                  ("padded_dilated", "max"), ("base_dilated", "max"), ("big_window", "max"), ("big_window", "sum")}
_DEFAULT_VALUES = {("pool2x2", "sum"), ("overlap_same", "min"), ("padded_dilated", "max"), ("base_dilated", "sum"),
                   ("base_dilated", "min"), ("big_window", "max"), ("big_window", "min")}


def _grid(default):
    """(case, kind) pairs: those in `default` run by default, the rest are marked slow."""
    return [pytest.param(c, k, id=f"{c[0]}-{k}", marks=() if (c[0], k) in default else pytest.mark.slow)
            for c in CASES for k in ("sum", "max", "min")]


def _x(shape, ties=True):
    x = RNG.standard_normal(shape)
    return np.round(x, 1) if ties else x   # rounding makes ties: the first maximum must win


def _f(kind, kw, xp, lax_mod):
    comp, init = LAX[kind]
    if lax_mod is L:
        comp = {"sum": cnp.add, "max": cnp.maximum, "min": cnp.minimum}[kind]
    return lambda a: xp.sum(xp.sin(lax_mod.reduce_window(a, init, comp, **kw)))


@pytest.mark.parametrize("case,kind", _grid(_DEFAULT_VALUES))
def test_values_match_jax(case, kind):
    _, shape, kw = case
    x = _x(shape)
    comp, init = LAX[kind]
    want = jax.lax.reduce_window(x, init, comp, **kw)
    ours = {"sum": cnp.add, "max": cnp.maximum, "min": cnp.minimum}[kind]
    np.testing.assert_allclose(L.reduce_window(x, init, ours, **kw), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cr.jit(lambda a: L.reduce_window(a, init, comp, **kw), backend="llvm")(x), want,
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case,kind", _grid(_DEFAULT_GRADS))
def test_grad_matches_jax_on_every_backend(case, kind):
    name, shape, kw = case
    x = _x(shape)
    f = _f(kind, kw, cnp, L)
    want = None
    if not (kind != "sum" and name in NO_JAX_GRAD):
        want = jax.jit(jax.grad(_f(kind, kw, jnp, jax.lax)))(x)
    got = {b: cr.jit(cr.grad(f), backend=b)(x) for b in ("reference", "llvm", "jax")
           if not (b == "jax" and want is None)}
    for b, g in got.items():
        np.testing.assert_allclose(g, got["reference"] if want is None else want, rtol=1e-10, atol=1e-10,
                                   err_msg=b)


def test_max_pool_gradient_goes_to_the_first_maximum():
    x = np.zeros((1, 4, 4, 1))
    x[0, 1, 1, 0] = x[0, 1, 2, 0] = 1.0   # a tie inside one window
    f = lambda a: cnp.sum(P.max_pool(a, (2, 2), (1, 1)) * np.arange(1.0, 10.0).reshape(1, 3, 3, 1))
    want = jax.grad(lambda a: jnp.sum(jax.lax.reduce_window(a, -np.inf, jax.lax.max, (1, 2, 2, 1), (1, 1, 1, 1),
                                                            "VALID") * np.arange(1.0, 10.0).reshape(1, 3, 3, 1)))(x)
    for b in ("reference", "llvm", "jax"):
        np.testing.assert_array_equal(cr.jit(cr.grad(f), backend=b)(x), want)


@pytest.mark.parametrize("kind", ["max", "sum"])
def test_jvp_and_second_derivatives_match_jax(kind):
    _, shape, kw = CASES[1]
    x, t = _x(shape, ties=False), RNG.standard_normal(shape)
    f, fj = _f(kind, kw, cnp, L), _f(kind, kw, jnp, jax.lax)
    y, ty = cr.jvp(f, (x,), (t,))
    yj, tyj = jax.jit(lambda a: jax.jvp(fj, (a,), (t,)))(x)
    np.testing.assert_allclose(ty, tyj, rtol=1e-10, atol=1e-10)
    hvp = cr.jit(cr.grad(lambda a: cnp.sum(cr.grad(f)(a) * t)), backend="llvm")(x)
    hvpj = jax.jit(jax.grad(lambda a: jnp.sum(jax.grad(fj)(a) * t)))(x)
    np.testing.assert_allclose(hvp, hvpj, rtol=1e-9, atol=1e-9)
    # forward over reverse, too
    _, fr = cr.jvp(cr.grad(f), (x,), (t,))
    np.testing.assert_allclose(fr, hvpj, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind,in_axes", [("sum", 2), ("max", 0)])
def test_vmap_and_per_example_grads_match_jax(kind, in_axes):
    _, shape, kw = CASES[1]
    xs = np.moveaxis(_x((3,) + shape, ties=False), 0, in_axes)
    f, fj = _f(kind, kw, cnp, L), _f(kind, kw, jnp, jax.lax)
    got = cr.jit(cr.vmap(cr.grad(f), in_axes=in_axes), backend="reference")(xs)
    want = jax.jit(jax.vmap(jax.grad(fj), in_axes=in_axes))(xs)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_window_dilation_gradient_against_finite_differences():
    _, shape, kw = CASES[2]
    x = _x(shape, ties=False)
    cr.check_grads(_f("max", kw, cnp, L), (x,), order=1, modes=("fwd", "rev"))


def test_init_value_other_than_the_identity():
    x = _x((2, 5, 4))
    kw = dict(window_dimensions=(1, 2, 2), window_strides=(1, 1, 2), padding=((0, 0), (1, 1), (0, 1)))
    for comp, ours, init in ((jax.lax.add, cnp.add, 1.5), (jax.lax.max, cnp.maximum, 0.25)):
        want = jax.lax.reduce_window(x, init, comp, **kw)
        np.testing.assert_allclose(L.reduce_window(x, init, ours, **kw), want, rtol=1e-12)
        np.testing.assert_allclose(cr.jit(lambda a: L.reduce_window(a, init, comp, **kw), backend="llvm")(x), want,
                                   rtol=1e-12)


def test_integer_windows():
    x = RNG.integers(-50, 50, (3, 7)).astype(np.int32)
    kw = dict(window_dimensions=(2, 3), window_strides=(1, 2), padding="SAME")
    for comp, init in ((jax.lax.add, 0), (jax.lax.max, np.iinfo(np.int32).min), (jax.lax.min, np.iinfo(np.int32).max)):
        want = jax.lax.reduce_window(x, np.int32(init), comp, **kw)
        for b in ("reference", "llvm", "jax"):
            np.testing.assert_array_equal(cr.jit(lambda a: L.reduce_window(a, init, comp, **kw), backend=b)(x), want)


def test_pooling_helpers():
    x = _x((2, 6, 5, 3), ties=False)
    mp = np.asarray(P.max_pool(x, (2, 2), strides=(2, 2)))
    np.testing.assert_allclose(mp, x[:, :6, :4].reshape(2, 3, 2, 2, 2, 3).max(axis=(2, 4)))
    ap = np.asarray(P.avg_pool(x, (3, 3), padding="SAME", count_include_pad=False))
    np.testing.assert_allclose(ap[:, 0, 0], x[:, :2, :2].mean(axis=(1, 2)))
    np.testing.assert_allclose(np.asarray(P.avg_pool(x, (3, 3), padding="SAME"))[:, 0, 0],
                               x[:, :2, :2].sum(axis=(1, 2)) / 9)
    np.testing.assert_allclose(np.asarray(P.min_pool(x[0], (2, 1))), np.minimum(x[0, :-1], x[0, 1:]))
    g = cr.jit(cr.grad(lambda a: cnp.sum(P.avg_pool(a, (2, 2), padding=((1, 0), (0, 1))) ** 2)), backend="llvm")(x)
    gj = jax.grad(lambda a: jnp.sum((jax.lax.reduce_window(a, 0.0, jax.lax.add, (1, 2, 2, 1), (1, 1, 1, 1),
                                                           ((0, 0), (1, 0), (0, 1), (0, 0))) / 4) ** 2))(x)
    np.testing.assert_allclose(g, gj, rtol=1e-10)


@pytest.mark.parametrize("kwargs,match", [
    (dict(window_dimensions=(1, 2), window_strides=(1, -2), padding="VALID"), "window_strides must be positive"),
    (dict(window_dimensions=(1, 9), window_strides=(1, 1), padding="VALID"), "larger than the padded operand"),
    (dict(window_dimensions=(1, 0), window_strides=(1, 1), padding="VALID"), "window_dimensions must be positive"),
    (dict(window_dimensions=(2,), window_strides=(1,), padding="VALID"), "window_dimensions must have 2 entries"),
    (dict(window_dimensions=(1, 2), window_strides=(1, 1), padding=((0, 0),)), "padding must have 2"),
    (dict(window_dimensions=(1, 2), window_strides=(1, 1), padding="ALL"), "padding must be 'SAME'"),
])
def test_hostile_arguments_name_the_argument(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        L.reduce_window(np.ones((3, 4)), -np.inf, jax.lax.max, **kwargs)


def test_unsupported_computation_and_ir_errors():
    with pytest.raises(NotImplementedError, match="computation must be add, max or min"):
        L.reduce_window(np.ones((3, 4)), 1.0, jax.lax.mul, (1, 2), (1, 1), "VALID")
    from chainrule.ir import GraphBuilder, TensorType
    b = GraphBuilder()
    x = b.param(TensorType((3, 4), "float32"))
    with pytest.raises(IRTypeError, match="reduce_window.*window_dimensions"):
        b.op("reduce_window", x, kind="max", window_dimensions=(2,))
    with pytest.raises(IRTypeError, match="select_and_scatter_add.*source type"):
        b.op("select_and_scatter_add", x, x, kind="max", window_dimensions=(2, 2))


def test_text_round_trip():
    _, shape, kw = CASES[3]
    f = _f("max", kw, cnp, L)
    g = cr.trace(cr.grad(lambda a: cnp.sum(cr.grad(f)(a) * a)), _x(shape))
    text = str(g)
    assert "select_and_scatter_add" in text and "select_and_gather_add" in text
    assert str(parse(text)) == text


def test_big_window_jvp_on_llvm():
    _, shape, kw = CASES[4]   # 42 elements per window: the gather + argmax form on llvm
    x, t = _x(shape), RNG.standard_normal(shape)
    f, fj = _f("max", kw, cnp, L), _f("max", kw, jnp, jax.lax)
    got = cr.jit(lambda a, b: cr.jvp(f, (a,), (b,))[1], backend="llvm")(x, t)
    want = jax.jit(lambda a, b: jax.jvp(fj, (a,), (b,))[1])(x, t)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("backend", ["reference", "llvm", "jax"])
def test_bfloat16_min_and_max_windows_start_from_infinity(backend):
    """bfloat16's NumPy kind is 'V', not 'f': its window identity is still -inf/+inf (found by the fuzzer)."""
    import ml_dtypes
    x = np.array([[2.5, -0.75, 1.625, -2.5], [-3.875, 2.5, 100, -1.0]], ml_dtypes.bfloat16)
    for kind, fn in (("max", np.max), ("min", np.min)):
        window = L.reduce_window_max if kind == "max" else L.reduce_window_min
        got = cr.jit(lambda x: window(x, (1, 2), (1, 2), "VALID"), backend=backend)(x)
        want = fn(x.astype(np.float32).reshape(2, 2, 2), axis=-1)
        np.testing.assert_array_equal(np.asarray(got).astype(np.float32), want)


@pytest.mark.parametrize("op", ["select_and_gather_add", "select_and_scatter_add"])
@pytest.mark.parametrize("backend", ["jax", "llvm"])
@pytest.mark.parametrize("kind", ["max", "min"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_selection_with_infinities_nans_and_ties_as_the_reference(op, backend, kind, dtype):
    """The element each window selects is its first maximum (minimum), a NaN beating every number,
    as np.argmax/argmin pick in the reference. Found by the fuzzer: JAX's packed select_and_gather_add
    gave 0 where a window held only -inf, and llvm picked the window's first element, not its first
    NaN."""
    from chainrule.backends import jax as jax_backend, llvm, reference
    from chainrule.ir import GraphBuilder, TensorType
    be = {"jax": jax_backend, "llvm": llvm}[backend]
    rng = np.random.default_rng(7)
    configs = [
        dict(window_dimensions=[1, 1], window_strides=[1, 2], padding=[[0, 0], [-1, 0]]),
        dict(window_dimensions=[2, 2], window_strides=[2, 2], padding=[[0, 0], [0, 0]]),   # tiling: pooling
        dict(window_dimensions=[2, 3], window_strides=[1, 2], padding=[[1, 0], [2, 1]]),
        dict(window_dimensions=[2, 2], window_strides=[2, 1], padding=[[0, 1], [-1, 1]], base_dilation=[2, 1]),
        dict(window_dimensions=[2, 2], window_strides=[1, 1], padding=[[1, 1], [0, 0]], window_dilation=[1, 2]),
    ]
    for attrs in configs:
        attrs = dict(attrs, kind=kind)
        for k in ("base_dilation", "window_dilation"):
            attrs.setdefault(k, [1, 1])
        x = rng.integers(-2, 3, (6, 6)).astype(dtype)  # ties
        x[rng.random(x.shape) < 0.25] = -np.inf
        x[rng.random(x.shape) < 0.15] = np.inf
        x[rng.random(x.shape) < 0.1] = np.nan
        x[0] = -np.inf if kind == "max" else np.inf  # windows of nothing but the init value's equal
        b = GraphBuilder("f")
        px = b.param(TensorType(x.shape, dtype))
        if op == "select_and_gather_add":
            t = rng.standard_normal(x.shape).astype(dtype)
            pt = b.param(TensorType(t.shape, dtype))
            g = b.build(list(b.emit(op, [pt, px], attrs).results))
        else:
            shape = b.emit("reduce_window", [px], dict(attrs)).results[0].type.shape
            t = rng.standard_normal(shape).astype(dtype)
            pt = b.param(TensorType(t.shape, dtype))
            b = GraphBuilder("f")
            pt, px = b.param(TensorType(t.shape, dtype)), b.param(TensorType(x.shape, dtype))
            g = b.build(list(b.emit(op, [pt, px], attrs).results))
        want = reference.compile(g)(t, x)[0]
        got = np.asarray(be.compile(g)(t, x)[0])
        if op == "select_and_gather_add":
            np.testing.assert_array_equal(got, want, err_msg=f"{op} {attrs}")
        else:  # overlapping windows add into one element in another order
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=f"{op} {attrs}")
