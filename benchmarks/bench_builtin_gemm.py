"""GFLOP/s of the exported libraries' built-in GEMM vs the old loop kernel vs OpenBLAS (one thread).

    PYTHONPATH=src python benchmarks/bench_builtin_gemm.py [host|x86-64-v3|x86-64] [blocked,loop,blas]

Medians of repeated calls on the same operands; the loop kernel (now only the malloc-failure
fallback) is skipped above 300^3.
"""

import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from chainrule.backends.llvm.blocked_gemm import standalone_library, vector_bytes
from chainrule.backends.llvm.target import host

SHAPES = [(64, 64, 64, 0, 0), (256, 256, 256, 0, 0), (512, 512, 512, 0, 0), (1024, 1024, 1024, 0, 0),
          (256, 512, 784, 0, 0), (256, 512, 512, 0, 0),  # MLP forward: x @ w
          (256, 784, 512, 0, 1), (256, 512, 512, 0, 1),  # backward: g @ w.T
          (784, 512, 256, 1, 0), (512, 512, 256, 1, 0)]  # backward: x.T @ g


def build(cpu):
    h = host()
    c, f = (h["cpu"], h["features"]) if cpu == "host" else (cpu, "")
    t0 = time.perf_counter()
    lib = standalone_library(vector_bytes(None if cpu == "host" else cpu, f), c, f)
    return lib, time.perf_counter() - t0


def gflops(f, flops):
    f()
    ts, end = [], time.perf_counter() + 0.6
    while len(ts) < 3 or time.perf_counter() < end:
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return flops / np.median(ts) / 1e9


def main():
    cpu = sys.argv[1] if len(sys.argv) > 1 else "host"
    which = sys.argv[2].split(",") if len(sys.argv) > 2 else ["blocked", "loop", "blas"]
    lib, dt = build(cpu)
    print(f"cpu={cpu}: compiled in {dt:.2f} s")
    rng = np.random.default_rng(0)
    with threadpool_limits(1):
        for dtype in (np.float32, np.float64):
            s = "s" if dtype == np.float32 else "d"
            for M, N, K, ta, tb in SHAPES:
                A = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
                B = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
                C = np.zeros((M, N), dtype)
                opA, opB = (A.T if ta else A), (B.T if tb else B)
                res = {}
                for w in which:
                    if w == "blas":
                        res[w] = gflops(lambda: np.matmul(opA, opB, out=C), 2.0 * M * N * K)
                    elif w == "blocked" or M * N * K <= 300 ** 3:
                        fn = getattr(lib, f"{w}_{s}gemm")
                        res[w] = gflops(lambda: fn(101, 112 if ta else 111, 112 if tb else 111, M, N, K, 1.0,
                                                   A.ctypes.data, A.shape[1], B.ctypes.data, B.shape[1], 0.0,
                                                   C.ctypes.data, N), 2.0 * M * N * K)
                ratio = f"  blocked/blas={res['blocked'] / res['blas']:.2f}" if {"blas", "blocked"} <= set(res) else ""
                print(f"{np.dtype(dtype).name} {M}x{N}x{K} ta={ta} tb={tb}: "
                      + " ".join(f"{k}={v:.1f}" for k, v in res.items()) + f" GFLOP/s{ratio}", flush=True)


if __name__ == "__main__":
    main()
