"""LAPACK for exported libraries (export.py): which routines a plan calls, and how a library that
runs without Python's runtime table finds them.

An exported library carries no LAPACK of its own. Python callers pass the
runtime table filled from NumPy's bundled OpenBLAS, as the JIT does. C callers
(`<sym>`, `<sym>_with_workspace`, `<sym>_call` with a NULL table) use the
library's built-in table, whose LAPACK slots are resolved once, at the first
call, with dlsym: first in the library named by the environment variable
CHAINRULE_LAPACK (dlopen'ed), then among the symbols the program already has
(RTLD_DEFAULT: an OpenBLAS it links). Only ILP64 builds qualify (64-bit
integers): the names tried are backends/blas.py's `lapack_symbol_names`
(`scipy_dpotrf_64_`, `dpotrf_64_`). When a routine the function calls is not
found, the call returns 2 and writes no result.
"""

from __future__ import annotations

import re

import llvmlite.ir as ir

from ..blas import lapack_symbol_names
from .lapack import LAPACK_OPS, THREADS_SLOT, slot_index
from . import lu_solve
from .lapack_eig import GEEV_OPS, geev_slots
from .lltypes import I8, I32, I64, PTR, VOID, i64

ROUTINES = {"cholesky": ("potrf",), "triangular_solve": ("trsm",), "lu": ("getrf",), "qr": ("geqrf", "orgqr"),
            "eigh": ("syevd",), "svd": ("gesdd",)}
ROUTINES[lu_solve.KIND] = lu_solve.ROUTINES  # solve fused into one kernel (lu_solve.py)
MISSING = 2  # what the entry points return when a LAPACK routine cannot be found
ENV = "CHAINRULE_LAPACK"
RTLD_NOW = 2


def lapack_slots(plan) -> dict:
    """{runtime-table index: slot name} of the LAPACK routines `plan` calls (its regions included)."""
    out = {}
    for k in plan.kernels:
        for sub in k.subplans:
            out.update(lapack_slots(sub))
        if k.kind in LAPACK_OPS or k.kind == lu_solve.KIND:
            dt = k.operands[0].dtype
            for r in ROUTINES[k.kind]:
                out[slot_index(r, dt)] = ("s" if dt.bits == 32 else "d") + r
        elif k.kind in GEEV_OPS:
            out.update(geev_slots(k))
    return out


def _cstring(module, name, text):
    data = bytearray(text.encode() + b"\0")
    ty = ir.ArrayType(I8, len(data))
    g = module.globals.get(name)
    if g is None:
        g = ir.GlobalVariable(module, ty, name)
        g.linkage = "private"
        g.global_constant = True
        g.initializer = ir.Constant(ty, data)
    return g


def _extern(module, name, ret, args):
    fn = module.globals.get(name)
    return fn if fn is not None else ir.Function(module, ir.FunctionType(ret, args), name)


def resolver(module, sym: str, table, slots: dict) -> ir.Function:
    """void <sym>_lapack_resolve(void): fills `table`'s LAPACK slots (and the OpenBLAS thread setter)
    once per process; concurrent first calls store the same pointers."""
    fn = ir.Function(module, ir.FunctionType(VOID, []), f"{sym}_lapack_resolve")
    fn.linkage = "internal"
    fn.attributes.add("noinline")
    ready = ir.GlobalVariable(module, I32, f"{sym}_lapack_ready")
    ready.linkage = "internal"
    ready.initializer = ir.Constant(I32, 0)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    with b.if_then(b.icmp_unsigned("!=", b.load_atomic(ready, "acquire", 4), ir.Constant(I32, 0))):
        b.ret_void()
    getenv = _extern(module, "getenv", PTR, [PTR])
    dlopen = _extern(module, "dlopen", PTR, [PTR, I32])
    dlsym = _extern(module, "dlsym", PTR, [PTR, PTR])
    cs = lambda text: b.bitcast(_cstring(module, f"{sym}_str_" + re.sub(r"\W", "_", text), text), PTR)  # noqa: E731
    env = b.call(getenv, [cs(ENV)])
    handle = b.alloca(PTR)
    b.store(ir.Constant(PTR, None), handle)
    with b.if_then(b.icmp_unsigned("!=", b.ptrtoint(env, I64), i64(0))):
        b.store(b.call(dlopen, [env, ir.Constant(I32, RTLD_NOW)]), handle)
    h = b.load(handle)
    h_set = b.icmp_unsigned("!=", b.ptrtoint(h, I64), i64(0))
    wanted = dict(slots)
    wanted[THREADS_SLOT] = None
    for k, slot in sorted(wanted.items()):
        names = ("openblas_set_num_threads_local",) if slot is None else lapack_symbol_names(slot)
        found = b.alloca(PTR)
        b.store(ir.Constant(PTR, None), found)
        for name in names:
            for where in ("env", "default"):
                cur = b.load(found)
                empty = b.icmp_unsigned("==", b.ptrtoint(cur, I64), i64(0))
                cond = b.and_(empty, h_set) if where == "env" else empty
                with b.if_then(cond):
                    b.store(b.call(dlsym, [h if where == "env" else ir.Constant(PTR, None), cs(name)]), found)
        dst = b.gep(table, [i64(0), i64(k)], inbounds=True)
        b.store_atomic(b.ptrtoint(b.load(found), I64), b.inttoptr(b.ptrtoint(dst, I64), ir.PointerType(I64)),
                       "monotonic", 8)
    b.store_atomic(ir.Constant(I32, 1), ready, "release", 4)
    b.ret_void()
    return fn


def missing(b, table_ptr, slots: dict):
    """i1: some slot of `slots` is NULL in the table at `table_ptr`."""
    bad = ir.Constant(ir.IntType(1), 0)
    for k in sorted(slots):
        p = b.load(b.gep(table_ptr, [i64(k)], inbounds=True, source_etype=PTR), typ=PTR)
        bad = b.or_(bad, b.icmp_unsigned("==", b.ptrtoint(p, I64), i64(0)))
    return bad


__all__ = ["lapack_slots", "resolver", "missing", "MISSING", "ENV"]
