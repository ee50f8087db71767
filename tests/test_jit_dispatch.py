"""cr.jit's per-signature fast path (Compiled.fast_caller): every kind of argument and result gives
what the general path gives, and arguments it cannot take directly fall back instead of misreading."""

import threading

import numpy as np
import pytest

import chainrule as cr
from chainrule.backends import available_backends

BACKENDS = [b for b in ("llvm", "reference") if b in available_backends()]
RNG = np.random.default_rng(7)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal(4)


def mixed(params, x, s):
    (w, b), scale = params
    return {"y": (x @ w + b) * s, "n": [scale * 2.0, s]}


def mixed_numpy(params, x, s):
    (w, b), scale = params
    return {"y": (x @ w + b) * s, "n": [scale * 2.0, s]}


def _same(got, want):
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want)
        for k in want:
            _same(got[k], want[k])
    elif isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want)
        for g, w in zip(got, want):
            _same(g, w)
    else:
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nested_arguments_and_results_through_the_cached_path(backend):
    jf = cr.jit(mixed, backend=backend)
    params = ((RNG.standard_normal((4, 2)), RNG.standard_normal(2)), np.float64(0.5))
    x = RNG.standard_normal((3, 4))
    for k in range(3):  # the first call compiles; later ones take the cached caller
        _same(jf(params, x, 1.5 + k), mixed_numpy(params, x, 1.5 + k))
    assert jf.trace_count == 1
    # a non-contiguous leaf with the cached shape and dtype is copied, not misread
    xt = np.asfortranarray(x)
    _same(jf(params, xt, 2.0), mixed_numpy(params, xt, 2.0))
    # the same tree with a different leaf kind is another signature
    params2 = (params[0], 0.25)
    _same(jf(params2, x, 2.0), mixed_numpy(params2, x, 2.0))


@pytest.mark.parametrize("backend", BACKENDS)
def test_flat_results_of_every_shape(backend):
    one = cr.jit(lambda a: a * 2.0, backend=backend)
    pair = cr.jit(lambda a, b: (a + b, a - b), backend=backend)
    lst = cr.jit(lambda a, b: [a * b], backend=backend)
    none = cr.jit(lambda: np.float32(3.0) * 2, backend=backend)
    for _ in range(2):
        _same(one(A), A * 2.0)
        _same(pair(A, B), (A + B, A - B))
        _same(lst(A, B), [A * B])
        assert float(none()) == 6.0
    assert isinstance(pair(A, B), tuple)


@pytest.mark.parametrize("backend", BACKENDS)
def test_results_are_fresh_arrays_each_call(backend):
    jf = cr.jit(lambda a: a + 1.0, backend=backend)
    r1 = jf(A)
    r2 = jf(A)
    assert r1 is not r2 and not np.shares_memory(r1, r2)
    r1[...] = 0
    np.testing.assert_array_equal(r2, A + 1.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_scalars_and_zero_dim_arrays_are_separate_signatures(backend):
    jf = cr.jit(lambda v: v * 2.0 + 1.0, backend=backend)
    assert float(jf(np.float32(1.5))) == 4.0
    assert float(jf(np.float32(1.5))) == 4.0
    assert float(jf(np.array(2.5, np.float32))) == 6.0
    assert float(jf(np.array(2.5, np.float32))) == 6.0
    assert float(jf(2.0)) == 5.0
    assert float(jf(2.0)) == 5.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_cached_caller_from_new_threads(backend):
    jf = cr.jit(lambda p, x: (p[0] * x + p[1]).sum(), backend=backend)
    p = [RNG.standard_normal(5), RNG.standard_normal(5)]
    jf(p, 2.0)
    errors = []

    def work(t):
        for k in range(200):
            x = float(t + k)
            got = float(jf(p, x))
            if not np.isclose(got, (p[0] * x + p[1]).sum(), rtol=1e-12):
                errors.append((t, k, got))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_define_then_run_function_cached_calls_keep_their_checks(backend):
    x = cr.placeholder((), "float32", name="x")
    n = cr.placeholder((), "int32", name="n")
    fn = cr.function([x, n], x * 2.0 + n, backend=backend)
    for _ in range(2):
        assert float(fn(np.float32(1.5), np.int32(2))) == 5.0
        assert float(fn(1.5, 2)) == 5.0
    with pytest.raises(TypeError, match="int32"):
        fn(np.float32(1.0), 2.5)
    with pytest.raises(ValueError, match="out of range"):
        fn(np.float32(1.0), 2 ** 40)
    assert float(fn(np.float64(1.5), np.int32(2))) == 5.0  # a scalar of another float type is cast
    v = cr.placeholder((3,), "float64", name="v")
    g = cr.function([v], (v * 2.0, v.sum()), backend=backend)
    for _ in range(2):
        r = g(A[0, :3].copy())
        _same(r, (A[0, :3] * 2.0, A[0, :3].sum()))
    _same(g(A[:, 0]), (A[:, 0] * 2.0, A[:, 0].sum()))  # strided column: copied, not misread
    with pytest.raises(ValueError, match="shape"):
        g(np.zeros(4))


def test_loaded_artifact_cached_calls_keep_their_checks(tmp_path):
    if "llvm" not in available_backends():
        pytest.skip("exporting a native library needs llvmlite")
    f = cr.jit(lambda a, b: (a * b).sum(axis=1))
    path = tmp_path / "f.crx"
    f.lower(A, B).compile().export(str(path))
    g = cr.load(str(path))
    for _ in range(3):
        _same(g(A, B), (A * B).sum(axis=1))
    _same(g(np.asfortranarray(A), B), (A * B).sum(axis=1))  # copied, not misread
    _same(g(A, B[::-1].copy()), (A * B[::-1]).sum(axis=1))
    with pytest.raises(ValueError, match="shape"):
        g(A[:2], B)
    with pytest.raises(TypeError, match="float64"):
        g(A.astype(np.float32), B)
