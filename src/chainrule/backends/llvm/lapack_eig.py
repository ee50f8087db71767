"""The `eig` kernel (general, non-symmetric eigendecomposition) on LAPACK geev.

As lapack.py's kernels: one geev call per matrix of the batch, through the
runtime table (sgeev/dgeev for float32/float64 input, cgeev/zgeev for
complex64/complex128; NumPy's bundled OpenBLAS, ILP64), on a transposed
copy of the row-major matrix in the kernel's arena scratch, so LAPACK sees
the matrix itself and computes what numpy.linalg.eig and jax.lax.linalg.eig
compute (the same eigenvalue order, eigenvectors of unit 2-norm whose
largest component is real). The workspace size is LAPACK's own answer to a
query made once per shape when the graph is planned.

Real input: geev returns the eigenvalues as (wr, wi) and the eigenvectors
packed real, a conjugate pair w[j], w[j+1] = wr[j] +- i wi[j] (wi[j] > 0)
stored as two columns v[:, j] +- i v[:, j+1]; they are unpacked into the
complex results as JAX unpacks them (the second of a pair is the conjugate
of the first, so a zero imaginary part becomes -0.0 there). Complex input:
geev writes the eigenvalues into the result, the eigenvectors are transposed
back.

Failures follow JAX: a matrix with an inf or NaN element is not given to
LAPACK, and it, like a matrix whose QR iteration does not converge (info
!= 0), gets NaN + NaN j in all of its results.
"""

from __future__ import annotations

import llvmlite.ir as ir

from ...ir import REGISTRY, dtype
from .emitter import Emitter
from .lapack import _Call, _batch, _ftype, _helper, _loop, _pad, _query, fill_fn, lapack_prefix, slot_index
from .lltypes import I1, I8, I64, PTR, i64

GEEV_OPS = frozenset(n for n in ("eig",) if n in REGISTRY)


def _part(dt):
    """The real dtype of dt's elements (dt itself when it is real)."""
    return dtype({"complex64": "float32", "complex128": "float64"}.get(dt.name, dt.name))


def _jobs(node) -> tuple:
    at = node.attrs
    return ("V" if at["compute_left_eigenvectors"] else "N"), ("V" if at["compute_right_eigenvectors"] else "N")


def _geev_lwork(dt, jobvl, jobvr, n) -> int:
    """geev's optimal workspace (elements of dt) by a query, at least LAPACK's documented minimum."""
    ld = max(1, n)
    if dt.kind == "c":
        got, _ = _query(lapack_prefix(dt) + "geev", (jobvl, jobvr, n, "@A", ld, "@A", "@A", ld, "@A", ld, "@W", -1,
                                                       "@A", "@N"))
        least = 2 * n
    else:
        got, _ = _query(lapack_prefix(dt) + "geev", (jobvl, jobvr, n, "@A", ld, "@A", "@A", "@A", ld, "@A", ld, "@W",
                                                       -1, "@N"))
        least = 4 * n if "V" in (jobvl, jobvr) else 3 * n
    return max(got, least, 1)


def layout(node, operands) -> list:
    """[(name, bytes)] of the scratch per matrix: the transposed matrix, (wr, wi) for real input, the
    eigenvectors as geev writes them (column-major, packed real for real input), the workspace, and
    complex geev's rwork."""
    dt = operands[0].dtype
    n = operands[0].shape[-1]
    es, rs = dt.itemsize, _part(dt).itemsize
    jobvl, jobvr = _jobs(node)
    parts = [("a", n * n * es)]
    if dt.kind != "c":
        parts += [("wr", n * es), ("wi", n * es)]
    parts += [("vl", (n * n if jobvl == "V" else 1) * es), ("vr", (n * n if jobvr == "V" else 1) * es),
              ("work", _geev_lwork(dt, jobvl, jobvr, n) * es)]
    if dt.kind == "c":
        parts.append(("rwork", max(1, 2 * n) * rs))
    return parts


def scratch_bytes(node, operands) -> int:
    return sum(_pad(nb) for _, nb in layout(node, operands))


def geev_slots(kernel) -> dict:
    """{runtime-table index: slot name} of the routine the kernel calls."""
    dt = kernel.operands[0].dtype
    return {slot_index("geev", dt): lapack_prefix(dt) + "geev"}


# -- helpers, emitted once per module

def finite_fn(module, part):
    """i1 all_finite(p, count): no inf or NaN among p's `count` reals (0 * x is 0 exactly for finite x)."""
    name = f"chainrule_all_finite_{part.short}"
    fn = module.globals.get(name)
    if fn is not None:
        return fn
    ft = _ftype(part)
    fn = ir.Function(module, ir.FunctionType(I1, [PTR, I64]), name)
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    fn.attributes.add("noinline")
    p, count = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    acc = b.alloca(ft)
    b.store(ir.Constant(ft, 0.0), acc)
    zero = ir.Constant(ft, 0.0)
    with _loop(b, i64(0), count) as i:
        x = b.load(b.gep(p, [i], inbounds=True, source_etype=ft), typ=ft)
        b.store(b.fadd(b.load(acc, typ=ft), b.fmul(x, zero)), acc)
    b.ret(b.fcmp_ordered("==", b.load(acc, typ=ft), zero))
    return fn


def unpack_values_fn(module, part):
    """void pack(w, wr, wi, n): w[j] = wr[j] + i wi[j] (interleaved)."""
    ft = _ftype(part)
    fn, b = _helper(module, f"chainrule_geev_values_{part.short}", [PTR, PTR, PTR, I64])
    if b is None:
        return fn
    w, wr, wi, n = fn.args
    at = lambda p, k: b.gep(p, [k], inbounds=True, source_etype=ft)  # noqa: E731
    with _loop(b, i64(0), n) as j:
        j2 = b.mul(j, i64(2))
        b.store(b.load(at(wr, j), typ=ft), at(w, j2))
        b.store(b.load(at(wi, j), typ=ft), at(w, b.add(j2, i64(1))))
    b.ret_void()
    return fn


def unpack_vectors_fn(module, part):
    """void unpack(out, v, wi, n): geev's real packed eigenvectors v (column-major) as the complex
    row-major out: column j is v[:, j] where wi[j] == 0, v[:, j] + i v[:, j+1] where wi[j] > 0 (the
    first of a conjugate pair), v[:, j-1] - i v[:, j] where wi[j] < 0 (the second)."""
    ft = _ftype(part)
    fn, b = _helper(module, f"chainrule_geev_vectors_{part.short}", [PTR, PTR, PTR, I64])
    if b is None:
        return fn
    out, v, wi, n = fn.args
    at = lambda p, k: b.gep(p, [k], inbounds=True, source_etype=ft)  # noqa: E731
    zero = ir.Constant(ft, 0.0)
    last = b.sub(n, i64(1))
    with _loop(b, i64(0), n) as j:
        x = b.load(at(wi, j), typ=ft)
        first, second = b.fcmp_ordered(">", x, zero), b.fcmp_ordered("<", x, zero)
        # the columns of the real and imaginary parts, kept in range whatever wi holds
        jr = b.select(second, b.select(b.icmp_signed(">", j, i64(0)), b.sub(j, i64(1)), j), j)
        ji = b.select(first, b.select(b.icmp_signed("<", j, last), b.add(j, i64(1)), j), j)
        re0, im0 = b.mul(jr, n), b.mul(ji, n)
        with _loop(b, i64(0), n) as r:
            re = b.load(at(v, b.add(re0, r)), typ=ft)
            im = b.load(at(v, b.add(im0, r)), typ=ft)
            im = b.select(first, im, b.select(second, b.fneg(im), zero))
            dst = b.mul(b.add(b.mul(r, n), j), i64(2))
            b.store(re, at(out, dst))
            b.store(im, at(out, b.add(dst, i64(1))))
    b.ret_void()
    return fn


# -- the kernel

def emit_eig(em: Emitter, kernel):
    """geev per matrix: eigenvalues, then left and right eigenvectors as the attributes ask (jax.lax.linalg.eig's
    result order)."""
    node = kernel.node
    (a,) = kernel.operands
    dt = a.dtype
    part = _part(dt)
    cplx = dt.kind == "c"
    n = a.shape[-1]
    B = _batch(a.shape, 2)
    if B * n == 0:
        return
    jobvl, jobvr = _jobs(node)
    res = list(node.results)
    w = res.pop(0)
    vl = res.pop(0) if jobvl == "V" else None
    vr = res.pop(0) if jobvr == "V" else None
    parts = layout(node, kernel.operands)
    sizes = dict(parts)
    c = _Call(em, kernel, parts)
    b, s, module = c.b, c.scr, c.module
    ces = 2 * part.itemsize  # one complex result element
    jl, jr, nn, ld = c.char(jobvl), c.char(jobvr), c.int(n), c.int(n)
    lw = c.int(sizes["work"] // dt.itemsize)
    mat = lambda v, bi, per, es: b.gep(em.ptr[id(v)], [b.mul(bi, i64(per * es))], source_etype=I8)  # noqa: E731
    with c.threads(n), em.loop(B) as bi:
        src = mat(a, bi, n * n, dt.itemsize)
        wp = mat(w, bi, n, ces)
        b.store(i64(-1), c.info)  # not finite: no LAPACK call, NaN results
        finite = b.call(finite_fn(module, part), [src, i64(n * n * (2 if cplx else 1))])
        with b.if_then(finite):
            c.transpose(s["a"], n, src, n, n, n)
            if cplx:
                c.lapack("geev", [jl, jr, nn, s["a"], ld, wp, s["vl"], ld, s["vr"], ld, s["work"], lw, s["rwork"],
                                  c.info], 2)
            else:
                c.lapack("geev", [jl, jr, nn, s["a"], ld, s["wr"], s["wi"], s["vl"], ld, s["vr"], ld, s["work"], lw,
                                  c.info], 2)
        outs = [(wp, n)] + [(mat(v, bi, n * n, ces), n * n) for v in (vl, vr) if v is not None]
        with b.if_else(c.failed()) as (bad, good):
            with bad:
                for p, count in outs:
                    b.call(fill_fn(module, part), [p, i64(2 * count), ir.Constant(_ftype(part), float("nan"))])
            with good:
                if not cplx:
                    b.call(unpack_values_fn(module, part), [wp, s["wr"], s["wi"], i64(n)])
                for v, key in ((vl, "vl"), (vr, "vr")):
                    if v is None:
                        continue
                    dst = mat(v, bi, n * n, ces)
                    if cplx:
                        c.transpose(dst, n, s[key], n, n, n)
                    else:
                        b.call(unpack_vectors_fn(module, part), [dst, s[key], s["wi"], i64(n)])


KERNELS = {k: v for k, v in {"eig": emit_eig}.items() if k in GEEV_OPS}

__all__ = ["GEEV_OPS", "KERNELS", "geev_slots", "layout", "scratch_bytes"]
