"""Shape and indexing ops of the reference backend against index-by-index oracles.

Each oracle walks the output positions and says, in plain Python, which input
element lands there (StableHLO's definitions), so that clamped start indices,
negative and interior padding, strides and empty dimensions are checked
against the spec rather than against another NumPy call.
"""

import itertools

import numpy as np
import pytest

from chainrule.testing import assert_same, run_op, sample_array

DTYPES = ["bool", "int32", "int64", "float32", "float64"]


def arr(shape, dt="float64", seed=0):
    return sample_array(np.random.default_rng(seed), shape, dt)


def build(shape, dt, at):
    out = np.empty(shape, dtype=dt)
    for ix in np.ndindex(*shape):
        out[ix] = at(ix)
    return out


# --- leaves ---------------------------------------------------------------------------

@pytest.mark.parametrize("dt", ["int32", "int64", "float32", "float64"])
@pytest.mark.parametrize("shape,dim", [((5,), 0), ((2, 3), 1), ((2, 3), 0), ((0, 4), 1), ((1, 2, 3), 2)])
def test_iota(shape, dim, dt):
    (got,) = run_op("iota", shape=shape, dtype=dt, dimension=dim)
    assert_same(got, build(shape, dt, lambda ix: ix[dim]))


@pytest.mark.parametrize("dt", DTYPES)
def test_constant_returns_its_value(dt):
    for shape in [(), (3,), (2, 0), (4, 5)]:
        value = arr(shape, dt, 1)
        (got,) = run_op("constant", value=value)
        assert_same(got, value)


# --- broadcast, reshape, transpose --------------------------------------------------------

BROADCASTS = [((), (2, 3), ()), ((3,), (2, 3), (1,)), ((2,), (2, 3), (0,)), ((1, 3), (4, 3), (0, 1)),
              ((2, 1), (2, 0, 5), (0, 2)), ((1,), (0,), (0,)), ((2, 3), (2, 1, 3), (0, 2))]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("src,shape,dims", BROADCASTS)
def test_broadcast_in_dim(src, shape, dims, dt):
    x = arr(src, dt)
    want = build(shape, dt, lambda ix: x[tuple(0 if x.shape[i] == 1 else ix[d] for i, d in enumerate(dims))])
    assert_same(run_op("broadcast_in_dim", x, shape=shape, broadcast_dimensions=dims)[0], want)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("src,shape", [((2, 3), (3, 2)), ((6,), (1, 2, 3, 1)), ((), (1, 1)), ((1,), ()),
                                       ((0, 3), (3, 0, 2)), ((2, 3, 4), (24,))])
def test_reshape_keeps_row_major_order(src, shape, dt):
    x = arr(src, dt)
    flat = [x[ix] for ix in np.ndindex(*src)]
    out = np.array(flat, dtype=dt).reshape(shape)  # rebuilt in row-major order
    assert_same(run_op("reshape", x, shape=shape)[0], out)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("src,perm", [((2, 3), (1, 0)), ((2, 3, 4), (2, 0, 1)), ((2, 3, 4), (0, 1, 2)),
                                      ((0, 3), (1, 0)), ((1, 2, 1), (2, 1, 0)), ((), ())])
def test_transpose(src, perm, dt):
    x = arr(src, dt)
    out_shape = tuple(src[p] for p in perm)

    def at(ix):
        j = [0] * len(src)
        for k, p in enumerate(perm):
            j[p] = ix[k]
        return x[tuple(j)]
    assert_same(run_op("transpose", x, permutation=perm)[0], build(out_shape, dt, at))


# --- slices ---------------------------------------------------------------------------------

SLICES = [((7,), (1,), (6,), (2,)), ((4, 5), (0, 1), (4, 5), (3, 2)), ((4, 5), (2, 2), (2, 5), ()),
          ((3, 0), (1, 0), (3, 0), (1, 1)), ((6,), (0,), (6,), (7,)), ((2, 3, 4), (1, 0, 1), (2, 3, 4), (1, 2, 2))]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("src,start,limit,strides", SLICES)
def test_slice(src, start, limit, strides, dt):
    x = arr(src, dt)
    st = strides or (1,) * len(src)
    shape = tuple(len(range(s, l, k)) for s, l, k in zip(start, limit, st))
    want = build(shape, dt, lambda ix: x[tuple(s + i * k for s, i, k in zip(start, ix, st))])
    attrs = dict(start_indices=start, limit_indices=limit)
    if strides:
        attrs["strides"] = strides
    assert_same(run_op("slice", x, **attrs)[0], want)


def _clamp_start(s, n, k):
    return min(max(s, 0), n - k)


@pytest.mark.parametrize("idt", ["int32", "int64"])
@pytest.mark.parametrize("src,sizes", [((5,), (2,)), ((4, 6), (2, 3)), ((4, 6), (4, 0)), ((3,), (3,)), ((2, 0), (1, 0))])
def test_dynamic_slice_clamps_starts(src, sizes, idt):
    x = arr(src, "float32")
    for starts in itertools.product(*[(-100, -1, 0, 1, 3, 100, int(np.iinfo(idt).min)) for _ in src]):
        cl = [_clamp_start(s, n, k) for s, n, k in zip(starts, src, sizes)]
        want = build(sizes, "float32", lambda ix: x[tuple(c + i for c, i in zip(cl, ix))])
        got = run_op("dynamic_slice", x, *[np.array(s, idt) for s in starts], slice_sizes=sizes, roundtrip=False)[0]
        assert_same(got, want, what=f"dynamic_slice starts={starts}")
    run_op("dynamic_slice", x, *[np.array(0, idt) for _ in src], slice_sizes=sizes)  # round trip once


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("src,upd", [((5,), (2,)), ((4, 6), (2, 3)), ((4, 6), (0, 3)), ((3,), (3,)), ((2, 2), (1, 2))])
def test_dynamic_update_slice_clamps_starts(src, upd, dt):
    x, u = arr(src, dt, 1), arr(upd, dt, 2)
    for starts in itertools.product(*[(-5, 0, 1, 2, 50) for _ in src]):
        cl = [_clamp_start(s, n, k) for s, n, k in zip(starts, src, upd)]

        def at(ix):
            rel = [i - c for i, c in zip(ix, cl)]
            if all(0 <= r < k for r, k in zip(rel, upd)):
                return u[tuple(rel)]
            return x[ix]
        got = run_op("dynamic_update_slice", x, u, *[np.array(s, np.int32) for s in starts], roundtrip=False)[0]
        assert_same(got, build(src, dt, at), what=f"dynamic_update_slice starts={starts}")


@pytest.mark.parametrize("dt", DTYPES)
def test_concatenate(dt):
    cases = [([(2,), (3,), (0,)], 0), ([(2, 3), (2, 1)], 1), ([(1, 3), (4, 3), (0, 3)], 0), ([(2, 0, 2), (2, 3, 2)], 1),
             ([(3,)], 0)]
    for k, (shapes, dim) in enumerate(cases):
        xs = [arr(s, dt, k * 10 + i) for i, s in enumerate(shapes)]
        assert_same(run_op("concatenate", *xs, dimension=dim)[0], np.concatenate(xs, axis=dim))


PADS = [((3,), (1,), (2,), (0,)), ((3,), (-1,), (-1,), (0,)), ((3,), (0,), (0,), (2,)), ((3,), (-2,), (1,), (1,)),
        ((2, 3), (1, -1), (0, 2), (1, 0)), ((0, 2), (1, 0), (1, 0), (3, 1)), ((1,), (0,), (0,), (5,)),
        ((4,), (-4,), (0,), (0,)), ((3, 1), (-3, 0), (-1, 0), (1, 0)), ((3,), (1,), (-6,), (1,)),
        ((3,), (2,), (-6,), (1,)), ((2,), (-3,), (2,), (0,)), ((1, 3), (1, 1), (0, -6), (0, 1))]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("src,lo,hi,interior", PADS)
def test_pad_edge_negative_and_interior(src, lo, hi, interior, dt):
    x = arr(src, dt, 3)
    v = arr((), dt, 4)
    shape = tuple(a + b + n + max(n - 1, 0) * i for n, a, b, i in zip(src, lo, hi, interior))

    def at(ix):
        j = []
        for p, n, a, i in zip(ix, src, lo, interior):
            q = p - a
            if q < 0 or q % (i + 1) or q // (i + 1) >= n:
                return v[()]
            j.append(q // (i + 1))
        return x[tuple(j)]
    got = run_op("pad", x, v, edge_padding_low=lo, edge_padding_high=hi, interior_padding=interior)[0]
    assert_same(got, build(shape, dt, at))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("src,dims", [((5,), (0,)), ((2, 3), (1,)), ((2, 3, 4), (0, 2)), ((2, 3), ()), ((0, 3), (1,)),
                                      ((), ())])
def test_reverse(src, dims, dt):
    x = arr(src, dt)
    want = build(src, dt, lambda ix: x[tuple(n - 1 - i if d in dims else i for d, (i, n) in enumerate(zip(ix, src)))])
    assert_same(run_op("reverse", x, dimensions=dims)[0], want)


# --- gather / scatter ----------------------------------------------------------------------------

GATHERS = [((5,), (3,), 0, 0), ((4, 3), (2, 2), 0, 0), ((4, 3), (5,), 1, 0), ((2, 5, 3), (2, 4), 1, 1),
           ((2, 5), (2,), 1, 1), ((3, 4), (0,), 0, 0), ((3, 0), (2,), 0, 0), ((2, 3, 2), (2, 3, 2), 2, 2),
           ((1,), (), 0, 0)]


def _gather_source(ix, axis, bd, idx, n):
    """The operand position that output position `ix` reads (indices clamped to [0, n-1])."""
    ni = idx.ndim - bd
    j = ix[:bd] + ix[axis:axis + ni]
    k = min(max(int(idx[j]), 0), n - 1)
    return ix[:axis] + (k,) + ix[axis + ni:]


def _indices(shape, n, seed, idt="int32"):
    rng = np.random.default_rng(seed)
    choices = np.array([-3, -1, 0, 1, n - 1, n, n + 7, np.iinfo(idt).max, np.iinfo(idt).min], dtype=np.int64)
    return choices[rng.integers(0, len(choices), size=shape)].astype(idt)


@pytest.mark.parametrize("dt,idt", [("float64", "int32"), ("float64", "int64"), ("bool", "int64"), ("int32", "int32"),
                                    ("float32", "int64"), ("int64", "int32")])
@pytest.mark.parametrize("src,ishape,axis,bd", GATHERS)
def test_gather_clamps_indices(src, ishape, axis, bd, dt, idt):
    x = arr(src, dt, 5)
    idx = _indices(ishape, src[axis], 6, idt)
    shape = src[:axis] + ishape[bd:] + src[axis + 1:]
    want = build(shape, dt, lambda ix: x[_gather_source(ix, axis, bd, idx, src[axis])])
    assert_same(run_op("gather", x, idx, axis=axis, batch_dims=bd)[0], want)


@pytest.mark.parametrize("kind", ["add", "set"])
@pytest.mark.parametrize("dt", ["int32", "int64", "float64", "float32"])
@pytest.mark.parametrize("src,ishape,axis,bd", [g for g in GATHERS if g[0][g[2]] > 0])
def test_scatter_clamps_and_accumulates(src, ishape, axis, bd, dt, kind):
    x = arr(src, dt, 7)
    idx = _indices(ishape, src[axis], 8)
    ushape = src[:axis] + ishape[bd:] + src[axis + 1:]
    u = arr(ushape, dt, 9)
    want = x.copy()
    with np.errstate(all="ignore"):
        for ix in np.ndindex(*ushape):  # row-major order: with kind=set the last update wins
            t = _gather_source(ix, axis, bd, idx, src[axis])
            want[t] = want[t] + u[ix] if kind == "add" else u[ix]
    got = run_op("scatter", x, idx, u, axis=axis, batch_dims=bd, kind=kind)[0]
    assert_same(got, want, **({"rtol": 1e-6} if dt == "float32" and kind == "add" else {}))


def test_scatter_add_duplicate_indices_sum():
    x = np.zeros(3)
    got = run_op("scatter", x, np.array([1, 1, 1, 5]), np.array([1.0, 2.0, 4.0, 8.0]), axis=0)[0]
    assert_same(got, np.array([0.0, 7.0, 8.0]))
