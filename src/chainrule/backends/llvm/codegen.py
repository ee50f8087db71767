"""LLVM IR for a planned graph: one module, one entry point, one function per kernel.

The entry point is `i32 chainrule_entry(ptr args, ptr results, ptr arena,
ptr runtime)`: `args`/`results` are arrays of data pointers, `arena` holds
the planned intermediates and `runtime` is a table of function pointers the
host fills in (GEMM), so the object code holds no absolute address and can be
cached or exported as a shared library. It returns 0, or 1 when a loop saw
the interrupt flag (backends/interrupt.py) and the call stopped early: then
the results are not written.

Each kernel is an internal function whose buffer parameters are `noalias`
(the planner guarantees that a kernel never writes a buffer it reads), so
LLVM vectorizes its loops without runtime alias checks. Inside a loop, a
value is produced by `Emitter.ev(value, index)`: a load for a buffer, or the
op's rule applied to its operands' values at the index that op maps to.
"""

from __future__ import annotations

import llvmlite.ir as ir

from . import expressions as _expressions  # noqa: F401  (registers the index-mapping rules)
from .control import emit_cond, emit_scan, emit_while
from .emitter import INTERRUPT_SLOT, Emitter, memcpy_fn, scalar_budget, split_extent
from .fft import emit_fft
from .gemm import emit_dot
from .kernels import emit_arg, emit_dus, emit_loop_kernel, emit_reduce, emit_scatter
from .lapack import BASE_SLOTS, KERNELS as LAPACK_KERNELS
from .lapack_eig import GEEV_OPS, KERNELS as GEEV_KERNELS
from .lu_solve import KERNELS as LU_SOLVE_KERNELS, LAPACK_KINDS
from .lltypes import I1, I8, I32, I64, PTR, VOID, i64
from .plan import CONTROL_FLOW_OPS, Plan
from ..blas import LAPACK_SLOTS
from .sort import emit_sort
from ..interrupt import ACTIVE, FLAG, INTERRUPT_SLOT_NAME
from ..threadpool import POOL_SLOT_NAME
from .pool import POOL_SLOT, field_ptr, pool_run, pool_state

ENTRY = "chainrule_entry"
ENTRY_OBJECTS = "chainrule_entry_objects"
DATA_OFFSET = 16  # offsetof(PyArrayObject_fields, data) on 64-bit CPython
# POOL_SLOT_NAME: backends/threadpool.py's block or NULL; INTERRUPT_SLOT_NAME: backends/interrupt.py's block or NULL
# then the LAPACK routines of the linear-algebra kernels (lapack.py; backends/blas.py names them)
RUNTIME_SLOTS = ("sgemm", "dgemm", "blas_threads_local", POOL_SLOT_NAME, INTERRUPT_SLOT_NAME) + LAPACK_SLOTS
SPLIT_CHUNKS = 2  # ranges per thread a split loop kernel is cut into


KERNELS = {"loop": lambda em, k: emit_loop_kernel(em, k.roots), "reduce": emit_reduce, "argmax": emit_arg,
           "argmin": emit_arg, "dot_general": emit_dot, "scatter": emit_scatter,
           "dynamic_update_slice": emit_dus, "cond": emit_cond, "case": emit_cond, "while": emit_while,
           "scan": emit_scan, "sort": emit_sort, "fft": emit_fft, **LAPACK_KERNELS, **GEEV_KERNELS,
           **LU_SOLVE_KERNELS}


assert RUNTIME_SLOTS.index(POOL_SLOT_NAME) == POOL_SLOT
assert RUNTIME_SLOTS.index(INTERRUPT_SLOT_NAME) == INTERRUPT_SLOT
assert RUNTIME_SLOTS.index(LAPACK_SLOTS[0]) == BASE_SLOTS


def has_loops(plan: Plan) -> bool:
    """Whether the plan runs a while or scan loop anywhere (its regions included): then it polls the
    interrupt flag, and its top entry counts itself in the interrupt block's ACTIVE calls."""
    return any(k.kind in ("while", "scan") or any(has_loops(p) for p in k.subplans)
               for k in plan.kernels if k.kind in CONTROL_FLOW_OPS)


class ModuleBuilder:
    """The whole graph as one LLVM module with the entry point ENTRY.

    Regions of control-flow nodes become internal functions of the same module with the
    entry's signature (`sub_entry`); their results table lists every result, and results
    that are parameters, constants or duplicates are copied in natively."""

    def __init__(self, plan: Plan, name: str = "chainrule", module=None, prefix: str = "", threads: int = 1,
                 region: bool = False):
        self.plan = plan
        # loop instructions this builder's kernels may leave scalar (emitter.scalar_budget); a list, spent in place
        self.scalar_budget = [0 if region else scalar_budget(plan)]
        self.prefix = prefix
        self.threads = threads  # > 1: large GEMMs and loop kernels become parallel regions (pool.py)
        self.vbytes = None  # the target's vector bytes when it is not this machine (export.module_text)
        self.module = module if module is not None else ir.Module(name=name)
        self.kernels = KernelTable.of(self.module)
        self.globals = [self._global(arr, f"{prefix}const{k}") for k, arr in enumerate(plan.globals)]

    def _global(self, arr, name):
        data = arr.tobytes()
        ty = ir.ArrayType(I8, max(len(data), 1))
        g = ir.GlobalVariable(self.module, ty, name)
        g.global_constant = True
        g.linkage = "private"
        g.align = 64
        if len(data) > 256:
            # llvmlite escapes byte strings in a Python loop (~0.2 s per MB); write the
            # initializer into the text afterwards with bytes.hex instead (see _fill_blobs)
            g.initializer = ir.Constant(ty, None)
            blobs = self.module.__dict__.setdefault("_chainrule_blobs", {})
            blobs[f'@"{name}" = private constant {ty} zeroinitializer'] = (
                f'@"{name}" = private constant {ty} c"\\' + data.hex("\\") + '"')
        else:
            g.initializer = ir.Constant(ty, bytearray(data) if data else bytearray(1))
        return g

    def _fill_blobs(self, text: str) -> str:
        for placeholder, definition in self.module.__dict__.get("_chainrule_blobs", {}).items():
            if placeholder not in text:
                raise AssertionError(f"constant placeholder missing from the module text: {placeholder}")
            text = text.replace(placeholder, definition, 1)
        return text

    def sub_entry(self, plan: Plan, tag: str):
        sub = ModuleBuilder(plan, module=self.module, prefix=f"{self.prefix}{tag}_", threads=self.threads,
                            region=True)
        sub.vbytes = self.vbytes
        return sub.entry_function(f"{self.prefix}{tag}_entry", full_results=True, top=False)

    def entry_function(self, fname: str, full_results: bool = False, top: bool = True):
        """i32 fname(args, results, arena, rt): 0, or 1 when interrupted (a control-flow kernel returned 1:
        the kernels after it do not run). `top`: called from outside (not a region), so when the plan has
        loops it counts itself in the interrupt block's ACTIVE calls while it runs."""
        plan = self.plan
        entry = ir.Function(self.module, ir.FunctionType(I32, [PTR, PTR, PTR, PTR]), fname)
        if full_results:
            entry.linkage = "internal"
        args, results, arena, rt = entry.args
        b = ir.IRBuilder(entry.append_basic_block("entry"))
        bail = None
        block = None
        if top and has_loops(plan):
            block = b.load(b.gep(rt, [i64(INTERRUPT_SLOT)], inbounds=True, source_etype=PTR), typ=PTR)
            counted = b.icmp_unsigned("!=", b.ptrtoint(block, I64), i64(0))
            with b.if_then(counted):
                b.atomic_rmw("add", field_ptr(b, block, ACTIVE, I64), i64(1), "monotonic")

        def leave(status):
            if block is not None:
                with b.if_then(counted):
                    old = b.atomic_rmw("sub", field_ptr(b, block, ACTIVE, I64), i64(1), "monotonic")
                    with b.if_then(b.icmp_unsigned("==", old, i64(1))):  # the last one out clears the flag
                        b.store_atomic(ir.Constant(I32, 0), field_ptr(b, block, FLAG, I32), "monotonic", 4)
            b.ret(ir.Constant(I32, status))
        native_index = [j for j, info in enumerate(plan.results) if info[0] == "native"]
        cache = {}

        def slot(table, k):
            return b.load(b.gep(table, [i64(k)], inbounds=True, source_etype=PTR), typ=PTR)

        def pointer(key):
            got = cache.get(key)
            if got is not None:
                return got
            where, k = plan.storage[key]
            if where == "arg":
                p = slot(args, k)
            elif where == "res":
                p = slot(results, native_index[k] if full_results else k)
            elif where == "arena":
                p = b.gep(arena, [i64(k)], inbounds=True, source_etype=I8)
            else:
                p = self.globals[k]
            cache[key] = p
            return p

        extents = [split_extent(plan, k) if self.threads > 1 else 0 for k in plan.kernels]
        for n, ker in enumerate(plan.kernels):
            # a donated parameter written by one of the roots is read through that root's pointer
            # (one noalias pointer for both; see plan._donations for why that is safe)
            alias = {id(plan.donated[id(r)]): r for r in ker.roots if id(r) in plan.donated}
            buffers = list(ker.roots) + [v for v in ker.reads if all(v is not r for r in ker.roots)
                                         and id(v) not in alias]
            control = ker.kind in CONTROL_FLOW_OPS  # control-flow kernels return a status
            want_rt = (ker.kind in ("dot_general", "sort") or control or ker.kind in LAPACK_KINDS
                       or ker.kind in GEEV_OPS)
            want_scratch = control or bool(ker.scratch) or ker.kind == "fft"
            em = Emitter(self, f"{self.prefix}k{n}_{ker.kind}", buffers, want_rt, want_scratch,
                         ranged=bool(extents[n]), status=control)
            for pid, r in alias.items():
                em.ptr[pid] = em.ptr[id(r)]
            KERNELS[ker.kind](em, ker)
            em.finish()
            call_args = [pointer(id(v)) for v in buffers] + ([rt] if want_rt else []) + (
                [pointer(id(ker))] if want_scratch else [])
            if extents[n]:
                self._split_call(b, self.kernels.shared(em.fn), call_args, extents[n], rt)
            elif control:  # a control-flow kernel: its status
                st = b.call(self.kernels.once(em.fn), call_args)
                if bail is None:
                    bail = entry.append_basic_block("interrupted")
                go_on = entry.append_basic_block("go_on")
                b.cbranch(b.icmp_unsigned("!=", st, ir.Constant(I32, 0)), bail, go_on)
                b.position_at_end(go_on)
            else:
                b.call(self.kernels.once(em.fn), call_args)
        if full_results:
            for j, (tag, k) in enumerate(plan.results):
                if tag == "native":
                    continue
                t = plan.graph.results[j].type
                if tag == "param":
                    src = slot(args, k)
                elif tag == "const":
                    src = self._global(k, f"{self.prefix}result{j}")
                else:
                    src = slot(results, k)
                if t.nbytes:
                    dst = slot(results, j)
                    # a scan passes a stacked carry's slice as both (control.py): nothing to copy
                    with b.if_then(b.icmp_unsigned("!=", b.ptrtoint(dst, I64), b.ptrtoint(src, I64))):
                        b.call(memcpy_fn(self.module), [dst, src, i64(t.nbytes), ir.Constant(I1, 0)])
        leave(0)
        if bail is not None:
            b.position_at_end(bail)
            leave(1)
        return entry

    def _split_call(self, b, fn, args, extent, rt):
        """fn(args, lo, hi) over [0, extent) as one parallel region: SPLIT_CHUNKS ranges per thread
        taken by this thread and up to threads - 1 of the pool's helpers (pool.py), or all by this one."""
        n = min(SPLIT_CHUNKS * self.threads, extent)
        slots = [b.ptrtoint(a, I64) if isinstance(a.type, ir.PointerType) else a for a in args]
        slots += [i64(extent), i64(n)]
        ab = ir.IRBuilder()
        ab.position_at_start(b.function.entry_basic_block)  # a static alloca (entry functions branch on status)
        arr = ab.alloca(ir.ArrayType(I64, len(slots)))
        b.position_at_end(b.block)  # llvmlite builders keep an index into the block: ab's insert moved it
        for k, v in enumerate(slots):
            b.store(v, b.gep(arr, [i64(0), i64(k)], inbounds=True))
        b.call(pool_run(self.module), [pool_state(b, rt), self._chunk_fn(fn, len(args)), b.bitcast(arr, PTR), i64(n),
                                       i64(self.threads - 1)])

    def _chunk_fn(self, fn, nptr):
        """void chunk(i64 ctx[nptr + 2], i64 c): fn(ptr ctx[0..nptr), lo, hi) for range c of n of
        [0, extent), ctx[nptr] = extent, ctx[nptr + 1] = n; one per kernel function."""
        got = self.kernels.chunks.get(fn.name)
        if got is not None:
            return got
        t = ir.Function(self.module, ir.FunctionType(VOID, [PTR, I64]), fn.name + "_chunk")
        self.kernels.chunks[fn.name] = t
        t.linkage = "internal"
        tb = ir.IRBuilder(t.append_basic_block("entry"))
        blk, c = t.args
        vals = [tb.load(tb.gep(blk, [i64(k)], inbounds=True, source_etype=I64), typ=I64) for k in range(nptr + 2)]
        extent, n = vals[nptr:]
        bound = lambda j: tb.udiv(tb.mul(j, extent), n)  # noqa: E731
        tb.call(fn, [tb.inttoptr(v, PTR) for v in vals[:nptr]] + [bound(c), bound(tb.add(c, i64(1)))])
        tb.ret_void()
        return t

    def build(self) -> str:
        entry = self.entry_function(ENTRY)
        self._object_entry(entry)
        return self._fill_blobs(self.kernels.module_text())

    def _object_entry(self, entry):
        """ENTRY_OBJECTS(state): state = {argobjs, resobjs, arena, rt}, like ENTRY's arguments but
        holding the addresses of the NumPy array objects (Python's id()); each data pointer is read
        at DATA_OFFSET. One pointer argument and id() calls keep the per-call Python work small;
        runtime.py checks the offset before using this entry."""
        plan = self.plan
        nargs = len(plan.graph.params)
        nres = sum(1 for r in plan.results if r[0] == "native")
        fn = ir.Function(self.module, ir.FunctionType(I32, [PTR]), ENTRY_OBJECTS)
        (state,) = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        aobj, robj, arena, rt = [b.load(b.gep(state, [i64(k)], inbounds=True, source_etype=PTR), typ=PTR)
                                 for k in range(4)]
        tables = []
        for objs, n in ((aobj, nargs), (robj, nres)):
            arr = b.alloca(ir.ArrayType(PTR, max(n, 1)))
            for i in range(n):
                o = b.load(b.gep(objs, [i64(i)], inbounds=True, source_etype=PTR), typ=PTR)
                data = b.load(b.gep(o, [i64(DATA_OFFSET)], source_etype=I8), typ=PTR)
                slot = b.gep(arr, [i64(0), i64(i)], inbounds=True)
                b.store(data, b.bitcast(slot, PTR))
            tables.append(arr)
        b.ret(b.call(entry, [b.bitcast(tables[0], PTR), b.bitcast(tables[1], PTR), arena, rt]))


class KernelTable:
    """Kernels called once, each emitted once per distinct text: the module's compile-time policy.

    A kernel called once is `alwaysinline`: LLVM's always-inliner runs before any other pass,
    so the kernel is optimised once, inside the entry (after the ordinary inliner, a kernel was
    simplified on its own and then again inside its caller: ~30% of the optimiser's time). Its
    `noalias` parameters become alias scopes there, so its loops still vectorize without checks.
    A kernel whose text equals an earlier one's (up to its name; e.g. the two tanh(x @ W + b)
    loops of an MLP) is dropped before LLVM sees it and the earlier one is called instead; that
    one becomes `noinline`, so LLVM optimises and compiles its body once. The text each kernel
    was compared by is kept and reused for the module text (`module_text`). Split loop kernels
    (parallel regions, called through a chunk function) are shared the same way (`shared`): the
    repeated layers of a model give the same large loops, each compiled once."""

    def __init__(self, module):
        self.module = module
        self.by_text = {}  # kernel text with its name blanked -> function
        self.text = {}  # function name -> its text, as the module text will hold it
        self.by_text_split = {}  # the same for split (ranged) kernels, which stay functions of their own
        self.chunks = {}  # split kernel name -> its pool chunk function (ModuleBuilder._chunk_fn)

    @classmethod
    def of(cls, module) -> "KernelTable":
        got = module.__dict__.get("_chainrule_kernels")
        if got is None:
            got = module.__dict__["_chainrule_kernels"] = cls(module)
        return got

    def once(self, fn):
        """`fn` (just finished, not yet called) or the earlier kernel with the same text."""
        fn.attributes.add("alwaysinline")
        text = str(fn)
        key = text.replace(f'@"{fn.name}"', '@""', 1)
        first = self.by_text.get(key)
        if first is None:
            self.by_text[key] = fn
            self.text[fn.name] = text
            return fn
        del self.module.globals[fn.name]
        if "noinline" not in first.attributes:
            first.attributes.discard("alwaysinline")
            first.attributes.add("noinline")
            self.text[first.name] = str(first)
        return first

    def shared(self, fn):
        """`fn` (a just finished split kernel: called through its chunk function by the pool's threads)
        or the earlier split kernel with the same text, so repeated layers' loops are compiled once.
        Its only caller is its chunk function (`ModuleBuilder._chunk_fn`, one per kernel), so it is
        `alwaysinline` like a kernel called once: LLVM simplifies the loop once, inside the chunk,
        not on its own and again after the ordinary inliner (~12% of the optimiser's time)."""
        fn.attributes.add("alwaysinline")
        text = str(fn)
        key = text.replace(f'@"{fn.name}"', '@""', 1)
        first = self.by_text_split.get(key)
        if first is None:
            self.by_text_split[key] = fn
            self.text[fn.name] = text
            return fn
        del self.module.globals[fn.name]
        return first

    def module_text(self) -> str:
        """str(module), reusing the kernels' texts (llvmlite's Module.__repr__, minus re-printing)."""
        m = self.module
        lines = ['; ModuleID = "%s"' % (m.name,), 'target triple = "%s"' % (m.triple,),
                 'target datalayout = "%s"' % (m.data_layout,), '']
        lines += [t.get_declaration() for t in m.get_identified_types().values()]
        lines += [self.text.get(v.name) or str(v) for v in m.globals.values()]
        if m.namedmetadata:
            raise AssertionError("named metadata is not emitted by this backend")
        lines += [str(md) for md in m.metadata]
        return "\n".join(lines)


def build_module(plan: Plan, name: str = "chainrule", threads: int = 1) -> str:
    return ModuleBuilder(plan, name, threads=threads).build()


__all__ = ["ENTRY", "ENTRY_OBJECTS", "DATA_OFFSET", "RUNTIME_SLOTS", "build_module", "ModuleBuilder"]
