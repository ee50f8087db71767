"""The `sort` op on every backend against the reference (NumPy's stable argsort) and jax.lax.sort:
edge values (NaN, inf, -0.0, ties), several operands and keys, batch dimensions, the text form, type
errors, its JVP/VJP against JAX in float64, vmap, and long rows."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.backends import jax as jax_backend, llvm, reference
from chainrule.ir import GraphBuilder, IRTypeError, TensorType, parse, print_graph
from chainrule.testing import assert_roundtrip

jax = pytest.importorskip("jax")
lax = jax.lax
pytestmark = pytest.mark.usefixtures("jax_x64")

BACKENDS = {"llvm": llvm, "jax": jax_backend}


def sort_graph(arrays, **attrs):
    b = GraphBuilder("f")
    ps = [b.param(TensorType(a.shape, a.dtype.name)) for a in arrays]
    return b.build(list(b.emit("sort", ps, attrs).results))


def bits(a):
    a = np.ascontiguousarray(a)
    return a.view(np.uint8) if a.dtype != np.bool_ else a


def run_all(arrays, **attrs):
    """Every backend gives the reference's results bit for bit (NaN payloads and -0.0 included)."""
    g = sort_graph(arrays, **attrs)
    assert_roundtrip(g)
    want = reference.compile(g)(*arrays)
    for name, be in BACKENDS.items():
        got = be.compile(g)(*arrays)
        for w, o in zip(want, got):
            o = np.asarray(o)
            assert o.dtype == w.dtype and o.shape == w.shape, name
            assert np.array_equal(bits(o), bits(w)), (name, attrs, w, o)
    return want


def _edges(dtype, rng, shape):
    x = np.round(rng.standard_normal(shape) * 3).astype(dtype)
    if np.dtype(dtype).kind == "f":
        flat = x.reshape(-1)
        flat[::5] = np.nan
        flat[1::7] = -0.0
        flat[2::9] = 0.0
        flat[3::11] = np.inf
        flat[4::13] = -np.inf
        flat[6::17] = -np.nan
    return x


def test_reference_is_numpy_stable_order_with_nan_last_and_signed_zeros_tied():
    x = np.array([3.0, -0.0, np.nan, 0.0, -np.inf, 1.0, -0.0, np.inf, 0.0], np.float64)
    (s, i) = run_all([x, np.arange(9)], dimension=0)
    assert np.array_equal(i, np.argsort(np.where(x == 0, 0.0, x), kind="stable"))
    assert np.array_equal(i, [4, 1, 3, 6, 8, 5, 0, 7, 2])  # zeros tie: their input order
    assert np.isnan(s[-1]) and np.array_equal(s[:-1], np.sort(x)[:-1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.bool_])
@pytest.mark.parametrize("n", [1, 2, 16, 17, 5000])
def test_one_operand_every_backend(dtype, n, rng):
    x = _edges(dtype, rng, (3, n, 2))
    s = run_all([x], dimension=1)[0]
    keyed = np.where(x == 0, 0, x) if x.dtype.kind == "f" else x
    want = np.take_along_axis(x, np.argsort(keyed, axis=1, kind="stable"), axis=1)
    assert np.array_equal(bits(s), bits(want))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.bool_])
@pytest.mark.parametrize("dimension", [0, 1, 2])
def test_carried_operands_and_dimensions(dtype, dimension, rng):
    x = _edges(dtype, rng, (4, 33, 3))
    s, v, i = run_all([x, rng.standard_normal(x.shape), lax.broadcasted_iota(np.int32, x.shape, dimension)],
                      dimension=dimension)
    keyed = np.where(x == 0, 0, x) if x.dtype.kind == "f" else x
    assert np.array_equal(i, np.argsort(keyed, axis=dimension, kind="stable"))


@pytest.mark.parametrize("n", [9, 40, 6000])
def test_several_keys_sort_lexicographically(n, rng):
    a = rng.integers(-2, 3, n).astype(np.int32)
    b = np.round(rng.standard_normal(n)).astype(np.float64)
    c = rng.integers(0, 2, n).astype(np.bool_)
    _, _, _, perm = run_all([a, b, c, np.arange(n)], dimension=0, num_keys=3)
    assert np.array_equal(perm, np.lexsort((c, b, a)))


def test_matches_lax_sort(rng):
    x = _edges(np.float32, rng, (5, 64))
    y = rng.integers(0, 4, x.shape).astype(np.int32)
    got = jax_backend.compile(sort_graph([y, x], dimension=1, num_keys=2))(y, x)
    want = lax.sort((y, x), dimension=1, num_keys=2)
    for g, w in zip(got, want):
        assert np.array_equal(bits(np.asarray(g)), bits(np.asarray(w)))


def test_empty_and_length_one():
    for shape, d in [((0, 5), 1), ((3, 0), 1), ((3, 1), 1), ((4,), 0)]:
        x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)[..., ::-1].copy()
        run_all([x, x.astype(np.int64)], dimension=d)


def test_text_form_round_trips():
    g = sort_graph([np.zeros((2, 3), np.float32), np.zeros((2, 3), np.int64)], dimension=1, num_keys=2,
                   is_stable=False)
    text = print_graph(g)
    assert "sort" in text and "num_keys=2" in text
    assert print_graph(parse(text)) == text


@pytest.mark.parametrize("types, attrs, match", [
    ([((3,), "float32"), ((4,), "float32")], {"dimension": 0}, "shape"),
    ([((3,), "float32")], {"dimension": 1}, "dimension 1 out of range"),
    ([((), "float32")], {"dimension": 0}, "scalar"),
    ([((3,), "float32")], {"dimension": 0, "num_keys": 2}, "num_keys"),
    ([((3,), "float32")], {"dimension": 0, "num_keys": 0}, "num_keys"),
])
def test_type_errors_name_the_problem(types, attrs, match):
    b = GraphBuilder("f")
    ps = [b.param(TensorType(s, d)) for s, d in types]
    with pytest.raises(IRTypeError, match=match):
        b.emit("sort", ps, attrs)


def test_long_rows_llvm(rng):
    n = 1 << 16
    for dt in (np.float32, np.float64, np.int64):
        x = _edges(dt, rng, (n,))
        f = llvm.compile(sort_graph([x], dimension=0))
        got = f(x)[0]
        keyed = np.where(x == 0, 0, x) if x.dtype.kind == "f" else x
        assert np.array_equal(bits(got), bits(x[np.argsort(keyed, kind="stable")]))
    i = np.arange(n)
    s, p = llvm.compile(sort_graph([x, i], dimension=0))(x, i)
    assert np.array_equal(p, np.argsort(x, kind="stable"))


# --- derivatives and vmap, through the frontend's lax.sort -----------------------------------------

def _f(sort, x, w):
    s, t = sort((x, x * x), 0)
    return (s * w).sum() + (t[:3] * w[:3]).sum()


def test_grad_matches_jax(rng):
    from chainrule.frontend import lax as crlax
    x = rng.standard_normal(12)
    x[4] = x[7]  # a tie: stable order decides which tangent goes where
    w = rng.standard_normal(12)
    got = cr.grad(lambda x: _f(lambda ops, d: crlax.sort(ops, d), x, w))(x)
    want = jax.grad(lambda x: _f(lambda ops, d: lax.sort(ops, d), x, w))(x)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    jv = cr.jvp(lambda x: crlax.sort(x, 0) * w, (x,), (w,))[1]
    np.testing.assert_allclose(jv, jax.jvp(lambda x: lax.sort(x, 0) * w, (x,), (w,))[1], rtol=1e-12)


def _cubic(sort, v):
    s = sort(v, 0)
    return (s ** 3 * np.arange(6.0)).sum()


@pytest.mark.slow
def test_second_order(rng):
    from chainrule.frontend import lax as crlax
    x = rng.standard_normal(6)
    got = cr.hessian(lambda v: _cubic(crlax.sort, v))(x)
    want = jax.hessian(lambda v: _cubic(lax.sort, v))(x)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_vmap(rng):
    from chainrule.frontend import lax as crlax
    x = rng.standard_normal((3, 6))
    f = _cubic
    np.testing.assert_allclose(cr.vmap(lambda v: crlax.sort(v, 0))(x), np.sort(x, axis=1))
    np.testing.assert_allclose(cr.vmap(lambda v: crlax.sort(v, 0), in_axes=1)(x), np.sort(x, axis=0).T)
    np.testing.assert_allclose(cr.vmap(cr.grad(lambda v: f(crlax.sort, v)))(x),
                               jax.vmap(jax.grad(lambda v: f(lax.sort, v)))(x), rtol=1e-12)
    k = rng.integers(0, 3, 6)  # one operand batched, the other not
    got = cr.vmap(lambda v: crlax.sort((k, v), 0, num_keys=2)[1])(x)
    want = jax.vmap(lambda v: lax.sort((k, v), 0, num_keys=2)[1])(x)
    np.testing.assert_array_equal(got, want)


def test_from_jax_imports_lax_sort(rng):
    jnp = jax.numpy
    x = _edges(np.float64, rng, (4, 9))
    g = cr.from_jax(lambda v: (jnp.sort(v, axis=0), jnp.argsort(v, axis=1)), cr.Spec(x.shape, "float64"))
    assert sum(1 for n in g.nodes if n.op.name == "sort") == 2
    got = reference.compile(g)(x)
    want = (np.sort(x, axis=0), np.argsort(x, axis=1, kind="stable"))
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
