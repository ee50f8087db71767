"""The native payload of an artifact: a shared library with a C ABI, built from a graph.

The JIT path (runtime.py) calls `chainrule_entry`, which writes only the
results the plan computes natively and needs a runtime table of OpenBLAS
pointers that NumPy's wheel supplies. An exported library has to serve two
callers that have neither: a Python process that loads it without llvmlite,
and a C program. So the module built here holds, beside the planned kernels:

- `int <sym>_call(inputs, outputs, arena, runtime)`: every result written
  (results that are parameters, constants or duplicates are copied in
  natively); `runtime` may be NULL, which selects the built-in GEMM. Returns
  0, or 1 when the runtime table's interrupt flag stopped a loop
  (backends/interrupt.py; the built-in table has none, so C callers get 0).
- `int <sym>_with_workspace(inputs, outputs, workspace)`: the C ABI with a
  caller-provided workspace of `<sym>_workspace_size()` bytes (any alignment).
- `int <sym>(inputs, outputs)`: the C ABI that mallocs its own workspace per
  call (thread-safe: no global state); returns 0, or 1 when malloc fails.
- a packed, register-tiled GEMM with the cblas_?gemm64_ signature (row-major;
  the only layout the code generator emits; blocked_gemm.py), used when no
  runtime table is given, sized for the vector width of the target CPU, with a
  simple loop GEMM below it for when malloc fails. Python callers get NumPy's
  OpenBLAS through the runtime table instead.

The library depends only on libc and libm (memcpy, malloc/free, pthreads for
the helper-thread pool, math functions). The built-in table has no pool state,
so C callers run every parallel region on their own thread; Python callers
share the process's pool through the runtime table.
"""

from __future__ import annotations

import os
import re

import llvmlite.ir as ir

from ...ir import Graph
from . import cache as _cache
from .blocked_gemm import blocked_gemm, vector_bytes
from .codegen import RUNTIME_SLOTS, ModuleBuilder, has_loops
from .emitter import INTERRUPT_SLOT, no_vectorize
from .lapack_export import MISSING, lapack_slots, missing, resolver
from .lltypes import F32, F64, I32, I64, PTR, VOID, i64
from .plan import Unsupported, make_plan
from .target import compile_ir, host

WORKSPACE_ALIGN = 64
CBLAS_TRANS = 112


def c_symbol(name: str) -> str:
    """`chainrule_<name>` with every character C does not allow in identifiers replaced by `_`."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", name or "main")
    return "chainrule_" + s


class NativePayload:
    """What `build_native` made: the library (or object) bytes and what a loader needs to know."""

    def __init__(self, data: bytes, kind: str, symbol: str, arena_size: int, info: dict):
        self.data = data
        self.kind = kind            # "shared-library" or "object"
        self.symbol = symbol
        self.arena_size = arena_size
        self.info = info            # manifest fields (target, linker, notes)


def _for(b: ir.IRBuilder, n, body, name="i", hint=None):
    """for (v = 0; v < n; v++) body(v): an i64 counted loop at the builder's position;
    hint: loop metadata for its back edge."""
    fn = b.function
    pre = b.block
    head = fn.append_basic_block(name + ".head")
    loop = fn.append_basic_block(name + ".body")
    done = fn.append_basic_block(name + ".done")
    b.branch(head)
    b.position_at_end(head)
    v = b.phi(I64, name)
    v.add_incoming(i64(0), pre)
    b.cbranch(b.icmp_signed("<", v, n), loop, done)
    b.position_at_end(loop)
    body(v)
    nxt = b.add(v, i64(1))
    v.add_incoming(nxt, b.block)
    br = b.branch(head)
    if hint is not None:
        br.set_metadata("llvm.loop", hint)
    b.position_at_end(done)


def fallback_gemm(module: ir.Module, ft, name: str) -> ir.Function:
    """void name(order, transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc), row-major.

    C = alpha * op(A) @ op(B) + beta * C, with beta == 0 writing C without reading it (as BLAS).
    The blocked GEMM's path for when malloc fails: plain loops, one row of C at a time (i-k-j
    order, or dot products along rows of A and B when B is transposed), left scalar so that
    they cost little compile time in every exported library."""
    fnty = ir.FunctionType(VOID, [I32, I32, I32, I64, I64, I64, ft, PTR, I64, PTR, I64, ft, PTR, I64])
    fn = ir.Function(module, fnty, name)
    fn.linkage = "internal"
    _order, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    zero = ir.Constant(ft, 0.0)
    nv = no_vectorize(module)
    acc = b.alloca(ft)  # in the entry block, so it becomes a register
    a_trans = b.icmp_signed("==", ta, ir.Constant(I32, CBLAS_TRANS))
    b_trans = b.icmp_signed("==", tb, ir.Constant(I32, CBLAS_TRANS))
    beta_zero = b.fcmp_ordered("==", beta, zero)

    def at(p, idx):
        return b.gep(p, [idx], inbounds=True, source_etype=ft)

    def a_elem(i, k):
        idx = b.select(a_trans, b.add(b.mul(k, lda), i), b.add(b.mul(i, lda), k))
        return b.load(at(A, idx), typ=ft)

    def row(i):
        crow = b.mul(i, ldc)

        def init(j):
            p = at(C, b.add(crow, j))
            b.store(b.select(beta_zero, zero, b.fmul(beta, b.load(p, typ=ft))), p)
        _for(b, N, init, "j0", hint=nv)
        with b.if_else(b_trans) as (then, otherwise):
            with then:
                def dot(j):
                    b.store(zero, acc)
                    brow = b.mul(j, ldb)

                    def step(k):
                        prod = b.fmul(a_elem(i, k), b.load(at(B, b.add(brow, k)), typ=ft))
                        b.store(b.fadd(b.load(acc, typ=ft), prod), acc)
                    _for(b, K, step, "k1", hint=nv)
                    p = at(C, b.add(crow, j))
                    b.store(b.fadd(b.load(p, typ=ft), b.fmul(alpha, b.load(acc, typ=ft))), p)
                _for(b, N, dot, "j1", hint=nv)
            with otherwise:
                def kstep(k):
                    a = b.fmul(alpha, a_elem(i, k))
                    brow = b.mul(k, ldb)

                    def axpy(j):
                        p = at(C, b.add(crow, j))
                        b.store(b.fadd(b.load(p, typ=ft), b.fmul(a, b.load(at(B, b.add(brow, j)), typ=ft))), p)
                    _for(b, N, axpy, "j2", hint=nv)
                _for(b, K, kstep, "k2", hint=nv)

    _for(b, M, row, "i", hint=nv)
    b.ret_void()
    return fn


def _runtime_global(module: ir.Module, sym: str, vbytes: int, lapack: dict) -> ir.GlobalVariable:
    """The built-in runtime table: the blocked GEMMs in RUNTIME_SLOTS order, NULL for the rest (LAPACK's
    are filled at the first call when `lapack` lists some, see lapack_export.py)."""
    gemms = {s: blocked_gemm(module, ft, f"{sym}_{s}", vbytes, fallback_gemm(module, ft, f"{sym}_fallback_{s}"))
             for s, ft in (("sgemm", F32), ("dgemm", F64))}
    ty = ir.ArrayType(PTR, len(RUNTIME_SLOTS))
    g = ir.GlobalVariable(module, ty, f"{sym}_runtime")
    g.linkage = "private"
    g.global_constant = not lapack
    g.initializer = ir.Constant(ty, [gemms[s] if s in gemms else ir.Constant(PTR, None) for s in RUNTIME_SLOTS])
    return g


def _wrappers(module: ir.Module, full: ir.Function, sym: str, arena_size: int, vbytes: int, lapack: dict):
    rt_table = _runtime_global(module, sym, vbytes, lapack)
    ws_size = arena_size + WORKSPACE_ALIGN if arena_size else 0
    resolve = resolver(module, sym, rt_table, lapack) if lapack else None

    def lapack_check(b, table):  # return MISSING when a LAPACK routine the code calls is not in `table`
        if lapack:
            with b.if_then(missing(b, table, lapack), likely=False):
                b.ret(ir.Constant(I32, MISSING))

    # int <sym>_call(in, out, arena, rt): rt == NULL selects the built-in table; 1: interrupted
    call = ir.Function(module, ir.FunctionType(I32, [PTR, PTR, PTR, PTR]), f"{sym}_call")
    inp, out, arena, rt = call.args
    b = ir.IRBuilder(call.append_basic_block("entry"))
    is_null = b.icmp_unsigned("==", b.ptrtoint(rt, I64), i64(0))
    if resolve is not None:
        with b.if_then(is_null):
            b.call(resolve, [])
    table = b.select(is_null, b.bitcast(rt_table, PTR), rt)
    lapack_check(b, table)
    b.ret(b.call(full, [inp, out, arena, table]))

    # size_t <sym>_workspace_size(void)
    size_fn = ir.Function(module, ir.FunctionType(I64, []), f"{sym}_workspace_size")
    b = ir.IRBuilder(size_fn.append_basic_block("entry"))
    b.ret(i64(ws_size))

    # int <sym>_with_workspace(in, out, ws): aligns ws up to WORKSPACE_ALIGN
    with_ws = ir.Function(module, ir.FunctionType(I32, [PTR, PTR, PTR]), f"{sym}_with_workspace")
    inp, out, ws = with_ws.args
    b = ir.IRBuilder(with_ws.append_basic_block("entry"))
    addr = b.ptrtoint(ws, I64)
    aligned = b.and_(b.add(addr, i64(WORKSPACE_ALIGN - 1)), i64(-WORKSPACE_ALIGN))
    if resolve is not None:
        b.call(resolve, [])
    lapack_check(b, b.bitcast(rt_table, PTR))
    b.call(full, [inp, out, b.inttoptr(aligned, PTR), b.bitcast(rt_table, PTR)])  # no interrupt slot: 0
    b.ret(ir.Constant(I32, 0))

    # int <sym>(in, out): malloc'd workspace per call, so concurrent calls share nothing
    main = ir.Function(module, ir.FunctionType(I32, [PTR, PTR]), sym)
    inp, out = main.args
    b = ir.IRBuilder(main.append_basic_block("entry"))
    if not ws_size:
        b.ret(b.call(with_ws, [inp, out, ir.Constant(PTR, None)]))
        return
    malloc = module.globals["malloc"]  # declared by the blocked GEMMs
    free = module.globals["free"]
    mem = b.call(malloc, [i64(ws_size)])
    with b.if_then(b.icmp_unsigned("==", b.ptrtoint(mem, I64), i64(0)), likely=False):
        b.ret(ir.Constant(I32, 1))
    rc = b.call(with_ws, [inp, out, mem])
    b.call(free, [mem])
    b.ret(rc)


def module_text(graph: Graph, symbol: str, threads: int = 1, vbytes: int = 16, slots: list | None = None,
                lapack_used: list | None = None):
    """(LLVM IR text, arena size) of the exported module of `graph`; vbytes: the SIMD register
    width of the target, which sizes the built-in GEMM's register tile. `slots`, if given, gets the
    runtime-table slots the library reads: the interrupt flag's only when it has loops, so a
    loader arms no SIGINT handler for a library that never polls it (backends/interrupt.py)."""
    try:
        plan = make_plan(graph)
    except Unsupported as e:
        raise NotImplementedError(str(e)) from None
    mb = ModuleBuilder(plan, symbol, threads=threads)
    mb.vbytes = vbytes  # the target's vectors: kernels that need wide ones (the sort's) see it
    lapack = lapack_slots(plan)
    if lapack_used is not None:  # the LAPACK routines it calls (found at run time, see lapack_export.py)
        lapack_used.extend(sorted(lapack.values()))
    if slots is not None:
        if lapack:  # up to the last LAPACK slot used; a placeholder for an interrupt flag never polled
            names = list(RUNTIME_SLOTS[:max(lapack) + 1])
            if not has_loops(plan):
                names[INTERRUPT_SLOT] = "unused"
            slots.extend(names)
        else:
            slots.extend(RUNTIME_SLOTS if has_loops(plan) else RUNTIME_SLOTS[:INTERRUPT_SLOT])
    full = mb.entry_function(f"{symbol}_full", full_results=True)
    _wrappers(mb.module, full, symbol, plan.arena_size, vbytes, lapack)
    return mb._fill_blobs(str(mb.module)), plan.arena_size


def _linker_name():
    cmd = _cache.linker()
    return None if cmd is None else os.path.basename(cmd[0])


def build_native(graph: Graph, symbol: str | None = None, opt_level: int = 2, threads: int = 2,
                 cpu: str | None = None) -> NativePayload:
    """Compile `graph` into a shared library (or, with no linker, an object file).

    cpu: None or "host" for this CPU with all its features; an LLVM CPU name such as
    "x86-64-v3" for code that runs on every CPU of that level (features implied by the name)."""
    symbol = symbol or c_symbol(graph.name)
    h = host()
    if cpu in (None, "host"):
        cpu, features = h["cpu"], h["features"]
        vbytes = vector_bytes(None, features)
    else:
        features = ""
        vbytes = vector_bytes(cpu, features)
    slots, lapack = [], []
    text, arena_size = module_text(graph, symbol, threads, vbytes, slots, lapack)
    obj = compile_ir(text, opt_level, cpu, features)
    info = {"triple": h["triple"], "cpu": cpu, "features": features, "llvm": h["llvm"],
            "llvmlite": h["llvmlite"], "opt_level": opt_level, "threads": threads, "runtime_slots": slots}
    if lapack:
        info["lapack"] = lapack
    linker = _linker_name()
    if linker is None:
        info["note"] = ("no linker (ld) or C compiler was found: the payload is object code, loaded through "
                        "llvmlite at load time, and cannot be called from C")
        return NativePayload(obj, "object", symbol, arena_size, info)
    data = _cache.link_bytes(obj)
    info["linker"] = linker
    return NativePayload(data, "shared-library", symbol, arena_size, info)


def load_object(obj: bytes, symbol: str):
    """Load object code with llvmlite's MCJIT (the no-linker fallback); returns (engine, address of `<symbol>_call`).

    Keep the engine alive as long as the code is used."""
    import llvmlite.binding as llvm

    from .target import initialised
    initialised()
    h = host()
    mod = llvm.parse_assembly("")
    mod.triple = h["triple"]
    # the engine owns its target machine (and frees it with itself): never pass a cached one
    tm = llvm.Target.from_triple(h["triple"]).create_target_machine(cpu=h["cpu"], features=h["features"],
                                                                     codemodel="jitdefault")
    engine = llvm.create_mcjit_compiler(mod, tm)
    engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
    engine.finalize_object()
    addr = engine.get_function_address(f"{symbol}_call")
    if not addr:
        raise RuntimeError(f"the object code has no symbol {symbol}_call")
    return engine, addr


__all__ = ["NativePayload", "build_native", "c_symbol", "load_object", "module_text", "WORKSPACE_ALIGN"]
