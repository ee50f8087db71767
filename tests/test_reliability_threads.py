"""One compiled function called from 8 threads at once, 1,000 calls each, every result right.

The LLVM executable keeps per-thread arenas and pointer arrays (runtime.py);
small graphs hold the GIL across the native call, larger ones release it, and
large loops/GEMMs may split over two threads inside the call. Each of those
paths is hammered here with different inputs per thread and per call, and
every result is checked against NumPy computed beforehand. The reference and
jax backends get the same treatment, and a fresh `cr.jit` is first called
from 8 threads at once (the trace/compile race).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.backends import available_backends, compile as compile_graph

THREADS = 8
CALLS = 1000
POOL = 16  # distinct inputs per thread, cycled through


def run_threads(fn, make_inputs, expect, calls=CALLS, threads=THREADS, rtol=1e-12):
    """Call fn from `threads` threads started together; return the list of failures (empty when all right)."""
    pools = [[make_inputs(t, k) for k in range(POOL)] for t in range(threads)]
    wants = [[expect(*args) for args in pool] for pool in pools]
    barrier = threading.Barrier(threads)
    failures = []
    done = [0] * threads

    def work(t):
        try:
            barrier.wait()
            for i in range(calls):
                k = i % POOL
                got = fn(*pools[t][k])
                got = got if isinstance(got, (list, tuple)) else [got]
                for g, w in zip(got, wants[t][k]):
                    if not np.allclose(np.asarray(g), w, rtol=rtol, atol=rtol):
                        failures.append((t, i, "wrong result"))
                        return
                done[t] += 1
        except Exception as e:  # reported, not swallowed
            failures.append((t, done[t], repr(e)))

    ths = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(timeout=300)
    assert not any(th.is_alive() for th in ths), "a thread hung"
    assert sum(done) == threads * calls or failures
    return failures


def small_f(x, y):
    return cnp.tanh(x) * y + cnp.sum(x * y)


def small_np(x, y):
    return [np.tanh(x) * y + np.sum(x * y)]


def _small_inputs(t, k):
    rng = np.random.default_rng(1000 * t + k)
    return rng.standard_normal(8), rng.standard_normal(8)


def big_f(x, w):
    h = cnp.tanh(x @ w)
    return cnp.sum(h * h, axis=0), cnp.max(h, axis=1) - cnp.min(x, axis=1)


def big_np(x, w):
    h = np.tanh(x @ w)
    return [np.sum(h * h, axis=0), np.max(h, axis=1) - np.min(x, axis=1)]


def _big_inputs(t, k):
    rng = np.random.default_rng(7919 * t + k)
    return rng.standard_normal((96, 64)), rng.standard_normal((64, 80)) / 8


def _pool_inputs(t, k):
    """Large enough for parallel regions: a 16 MFLOP GEMM and 2**18-element loops."""
    rng = np.random.default_rng(7919 * t + k)
    return rng.standard_normal((512, 64)), rng.standard_normal((64, 512)) / 8


@pytest.mark.parametrize("backend", [b for b in ("llvm", "reference", "jax") if b in available_backends()])
def test_small_function_from_8_threads(backend):
    x, y = _small_inputs(0, 0)
    c = cr.jit(small_f, backend=backend).lower(x, y).compile()
    assert run_threads(c, _small_inputs, small_np) == []


@pytest.mark.parametrize("options", [{"threads": 1}, {}], ids=["one-thread", "pool"])
def test_llvm_gemm_function_with_arena_from_8_threads(options):
    """Big enough to release the GIL; by default its GEMM and loops are parallel regions, which
    one caller at a time runs on the helper-thread pool and the others run on their own thread."""
    x, w = _pool_inputs(0, 0)
    g = cr.trace(big_f, x, w)
    exe = compile_graph(g, "llvm", **options)
    assert exe.arena_size > 0
    assert run_threads(exe, _pool_inputs, big_np, calls=150, rtol=1e-10) == []


def test_executable_fast_path_and_checked_path_interleaved_from_8_threads():
    """Half the calls take the checked path (non-contiguous views), half the fast path."""
    x, y = _small_inputs(0, 0)
    exe = compile_graph(cr.trace(small_f, x, y), "llvm")

    def inputs(t, k):
        a, b = _small_inputs(t, k)
        if k % 2:
            a = np.repeat(a, 2)[::2]  # strided view: copied by the argument check
        return a, b

    assert run_threads(exe, inputs, small_np) == []


@pytest.mark.parametrize("backend", [b for b in ("llvm", "reference") if b in available_backends()])
def test_first_call_of_a_fresh_jit_from_8_threads(backend):
    """Eight threads race to trace and compile the same new function; all get right answers."""
    jf = cr.jit(small_f, backend=backend)
    assert run_threads(jf, _small_inputs, small_np, calls=50) == []
    assert jf.trace_count >= 1


def test_different_signatures_from_different_threads():
    """Each thread its own shape: eight signatures compile concurrently into one jit cache."""
    jf = cr.jit(small_f)

    def inputs(t, k):
        rng = np.random.default_rng(31 * t + k)
        return rng.standard_normal(3 + t), rng.standard_normal(3 + t)

    assert run_threads(jf, inputs, small_np, calls=100) == []


@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")  # JAX warns when imported; the child never uses JAX
def test_a_forked_child_can_call_what_its_threaded_parent_compiled():
    """fork after GEMM threads ran (OpenBLAS, the pool's helper thread) must not deadlock the child."""
    import multiprocessing as mp
    x, w = _pool_inputs(0, 0)
    exe = compile_graph(cr.trace(big_f, x, w), "llvm", threads=2)
    assert run_threads(exe, _pool_inputs, big_np, calls=20, rtol=1e-10) == []
    want = big_np(x, w)

    def child(q):
        got = exe(x, w)
        q.put(all(np.allclose(g, v, rtol=1e-10) for g, v in zip(got, want)))

    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=child, args=(q,))
    p.start()
    p.join(120)
    if p.is_alive():
        p.kill()
        pytest.fail("the forked child hung")
    assert p.exitcode == 0 and q.get(timeout=5) is True
