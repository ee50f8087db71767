"""The llvm backend's linear-algebra kernels (backends/llvm/lapack.py) against the reference backend
(numpy.linalg) and NumPy, and exported artifacts that use them: a fresh process without llvmlite,
and C (examples/c) finding LAPACK through CHAINRULE_LAPACK."""

import glob
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.frontend.core import bind

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RNG = np.random.default_rng(17)


def _tol(dt):
    return 2e-4 if np.dtype(dt) == np.float32 else 1e-10


def _both(f, *args, **kw):
    got = cr.jit(f, backend="llvm", **kw)(*args)
    want = cr.jit(f, backend="reference")(*args)
    wrap = lambda r: list(r) if isinstance(r, (tuple, list)) else [r]  # noqa: E731
    return [np.asarray(g) for g in wrap(got)], [np.asarray(w) for w in wrap(want)]


def _close(got, want, dt, scale=1.0):
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        t = _tol(dt) * scale
        np.testing.assert_allclose(g, w, rtol=t, atol=t, equal_nan=True)


def _signs(v, axis):
    """v with each vector (along `axis`) scaled so that its largest-magnitude entry is positive."""
    idx = np.expand_dims(np.argmax(np.abs(v), axis=axis), axis)
    return v * np.sign(np.take_along_axis(v, idx, axis=axis))


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("lower", [True, False])
def test_cholesky_and_not_positive_definite_gives_nan(dt, lower):
    a = RNG.standard_normal((3, 6, 6))
    spd = (a @ np.swapaxes(a, -1, -2) + 6 * np.eye(6)).astype(dt)
    spd[1] = -np.eye(6)  # only this matrix fails
    got, want = _both(lambda x: bind("cholesky", x, lower=lower), spd)
    _close(got, want, dt)
    assert np.isnan(got[0][1][np.tril_indices(6) if lower else np.triu_indices(6)]).all()
    assert not np.isnan(got[0][[0, 2]]).any()


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_triangular_solve_every_variant(dt):
    a = np.tril(RNG.standard_normal((2, 5, 5))) + 4 * np.eye(5) + 7 * np.triu(np.ones((5, 5)), 1)  # never read
    for left in (True, False):
        b = RNG.standard_normal((2, 5, 3) if left else (2, 3, 5)).astype(dt)
        for lower in (True, False):
            t = (a if lower else np.swapaxes(a, -1, -2)).astype(dt)
            for trans in (True, False):
                for unit in (True, False):
                    f = lambda x, y: bind("triangular_solve", x, y, left_side=left, lower=lower,  # noqa: E731
                                          transpose_a=trans, unit_diagonal=unit)
                    got, want = _both(f, t, b)
                    _close(got, want, dt, scale=10)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(3, 5, 5), (2, 7, 4), (2, 4, 7), (6, 6), (2, 19, 13)])  # 19 x 13: full 8 x 8 transpose blocks and edges
def test_lu_qr_svd_eigh_against_numpy_linalg(dt, shape):
    x = RNG.standard_normal(shape).astype(dt)
    got, want = _both(lambda x: bind("lu", x), x)
    _close(got, want, dt, scale=10)
    for full in (True, False):
        got, want = _both(lambda x: bind("qr", x, full_matrices=full), x)
        _close(got, want, dt, scale=10)
        (u, s, vh), (wu, ws, wvh) = _both(lambda x: bind("svd", x, full_matrices=full), x)
        _close([s], [ws], dt, scale=10)
        k = min(shape[-2:])
        # singular vectors up to sign, and a = u s vh
        _close([_signs(u[..., :k], -2), _signs(vh[..., :k, :], -1)], [_signs(wu[..., :k], -2), _signs(wvh[..., :k, :], -1)],
               dt, scale=100)
        np.testing.assert_allclose((u[..., :k] * s[..., None, :]) @ vh[..., :k, :], x, atol=_tol(dt) * 100)
    got, want = _both(lambda x: bind("svd", x, compute_uv=False), x)
    _close(got, want, dt, scale=10)
    if shape[-1] == shape[-2]:
        for lower in (True, False):
            (v, w), (wv, ww) = _both(lambda x: bind("eigh", x, lower=lower), x)
            _close([w, _signs(v, -2)], [ww, _signs(wv, -2)], dt, scale=100)


def test_svd_and_eigh_of_nan_give_nan_and_empty_batches_work():
    x = RNG.standard_normal((2, 4, 4))
    x[0, 1, 2] = np.nan
    (u, s, vh), _ = _both(lambda x: bind("svd", x), x)
    assert np.isnan(s[0]).all() and np.isnan(u[0]).all() and not np.isnan(s[1]).any()
    e = np.zeros((0, 3, 3))
    for op in ("cholesky", "lu", "qr", "eigh", "svd"):
        got, want = _both(lambda x: bind(op, x), e)
        assert [g.shape for g in got] == [w.shape for w in want]


def test_inside_a_loop_and_on_one_or_two_threads():
    """A kernel inside a scan region (its scratch in the region's arena), and the thread setting."""
    a = RNG.standard_normal((200, 200))
    spd = a @ a.T + 200 * np.eye(200)

    def f(m):
        return cr.fori_loop(0, 2, lambda i, c: bind("cholesky", c) + 200 * np.eye(200), m)
    got = cr.jit(f, backend="llvm")(spd)
    want = cr.jit(f, backend="reference")(spd)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    g = lambda m: bind("eigh", m)[1]  # noqa: E731
    one = cr.jit(g, backend="llvm", threads=1)(spd)
    two = cr.jit(g, backend="llvm", threads=2)(spd)
    np.testing.assert_allclose(one, two, rtol=1e-12)
    np.testing.assert_allclose(one, np.linalg.eigvalsh(spd), rtol=1e-12)


# -- artifacts

SHAPES = [(4, 4), (4, 3)]


def model(a, b):
    import chainrule.numpy as cnp
    spd = a @ cnp.transpose(a) + 4.0 * cnp.eye(4, dtype=a.dtype)
    lo = bind("cholesky", spd)
    x = bind("triangular_solve", lo, b, left_side=True, lower=True)
    q, r = bind("qr", a)
    solved = cnp.linalg.solve(spd, b)  # the fused lu_solve kernel (backends/llvm/lu_solve.py)
    return lo, x, bind("eigh", spd)[1], bind("svd", a, compute_uv=False), bind("lu", a)[0], q @ r, solved


def pattern():
    """examples/c/main.c's inputs: input k, element i = 0.5 * sin(0.1 * i + k)."""
    return [(0.5 * np.sin(0.1 * np.arange(np.prod(s)) + k)).reshape(s) for k, s in enumerate(SHAPES)]


def _numpy_openblas():
    found = glob.glob(os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs", "*openblas*.so*"))
    return found[0] if found else None


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("lapack") / "model.crx")
    comp = cr.jit(model, backend="llvm").lower(*pattern()).compile()
    cr.export(comp, path, payloads=["native"])
    return path, comp(*pattern())


def test_artifact_runs_in_a_fresh_process_without_llvmlite(artifact, tmp_path):
    path, want = artifact
    code = ("import sys, numpy as np, chainrule as cr\n"
            f"sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
            "from test_llvm_lapack import pattern\n"
            f"f = cr.load({path!r})\n"
            f"np.savez({str(tmp_path / 'out.npz')!r}, *f(*pattern()))\n"
            "print(f.payload, 'llvmlite' in sys.modules)\n")
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.split() == ["native", "False"]
    got = np.load(tmp_path / "out.npz")
    for i, w in enumerate(want):
        np.testing.assert_array_equal(got[f"arr_{i}"], w)


def check_c_program(path, want, tmp_path):
    """examples/c built against the artifact at `path`: without a LAPACK its call fails cleanly (status 2,
    no crash); with NumPy's OpenBLAS named by CHAINRULE_LAPACK it prints `want`."""
    if not (shutil.which(os.environ.get("CC", "cc")) and shutil.which("make")):
        pytest.skip("no C compiler or make")
    lib = _numpy_openblas()
    if lib is None:
        pytest.skip("NumPy has no bundled OpenBLAS here")
    build = tmp_path / "c"
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    env.pop("CHAINRULE_LAPACK", None)
    make = subprocess.run(["make", "-s", f"ARTIFACT={path}", f"BUILD={build}", f"PYTHON={sys.executable}"],
                          cwd=os.path.join(ROOT, "examples", "c"), capture_output=True, text=True, env=env, timeout=300)
    assert make.returncode == 0, make.stdout + make.stderr[-2000:]
    p = subprocess.run([str(build / "main")], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 1 and "chainrule_model failed" in p.stderr
    p = subprocess.run([str(build / "main")], capture_output=True, text=True, timeout=60,
                       env={**env, "CHAINRULE_LAPACK": lib})
    assert p.returncode == 0, p.stderr[-2000:]
    lines = p.stdout.split("\n")
    outs, i = [], 0
    while i < len(lines) and lines[i]:
        n = int(lines[i].split()[1])
        outs.append(np.array([float(v) for v in lines[i + 1:i + 1 + n]]))
        i += 1 + n
    assert len(outs) == len(want)
    for g, w in zip(outs, want):
        np.testing.assert_allclose(g, np.ravel(w), rtol=1e-8, atol=1e-12)


def test_c_program_finds_lapack_through_chainrule_lapack(artifact, tmp_path):
    check_c_program(*artifact, tmp_path)


def test_derivatives_compile_and_agree_with_the_reference_backend():
    """Reverse mode through the linalg ops (their JVP/transpose rules use the ops again) on llvm."""
    import chainrule.numpy as cnp
    a = RNG.standard_normal((5, 5))
    spd = a @ a.T + 5 * np.eye(5)
    fns = {
        "svdvals": (lambda x: cnp.sum(cnp.linalg.svd(x, compute_uv=False)), np.eye(3) + 0.1),
        "slogdet": (lambda x: cnp.linalg.slogdet(x)[1], a),
        "solve": (lambda x: cnp.sum(cnp.linalg.solve(x, np.arange(5.0)) ** 2), a),
        "cholesky": (lambda x: cnp.sum(cnp.linalg.cholesky(x) ** 2), spd),
        "eigh": (lambda x: cnp.sum(cnp.linalg.eigh(x)[0] ** 3), spd),
        "qr": (lambda x: cnp.sum(cnp.linalg.qr(x)[1] ** 2), a),
    }
    for name, (f, x) in fns.items():
        got = cr.jit(cr.grad(f), backend="llvm")(x)
        want = cr.jit(cr.grad(f), backend="reference")(x)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(cr.jit(cr.grad(fns["svdvals"][0]), backend="llvm")(np.eye(3) + 0.1), np.eye(3),
                               atol=1e-12)
