"""Parallel regions on the helper-thread pool (backends/llvm/pool.py, backends/threadpool.py).

Large GEMMs and loop kernels compiled with threads=2, 3, 4 run as chunks taken
by the calling thread and up to threads - 1 process-wide helper threads (on a
2-core machine threads=4 oversubscribes: results must not change, calls must
not hang). Oracles: the same
graph compiled with threads=1 (no regions), the reference backend, and the
same executable called with a NULL pool state (every region sequential).
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule.backends import llvm
from chainrule.backends.llvm.codegen import RUNTIME_SLOTS
from chainrule.backends.reference import evaluate
from chainrule.backends.threadpool import POOL_SLOT_NAME, pool_info
from chainrule.ir import GraphBuilder, TensorType

pytestmark = pytest.mark.skipif(not llvm.runtime.blas_available(), reason="needs NumPy's OpenBLAS")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def call_without_pool(exe, args):
    """exe(*args) with the runtime table's pool slot NULL: every region runs on this thread."""
    table = (ctypes.c_void_p * len(RUNTIME_SLOTS))(*exe._rt_table)
    table[RUNTIME_SLOTS.index(POOL_SLOT_NAME)] = None
    return exe.run(args, runtime_table=ctypes.addressof(table))


# (M, K, N, lhs transposed, rhs transposed): odd sizes, splits along M and along N, slices that
# end short of 16 or (with 5 chunks) leave a chunk empty, and a GEMM near the split threshold
GEMMS = [(257, 129, 70, False, False), (33, 300, 301, False, True), (64, 512, 64, True, False),
         (17, 1000, 200, True, True), (70, 700, 90, False, False), (300, 41, 333, False, False)]


THREADS = [2, 3, 4]


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("chunks", [None, 5], ids=["default-chunks", "5-chunks"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("M,K,N,ta,tb", GEMMS)
def test_gemm_regions_match_sequential_and_reference(dtype, M, K, N, ta, tb, chunks, threads, monkeypatch):
    if chunks is not None:  # more slices than the default: short and empty last slices
        from chainrule.backends.llvm import gemm
        monkeypatch.setattr(gemm, "GEMM_CHUNKS", chunks)
    b = GraphBuilder("gemm")
    x = b.param(TensorType((K, M) if ta else (M, K), dtype), "x")
    w = b.param(TensorType((N, K) if tb else (K, N), dtype), "w")
    r = b.op("dot_general", x, w, lhs_contracting=(0,) if ta else (1,), rhs_contracting=(1,) if tb else (0,))
    g = b.build([r])
    assert "chainrule_pool_run" in llvm.llvm_ir(g, threads=threads)
    rng = np.random.default_rng(M * N + K)
    args = [rng.standard_normal(p.type.shape).astype(dtype) for p in g.params]
    par, seq = llvm.compile(g, threads=threads, cache=chunks is None), llvm.compile(g, threads=1)
    tol = dict(rtol=1e-5, atol=1e-4) if dtype == "float32" else dict(rtol=1e-12, atol=1e-11)
    want = evaluate(g, args)[0]
    for _ in range(20):  # the helper joins some calls and not others
        np.testing.assert_allclose(par(*args)[0], want, **tol)
    np.testing.assert_allclose(call_without_pool(par, args)[0], want, **tol)
    np.testing.assert_allclose(seq(*args)[0], want, **tol)


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("shape", [((1 << 18) + 3,), (5, 60001), (3, 100000), (7, 40001), (1001, 300)])
def test_loop_regions_match_sequential(shape, threads):
    """Split loop kernels (flat, or along dimension 0 with extents below and above the chunk count)."""
    b = GraphBuilder("loops")
    x = b.param(TensorType(shape, "float32"), "x")
    y = b.op("multiply", b.op("tanh", x), b.op("exponential", b.op("negate", x)))
    if len(shape) == 2:  # a transpose makes the nest need dimensions: split along dimension 0
        t = b.op("transpose", b.op("reshape", x, shape=shape[::-1]), permutation=(1, 0))
        y = b.op("add", y, b.op("sine", t))
    g = b.build([y])
    assert "_chunk\"(ptr" in llvm.llvm_ir(g, threads=threads)
    args = [np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32)]
    par, seq = llvm.compile(g, threads=threads), llvm.compile(g, threads=1)
    whole = seq(*args)[0]
    for _ in range(10):
        np.testing.assert_array_equal(par(*args)[0], whole)
    np.testing.assert_array_equal(call_without_pool(par, args)[0], whole)
    np.testing.assert_allclose(whole, evaluate(g, args)[0], rtol=1e-5, atol=1e-6)


def _big_gemm():
    b = GraphBuilder("big")
    x = b.param(TensorType((256, 512), "float64"), "x")
    w = b.param(TensorType((512, 256), "float64"), "w")
    g = b.build([b.op("tanh", b.op("dot_general", x, w, lhs_contracting=(1,), rhs_contracting=(0,)))])
    rng = np.random.default_rng(3)
    return g, [rng.standard_normal((256, 512)), rng.standard_normal((512, 256)) / 16]


def test_the_helper_thread_starts_and_joins_regions():
    """Not a timing: the helper must join some region within seconds of calls (chunks are ~0.1 ms)."""
    g, args = _big_gemm()
    exe = llvm.compile(g, threads=2)
    want = np.tanh(args[0] @ args[1])
    before = pool_info()["joined"]
    deadline = time.monotonic() + 20
    while pool_info()["joined"] == before and time.monotonic() < deadline:
        np.testing.assert_allclose(exe(*args)[0], want, rtol=1e-12, atol=1e-12)
    info = pool_info()
    assert info["started"] == 1 and info["pid"] == os.getpid()
    assert info["joined"] > before


def test_threads_4_starts_more_than_one_helper():
    """A module compiled with threads=4 wants three helpers; the pool starts them on demand."""
    g, args = _big_gemm()
    exe = llvm.compile(g, threads=4)
    want = np.tanh(args[0] @ args[1])
    for _ in range(3):
        np.testing.assert_allclose(exe(*args)[0], want, rtol=1e-12, atol=1e-12)
    info = pool_info()
    assert info["started"] == 1 and info["pid"] == os.getpid()
    assert info["helpers"] > 1


def _child(exe, args, q):
    got = exe(*args)[0]
    q.put((bool(np.allclose(got, np.tanh(args[0] @ args[1]), rtol=1e-12, atol=1e-12)), pool_info()["joined"]))


@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")  # JAX warns when imported; the child never uses JAX
@pytest.mark.parametrize("threads", [2, 4])
def test_a_forked_child_runs_regions_sequentially(threads):
    g, args = _big_gemm()
    exe = llvm.compile(g, threads=threads)
    exe(*args)
    assert pool_info()["started"] == 1
    q = mp.get_context("fork").Queue()
    p = mp.get_context("fork").Process(target=_child, args=(exe, args, q))
    before = pool_info()["joined"]
    p.start()
    p.join(120)
    if p.is_alive():
        p.kill()
        pytest.fail("the forked child hung")
    ok, joined = q.get(timeout=5)
    assert p.exitcode == 0 and ok
    assert joined <= before + 1  # the child has no helper thread: nothing joined there after the fork


@pytest.mark.parametrize("threads", [None, 4], ids=["default", "4-threads"])
def test_exported_parallel_library_runs_in_a_fresh_process(tmp_path, threads):
    """An artifact whose kernels are parallel regions gets the pool when loaded by Python."""
    g, args = _big_gemm()
    sys.path.insert(0, ROOT)
    path = tmp_path / "big.crx"
    compiled = cr.jit(lambda x, w: cr.numpy.tanh(x @ w), backend="llvm").lower(*args).compile()
    cr.export(compiled, path, **({} if threads is None else {"threads": threads}))
    np.savez(tmp_path / "in.npz", *args)
    code = """
        import sys, numpy as np, chainrule as cr
        from chainrule.backends.threadpool import POOL_SLOT_NAME, pool_info
        a = np.load(sys.argv[2])
        x, w = a["arr_0"], a["arr_1"]
        f = cr.load(sys.argv[1])
        for _ in range(200):
            np.testing.assert_allclose(f(x, w), np.tanh(x @ w), rtol=1e-12, atol=1e-12)
        info = pool_info()
        print(f.payload, info["started"], info["helpers"])
    """
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code), str(path), str(tmp_path / "in.npz")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["native", "1", str((threads or 2) - 1)]
