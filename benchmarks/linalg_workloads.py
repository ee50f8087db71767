"""Linear-algebra rows of `python -m benchmarks`: run time of the decompositions and of solve at
n = 256 and 1,024 (float64; the general eigendecomposition `eig` at n = 256 only), and their trace + compile time at n = 16, 128 and 1,024, against
NumPy (LAPACK through numpy.linalg) and `jax.jit` of `jax.numpy.linalg`.

    python -m benchmarks --only linalg linalg_compile

Results are checked by what does not depend on the sign conventions of eigen- and singular
vectors: eigenvalues (eig's as a sorted set), singular values, the product q @ r, the factor and the solution.
"""

from __future__ import annotations

import time

import numpy as np

import chainrule as cr
import chainrule.numpy as cnp

from .workloads import _backends, _jax, _x64, workload


def _inputs(n, rng):
    a = rng.standard_normal((n, n))
    return {"a": a, "spd": a @ a.T + n * np.eye(n), "b": rng.standard_normal((n, 4))}


EIG_SIZES = (256,)  # eig (LAPACK geev) takes seconds at n = 1,024


def _eigvals_set(r):
    return np.sort_complex(np.round(np.asarray(r[0], np.complex128), 6))  # rounded: a conjugate pair sorts alike


def _cases(xp, eig=False):
    """name -> (function of the inputs, the input names, the part of the result that is checked)."""
    la = xp.linalg
    extra = {"eig": (lambda a: la.eig(a), ("a",), _eigvals_set)} if eig else {}
    return {
        "cholesky": (lambda s: la.cholesky(s), ("spd",), lambda r: r),
        "solve": (lambda a, b: la.solve(a, b), ("a", "b"), lambda r: r),
        "qr": (lambda a: la.qr(a), ("a",), lambda r: np.asarray(r[0]) @ np.asarray(r[1])),
        "eigh": (lambda s: la.eigh(s), ("spd",), lambda r: r[0]),
        "svd": (lambda a: la.svd(a), ("a",), lambda r: r[1]),
    } | extra


@workload("linalg")
def linalg(h):
    rng = np.random.default_rng(0)
    sizes = (256,) if h.quick else (256, 1024)
    want_fns = _cases(np, eig=True)
    jax = _jax()
    for n in sizes:
        data = _inputs(n, rng)
        for op, (fn, names, part) in _cases(cnp, eig=n in EIG_SIZES).items():
            args = [data[k] for k in names]
            name = f"linalg {op} n={n} f64"
            npfn = want_fns[op][0]
            want = part(npfn(*args))
            tol = 1e-8 * n
            for b in _backends(h, big=False):
                if b == "reference":  # numpy.linalg op by op: the NumPy row
                    continue
                f = cr.jit(fn, backend=b)
                h.check(name, f"chainrule-{b}", part(f(*args)), want, rtol=tol, atol=tol)
                h.time(name, f"chainrule-{b}", lambda: f(*args))
            if jax is not None:
                import jax.numpy as jnp
                with _x64(jax, True):
                    jf = jax.jit(_cases(jnp, eig=True)[op][0])
                    jargs = [jax.device_put(x) for x in args]
                    h.check(name, "jax", part(jf(*jargs)), want, rtol=tol, atol=tol)
                    h.time(name, "jax", lambda: jax.block_until_ready(jf(*jargs)))
            h.time(name, "numpy", lambda: npfn(*args))


@workload("linalg_compile")
def linalg_compile(h):
    """Trace + compile (nothing cached) and the first call, which adds one run, at growing n: the
    graph of a decomposition is one node, so compile time must not grow with n. The inputs are made
    first and every compile runs before any first call: OpenBLAS's threads keep spinning for a
    while after a multi-threaded call (NumPy's matmul making the inputs, a LAPACK run), which
    slowed a compile right after one by up to 1.8x on this 2-core machine."""
    rng = np.random.default_rng(1)
    sizes = (16, 1024) if h.quick else (16, 128, 1024)
    jax = _jax()
    data = {n: _inputs(n, rng) for n in sizes}
    time.sleep(0.5)
    cases = list(_cases(cnp).items())
    cr.jit(cases[0][1][0], backend="llvm", cache=False).lower(data[sizes[0]]["spd"]).compile()  # warm-up, untimed
    for first in (False, True):
        for n in sizes:
            for op, (fn, names, _part) in cases:
                args = [data[n][k] for k in names]
                row = f"linalg {op} {'first call' if first else 'trace+compile'} n={n}"
                note = "trace + compile + one run" if first else ""
                t0 = time.perf_counter()
                f = cr.jit(fn, backend="llvm", cache=False).lower(*args).compile()
                if first:
                    f(*args)
                h.record(row, "chainrule-llvm", time.perf_counter() - t0, note)
                if jax is not None:
                    with _x64(jax, True):
                        t0 = time.perf_counter()
                        jf = jax.jit(_cases(jax.numpy)[op][0]).lower(*args).compile()  # a new function: no cache
                        if first:
                            jax.block_until_ready(jf(*args))
                        h.record(row, "jax", time.perf_counter() - t0, note)
