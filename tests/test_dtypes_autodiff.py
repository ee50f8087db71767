"""Derivatives, vmap and chainrule.numpy on the new real dtypes.

float16/bfloat16 gradients come back in their own dtype (as in JAX); their values are the float32
gradient to within the narrow type's rounding. dot_general's `preferred_element_type` has JAX's
derivative rule: the cotangent keeps the accumulation dtype and is cast back to each operand's.
Oracles: JAX on the same function, the float32 computation, NumPy.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp

BF16 = ml_dtypes.bfloat16
NARROW = [np.float16, BF16]
REL = {np.dtype(np.float16): 2.0 ** -8, np.dtype(BF16): 2.0 ** -5}  # a few ulps of a few ops


def loss(x):
    return cnp.sum(cnp.sin(x) * x + cnp.exp(-x * x) / (1 + x * x))


def _close(got, want, dt):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    np.testing.assert_allclose(got, want, rtol=REL[np.dtype(dt)], atol=REL[np.dtype(dt)])


@pytest.mark.parametrize("dt", NARROW)
@pytest.mark.parametrize("backend", ["llvm", "reference"])
def test_narrow_gradients_keep_their_dtype_and_match_float32(dt, backend):
    x32 = np.linspace(-2, 2, 9).astype(np.float32)
    x = x32.astype(dt)
    g = cr.jit(cr.grad(loss), backend=backend)(x)
    assert g.dtype == np.dtype(dt)
    _close(g, cr.grad(loss)(x.astype(np.float32)), dt)
    v, t = cr.jvp(loss, (x,), (np.ones_like(x),))
    assert np.asarray(v).dtype == np.dtype(dt) and np.asarray(t).dtype == np.dtype(dt)
    _close(t, np.sum(np.asarray(g, np.float64)), dt)


@pytest.mark.parametrize("dt", NARROW)
def test_narrow_gradient_matches_jax(dt):
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    x = np.linspace(-2, 2, 9).astype(dt)
    want = jax.grad(lambda x: jnp.sum(jnp.sin(x) * x + jnp.exp(-x * x) / (1 + x * x)))(x)
    got = cr.jit(cr.grad(loss))(x)
    assert got.dtype == np.asarray(want).dtype
    _close(got, want, dt)


def test_preferred_element_type_matches_jax_values_and_gradients():
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 7)).astype(BF16)
    b = rng.standard_normal((7, 3)).astype(BF16)

    def f(xp, a, b):
        return xp.sum(xp.tanh(xp.matmul(a, b, preferred_element_type=xp.float32)))

    out = cr.jit(lambda a, b: cnp.matmul(a, b, preferred_element_type=cnp.float32))(a, b)
    assert out.dtype == np.float32
    exact = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(out, exact, rtol=1e-5, atol=1e-5)  # accumulated in float32, not bfloat16
    ga, gb = cr.jit(cr.grad(lambda a, b: f(cnp, a, b), argnums=(0, 1)))(a, b)
    ja, jb = jax.grad(lambda a, b: f(jnp, a, b), argnums=(0, 1))(a, b)
    assert ga.dtype == ja.dtype == np.dtype(BF16) and gb.dtype == jb.dtype == np.dtype(BF16)
    _close(ga, ja, BF16)
    _close(gb, jb, BF16)


def test_int8_matmul_accumulates_in_int32():
    a = np.full((4, 64), 100, np.int8)
    b = np.full((64, 2), 100, np.int8)
    for backend in ("llvm", "reference", "jax"):
        r = cr.jit(lambda a, b: cnp.matmul(a, b, preferred_element_type=cnp.int32), backend=backend)(a, b)
        assert r.dtype == np.int32
        np.testing.assert_array_equal(r, np.full((4, 2), 640000, np.int32))


def test_vmap_on_new_dtypes():
    x = np.arange(12, dtype=np.uint32).reshape(3, 4) * np.uint32(0x9E3779B9)

    def mix(v):
        return (v ^ (v >> 16)) * np.uint32(0x85EBCA6B) + cnp.sum(v, dtype=cnp.uint32)

    got = cr.jit(cr.vmap(mix))(x)
    want = np.stack([np.asarray(mix(r)) for r in x])
    assert got.dtype == np.uint32
    np.testing.assert_array_equal(got, want)
    h = np.linspace(-1, 1, 12).astype(np.float16).reshape(3, 4)
    gh = cr.jit(cr.vmap(cr.grad(loss)))(h)
    assert gh.dtype == np.float16
    np.testing.assert_array_equal(gh, np.stack([np.asarray(cr.jit(cr.grad(loss))(r)) for r in h]))


def test_numpy_names_astype_and_promotion():
    x = cnp.asarray([1, 2, 3], dtype=cnp.bfloat16)
    assert x.dtype == np.dtype(BF16)
    assert cnp.promote_types(cnp.bfloat16, cnp.float16) == np.float32
    assert cnp.promote_types(cnp.bfloat16, cnp.int64) == np.dtype(BF16)
    assert cnp.promote_types(cnp.uint8, cnp.int8) == np.int16
    f = cr.jit(lambda u, h: (u.astype(cnp.float16) + h, u + 1, h * 2.5, (u << 3) >> 1, cnp.bitwise_count(u)))
    u = np.array([1, 200, 255], np.uint8)
    h = np.array([0.5, -1.0, 2.0], np.float16)
    s, inc, hh, sh, pc = f(u, h)
    assert (s.dtype, inc.dtype, hh.dtype, sh.dtype, pc.dtype) == (np.float16, np.uint8, np.float16, np.uint8, np.uint8)
    np.testing.assert_array_equal(s, u.astype(np.float16) + h)
    np.testing.assert_array_equal(inc, u + np.uint8(1))
    np.testing.assert_array_equal(sh, (u << 3) >> 1)
    np.testing.assert_array_equal(pc, np.bitwise_count(u))
    assert cnp.finfo(cnp.bfloat16).bits == 16 and cnp.iinfo(cnp.uint32).max == 2**32 - 1


def test_a_float16_argument_to_a_compiled_float32_function_is_a_type_error():
    compiled = cr.jit(lambda x: x * 2).lower(np.ones(3, np.float32)).compile()
    with pytest.raises(TypeError, match="expected dtype float32, got float16"):
        compiled(np.ones(3, np.float16))
    with pytest.raises(TypeError, match="expected dtype float32, got bfloat16"):
        compiled(np.ones(3, BF16))
    x = cr.placeholder((3,), "float32", name="x")
    g = cr.function([x], [x * 2])
    with pytest.raises(TypeError, match="float16"):
        g(np.ones(3, np.float16))
