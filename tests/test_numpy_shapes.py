"""Shape manipulation and array creation in chainrule.numpy against NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from test_numpy_harness import check, rand

DTYPES = (np.bool_, np.int32, np.int64, np.float32, np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_reshape_family(dtype, rng):
    x = rand(rng, (2, 3, 4), dtype)
    check(lambda xp, x: (xp.reshape(x, (6, 4)), xp.reshape(x, (-1,)), x.reshape(4, -1), x.reshape((3, 8)),
                         xp.ravel(x), x.flatten(), x.ravel()), x)
    check(lambda xp, x: (xp.transpose(x), xp.transpose(x, (1, 0, 2)), x.T, x.transpose(2, 0, 1),
                         xp.swapaxes(x, 0, 2), xp.moveaxis(x, 0, -1), xp.moveaxis(x, [0, 1], [2, 0])), x)
    check(lambda xp, x: (xp.expand_dims(x, 0), xp.expand_dims(x, (1, -1)), xp.squeeze(xp.expand_dims(x, 2)),
                         xp.squeeze(x[:, :1], axis=1), xp.broadcast_to(x[:1], (5, 3, 4))), x)


def test_shape_metadata(rng):
    x = rand(rng, (2, 3), np.float32)

    def f(xp, x):
        assert xp.shape(x) == (2, 3) and xp.ndim(x) == 2 and xp.size(x) == 6
        assert x.shape == (2, 3) and x.ndim == 2 and x.dtype == np.float32 and x.size == 6 and len(x) == 2
        return x.astype(np.int32), x.astype("float64"), x.mT
    check(f, x)


@pytest.mark.parametrize("dtype", (np.int32, np.float64))
def test_concatenate_stack(dtype, rng):
    a, b = rand(rng, (2, 3), dtype), rand(rng, (2, 3), dtype)
    c = rand(rng, (4, 3), dtype)
    check(lambda xp, a, b, c: (xp.concatenate([a, b]), xp.concatenate([a, b], axis=1), xp.concatenate([a, c], 0),
                               xp.concatenate([a, b], axis=None), xp.stack([a, b]), xp.stack([a, b], axis=-1),
                               xp.hstack([a, b]), xp.vstack([a, c]), xp.dstack([a, b]), xp.column_stack([a, b])),
          a, b, c)
    v, w = rand(rng, (3,), dtype), rand(rng, (3,), dtype)
    check(lambda xp, v, w: (xp.hstack([v, w]), xp.vstack([v, w]), xp.dstack([v, w]), xp.column_stack([v, w]),
                            xp.append(v, w), xp.stack([v, w], 1)), v, w)


def test_concatenate_promotes(rng):
    a, b = rand(rng, (2,), np.int32), rand(rng, (3,), np.float32)
    check(lambda xp, a, b: xp.concatenate([a, b]), a, b)


@pytest.mark.parametrize("spec", [3, [1, 3], [2, -1], [0, 6, 9]])
def test_split_family(spec, rng):
    x = rand(rng, (6, 6, 6), np.float64)
    check(lambda xp, x: xp.array_split(x, spec, axis=1), x)
    check(lambda xp, x: xp.array_split(x, 4, axis=2), x)
    if not isinstance(spec, int) or 6 % spec == 0:
        check(lambda xp, x: (xp.split(x, spec), xp.hsplit(x, spec), xp.vsplit(x, spec), xp.dsplit(x, spec)), x)


def test_split_unequal_raises():
    with pytest.raises(ValueError, match="equal division"):
        cnp.split(np.ones(5), 2)


@pytest.mark.parametrize("reps", [2, (2, 1), (1, 3), (2, 1, 2), (0, 2)])
def test_tile(reps, rng):
    check(lambda xp, x: xp.tile(x, reps), rand(rng, (2, 3), np.int32))
    check(lambda xp, x: xp.tile(x, reps), rand(rng, (3,), np.float32))


def test_repeat(rng):
    x = rand(rng, (2, 3), np.float64)
    check(lambda xp, x: (xp.repeat(x, 2), xp.repeat(x, 3, axis=1), xp.repeat(x, [1, 0, 2], axis=1),
                         xp.repeat(x, [2, 1], axis=0), xp.repeat(x, 0, axis=0)), x)


def test_flips_and_rotations(rng):
    x = rand(rng, (2, 3, 4), np.int64)
    check(lambda xp, x: (xp.flip(x), xp.flip(x, 1), xp.flip(x, (0, 2)), xp.flipud(x), xp.fliplr(x)), x)
    check(lambda xp, x: tuple(xp.rot90(x, k) for k in range(-1, 6)) + (xp.rot90(x, 1, (2, 0)),), x)


@pytest.mark.parametrize("shift,axis", [(1, None), (-2, None), (7, 0), (2, 1), ((1, 2), (0, 1)), (3, -1), (0, 0)])
def test_roll(shift, axis, rng):
    check(lambda xp, x: xp.roll(x, shift, axis), rand(rng, (3, 5), np.float32))


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
@pytest.mark.parametrize("width", [1, (2, 0), ((1, 2), (0, 3)), ((4, 5), (0, 0))])
def test_pad(mode, width, rng):
    x = rand(rng, (3, 4), np.float64)
    check(lambda xp, x: xp.pad(x, width, mode=mode), x)


def test_pad_constant_values(rng):
    x = rand(rng, (2, 3), np.int32)
    check(lambda xp, x: (xp.pad(x, 1, constant_values=7), xp.pad(x, ((1, 0), (2, 1)), constant_values=((1, 2), (3, 4)))),
          x)


@pytest.mark.parametrize("k", [-2, -1, 0, 1, 3])
def test_triangles_and_diagonals(k, rng):
    x = rand(rng, (4, 5), np.float64)
    v = rand(rng, (3,), np.int32)
    check(lambda xp, x: (xp.triu(x, k), xp.tril(x, k), xp.diag(x, k), xp.diagonal(x, k), xp.trace(x, k)), x)
    check(lambda xp, v: (xp.diag(v, k), xp.diagflat(v, k), xp.tril(v, k)), v)


def test_diagonal_axes(rng):
    x = rand(rng, (3, 4, 5), np.float32)
    check(lambda xp, x: (xp.diagonal(x, 0, 1, 2), xp.diagonal(x, 1, 2, 0), xp.diagonal(x, -1, 0, 2),
                         xp.trace(x, 0, 1, 2), xp.trace(x, axis1=2, axis2=0)), x, rtol=1e-6, atol=1e-6)


def test_atleast(rng):
    for shape in [(), (3,), (2, 3), (2, 3, 4)]:
        x = rand(rng, shape, np.float64)
        check(lambda xp, x: (xp.atleast_1d(x), xp.atleast_2d(x), xp.atleast_3d(x)), x)


def test_where_and_broadcast_arrays(rng):
    a, b = rand(rng, (3, 1), np.int32), rand(rng, (4,), np.int32)
    check(lambda xp, a, b: tuple(xp.broadcast_arrays(a, b)), a, b)


def test_meshgrid_and_ix(rng):
    a, b, c = rand(rng, (3,), np.float64), rand(rng, (4,), np.float64), rand(rng, (2,), np.float64)
    check(lambda xp, a, b: xp.meshgrid(a, b), a, b)
    check(lambda xp, a, b, c: xp.meshgrid(a, b, c, indexing="ij"), a, b, c)
    check(lambda xp, a, b, c: xp.meshgrid(a, b, c), a, b, c)
    check(lambda xp, a, b: xp.meshgrid(a, b, sparse=True), a, b)
    check(lambda xp, a, b: xp.ix_(a, b), a, b)


def test_take(rng):
    x = rand(rng, (4, 5), np.float64)
    idx = np.array([[0, -1], [3, 2]])
    check(lambda xp, x: (xp.take(x, [1, -2, 3]), xp.take(x, idx, axis=1), xp.take(x, 2, axis=0),
                         xp.take(x, [9, -9], axis=0, mode="clip"), xp.take(x, [7, -6], axis=1, mode="wrap")), x)
    check(lambda xp, x, i: xp.take(x, i, axis=0), x, idx)  # indices as an argument: symbolic in jit
    with pytest.raises(IndexError, match="out of bounds"):
        cnp.take(x, [4], axis=0)


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_take_along_axis(axis, rng):
    x = rand(rng, (3, 4), np.float32)
    if axis is None:
        idx = rng.integers(-12, 12, size=(5,))
    else:
        shape = [3, 4]
        shape[axis] = 6
        idx = rng.integers(-x.shape[axis], x.shape[axis], size=shape)
    check(lambda xp, x, i: xp.take_along_axis(x, i, axis=axis), x, idx)


def test_take_along_axis_argsort_pattern(rng):
    x = rand(rng, (2, 3, 5), np.float64)
    i = np.argmax(x, axis=2)[..., None]
    check(lambda xp, x, i: xp.take_along_axis(x, i, axis=2), x, i)
    check(lambda xp, x: xp.take_along_axis(x, xp.argmin(x, axis=1, keepdims=True), axis=1), x)


def test_kron_cross(rng):
    a, b = rand(rng, (2, 3), np.int32), rand(rng, (3, 2), np.int32)
    check(lambda xp, a, b: (xp.kron(a, b), xp.kron(a[0], b), xp.kron(a, b[:, 0])), a, b)
    u, v = rand(rng, (4, 3), np.float64), rand(rng, (3,), np.float64)
    check(lambda xp, u, v: (xp.cross(u, v), xp.cross(v, u), xp.cross(u.T, u.T, axis=0)), u, v)


def test_cross_two_vectors(rng):
    import warnings
    u, v = rand(rng, (4, 2), np.float64), rand(rng, (3,), np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        check(lambda xp, u, v: (xp.cross(u, v), xp.cross(v, u)), u, v)


# --- creation -------------------------------------------------------------------------------------

def test_creation_functions():
    def f(xp):
        return (xp.zeros((2, 3)), xp.ones(4, dtype=np.int32), xp.full((2,), 7), xp.full((2, 2), 1.5, np.float32),
                xp.eye(3), xp.eye(3, 4, 1, dtype=np.int64), xp.identity(2), xp.arange(5), xp.arange(1, 7, 2),
                xp.arange(0.0, 1.0, 0.25), xp.arange(3, dtype=np.float32), xp.linspace(0, 1, 5),
                xp.linspace(-1, 1, 4, endpoint=False), xp.tri(3, 4, 1), xp.indices((2, 3)))
    compare_all(f)


def compare_all(f):
    from test_numpy_harness import compare
    compare(f(cnp), f(np), what="eager")
    compare(cr.jit(lambda: f(cnp))(), f(np), what="jit")


def test_like_functions(rng):
    x = rand(rng, (2, 3), np.float32)
    check(lambda xp, x: (xp.zeros_like(x), xp.ones_like(x), xp.full_like(x, 2.5), xp.zeros_like(x, dtype=np.int32),
                         xp.full_like(x, 3, shape=(4,)), xp.empty_like(x).shape), x)


def test_linspace_with_tensor_bounds():
    f = cr.jit(lambda a, b: cnp.linspace(a, b, 5))
    np.testing.assert_allclose(f(np.float64(1.0), np.float64(3.0)), np.linspace(1.0, 3.0, 5), rtol=1e-15)


def test_vander_polyval(rng):
    x = rand(rng, (4,), np.float64)
    check(lambda xp, x: (xp.vander(x), xp.vander(x, 3, increasing=True)), x)
    check(lambda xp, x: xp.vander(x), rand(rng, (3,), np.int32))
    p = rand(rng, (4,), np.float64)
    check(lambda xp, p, x: xp.polyval(p, x), p, x)
    check(lambda xp, x: xp.polyval([1.0, -2.0, 3.0], x), x.astype(np.float32))


EMPTY_CASES = {
    "sum": lambda xp, x: xp.sum(x, axis=0), "mean": lambda xp, x: xp.mean(x, axis=1),
    "cumsum": lambda xp, x: xp.cumsum(x, axis=0), "cumprod": lambda xp, x: xp.cumprod(x),
    "sort": lambda xp, x: xp.sort(x, axis=0), "argsort": lambda xp, x: xp.argsort(x, axis=0),
    "concatenate": lambda xp, x: xp.concatenate([x, x]), "matmul": lambda xp, x: x.T @ x,
    "einsum": lambda xp, x: xp.einsum("ij,ij->j", x, x), "tile": lambda xp, x: xp.tile(x, (2, 1)),
    "repeat": lambda xp, x: xp.repeat(x, 2, axis=1), "flip": lambda xp, x: xp.flip(x),
    "roll": lambda xp, x: xp.roll(x, 1, axis=0), "diff": lambda xp, x: xp.diff(x, axis=0),
    "pad": lambda xp, x: xp.pad(x, 1), "take": lambda xp, x: xp.take(x, [], axis=0), "slice": lambda xp, x: x[::2],
    "stack": lambda xp, x: xp.stack([x, x], 1), "array_split": lambda xp, x: xp.array_split(x, 2, axis=0),
    "diagonal": lambda xp, x: xp.diagonal(x), "trace": lambda xp, x: xp.trace(x), "triu": lambda xp, x: xp.triu(x),
    "where": lambda xp, x: xp.where(x > 0, x, 1.0), "var": lambda xp, x: xp.var(x, axis=0),
    "any_all": lambda xp, x: (xp.any(x), xp.all(x, axis=0)), "outer_kron": lambda xp, x: (xp.outer(x, x), xp.kron(x, x)),
    "nansum": lambda xp, x: xp.nansum(x, axis=0), "count_nonzero": lambda xp, x: xp.count_nonzero(x, axis=0),
    "norm": lambda xp, x: xp.linalg.norm(x, axis=0), "isclose_clip": lambda xp, x: (xp.isclose(x, x), xp.clip(x, 0, 1)),
}


@pytest.mark.parametrize("name", sorted(EMPTY_CASES))
@pytest.mark.parametrize("shape", [(0, 3), (2, 0)])
def test_empty_arrays(name, shape):
    check(EMPTY_CASES[name], np.zeros(shape))
