"""NumPy indexing on tensors (basic slicing, one integer array, `.at[]`) against NumPy itself."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.frontend.numpy.indexing import getitem
from chainrule.testing import assert_roundtrip, assert_same


def _all_modes(x, idx, want=None):
    """x[idx] eagerly (our getitem on an array), in jit, and define-then-run; each against NumPy."""
    want = x[idx] if want is None else want
    assert_same(np.asarray(getitem(x, idx)), want, what=f"eager x[{idx!r}]")
    f = cr.jit(lambda v: v[idx])
    assert_same(f(x), want, what=f"jit x[{idx!r}]")
    assert_roundtrip(f.lower(x).graph)
    p = cr.placeholder(x.shape, x.dtype)
    assert_same(cr.function([p], p[idx])(x), want, what=f"function x[{idx!r}]")


BASIC = [
    0, -1, 2, (1, 2), (-1, -3), slice(None), slice(1, None), slice(None, -1), slice(None, None, 2),
    slice(None, None, -1), slice(-2, None, -1), slice(3, 0, -2), slice(10, -10, -3), slice(5, 1), slice(-100, 100),
    (slice(None), 1), (Ellipsis, 0), (0, Ellipsis), (None,), (None, 1, None), (Ellipsis, None), (1, None, slice(None, None, -1)),
    (slice(1, 3), slice(None, None, 2)), Ellipsis, (), (slice(None), None, slice(2, 0, -1)),
]


@pytest.mark.parametrize("idx", BASIC, ids=[repr(i) for i in BASIC])
def test_basic_indexing(idx, rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    _all_modes(x, idx)


ARRAYS = [
    [0, 2, -1], np.array([3, 0, 0, 1]), np.array([[0, 1], [2, -3]]), (slice(None), [1, -1]),
    (Ellipsis, np.array([[4], [0]])), (1, [0, 2]), ([2, 1], 3), (slice(1, None), [0, 1, 0]),
    (slice(None, None, -1), np.array([0, 2])), ([1, 0], None), (None, [1, 0], slice(None)),
    ([], slice(None)), (np.array([1, 2], np.int32),),
]


@pytest.mark.parametrize("idx", ARRAYS, ids=[repr(i) for i in ARRAYS])
def test_integer_array_indexing(idx, rng):
    x = rng.standard_normal((4, 5)).astype(np.float64)
    _all_modes(x, idx)


MULTI = [([0, 1], [2, 0]), (slice(None), [0, 2], [1, 3]), ([1, 0], slice(None), [3, 3]),
         (0, slice(None), [1, 2], [4, 0]), (np.array([[0], [1]]), slice(1, 3), np.array([1, 2, 0])),
         (Ellipsis, [0, 1], [2, -3]), ([1], None, [2]), (1, [0, 2], [1, 1]), (slice(None), [0, 2], None, [1, 3]),
         ([0, -1], [1, 2], [3, 0], [4, 4]), (slice(None, None, -1), [2, 1], slice(1, None), [0, 0])]


@pytest.mark.parametrize("idx", MULTI, ids=[repr(i) for i in MULTI])
def test_several_integer_arrays(idx):
    x = np.arange(2 * 3 * 4 * 5, dtype=np.int64).reshape(2, 3, 4, 5)
    _all_modes(x, idx)


def test_cross_entropy_pattern(rng):
    logp = rng.standard_normal((5, 3))
    labels = np.array([0, 2, 1, 1, 0])
    f = cr.jit(lambda lp, y: -cnp.mean(lp[cnp.arange(5), y]))
    assert_same(f(logp, labels), -np.mean(logp[np.arange(5), labels]), rtol=1e-15)


@pytest.mark.parametrize("idx", [([0, 1, 1], [2, 0, 0]), (slice(None), [0, 2, 0], [1, 1, 1]), ([1, 1], slice(None), [3, 3]),
                                 (1, slice(None), [0, 4])])
def test_at_with_several_arrays(idx, rng):
    x = rng.standard_normal((3, 4, 5))[..., :5] if len(idx) == 3 else rng.standard_normal((3, 5))
    v = rng.standard_normal(np.shape(x[idx]))
    want_add = x.copy()
    np.add.at(want_add, idx, v)
    want_set = x.copy()
    want_set[idx] = 7.0
    f = cr.jit(lambda x, v: (x.at[idx].add(v), x.at[idx].set(7.0)))
    got_add, got_set = f(x, v)
    np.testing.assert_allclose(got_add, want_add, rtol=1e-15)
    assert_same(got_set, want_set)
    assert_roundtrip(f.lower(x, v).graph)


def test_integer_array_separated_by_slice_goes_first(rng):
    x = rng.standard_normal((3, 4, 5))
    for idx in [(1, slice(None), [0, 2]), ([0, 2], slice(None), 1), (0, slice(1, 3), np.array([[1], [4]]))]:
        _all_modes(x, idx)


def test_symbolic_index_tensor(rng):
    x = rng.standard_normal((4, 5))
    i = np.array([[3, -1], [0, -4]], np.int64)
    f = cr.jit(lambda x, i: (x[i], x[:, i], x[1, i]))
    for got, want in zip(f(x, i), (x[i], x[:, i], x[1, i])):
        assert_same(got, want)


def test_indexing_errors(rng):
    x = np.ones((2, 3))
    p = cr.placeholder((2, 3), "float64")
    with pytest.raises(IndexError, match="out of bounds"):
        p[2]
    with pytest.raises(IndexError, match="too many indices"):
        p[0, 0, 0]
    assert p[x > 0].shape == (6,)  # a concrete mask is static
    with pytest.raises(IndexError, match="boolean mask has a data-dependent shape; use cnp.where"):
        p[p > 0]
    with pytest.raises(IndexError, match=r"boolean index of shape \(3,\) does not match"):
        p[np.ones(3, bool)]
    with pytest.raises(IndexError, match="out of bounds"):
        p[[0, 1], [0, 3]]
    with pytest.raises(IndexError, match="single ellipsis"):
        p[..., ...]


# --- hypothesis: random basic indices plus at most one integer array ------------------------------

@st.composite
def index_exprs(draw):
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    n = len(shape)
    items = []
    used = 0
    array_used = False
    for d in range(n):
        kind = draw(st.sampled_from(["int", "slice", "full", "none", "array"]))
        size = shape[d]
        if kind == "none":
            items.append(None)
            kind = draw(st.sampled_from(["int", "slice", "full"]))
        if kind == "int":
            items.append(draw(st.integers(-size, size - 1)))
        elif kind == "slice":
            bound = st.one_of(st.none(), st.integers(-size - 2, size + 2))
            step = draw(st.one_of(st.none(), st.sampled_from([1, 2, 3, -1, -2, -3])))
            items.append(slice(draw(bound), draw(bound), step))
        elif kind == "full":
            items.append(slice(None))
        else:
            if array_used is False:
                array_used = draw(st.integers(0, 3))  # the length all index arrays share (they broadcast)
            k = array_used
            vals = draw(st.lists(st.integers(-size, size - 1), min_size=k, max_size=k))
            items.append(np.array(vals, dtype=np.int64).reshape(draw(st.sampled_from([(k,), (1, k)]))))
        used += 1
    if draw(st.booleans()) and items:
        # replace a leading run by an Ellipsis
        cut = draw(st.integers(0, len(items) - 1))
        items = [Ellipsis] + items[cut + 1:] if all(i is not None for i in items[:cut + 1]) else items
    return shape, tuple(items)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index_exprs())
def test_random_indexing_matches_numpy(case):
    shape, idx = case
    x = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape) * 3 - 7
    want = x[idx]
    assert_same(np.asarray(getitem(x, idx)), want, what=f"eager x{shape}[{idx!r}]")
    p = cr.placeholder(shape, "int32")
    assert_same(cr.function([p], p[idx])(x), want, what=f"function x{shape}[{idx!r}]")


# --- functional updates: .at[] ----------------------------------------------------------------------

AT_CASES = [1, -1, (slice(None), 2), (slice(1, 3),), [0, 2, 2], (slice(None), [3, -1]), (Ellipsis, 0),
            (slice(None, None, -2), slice(1, None))]


@pytest.mark.parametrize("idx", AT_CASES, ids=[repr(i) for i in AT_CASES])
def test_at_updates(idx, rng):
    x = rng.standard_normal((4, 5))

    def numpy_set(x, v):
        y = x.copy()
        y[idx] = v
        return y

    def numpy_add(x, v):
        y = x.copy()
        np.add.at(y, idx, v)
        return y

    v = 2.5
    f = cr.jit(lambda x: (x.at[idx].set(v), x.at[idx].add(v), x.at[idx].get(), x.at[idx].multiply(3.0)))
    got = f(x)
    y3 = x.copy()
    np.multiply.at(y3, idx, 3.0)
    wants = [numpy_set(x, v), numpy_add(x, v), x[idx], y3] if not isinstance(idx, list) else \
        [numpy_set(x, v), numpy_add(x, v), x[idx], None]
    for k, (g, w) in enumerate(zip(got, wants)):
        if w is not None:
            np.testing.assert_allclose(g, w, rtol=1e-15, err_msg=f"at[{idx!r}] op {k}")
    assert_roundtrip(f.lower(x).graph)


def test_at_scatter_add_with_duplicates_and_tensor_values(rng):
    x = np.zeros(4)
    idx = np.array([0, 2, 2, -1])
    vals = rng.standard_normal(4)
    want = x.copy()
    np.add.at(want, np.where(idx < 0, idx + 4, idx), vals)
    got = cr.jit(lambda x, v: x.at[idx].add(v))(x, vals)
    np.testing.assert_allclose(got, want, rtol=1e-15)
    got_eager = cnp.asarray(x)
    from chainrule.frontend.numpy.indexing import _AtIndexer
    np.testing.assert_allclose(_AtIndexer(got_eager)[idx].add(vals), want, rtol=1e-15)


# --- concrete boolean masks are static, as in JAX ---------------------------------------------------


@pytest.mark.parametrize("mask_of", [
    lambda x: x > 4,                                   # full-rank mask
    lambda x: np.array([True, False, True]),           # first axis
    lambda x: (slice(None), np.array([1, 0, 1, 1], bool)),
    lambda x: (Ellipsis, np.array([0, 1, 1, 0], bool)),
    lambda x: [True, False, True],                     # a list of bools is a mask too
    lambda x: (np.array([True, False, True]), 2),
])
def test_concrete_boolean_mask_against_numpy_and_jax(mask_of):
    jax = pytest.importorskip("jax")
    x = np.arange(12.0).reshape(3, 4)
    m = mask_of(x)
    jm = np.asarray(m) if isinstance(m, list) else m  # JAX refuses lists as indices; NumPy takes them
    _all_modes(x, m, np.asarray(jax.numpy.asarray(x)[jm], dtype=x.dtype))
    for kind, v in (("set", 0.0), ("add", 1.5), ("multiply", 2.0)):
        got = cr.jit(lambda v_, m=m: getattr(v_.at[m], kind)(v))(x)
        want = getattr(jax.numpy.asarray(x).at[jm], kind)(v)
        assert_same(got, np.asarray(want, dtype=x.dtype))


def test_boolean_mask_gradient():
    x = np.arange(6.0).reshape(2, 3)
    m = x % 2 == 0
    g = cr.grad(lambda v: cnp.sum(v[m] ** 2))(x)
    np.testing.assert_allclose(g, np.where(m, 2 * x, 0.0))
