"""Kernel functions under construction: `Emitter` (loops, loads, stores, memos) and `Index`.

A kernel is an internal LLVM function whose buffer parameters are `noalias`
(the planner guarantees a kernel never writes a buffer it reads), so LLVM
vectorizes its loops without runtime alias checks. Inside a loop, a value is
produced by `Emitter.ev(value, index)`: a load for a buffer, or the op's rule
(scalar.py for elementwise ops, expressions.py for index mappings) applied to
its operands' values at the index that op maps to.
"""

from __future__ import annotations

import math
from contextlib import ExitStack, contextmanager

import llvmlite.ir as ir

from ...ir import RuleTable
from .lltypes import I1, I8, I32, I64, PTR, VOID, i64, load_narrow, mem_type, store_narrow
from .scalar import apply_scalar

# op name -> rule(emitter, node, operands, index) -> value; filled by expressions.py
EXPR = RuleTable("llvm index expressions", covers=None)


def row_major_strides(shape):
    out, acc = [], 1
    for n in reversed(shape):
        out.append(acc)
        acc *= n
    return list(reversed(out))


class Index:
    """A position in a tensor of `shape`: multi-index and/or flat offset, each made on demand."""

    __slots__ = ("shape", "_dims", "_flat", "em")

    def __init__(self, em, shape, dims=None, flat=None):
        self.em, self.shape, self._dims, self._flat = em, tuple(shape), dims, flat
        if not self.shape:
            self._dims, self._flat = [], i64(0)

    def dims(self):
        if self._dims is None:
            b = self.em.b
            rest = self._flat
            out = []
            if any(n == 0 for n in self.shape):
                self._dims = [i64(0)] * len(self.shape)
                return self._dims
            for k, n in enumerate(reversed(self.shape)):
                last = k == len(self.shape) - 1
                if n == 1:
                    out.append(i64(0))
                elif last:
                    out.append(rest)
                else:
                    out.append(b.urem(rest, i64(n)))
                    rest = b.udiv(rest, i64(n))
            self._dims = list(reversed(out))
        return self._dims

    def flat(self):
        if self._flat is None:
            b = self.em.b
            acc = None
            for d, s, n in zip(self._dims, row_major_strides(self.shape), self.shape):
                if n == 1:
                    continue
                term = d if s == 1 else b.mul(d, i64(s))
                acc = term if acc is None else b.add(acc, term)
            self._flat = acc if acc is not None else i64(0)
        return self._flat


class Emitter:
    """Builds one kernel function."""

    def __init__(self, mb: "ModuleBuilder", name: str, buffers: list, want_rt: bool, want_scratch: bool = False,
                 ranged: bool = False, status: bool = False):
        self.mb, self.plan = mb, mb.plan
        self.tag = name
        params = [PTR] * (len(buffers) + (1 if want_rt else 0) + (1 if want_scratch else 0)) + [I64] * (2 * ranged)
        # status: the kernel returns i32, 0 when done, 1 when interrupted (control-flow kernels; see `bail_if`)
        self.status = status
        fn = ir.Function(mb.module, ir.FunctionType(I32 if status else VOID, params), name)
        fn.linkage = "internal"
        for a in fn.args[:len(buffers)]:
            a.add_attribute("noalias")
        fn.attributes.add("nounwind")
        self.fn = fn
        self.ptr = {id(v): a for v, a in zip(buffers, fn.args)}
        self.rt = fn.args[len(buffers)] if want_rt else None
        self.scratch = fn.args[len(buffers) + want_rt] if want_scratch else None
        # ranged kernels run only outer iterations [lo, hi) (the halves of a two-thread split)
        self.lo, self.hi = (fn.args[-2], fn.args[-1]) if ranged else (None, None)
        self.entry_block = fn.append_basic_block("entry")
        self.body_block = fn.append_basic_block("body")
        self.b = ir.IRBuilder(self.body_block)
        self.memo = [{}]
        self.keep = []
        self.trips = []  # trip counts of the enclosing loops (None: known only at run time)
        self._bail = None
        self._flag = None

    def finish(self):
        if self.status:
            self.b.ret(ir.Constant(I32, 0))
        else:
            self.b.ret_void()
        ir.IRBuilder(self.entry_block).branch(self.body_block)

    # -- interrupts (backends/interrupt.py)
    def bail_if(self, cond):
        """Return status 1 from this kernel when `cond` (i1) holds; the builder continues on the other path."""
        if self._bail is None:
            self._bail = self.fn.append_basic_block("interrupted")
            ir.IRBuilder(self._bail).ret(ir.Constant(I32, 1))
        cont = self.fn.append_basic_block("go_on")
        self.b.cbranch(cond, self._bail, cont)
        self.b.position_at_end(cont)

    def bail_on_status(self, st):
        """Pass on a nonzero status returned by a region's entry."""
        self.bail_if(self.b.icmp_unsigned("!=", st, ir.Constant(I32, 0)))

    def poll_interrupt(self):
        """Once per loop iteration: one relaxed atomic load of the interrupt flag; return status 1 when it is
        set. The flag's address comes from the runtime table (NULL there: a zero constant is polled instead)."""
        if self._flag is None:
            eb = ir.IRBuilder(self.entry_block)
            p = eb.load(eb.gep(self.rt, [i64(INTERRUPT_SLOT)], inbounds=True, source_etype=PTR), typ=PTR)
            null = eb.icmp_unsigned("==", eb.ptrtoint(p, I64), i64(0))
            self._flag = eb.select(null, never_flag(self.mb.module), p)
        v = self.b.load_atomic(self._flag, "monotonic", 4, typ=I32)
        self.bail_if(self.b.icmp_unsigned("!=", v, ir.Constant(I32, 0)))

    # -- memory
    def alloca(self, ty, init=None):
        eb = ir.IRBuilder(self.entry_block)
        slot = eb.alloca(ty)
        if init is not None:
            self.b.store(init, slot)
        return slot

    def memcpy(self, dst, src, nbytes: int):
        if nbytes:
            self.b.call(memcpy_fn(self.mb.module), [dst, src, i64(nbytes), ir.Constant(I1, 0)])

    def ptr_array(self, ptrs):
        """A stack array holding `ptrs` (the argument/result tables of a region call)."""
        arr = ir.IRBuilder(self.entry_block).alloca(ir.ArrayType(PTR, max(1, len(ptrs))))
        for i, p in enumerate(ptrs):
            self.b.store(p, self.b.bitcast(self.b.gep(arr, [i64(0), i64(i)], inbounds=True), PTR))
        return self.b.bitcast(arr, PTR)

    def addr(self, v, flat):
        return self.b.gep(self.ptr[id(v)], [flat], inbounds=True, source_etype=mem_type(v.dtype))

    def load(self, v, idx):
        x = self.b.load(self.addr(v, idx.flat()), typ=mem_type(v.dtype), align=v.dtype.np.alignment)
        if v.dtype.is_bool:
            x = self.b.icmp_unsigned("!=", x, ir.Constant(I8, 0))
        elif v.dtype.is_narrow_float:
            x = load_narrow(self.b, v.dtype, x)
        return x

    def store_at(self, v, flat, val):
        if v.dtype.is_bool:
            val = self.b.zext(val, I8)
        elif v.dtype.is_narrow_float:
            val = store_narrow(self.b, v.dtype, val)
        self.b.store(val, self.addr(v, flat), align=v.dtype.np.alignment)

    # -- loops
    @contextmanager
    def loop(self, n: int):
        """for i in range(n): the body is built inside the `with`. A loop nest of fewer than
        SMALL_LOOP_ELEMENTS iterations whose scalar cost fits the module's budget is not
        vectorized (see `no_vectorize`)."""
        first_block = len(self.fn.blocks)
        with self._counted(i64(0), i64(n), ir.Constant(I1, int(n > 0)), n) as i:
            yield i
        if None not in self.trips and math.prod(self.trips) * n < SMALL_LOOP_ELEMENTS:
            # scalar cost: iterations x instructions of the body (nested loops included)
            cost = math.prod(self.trips) * n * sum(len(bb.instructions) for bb in self.fn.blocks[first_block:])
            if cost <= self.mb.scalar_budget[0]:
                self.mb.scalar_budget[0] -= cost
                self.latch.set_metadata("llvm.loop", no_vectorize(self.mb.module))

    @contextmanager
    def loop_range(self, lo, hi):
        """for i in range(lo, hi) with run-time bounds."""
        with self._counted(lo, hi, self.b.icmp_unsigned("<", lo, hi), None) as i:
            yield i

    @contextmanager
    def _counted(self, lo, hi, enter, trips):
        """for i in range(lo, hi), entered when `enter`; the loop's back-edge branch is left in
        `self.latch` (where loop metadata goes). `trips`: the trip count, None if known only at
        run time."""
        b = self.b
        pre = b.block
        body = self.fn.append_basic_block("loop")
        done = self.fn.append_basic_block("done")
        b.cbranch(enter, body, done)
        b.position_at_end(body)
        i = b.phi(I64)
        i.add_incoming(lo, pre)
        self.memo.append({})
        self.trips.append(trips)
        try:
            yield i
        finally:
            self.memo.pop()
            self.trips.pop()
        nxt = b.add(i, i64(1))
        i.add_incoming(nxt, b.block)
        self.latch = b.cbranch(b.icmp_unsigned("<", nxt, hi), body, done)
        b.position_at_end(done)

    @contextmanager
    def nest(self, shape, need_dims=True, ranged=False):
        """Loops over every element of `shape`, yielding its Index; `ranged` limits the outer
        loop (the flat loop, or dimension 0) to the kernel's [lo, hi) arguments."""
        if ranged:
            if not need_dims or len(shape) <= 1:
                with self.loop_range(self.lo, self.hi) as i:
                    yield Index(self, shape, flat=i)
                return
            with ExitStack() as stack:
                dims = [stack.enter_context(self.loop_range(self.lo, self.hi))]
                for n in shape[1:]:
                    dims.append(i64(0) if n == 1 else stack.enter_context(self.loop(n)))
                yield Index(self, shape, dims=dims)
            return
        if not need_dims or len(shape) <= 1:
            n = math.prod(shape)
            if n == 1:
                self.memo.append({})
                try:
                    yield Index(self, shape, flat=i64(0))
                finally:
                    self.memo.pop()
                return
            with self.loop(n) as i:
                yield Index(self, shape, flat=i)
            return
        with ExitStack() as stack:
            dims = []
            for n in shape:
                dims.append(i64(0) if n == 1 else stack.enter_context(self.loop(n)))
            if all(n == 1 for n in shape):
                self.memo.append({})
                stack.callback(self.memo.pop)
            yield Index(self, shape, dims=dims)

    # -- values
    def ev(self, v, idx: Index):
        if self.plan.kind[id(v)] != "inline":
            return self.load(v, idx)
        return self.compute(v, idx)

    def compute(self, v, idx: Index):
        """The value of v's own node at idx (roots are computed, not loaded)."""
        key = (id(v), id(idx))
        memo = self.memo[-1]
        got = memo.get(key)
        if got is not None:
            return got
        node = v.node
        ops = self.plan.operands[node]
        if node.op.elementwise:
            val = apply_scalar(self.b, node, [self.ev(o, idx) for o in ops])
        else:
            val = EXPR[node.op.name](self, node, ops, idx)
        memo[key] = val
        self.keep.append(idx)
        return val

    def scalar(self, v):
        """A rank-0 value (loop invariant: LLVM hoists it)."""
        return self.ev(v, Index(self, ()))

    def needs_dims(self, values) -> bool:
        return needs_dims(self.plan, values)

    def index_clamp(self, x, lo: int, hi: int):
        """x (i64) clamped to [lo, hi]."""
        b = self.b
        x = b.select(b.icmp_signed("<", x, i64(lo)), i64(lo), x)
        return b.select(b.icmp_signed(">", x, i64(hi)), i64(hi), x)

    def to_i64(self, x):
        return self.b.sext(x, I64) if x.type != I64 else x


_DIM_OPS = {"transpose", "slice", "reverse", "pad", "concatenate", "iota", "gather", "dynamic_slice"}


def needs_dims(plan, values) -> bool:
    """Whether computing `values` (and what they inline) needs multi-indices, not just a flat offset."""
    seen = set()
    stack = list(values)
    while stack:
        v = stack.pop()
        if id(v) in seen or v.node is None or (plan.kind[id(v)] != "inline" and not any(v is r for r in values)):
            continue
        seen.add(id(v))
        name = v.node.op.name
        if name in _DIM_OPS or (name == "broadcast_in_dim" and v.node.operands[0].type.size != v.type.size):
            return True
        stack.extend(plan.operands[v.node])
    return False


PARALLEL_LOOP_ELEMENTS = 1 << 18  # below this a second thread costs more than it saves


def split_extent(plan, kernel):
    """The outer loop extent a loop kernel may be split along, or 0 when it stays whole."""
    if kernel.kind != "loop":
        return 0
    shape = kernel.roots[0].shape
    if math.prod(shape) < PARALLEL_LOOP_ELEMENTS:
        return 0
    if len(shape) <= 1 or not needs_dims(plan, kernel.roots):
        return math.prod(shape)
    return shape[0] if shape[0] >= 2 else 0


# --- expression rules for index-mapping ops -------------------------------------------


def extern(module, name, ret, args):
    """The declaration of an external (libc/libm) function, made once per module."""
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(ret, args), name)
    return fn


SMALL_LOOP_ELEMENTS = 4096  # loop nests this long or longer are always left to the vectorizer
SCALAR_SHARE = 512  # scalar loops may cost (in instructions run) 1/SCALAR_SHARE of the GEMMs' multiply-adds


def scalar_budget(plan) -> int:
    """How many loop instructions, run scalar, a plan's top level can afford to leave unvectorized.

    Vectorizing is LLVM's costliest pass, ~1-3 ms per loop, while a few-thousand-iteration
    loop run scalar costs microseconds: negligible beside the GEMMs of an MLP step (its
    ~20 small softmax/bias loops sum to ~1/1000 of its multiply-adds, unmeasurable at run
    time), but not in a program made of such loops (a logistic-regression gradient's two
    2000-element sigmoid loops ran 2x slower scalar). So the budget is a share of the plan's
    GEMM work: programs without GEMMs vectorize every loop, as do control-flow regions
    (their bodies run many times; they get no budget)."""
    macs = 0
    for k in plan.kernels:
        if k.kind == "dot_general":
            lhs, out = k.operands[0], k.roots[0]
            macs += math.prod(out.shape) * math.prod(lhs.shape[d] for d in k.node.attrs["lhs_contracting"])
    return macs // SCALAR_SHARE


def no_vectorize(module):
    """The loop metadata `!{self, !{"llvm.loop.vectorize.enable", false}}`, made once per module.

    One node serves every such loop (the hint is the same), so identical kernels keep identical
    text (codegen deduplicates them)."""
    md = module.__dict__.get("_chainrule_no_vectorize")
    if md is None:
        hint = module.add_metadata([ir.MetaDataString(module, "llvm.loop.vectorize.enable"), ir.Constant(I1, 0)])
        md = module.add_metadata([ir.MetaDataString(module, "chainrule.loop"), hint])
        md.operands = (md, hint)  # a loop id refers to itself first
        module.__dict__["_chainrule_no_vectorize"] = md
    return md


INTERRUPT_SLOT = 4  # index of backends/interrupt.py's INTERRUPT_SLOT_NAME in codegen.RUNTIME_SLOTS


def never_flag(module):
    """A constant zero i32: the interrupt flag polled when the runtime table has none (C callers)."""
    g = module.globals.get("chainrule_no_interrupt")
    if g is None:
        g = ir.GlobalVariable(module, I32, "chainrule_no_interrupt")
        g.linkage = "private"
        g.global_constant = True
        g.initializer = ir.Constant(I32, 0)
        g.align = 4
    return g


def memcpy_fn(module):
    fn = module.globals.get("llvm.memcpy.p0.p0.i64")
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(VOID, [PTR, PTR, I64, I1]), "llvm.memcpy.p0.p0.i64")
    return fn


def byte_offset(b, p, off):
    return p if off == 0 else b.gep(p, [off if isinstance(off, ir.Value) else i64(off)], source_etype=I8)
