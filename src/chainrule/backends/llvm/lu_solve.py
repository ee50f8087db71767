"""solve(a, b) as one LAPACK kernel: the plan's `lu_solve`.

chainrule.numpy.linalg.solve (and inv, and scipy's lu_solve of a fresh lu)
trace as

    lu, pivots, perm = lu(a)
    x = gather(b, perm)                                    # P b
    x = triangular_solve(lu, x, lower, unit_diagonal)      # L^-1 P b
    x = triangular_solve(lu, x, upper)                     # U^-1 L^-1 P b

which the `lu` kernel runs as a transpose into column-major, getrf, a
transpose back, then a gather and two triangular solves: two n x n
transposes, a third of the run time at n = 1,024. Where nothing else reads
the factorization, the plan replaces the four nodes with one kernel that
poses the transposed problem instead, as the other kernels do: getrf on a
plain copy of our row-major a (LAPACK sees a^T) factors a^T = P L U, so
a = U^T L^T P^T and x = P L^-T U^-T b. Our row-major b is b^T to LAPACK,
so x^T = b^T U^-1 L^-1 P^T is two right-side trsm calls on a copy of b,
then the pivots' row swaps in reverse (what getrs('T') does). That is
partial pivoting on a's columns rather than its rows: as stable, and the
same answer to LAPACK accuracy. A singular a gives inf/NaN, as before.
Only the run time changes: the graph (and so autodiff, the other backends,
the printed IR) is untouched.

getrf runs single-threaded below GETRF_PARALLEL_N: OpenBLAS's two threads
were slower at every n below ~600 on a quiet 2-core machine (n = 256:
0.61 ms on two, 0.53 ms on one; n = 1,024: 17.5 ms on two, 21.9 ms on one).
"""

from __future__ import annotations

import llvmlite.ir as ir

from ...ir import REGISTRY
from .lapack import GETRF_PARALLEL_N, LAPACK_OPS, _Call, _batch, _ftype, _helper, _loop, _pad
from .lltypes import I64, PTR, i64

KIND = "lu_solve"  # the kernel kind (not an IR op: the graph keeps its four nodes)
LAPACK_KINDS = LAPACK_OPS | {KIND}  # kernel kinds that call LAPACK (they get the runtime table)
ROUTINES = ("getrf", "trsm")


def _single_use(uses, v, user) -> bool:
    got = uses.get(id(v), [])
    return len(got) == 1 and got[0] is user


def fuse_lu_solves(order, operands, results):
    """`order` with each lu -> gather -> lower unit triangular_solve -> upper triangular_solve chain
    whose intermediates nothing else reads fused into its last node, now reading (a, b); returns
    (order, the set of fused nodes, which the planner makes `lu_solve` kernels)."""
    if "lu" not in REGISTRY or "triangular_solve" not in REGISTRY:
        return order, set()
    uses: dict[int, list] = {}
    for node in order:
        for v in operands[node]:
            uses.setdefault(id(v), []).append(node)
    returned = {id(r) for r in results}
    dropped, fused = set(), set()
    for t2 in order:
        if t2.op.name != "triangular_solve" or not _is_solve(t2, lower=False, unit=False):
            continue
        luv, x1 = operands[t2]
        t1, lu = x1.node, luv.node
        if (t1 is None or t1 not in operands or t1.op.name != "triangular_solve" or not _is_solve(t1, True, True)
                or lu is None or lu not in operands or lu.op.name != "lu" or luv is not lu.results[0]):
            continue
        luv1, x0 = operands[t1]
        g = x0.node
        if luv1 is not luv or g is None or g not in operands or g.op.name != "gather":
            continue
        b, perm = operands[g]
        (a,) = operands[lu]
        nb = a.ndim - 2
        if (perm is not lu.results[2] or g.attrs["axis"] != nb or g.attrs["batch_dims"] != nb
                or a.shape[-1] != a.shape[-2] or a.dtype.name not in ("float32", "float64")
                or b.type != x1.type or b.ndim != a.ndim or b.shape[:nb] != a.shape[:nb]):
            continue
        inner = (luv, lu.results[1], perm, x0, x1)
        if any(id(v) in returned for v in inner) or uses.get(id(lu.results[1])):
            continue
        if not (_single_use(uses, perm, g) and _single_use(uses, x0, t1) and _single_use(uses, x1, t2)):
            continue
        if sorted(map(id, uses.get(id(luv), []))) != sorted((id(t1), id(t2))):
            continue
        dropped.update((lu, g, t1))
        operands[t2] = (a, b)
        fused.add(t2)
    return [n for n in order if n not in dropped], fused


def _is_solve(node, lower, unit) -> bool:
    at = node.attrs
    return at["left_side"] and not at["transpose_a"] and at["lower"] == lower and at["unit_diagonal"] == unit


def layout(operands) -> list:
    a = operands[0]
    n = a.shape[-1]
    return [("a", n * n * a.dtype.itemsize), ("ipiv", n * 8)]


def scratch_bytes(operands) -> int:
    return sum(_pad(nb) for _, nb in layout(operands))


def unpivot_fn(module, dt):
    """void unpivot(x, ipiv, n, k): for i = n-1 .. 0, swap rows i and ipiv[i] - 1 of the row-major n x k x
    (ipiv: LAPACK's 1-based 64-bit pivots)."""
    ft = _ftype(dt)
    fn, b = _helper(module, f"chainrule_unpivot_rows_{dt.short}", [PTR, PTR, I64, I64])
    if b is None:
        return fn
    x, ipiv, n, k = fn.args
    with _loop(b, i64(0), n) as r:
        i = b.sub(b.sub(n, i64(1)), r)
        j = b.sub(b.load(b.gep(ipiv, [i], inbounds=True, source_etype=I64), typ=I64), i64(1))
        with b.if_then(b.icmp_signed("!=", i, j)):
            xi = b.gep(x, [b.mul(i, k)], inbounds=True, source_etype=ft)
            xj = b.gep(x, [b.mul(j, k)], inbounds=True, source_etype=ft)
            with _loop(b, i64(0), k) as c:
                pi = b.gep(xi, [c], inbounds=True, source_etype=ft)
                pj = b.gep(xj, [c], inbounds=True, source_etype=ft)
                vi, vj = b.load(pi, typ=ft), b.load(pj, typ=ft)
                b.store(vj, pi)
                b.store(vi, pj)
    b.ret_void()
    return fn


def emit_lu_solve(em, kernel):
    """x = a^-1 b per matrix of the batch: getrf of a^T (a plain copy), two trsm, the row swaps."""
    c = _Call(em, kernel, layout(kernel.operands))
    a, rhs = kernel.operands
    (out,) = kernel.roots
    n, k = a.shape[-1], rhs.shape[-1]
    B = _batch(a.shape, 2)
    if B * n * k == 0:
        return
    b = c.b
    em.memcpy(em.ptr[id(out)], em.ptr[id(rhs)], out.type.nbytes)
    s = c.scr
    nn, kk, lda, ldb, one = c.int(n), c.int(k), c.int(max(1, n)), c.int(max(1, k)), c.real(1.0)
    right, upper, lower, notrans, nonunit, unit = (c.char(ch) for ch in "RULNNU")
    with c.threads(n, GETRF_PARALLEL_N), em.loop(B) as bi:
        em.memcpy(s["a"], c.at(a, bi, n * n), n * n * c.es)
        c.lapack("getrf", [nn, nn, s["a"], lda, s["ipiv"], c.info], 0)
        x = c.at(out, bi, n * k)
        c.lapack("trsm", [right, upper, notrans, nonunit, kk, nn, one, s["a"], lda, x, ldb], 4)
        c.lapack("trsm", [right, lower, notrans, unit, kk, nn, one, s["a"], lda, x, ldb], 4)
        b.call(unpivot_fn(c.module, c.dt), [x, s["ipiv"], i64(n), i64(k)])


KERNELS = {KIND: emit_lu_solve}

__all__ = ["KIND", "KERNELS", "LAPACK_KINDS", "ROUTINES", "fuse_lu_solves", "scratch_bytes"]
