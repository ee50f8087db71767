"""convolution: values, both-operand derivatives (first and second order), vmap, every backend,
against the reference backend and jax.lax.conv_general_dilated; hostile arguments; the text form."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.frontend import lax_conv as L
from chainrule.ir import IRTypeError, parse

pytestmark = pytest.mark.usefixtures("jax_x64")  # float64 references; restored after the module

RNG = np.random.default_rng(0)

# (name, lhs shape, rhs shape, keyword arguments of conv_general_dilated)
CASES = [
    ("nchw_same", (2, 3, 6, 5), (4, 3, 3, 3), dict(window_strides=(1, 1), padding="SAME")),
    ("nhwc_strided", (2, 7, 6, 3), (3, 2, 3, 4),
     dict(window_strides=(2, 2), padding="SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))),
    ("dilated_padded", (2, 4, 7, 6), (6, 4, 3, 2),
     dict(window_strides=(2, 1), padding=((1, 2), (0, 1)), lhs_dilation=(2, 1), rhs_dilation=(1, 2))),
    ("feature_groups", (2, 4, 5, 5), (6, 2, 2, 3),
     dict(window_strides=(1, 2), padding="VALID", feature_group_count=2)),
    ("batch_groups", (4, 3, 6, 5), (4, 3, 3, 2),
     dict(window_strides=(1, 1), padding=((-1, 1), (1, 0)), batch_group_count=2, rhs_dilation=(2, 1))),
    ("conv1d_nwc", (3, 9, 2), (3, 2, 4), dict(window_strides=(3,), padding="SAME",
                                             dimension_numbers=("NWC", "WIO", "NWC"))),
    ("mixed_layouts", (2, 5, 3, 6), (3, 4, 2, 3),
     dict(window_strides=(1, 2), padding="VALID", dimension_numbers=("NHCW", "OHWI", "CWNH"))),
    ("conv3d", (1, 2, 4, 4, 3), (2, 2, 2, 2, 2), dict(window_strides=(1, 2, 1), padding="SAME")),
]
LLVM_CASES = ["nchw_same", "nhwc_strided", "feature_groups", "batch_groups"]


def _args(case, dtype=np.float64):
    _, xs, ws, kw = case
    return RNG.standard_normal(xs).astype(dtype), RNG.standard_normal(ws).astype(dtype), kw


def _case(name):
    return next(c for c in CASES if c[0] == name)


def _loss(conv, lax_mod, xp):
    return lambda x, w: xp.sum(xp.sin(conv(x, w)) * xp.cos(0.3 * conv(x, w)))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_values_match_jax_and_reference(case):
    x, w, kw = _args(case)
    want = jax.lax.conv_general_dilated(x, w, **kw)
    got = L.conv_general_dilated(x, w, **kw)            # eager: the reference backend
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    f = cr.jit(lambda a, b: L.conv_general_dilated(a, b, **kw), backend="jax")
    np.testing.assert_allclose(f(x, w), want, rtol=1e-12, atol=1e-12)


_GRAD = [pytest.param(c, "reference", id=f"reference-{c[0]}") for c in CASES] + [
    pytest.param(c, "jax", id=f"jax-{c[0]}", marks=() if c[0] in ("nhwc_strided", "batch_groups") else
                 pytest.mark.slow) for c in CASES]


@pytest.mark.parametrize("case,backend", _GRAD)
def test_grad_both_operands_match_jax(case, backend):
    x, w, kw = _args(case)
    f = _loss(lambda a, b: L.conv_general_dilated(a, b, **kw), L, cnp)
    fj = _loss(lambda a, b: jax.lax.conv_general_dilated(a, b, **kw), jax.lax, jnp)
    gx, gw = cr.jit(cr.grad(f, argnums=(0, 1)), backend=backend)(x, w)
    jx, jw = jax.jit(jax.grad(fj, argnums=(0, 1)))(x, w)
    np.testing.assert_allclose(gx, jx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gw, jw, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ["batch_groups", pytest.param("nhwc_strided", marks=pytest.mark.slow),
                                  pytest.param("conv1d_nwc", marks=pytest.mark.slow)])
def test_jvp_and_second_derivatives_match_jax(name):
    x, w, kw = _args(_case(name))
    tx, tw = RNG.standard_normal(x.shape), RNG.standard_normal(w.shape)
    f = _loss(lambda a, b: L.conv_general_dilated(a, b, **kw), L, cnp)
    fj = _loss(lambda a, b: jax.lax.conv_general_dilated(a, b, **kw), jax.lax, jnp)
    y, ty = cr.jvp(f, (x, w), (tx, tw))
    yj, tyj = jax.jit(lambda a, b: jax.jvp(fj, (a, b), (tx, tw)))(x, w)
    np.testing.assert_allclose(y, yj, rtol=1e-12)
    np.testing.assert_allclose(ty, tyj, rtol=1e-10, atol=1e-10)
    # second order, the cross terms included: the gradient of <grad_x f, tx>
    h = cr.jit(cr.grad(lambda a, b: cnp.sum(cr.grad(f)(a, b) * tx), argnums=(0, 1)), backend="reference")(x, w)
    hj = jax.jit(jax.grad(lambda a, b: jnp.sum(jax.grad(fj)(a, b) * tx), argnums=(0, 1)))(x, w)
    for a, b in zip(h, hj):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", LLVM_CASES)
def test_llvm_matches_reference_values_and_grads(name):
    x, w, kw = _args(_case(name))
    f = _loss(lambda a, b: L.conv_general_dilated(a, b, **kw), L, cnp)
    vg = cr.value_and_grad(f, argnums=(0, 1))
    got = cr.jit(vg, backend="llvm")(x, w)
    want = cr.jit(vg, backend="reference")(x, w)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-10)
    for a, b in zip(got[1], want[1]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_llvm_every_case_float32(case):
    x, w, kw = _args(case, np.float32)
    f = _loss(lambda a, b: L.conv_general_dilated(a, b, **kw), L, cnp)
    got = cr.jit(cr.value_and_grad(f, argnums=(0, 1)), backend="llvm")(x, w)
    want = jax.jit(jax.value_and_grad(_loss(lambda a, b: jax.lax.conv_general_dilated(a, b, **kw), jax.lax, jnp),
                                      argnums=(0, 1)))(x.astype(np.float64), w.astype(np.float64))
    np.testing.assert_allclose(got[0], want[0], rtol=1e-4, atol=1e-4)
    for a, b in zip(got[1], want[1]):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)


_VMAP = [("nchw_same", (1, 2)), ("feature_groups", (0, 0)), ("feature_groups", (None, 0)),
         ("batch_groups", (0, None)), ("batch_groups", (0, 0)), ("batch_groups", (None, 0)),
         ("nchw_same", (0, None)), ("nchw_same", (None, 0))]


@pytest.mark.parametrize("name,in_axes", _VMAP)
def test_vmap_matches_jax(name, in_axes):
    x, w, kw = _args(_case(name))
    xs = np.stack([x, 2 * x + 1, -x]) if in_axes[0] is not None else x
    ws = np.stack([w, w - 1, 0.5 * w]) if in_axes[1] is not None else w
    if in_axes[0] not in (None, 0):
        xs = np.moveaxis(xs, 0, in_axes[0])
    if in_axes[1] not in (None, 0):
        ws = np.moveaxis(ws, 0, in_axes[1])
    got = cr.jit(cr.vmap(lambda a, b: L.conv_general_dilated(a, b, **kw), in_axes=in_axes), backend="reference")(xs, ws)
    want = jax.vmap(lambda a, b: jax.lax.conv_general_dilated(a, b, **kw), in_axes=in_axes)(xs, ws)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_per_example_gradients_on_llvm():
    x, w, kw = _args(_case("nhwc_strided"))
    xs = np.stack([x, -x, x * 0.5])
    f = _loss(lambda a, b: L.conv_general_dilated(a, b, **kw), L, cnp)
    fj = _loss(lambda a, b: jax.lax.conv_general_dilated(a, b, **kw), jax.lax, jnp)
    got = cr.jit(cr.vmap(cr.grad(f, argnums=1), in_axes=(0, None)), backend="llvm")(xs, w)
    want = jax.jit(jax.vmap(jax.grad(fj, argnums=1), in_axes=(0, None)))(xs, w)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("padding", ["SAME", "VALID", ((1, 0), (2, 1))])
@pytest.mark.parametrize("transpose_kernel", [False, True])
def test_conv_transpose_matches_jax(padding, transpose_kernel):
    x = RNG.standard_normal((2, 5, 4, 3))
    w = RNG.standard_normal((3, 2, 3, 3) if transpose_kernel else (3, 2, 3, 3))
    kw = dict(strides=(2, 1), padding=padding, transpose_kernel=transpose_kernel)
    want = jax.lax.conv_transpose(x, w, **kw)
    np.testing.assert_allclose(L.conv_transpose(x, w, **kw), want, rtol=1e-12, atol=1e-12)


def test_conv_and_conv_with_general_padding_match_jax():
    x, w = RNG.standard_normal((2, 3, 6, 6)), RNG.standard_normal((4, 3, 2, 3))
    np.testing.assert_allclose(L.conv(x, w, (2, 1), "SAME"), jax.lax.conv(x, w, (2, 1), "SAME"), rtol=1e-12)
    args = ((1, 2), ((1, 1), (0, 2)), (2, 1), (1, 2))
    np.testing.assert_allclose(L.conv_with_general_padding(x, w, *args),
                               jax.lax.conv_with_general_padding(x, w, *args), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("n,m", [(7, 3), (3, 7)])
def test_numpy_convolve_and_correlate(mode, n, m):
    a, v = RNG.standard_normal(n), RNG.standard_normal(m)
    np.testing.assert_allclose(cnp.convolve(a, v, mode), np.convolve(a, v, mode), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cnp.correlate(a, v, mode), np.correlate(a, v, mode), rtol=1e-12, atol=1e-12)
    g = cr.grad(lambda p, q: cnp.sum(cnp.convolve(p, q, mode) ** 2), argnums=(0, 1))(a, v)
    gj = jax.jit(jax.grad(lambda p, q: jnp.sum(jnp.convolve(p, q, mode) ** 2), argnums=(0, 1)))(a, v)
    for x, y in zip(g, gj):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-10)


def test_float32_nhwc_cnn_layer_on_llvm_and_jax():
    x = RNG.standard_normal((4, 9, 9, 3)).astype(np.float32)
    w = RNG.standard_normal((3, 3, 3, 8)).astype(np.float32)
    kw = dict(window_strides=(1, 1), padding="SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    want = jax.lax.conv_general_dilated(x, w, **kw)
    for backend in ("llvm", "jax"):
        got = cr.jit(lambda a, b: L.conv_general_dilated(a, b, **kw), backend=backend)(x, w)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs,match", [
    (dict(window_strides=(-1, 1), padding="VALID"), "window_strides must be positive"),
    (dict(window_strides=(1,), padding="VALID"), "window_strides must have 2 entries"),
    (dict(window_strides=(1, 1), padding=((0, 0), (0, 0)), rhs_dilation=(0, 1)), "rhs_dilation must be positive"),
    (dict(window_strides=(1, 1), padding=((0, 0), (-3, 0))), "larger than the padded lhs"),
    (dict(window_strides=(1, 1), padding="FULL"), "padding must be 'SAME'"),
    (dict(window_strides=(1, 1), padding="VALID", feature_group_count=3), "feature_group_count=3 must divide"),
    (dict(window_strides=(1, 1), padding="VALID", feature_group_count=0), "feature_group_count must be a positive"),
    (dict(window_strides=(1, 1), padding="VALID", batch_group_count=3), "divisible by feature_group_count"),
    (dict(window_strides=(1, 1), padding="VALID", dimension_numbers=("NCHW", "OIHW", "NCHX")), "not in the rhs spec"),
    (dict(window_strides=(1, 1), padding="VALID", dimension_numbers=("NNHW", "OIHW", "NCHW")), "exactly once"),
    (dict(window_strides=(1, 1), padding="SAME", lhs_dilation=(2, 1)), "string padding"),
])
def test_hostile_arguments_name_the_argument(kwargs, match):
    x, w = np.ones((2, 4, 3, 3)), np.ones((4, 4, 3, 3))
    with pytest.raises((ValueError, TypeError), match=match):
        L.conv_general_dilated(x, w, **kwargs)


def test_hostile_shapes():
    with pytest.raises(ValueError, match="same rank"):
        L.conv_general_dilated(np.ones((2, 3, 4, 4)), np.ones((3, 3, 3)), (1,), "VALID")
    with pytest.raises(ValueError, match="rhs input feature dimension"):
        L.conv_general_dilated(np.ones((2, 3, 4, 4)), np.ones((3, 2, 3, 3)), (1, 1), "VALID")


def test_ir_type_rule_errors_name_the_op():
    from chainrule.ir import GraphBuilder, TensorType
    b = GraphBuilder()
    x, w = b.param(TensorType((2, 3, 5), "float32")), b.param(TensorType((4, 3, 2), "float32"))
    base = dict(lhs_spec=(0, 1, 2), rhs_spec=(0, 1, 2), out_spec=(0, 1, 2))
    for attrs, match in [(dict(window_strides=(0,)), "window_strides"), (dict(padding=((1,),)), "padding"),
                         (dict(lhs_spec=(0, 0, 2)), "lhs_spec"), (dict(feature_group_count=2), "feature"),
                         (dict(padding=((-6, 0),)), "crops")]:
        with pytest.raises(IRTypeError, match=match) as e:
            b.op("convolution", x, w, **{**base, **attrs})
        assert "convolution" in str(e.value)
    y = b.param(TensorType((4, 3, 2), "float64"))
    with pytest.raises(IRTypeError, match="dtypes differ"):
        b.op("convolution", x, y, **base)


def test_text_round_trip():
    kw = dict(window_strides=(2, 1), padding=((1, 0), (0, 1)), rhs_dilation=(1, 2), feature_group_count=2,
              dimension_numbers=("NHWC", "HWIO", "NHWC"))
    x, w = np.ones((2, 6, 5, 4)), np.ones((3, 2, 2, 6))
    g = cr.trace(cr.grad(lambda a, b: cnp.sum(L.conv_general_dilated(a, b, **kw) ** 2), argnums=(0, 1)), x, w)
    text = str(g)
    assert "convolution" in text
    assert str(parse(text)) == text


def test_eager_and_symbolic_agree_with_integer_inputs():
    x = np.arange(2 * 3 * 5).reshape(2, 3, 5).astype(np.int32)
    w = np.ones((2, 3, 2), np.int32)
    want = jax.lax.conv_general_dilated(x, w, (1,), "VALID")
    np.testing.assert_array_equal(L.conv_general_dilated(x, w, (1,), "VALID"), want)
    np.testing.assert_array_equal(cr.jit(lambda a, b: L.conv_general_dilated(a, b, (1,), "VALID"),
                                         backend="llvm")(x, w), want)


def test_inside_a_loop_and_a_checkpoint_on_every_backend():
    from chainrule.frontend import nn_pooling as P
    x, w = RNG.standard_normal((2, 3, 8)), RNG.standard_normal((3, 3, 3)) * 0.3

    def f(a, b):
        h = cr.fori_loop(0, 2, lambda i, h: cnp.tanh(L.conv_general_dilated(h, b, (1,), "SAME")), a)
        h = cr.checkpoint(lambda h: P.max_pool(cnp.swapaxes(h, 1, 2), (2,), (2,)))(h)
        return cnp.sum(h ** 2)

    def fj(a, b):
        h = jax.lax.fori_loop(0, 2, lambda i, h: jnp.tanh(jax.lax.conv_general_dilated(h, b, (1,), "SAME")), a)
        h = jax.lax.reduce_window(jnp.swapaxes(h, 1, 2), -np.inf, jax.lax.max, (1, 2, 1), (1, 2, 1), "VALID")
        return jnp.sum(h ** 2)

    want = jax.jit(jax.grad(fj, argnums=(0, 1)))(x, w)
    for backend in ("reference", "llvm", "jax"):
        got = cr.jit(cr.grad(f, argnums=(0, 1)), backend=backend)(x, w)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10, err_msg=backend)
