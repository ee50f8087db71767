"""The exported libraries' built-in GEMM (blocked_gemm.py) against NumPy.

The kernel is called directly through ctypes (a module exporting it, built for
each vector width this CPU runs: AVX-512, AVX2, SSE) for many shapes, both
transposes, alpha/beta values, leading dimensions wider than the matrices and
zero sizes; operands flush against PROT_NONE guard pages (in a child process)
show any read or write outside A, B or C; and exported artifacts call it
through their C entry point (NULL runtime table).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr

HERE = os.path.abspath(__file__)
sys.path.insert(0, os.path.dirname(HERE))
from test_reliability_bounds import Guarded, child_env  # noqa: E402

NO_TRANS, TRANS = 111, 112
CPUS = {64: None, 32: "x86-64-v3", 16: "x86-64"}  # vector bytes -> the CPU the library is built for
_LEVEL_FLAGS = {64: {"avx512f"}, 32: {"avx2", "fma"}, 16: set()}


def _runnable_widths():
    from chainrule.artifact.host import cpu_flags
    from chainrule.backends.llvm.blocked_gemm import vector_bytes
    from chainrule.backends.llvm.target import host
    have = cpu_flags() or set()
    out = [w for w in (32, 16) if have >= _LEVEL_FLAGS[w]]
    if vector_bytes(None, host()["features"]) == 64:
        out.insert(0, 64)
    return out


_LIBS = {}


def gemm_library(vbytes: int):
    """ctypes library with blocked_{s,d}gemm (and the loop kernels) built for `vbytes`-byte vectors."""
    if vbytes in _LIBS:
        return _LIBS[vbytes]
    from chainrule.backends.llvm.blocked_gemm import standalone_library
    from chainrule.backends.llvm.target import host
    cpu = CPUS[vbytes]
    lib = standalone_library(vbytes, cpu or host()["cpu"], "" if cpu else host()["features"])
    _LIBS[vbytes] = lib
    return lib


def gemm(lib, A, B, C, ta, tb, alpha, beta, M, N, K, lda, ldb, ldc, kind="blocked"):
    s = "s" if C.dtype == np.float32 else "d"
    getattr(lib, f"{kind}_{s}gemm")(101, TRANS if ta else NO_TRANS, TRANS if tb else NO_TRANS, M, N, K, alpha,
                                     A.ctypes.data, lda, B.ctypes.data, ldb, beta, C.ctypes.data, ldc)


def _case(rng, dtype, M, N, K, ta, tb, pad=0):
    """Operands stored with `pad` extra columns (leading dimensions wider than the matrices)."""
    A = rng.standard_normal((K, M + pad) if ta else (M, K + pad)).astype(dtype)
    B = rng.standard_normal((N, K + pad) if tb else (K, N + pad)).astype(dtype)
    C = rng.standard_normal((M, N + pad)).astype(dtype)
    opA = (A[:, :M].T if ta else A[:, :K]).astype(np.float64)
    opB = (B[:, :K].T if tb else B[:, :N]).astype(np.float64)
    return A, B, C, opA, opB


def _check(got, want, K, dtype, msg):
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 4 * np.sqrt(K + 1), err_msg=msg)


SHAPES = [(0, 3, 4), (3, 0, 4), (3, 4, 0), (0, 0, 0), (1, 1, 1), (1, 37, 1), (37, 1, 1), (2, 3, 700),
          (7, 33, 5), (9, 65, 300), (17, 31, 513), (64, 64, 64), (100, 200, 300), (130, 1100, 19), (260, 40, 257)]


@pytest.mark.parametrize("vbytes", _runnable_widths())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["blocked", "loop"])
def test_blocked_gemm_matches_numpy(vbytes, dtype, kind):
    """Every shape (edges off the tile, blocks of KC/MC/NC and remainders), transposes, alpha/beta, lda > width;
    the loop kernel (the path for when malloc fails) on the smaller shapes."""
    lib = gemm_library(vbytes)
    rng = np.random.default_rng(vbytes)
    for M, N, K in SHAPES if kind == "blocked" else [s for s in SHAPES if s[0] * s[1] * s[2] <= 300000]:
        for ta in (0, 1):
            for tb in (0, 1):
                for pad in (0, 3):
                    A, B, C, opA, opB = _case(rng, dtype, M, N, K, ta, tb, pad)
                    for alpha, beta in ((1.0, 0.0), (0.5, 2.0), (0.0, 1.5), (-1.0, 1.0), (2.0, 0.0)):
                        want = C.astype(np.float64)
                        want[:, :N] = alpha * (opA @ opB) + beta * want[:, :N]
                        got = C.copy()
                        if beta == 0.0:
                            got[:, :N] = np.nan  # beta == 0 must not read C
                        gemm(lib, A, B, got, ta, tb, alpha, beta, M, N, K, max(1, A.shape[1]), max(1, B.shape[1]),
                             max(1, C.shape[1]), kind)
                        _check(got, want, K, dtype, f"{vbytes}B {M}x{N}x{K} ta={ta} tb={tb} pad={pad} "
                                                    f"alpha={alpha} beta={beta}")


def run_guarded() -> int:
    """A, B and C flush against guard pages at either end, for edge shapes; returns cases run."""
    n = 0
    rng = np.random.default_rng(1)
    for vbytes in _runnable_widths():
        lib = gemm_library(vbytes)
        for dtype in (np.float32, np.float64):
            for M, N, K in [(1, 1, 1), (7, 33, 5), (9, 65, 300), (17, 31, 513), (13, 1100, 3), (33, 17, 260)]:
                for ta in (0, 1):
                    for tb in (0, 1):
                        A, B, C, opA, opB = _case(rng, dtype, M, N, K, ta, tb)
                        for end in ("tail", "head"):
                            ga, gb, gc = Guarded(A, end), Guarded(B, end), Guarded(C, end)
                            gemm(lib, ga.array, gb.array, gc.array, ta, tb, 1.5, 0.5, M, N, K, A.shape[1],
                                 B.shape[1], N)
                            _check(gc.array, 1.5 * (opA @ opB) + 0.5 * C, K, dtype, f"guarded {M}x{N}x{K} {end}")
                            n += 1
    return n


def test_blocked_gemm_stays_in_bounds_under_guard_pages():
    proc = subprocess.run([sys.executable, HERE], capture_output=True, text=True, timeout=300, env=child_env())
    assert proc.returncode == 0, f"child exited {proc.returncode}\n{proc.stdout}\n{proc.stderr[-4000:]}"
    assert int(proc.stdout.split("cases:")[1].split()[0]) >= 96


@pytest.mark.parametrize("cpu", [None, "x86-64-v3"])
def test_exported_gemms_through_the_c_entry(tmp_path, cpu):
    """An exported library's own GEMM (NULL runtime table): shapes past one tile and block, both layouts."""
    from chainrule.artifact.host import level_flags, cpu_flags
    if cpu and not (cpu_flags() or set()) >= set(level_flags(cpu)):
        pytest.skip(f"this CPU cannot run {cpu} code")
    from test_artifact import c_call
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        a = rng.standard_normal((37, 300)).astype(dtype)
        b = rng.standard_normal((300, 70)).astype(dtype)
        c = rng.standard_normal((70, 300)).astype(dtype)

        def f(a, b, c):
            return a @ b, a.T @ a, a @ c.T, (a @ b) @ c
        comp = cr.jit(f, backend="llvm").lower(a, b, c).compile()
        path = cr.export(comp, tmp_path / f"g{np.dtype(dtype).name}.crx", payloads=["native"], cpu=cpu)
        want = [a @ b, a.T @ a, a @ c.T, (a @ b) @ c]
        for got, w in zip(c_call(path, [a, b, c]), want):
            _check(got, w, 300, dtype, f"export cpu={cpu} {dtype}")


def test_c_program_with_full_and_edge_tiles(tmp_path):
    """examples/c/main.c (compiled with cc) runs a training step whose GEMMs span several tiles and
    K blocks with edges in every dimension; its results match the compiled function's (OpenBLAS)."""
    import shutil
    if not (shutil.which(os.environ.get("CC", "cc")) and shutil.which("make")):
        pytest.skip("no C compiler or make")
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "examples", "export_and_c"))
    import export_and_c as ex
    saved = ex.SHAPES
    ex.SHAPES = [(70, 300), (300,), (300, 37), (130, 70), (130, 37)]  # w1, b1, w2, x, y
    try:
        artifact = str(tmp_path / "model.crx")
        want = ex.flat_results(ex.export(artifact)(*ex.inputs()))
        got = ex.run_c(artifact, str(tmp_path / "c"))
    finally:
        ex.SHAPES = saved
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w.ravel(), rtol=1e-4, atol=1e-5 * float(np.max(np.abs(w))))


if __name__ == "__main__":
    print(f"cases: {run_guarded()}")
