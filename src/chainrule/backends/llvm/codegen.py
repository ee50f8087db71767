"""LLVM IR for a planned graph: one module, one entry point, one function per kernel.

The entry point is `void chainrule_entry(ptr args, ptr results, ptr arena,
ptr runtime)`: `args`/`results` are arrays of data pointers, `arena` holds
the planned intermediates and `runtime` is a table of function pointers the
host fills in (GEMM), so the object code holds no absolute address and can be
cached or exported as a shared library.

Each kernel is an internal function whose buffer parameters are `noalias`
(the planner guarantees that a kernel never writes a buffer it reads), so
LLVM vectorizes its loops without runtime alias checks. Inside a loop, a
value is produced by `Emitter.ev(value, index)`: a load for a buffer, or the
op's rule applied to its operands' values at the index that op maps to.
"""

from __future__ import annotations

import math
from contextlib import ExitStack, contextmanager

import llvmlite.ir as ir

from .lltypes import F32, F64, I1, I8, I32, I64, PTR, VOID, const, i64, mem_type, reg_type
from .plan import ALIGN, CONTROL_FLOW_OPS, Plan, pad
from .scalar import apply_scalar

ENTRY = "chainrule_entry"
ENTRY_OBJECTS = "chainrule_entry_objects"
DATA_OFFSET = 16  # offsetof(PyArrayObject_fields, data) on 64-bit CPython
RUNTIME_SLOTS = ("sgemm", "dgemm", "blas_threads_local")
BLOCK = 1024  # elements per partial sum in float reductions


def _strides(shape):
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
            for d, s, n in zip(self._dims, _strides(self.shape), self.shape):
                if n == 1:
                    continue
                term = d if s == 1 else b.mul(d, i64(s))
                acc = term if acc is None else b.add(acc, term)
            self._flat = acc if acc is not None else i64(0)
        return self._flat


class Emitter:
    """Builds one kernel function."""

    def __init__(self, mb: "ModuleBuilder", name: str, buffers: list, want_rt: bool, want_scratch: bool = False,
                 ranged: bool = False):
        self.mb, self.plan = mb, mb.plan
        self.tag = name
        params = [PTR] * (len(buffers) + (1 if want_rt else 0) + (1 if want_scratch else 0)) + [I64] * (2 * ranged)
        fn = ir.Function(mb.module, ir.FunctionType(VOID, params), name)
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

    def finish(self):
        self.b.ret_void()
        ir.IRBuilder(self.entry_block).branch(self.body_block)

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
        x = self.b.load(self.addr(v, idx.flat()), typ=mem_type(v.dtype), align=v.dtype.itemsize)
        if v.dtype.is_bool:
            x = self.b.icmp_unsigned("!=", x, ir.Constant(I8, 0))
        return x

    def store_at(self, v, flat, val):
        if v.dtype.is_bool:
            val = self.b.zext(val, I8)
        self.b.store(val, self.addr(v, flat), align=v.dtype.itemsize)

    # -- loops
    @contextmanager
    def loop(self, n: int):
        """for i in range(n): the body is built inside the `with`."""
        b = self.b
        pre = b.block
        body = self.fn.append_basic_block("loop")
        done = self.fn.append_basic_block("done")
        b.cbranch(ir.Constant(I1, int(n > 0)), body, done)
        b.position_at_end(body)
        i = b.phi(I64)
        i.add_incoming(i64(0), pre)
        self.memo.append({})
        try:
            yield i
        finally:
            self.memo.pop()
        nxt = b.add(i, i64(1))
        i.add_incoming(nxt, b.block)
        b.cbranch(b.icmp_unsigned("<", nxt, i64(n)), body, done)
        b.position_at_end(done)

    @contextmanager
    def loop_range(self, lo, hi):
        """for i in range(lo, hi) with run-time bounds."""
        b = self.b
        pre = b.block
        body = self.fn.append_basic_block("loop")
        done = self.fn.append_basic_block("done")
        b.cbranch(b.icmp_unsigned("<", lo, hi), body, done)
        b.position_at_end(body)
        i = b.phi(I64)
        i.add_incoming(lo, pre)
        self.memo.append({})
        try:
            yield i
        finally:
            self.memo.pop()
        nxt = b.add(i, i64(1))
        i.add_incoming(nxt, b.block)
        b.cbranch(b.icmp_unsigned("<", nxt, hi), body, done)
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

EXPR = {}


def expr(name):
    def deco(fn):
        EXPR[name] = fn
        return fn
    return deco


@expr("constant")
def _constant(em, node, ops, idx):
    lit = node.attrs["value"]
    dt = node.results[0].dtype
    return const(dt, lit.array.reshape(-1)[0].item() if lit.array.size else 0)


@expr("iota")
def _iota(em, node, ops, idx):
    dt = node.results[0].dtype
    d = idx.dims()[node.attrs["dimension"]]
    if dt.is_float:
        return em.b.sitofp(d, reg_type(dt))
    return d if dt.bits == 64 else em.b.trunc(d, reg_type(dt))


@expr("reshape")
def _reshape(em, node, ops, idx):
    return em.ev(ops[0], Index(em, ops[0].shape, flat=idx.flat()))


@expr("convert")
def _convert(em, node, ops, idx):
    return apply_scalar(em.b, node, [em.ev(ops[0], idx)])


@expr("broadcast_in_dim")
def _broadcast(em, node, ops, idx):
    (x,) = ops
    if x.type.size == node.results[0].type.size:
        return em.ev(x, Index(em, x.shape, flat=idx.flat()))
    dims = idx.dims()
    src = [i64(0) if n == 1 else dims[d] for n, d in zip(x.shape, node.attrs["broadcast_dimensions"])]
    return em.ev(x, Index(em, x.shape, dims=src))


@expr("transpose")
def _transpose(em, node, ops, idx):
    (x,) = ops
    perm = node.attrs["permutation"]
    dims = idx.dims()
    src = [None] * x.ndim
    for j, p in enumerate(perm):
        src[p] = dims[j]
    return em.ev(x, Index(em, x.shape, dims=src))


@expr("slice")
def _slice(em, node, ops, idx):
    (x,) = ops
    b = em.b
    starts = node.attrs["start_indices"]
    strides = node.attrs["strides"] or (1,) * x.ndim
    src = []
    for d, s, k in zip(idx.dims(), starts, strides):
        v = d if k == 1 else b.mul(d, i64(k))
        src.append(v if s == 0 else b.add(v, i64(s)))
    return em.ev(x, Index(em, x.shape, dims=src))


@expr("reverse")
def _reverse(em, node, ops, idx):
    (x,) = ops
    rev = set(node.attrs["dimensions"])
    src = [em.b.sub(i64(n - 1), d) if i in rev else d for i, (d, n) in enumerate(zip(idx.dims(), x.shape))]
    return em.ev(x, Index(em, x.shape, dims=src))


@expr("pad")
def _pad(em, node, ops, idx):
    x, pv = ops
    b = em.b
    lo = node.attrs["edge_padding_low"]
    interior = node.attrs["interior_padding"] or (0,) * x.ndim
    padval = em.scalar(pv)
    if x.type.size == 0:
        return padval
    valid = ir.Constant(I1, 1)
    src = []
    for d, n, l, it in zip(idx.dims(), x.shape, lo, interior):
        t = b.sub(d, i64(l))
        ok = b.icmp_signed(">=", t, i64(0))
        if it:
            ok = b.and_(ok, b.icmp_signed("==", b.srem(t, i64(it + 1)), i64(0)))
            t = b.sdiv(t, i64(it + 1))
        ok = b.and_(ok, b.icmp_signed("<", t, i64(n)))
        valid = b.and_(valid, ok)
        src.append(em.index_clamp(t, 0, n - 1))
    val = em.ev(x, Index(em, x.shape, dims=src))
    return b.select(valid, val, padval)


@expr("concatenate")
def _concatenate(em, node, ops, idx):
    b = em.b
    d = node.attrs["dimension"]
    dims = idx.dims()
    pos = dims[d]
    result = None
    off = 0
    for x in ops:
        n = x.shape[d]
        if n == 0:
            continue
        local = em.index_clamp(b.sub(pos, i64(off)), 0, n - 1)
        src = list(dims)
        src[d] = local
        val = em.ev(x, Index(em, x.shape, dims=src))
        if result is None:
            result = val
        else:
            result = b.select(b.icmp_signed(">=", pos, i64(off)), val, result)
        off += n
    return result


@expr("dynamic_slice")
def _dynamic_slice(em, node, ops, idx):
    x, starts = ops[0], ops[1:]
    sizes = node.attrs["slice_sizes"]
    b = em.b
    src = []
    for d, s, n, k in zip(idx.dims(), starts, x.shape, sizes):
        st = em.index_clamp(em.to_i64(em.scalar(s)), 0, n - k)
        src.append(b.add(st, d))
    return em.ev(x, Index(em, x.shape, dims=src))


@expr("gather")
def _gather(em, node, ops, idx):
    x, ind = ops
    axis, bd = node.attrs["axis"], node.attrs["batch_dims"]
    dims = idx.dims()
    nj = ind.ndim - bd
    iidx = dims[:bd] + dims[axis:axis + nj]
    k = em.index_clamp(em.to_i64(em.ev(ind, Index(em, ind.shape, dims=iidx))), 0, x.shape[axis] - 1)
    src = dims[:axis] + [k] + dims[axis + nj:]
    return em.ev(x, Index(em, x.shape, dims=src))


# --- kernels ------------------------------------------------------------------------------

def _identity(kind, dt):
    if kind == "sum" or (kind == "or"):
        return const(dt, 0) if not dt.is_bool else const(dt, False)
    if kind == "prod":
        return const(dt, 1)
    if kind == "and":
        return const(dt, True) if dt.is_bool else const(dt, -1)
    if kind == "max":
        if dt.is_float:
            return const(dt, -math.inf)
        return const(dt, False) if dt.is_bool else const(dt, -(1 << (dt.bits - 1)))
    if kind == "min":
        if dt.is_float:
            return const(dt, math.inf)
        return const(dt, True) if dt.is_bool else const(dt, (1 << (dt.bits - 1)) - 1)
    raise ValueError(kind)


def _combine(em, kind, dt, acc, x, reassoc=False):
    b = em.b
    if kind in ("sum", "prod"):
        if dt.is_float:
            r = b.fadd(acc, x) if kind == "sum" else b.fmul(acc, x)
            if reassoc:
                r.flags.append("reassoc")
            return r
        return b.add(acc, x) if kind == "sum" else b.mul(acc, x)
    if kind in ("and", "or"):
        return b.and_(acc, x) if kind == "and" else b.or_(acc, x)
    if dt.is_bool:
        return b.or_(acc, x) if kind == "max" else b.and_(acc, x)
    if dt.is_float:
        name = "maximum" if kind == "max" else "minimum"
        sfx = "f64" if dt.bits == 64 else "f32"
        fn = em.mb.module.globals.get(f"llvm.{name}.{sfx}")
        if fn is None:
            t = reg_type(dt)
            fn = ir.Function(em.mb.module, ir.FunctionType(t, [t, t]), f"llvm.{name}.{sfx}")
        return b.call(fn, [acc, x])
    op = ">" if kind == "max" else "<"
    return b.select(b.icmp_signed(op, acc, x), acc, x)


def emit_loop_kernel(em: Emitter, roots):
    shape = roots[0].shape
    if math.prod(shape) == 0:
        return
    with em.nest(shape, em.needs_dims(roots), ranged=em.lo is not None) as idx:
        vals = [em.compute(r, idx) for r in roots]
        for r, val in zip(roots, vals):
            em.store_at(r, idx.flat(), val)


def emit_reduce(em: Emitter, kernel):
    node = kernel.node
    (x,) = kernel.operands
    (out,) = kernel.roots
    kind, rdims = node.attrs["kind"], tuple(node.attrs["dimensions"])
    dt = x.dtype
    b = em.b
    if out.type.size == 0:
        return
    m = math.prod(x.shape[d] for d in rdims)
    trailing = rdims == tuple(range(x.ndim - len(rdims), x.ndim))
    if trailing:
        with em.nest(out.shape, need_dims=False) as oidx:
            base = b.mul(oidx.flat(), i64(m)) if out.type.size > 1 else None
            acc = _reduce_range(em, x, kind, dt, base, m)
            em.store_at(out, oidx.flat(), acc)
        return
    # general: out[kept] op= x[...] in x's own order (inner loop over a kept dim vectorizes)
    with em.nest(out.shape, need_dims=False) as oidx:
        em.store_at(out, oidx.flat(), _identity(kind, dt))
    kept = [d for d in range(x.ndim) if d not in rdims]
    ostr = _strides(out.shape)
    with em.nest(x.shape, need_dims=True) as idx:
        dims = idx.dims()
        flat = None
        for d, s in zip(kept, ostr):
            if x.shape[d] == 1:
                continue
            term = b.mul(dims[d], i64(s)) if s != 1 else dims[d]
            flat = term if flat is None else b.add(flat, term)
        flat = flat if flat is not None else i64(0)
        oi = Index(em, out.shape, flat=flat)
        cur = em.load(out, oi)
        em.store_at(out, flat, _combine(em, kind, dt, cur, em.ev(x, idx), reassoc=True))


def _reduce_range(em, x, kind, dt, base, m):
    """Reduce x's flat elements [base, base + m) (base None means 0); returns the value."""
    b = em.b

    def at(j):
        flat = j if base is None else b.add(base, j)
        return em.ev(x, Index(em, x.shape, flat=flat))

    if kind == "sum" and dt.is_float and m > BLOCK:
        # blocked partial sums: each block vectorizes with reassociation, blocks add in float64
        outer = em.alloca(F64, ir.Constant(F64, 0.0))
        nb, rem = divmod(m, BLOCK)
        for count, start in ((nb, 0), (1 if rem else 0, nb * BLOCK)):
            size = BLOCK if start == 0 else rem
            if count == 0:
                continue
            with em.loop(count) as blk:
                acc = em.alloca(reg_type(dt))
                b.store(_identity(kind, dt), acc)
                first = b.add(b.mul(blk, i64(BLOCK)), i64(start))
                with em.loop(size) as j:
                    v = at(b.add(first, j))
                    b.store(_combine(em, kind, dt, b.load(acc), v, reassoc=True), acc)
                part = b.load(acc)
                part = b.fpext(part, F64) if dt.bits == 32 else part
                b.store(b.fadd(b.load(outer), part), outer)
        total = b.load(outer)
        return b.fptrunc(total, F32) if dt.bits == 32 else total
    acc = em.alloca(reg_type(dt))
    b.store(_identity(kind, dt), acc)
    with em.loop(m) as j:
        b.store(_combine(em, kind, dt, b.load(acc), at(j), reassoc=True), acc)
    return b.load(acc)


def emit_arg(em: Emitter, kernel):
    node = kernel.node
    (x,) = kernel.operands
    (out,) = kernel.roots
    d = node.attrs["dimension"]
    is_max = node.op.name == "argmax"
    n = x.shape[d]
    b = em.b
    if out.type.size == 0:
        return
    dt = x.dtype
    with em.nest(out.shape, need_dims=False) as oidx:
        odims = oidx.dims()

        def at(j):
            return em.ev(x, Index(em, x.shape, dims=odims[:d] + [j] + odims[d:]))

        best = em.alloca(reg_type(dt), at(i64(0)))
        bi = em.alloca(I64, i64(0))
        with em.loop(n - 1) as j:
            jj = b.add(j, i64(1))
            v = at(jj)
            cur = b.load(best)
            if dt.is_float:
                better = b.fcmp_ordered(">" if is_max else "<", v, cur)
                vnan = b.fcmp_unordered("uno", v, v)
                curnan = b.fcmp_unordered("uno", cur, cur)
                take = b.and_(b.not_(curnan), b.or_(vnan, better))
            else:
                take = b.icmp_signed(">" if is_max else "<", v, cur)
            b.store(b.select(take, v, cur), best)
            b.store(b.select(take, jj, b.load(bi)), bi)
        r = b.load(bi)
        if out.dtype.bits == 32:
            r = b.trunc(r, I32)
        em.store_at(out, oidx.flat(), r)


def _gemm_layout(node, lhs, rhs):
    a = node.attrs
    lb, rb, lc, rc = a["lhs_batch"], a["rhs_batch"], a["lhs_contracting"], a["rhs_contracting"]
    lf = tuple(i for i in range(lhs.ndim) if i not in lb and i not in lc)
    rf = tuple(i for i in range(rhs.ndim) if i not in rb and i not in rc)
    B = math.prod(lhs.shape[i] for i in lb)
    M = math.prod(lhs.shape[i] for i in lf)
    K = math.prod(lhs.shape[i] for i in lc)
    N = math.prod(rhs.shape[i] for i in rf)
    ta = tuple(range(lhs.ndim)) != lb + lf + lc
    tb = tuple(range(rhs.ndim)) != rb + rc + rf
    return B, M, K, N, ta, tb


def emit_dot(em: Emitter, kernel):
    lhs, rhs = kernel.operands
    (out,) = kernel.roots
    B, M, K, N, ta, tb = _gemm_layout(kernel.node, lhs, rhs)
    b = em.b
    dt = out.dtype
    if B * M * N == 0:
        return
    if K == 0 or not dt.is_float:
        with em.nest(out.shape, need_dims=False) as oidx:
            em.store_at(out, oidx.flat(), const(dt, 0))
        if K == 0:
            return
    if not dt.is_float:
        # integer: i-k-j order so the inner loop runs along contiguous rows and vectorizes
        with em.loop(B) as bb, em.loop(M) as i, em.loop(K) as k:
            abase = b.mul(b.add(b.mul(bb, i64(M)), i), i64(K))
            av = em.load(lhs, Index(em, (B * M * K,), flat=b.add(abase, k)))
            bbase = b.mul(b.add(b.mul(bb, i64(K)), k), i64(N))
            cbase = b.mul(b.add(b.mul(bb, i64(M)), i), i64(N))
            with em.loop(N) as j:
                cflat = b.add(cbase, j)
                cv = em.load(out, Index(em, (B * M * N,), flat=cflat))
                bv = em.load(rhs, Index(em, (B * K * N,), flat=b.add(bbase, j)))
                em.store_at(out, cflat, b.add(cv, b.mul(av, bv)))
        return
    ft = reg_type(dt)
    fnty = ir.FunctionType(VOID, [I32, I32, I32, I64, I64, I64, ft, PTR, I64, PTR, I64, ft, PTR, I64])
    slot = b.gep(em.rt, [i64(0 if dt.bits == 32 else 1)], inbounds=True, source_etype=PTR)
    fp = b.load(slot, typ=ir.PointerType(fnty))
    lda = M if ta else K
    ldb = K if tb else N
    es = dt.itemsize
    # OpenBLAS's own thread pool spin-waits when the cores are shared (measured: 10x slower on
    # a busy 2-core machine), so each GEMM runs on the calling thread; the previous per-thread
    # setting is restored after it, leaving NumPy's own matmuls untouched.
    set_ty = ir.FunctionType(I32, [I32])
    set_fp = b.load(b.gep(em.rt, [i64(2)], inbounds=True, source_etype=PTR), typ=ir.PointerType(set_ty))
    have_set = b.icmp_unsigned("!=", b.ptrtoint(set_fp, I64), i64(0))
    with b.if_then(have_set):
        prev_slot = em.alloca(I32)
        b.store(b.call(set_fp, [ir.Constant(I32, 1)]), prev_slot)
    def call(pa, pb, pc, m, n):
        b.call(fp, [ir.Constant(I32, 101), ir.Constant(I32, 112 if ta else 111), ir.Constant(I32, 112 if tb else 111),
                    i64(m), i64(n), i64(K), ir.Constant(ft, 1.0), pa, i64(lda), pb, i64(ldb),
                    ir.Constant(ft, 0.0), pc, i64(N)])

    pa0, pb0, pc0 = em.ptr[id(lhs)], em.ptr[id(rhs)], em.ptr[id(out)]
    def sequential():
        with em.loop(B) as bb:
            call(b.gep(pa0, [b.mul(bb, i64(M * K * es))], source_etype=I8),
                 b.gep(pb0, [b.mul(bb, i64(K * N * es))], source_etype=I8),
                 b.gep(pc0, [b.mul(bb, i64(M * N * es))], source_etype=I8), M, N)

    def split():
        # two halves on two threads (a pthread for the second): along M, or N when N is larger
        if M >= N:
            h = (M // 2 + 15) // 16 * 16
            second = (_byte_offset(b, pa0, h * es if ta else h * K * es), pb0, _byte_offset(b, pc0, h * N * es), M - h, N)
            first = (pa0, pb0, pc0, h, N)
        else:
            h = (N // 2 + 15) // 16 * 16
            second = (pa0, _byte_offset(b, pb0, h * K * es if tb else h * es), _byte_offset(b, pc0, h * es), M, N - h)
            first = (pa0, pb0, pc0, M, h)
        worker = _gemm_worker(em.mb.module, dt)
        blk = [b.ptrtoint(b.bitcast(fp, PTR), I64), b.ptrtoint(b.bitcast(set_fp, PTR), I64),
               i64(112 if ta else 111), i64(112 if tb else 111), i64(second[3]), i64(second[4]), i64(K),
               b.ptrtoint(second[0], I64), i64(lda), b.ptrtoint(second[1], I64), i64(ldb),
               b.ptrtoint(second[2], I64), i64(N)]
        arr = ir.IRBuilder(em.entry_block).alloca(ir.ArrayType(I64, len(blk)))
        for k, v in enumerate(blk):
            b.store(v, b.gep(arr, [i64(0), i64(k)], inbounds=True))
        argp = b.bitcast(arr, PTR)
        tid = em.alloca(I64)
        rc = b.call(_extern(em.mb.module, "pthread_create", I32, [PTR, PTR, PTR, PTR]),
                    [b.bitcast(tid, PTR), ir.Constant(PTR, None), worker, argp])
        call(*first)
        started = b.icmp_signed("==", rc, ir.Constant(I32, 0))
        with b.if_else(started) as (then, otherwise):
            with then:
                b.call(_extern(em.mb.module, "pthread_join", I32, [I64, PTR]), [b.load(tid), ir.Constant(PTR, None)])
            with otherwise:
                b.call(worker, [argp])

    threads = em.mb.threads
    if B == 1 and threads > 1 and 2 * M * N * K >= PARALLEL_GEMM_FLOPS and max(M, N) >= 64:
        # Split only while the machine is quiet: with the cores busy a second thread only
        # waits for a core (measured 37 -> 50 ms per MLP step at load 8 on 2 cores).
        la = em.alloca(F64)
        got = b.call(_extern(em.mb.module, "getloadavg", I32, [PTR, I32]), [b.bitcast(la, PTR), ir.Constant(I32, 1)])
        quiet = b.and_(b.icmp_signed("==", got, ir.Constant(I32, 1)),
                       b.fcmp_ordered("<", b.load(la), ir.Constant(F64, threads - 0.5)))
        if em.mb.force_split:
            quiet = ir.Constant(I1, 1)
        with b.if_else(quiet) as (then, otherwise):
            with then:
                split()
            with otherwise:
                sequential()
    else:
        sequential()
    with b.if_then(have_set):
        b.call(set_fp, [b.load(prev_slot)])


PARALLEL_GEMM_FLOPS = 1 << 24  # below ~0.2 ms of work a second thread does not pay for itself


def _extern(module, name, ret, args):
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(ret, args), name)
    return fn


def _gemm_worker(module, dt):
    """void* worker(i64 blk[13]): one cblas_?gemm call on the calling (new) thread, with the
    OpenBLAS thread count of that thread set to 1 first. blk: gemm, set_threads, transa,
    transb, M, N, K, A, lda, B, ldb, C, ldc."""
    name = f"chainrule_gemm_worker_{dt.short}"
    fn = module.globals.get(name)
    if fn is not None:
        return fn
    fn = ir.Function(module, ir.FunctionType(PTR, [PTR]), name)
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    (blk,) = fn.args

    def slot(k):
        return b.load(b.gep(blk, [i64(k)], inbounds=True, source_etype=I64), typ=I64)

    ft = reg_type(dt)
    fnty = ir.FunctionType(VOID, [I32, I32, I32, I64, I64, I64, ft, PTR, I64, PTR, I64, ft, PTR, I64])
    set_ty = ir.FunctionType(I32, [I32])
    setp = slot(1)
    with b.if_then(b.icmp_unsigned("!=", setp, i64(0))):
        b.call(b.inttoptr(setp, ir.PointerType(set_ty)), [ir.Constant(I32, 1)])
    gemm = b.inttoptr(slot(0), ir.PointerType(fnty))
    b.call(gemm, [ir.Constant(I32, 101), b.trunc(slot(2), I32), b.trunc(slot(3), I32), slot(4), slot(5), slot(6),
                  ir.Constant(ft, 1.0), b.inttoptr(slot(7), PTR), slot(8), b.inttoptr(slot(9), PTR), slot(10),
                  ir.Constant(ft, 0.0), b.inttoptr(slot(11), PTR), slot(12)])
    b.ret(ir.Constant(PTR, None))
    return fn


def emit_scatter(em: Emitter, kernel):
    node = kernel.node
    x, ind, upd = kernel.operands
    (out,) = kernel.roots
    axis, bd, kind = node.attrs["axis"], node.attrs["batch_dims"], node.attrs["kind"]
    b = em.b
    _copy(em, x, out)
    if upd.type.size == 0:
        return
    nj = ind.ndim - bd
    n = x.shape[axis]
    with em.nest(upd.shape, need_dims=True) as uidx:
        dims = uidx.dims()
        k = em.index_clamp(em.to_i64(em.ev(ind, Index(em, ind.shape, dims=dims[:bd] + dims[axis:axis + nj]))), 0, n - 1)
        tgt = Index(em, x.shape, dims=dims[:axis] + [k] + dims[axis + nj:])
        u = em.ev(upd, uidx)
        flat = tgt.flat()
        if kind == "add":
            cur = em.load(out, tgt)
            u = (b.or_(cur, u) if x.dtype.is_bool else
                 b.fadd(cur, u) if x.dtype.is_float else b.add(cur, u))
        em.store_at(out, flat, u)


def _copy(em, x, out):
    if out.type.size == 0:
        return
    with em.nest(out.shape, em.needs_dims([x])) as idx:
        em.store_at(out, idx.flat(), em.ev(x, idx))


def emit_dus(em: Emitter, kernel):
    x, u, starts = kernel.operands[0], kernel.operands[1], kernel.operands[2:]
    (out,) = kernel.roots
    b = em.b
    _copy(em, x, out)
    if u.type.size == 0:
        return
    st = [em.index_clamp(em.to_i64(em.scalar(s)), 0, n - k) for s, n, k in zip(starts, x.shape, u.shape)]
    with em.nest(u.shape, need_dims=True) as uidx:
        dims = [b.add(s, d) for s, d in zip(st, uidx.dims())]
        val = em.ev(u, uidx)
        em.store_at(out, Index(em, x.shape, dims=dims).flat(), val)


def memcpy_fn(module):
    fn = module.globals.get("llvm.memcpy.p0.p0.i64")
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(VOID, [PTR, PTR, I64, I1]), "llvm.memcpy.p0.p0.i64")
    return fn


def _byte_offset(b, p, off):
    return p if off == 0 else b.gep(p, [off if isinstance(off, ir.Value) else i64(off)], source_etype=I8)


def _layout(types):
    """Offsets of 64-byte aligned slots for `types`, and their total size."""
    offs, top = [], 0
    for t in types:
        offs.append(top)
        top += pad(t.nbytes)
    return offs, top


def _region_calls(em, kernel):
    return [em.mb.sub_entry(p, f"{em.tag}_r{i}") for i, p in enumerate(kernel.subplans)]


def emit_cond(em: Emitter, kernel):
    """cond/case: load the selector, call the chosen branch's entry on the operand buffers."""
    b = em.b
    node = kernel.node
    sel, rest = kernel.operands[0], kernel.operands[1:]
    fns = _region_calls(em, kernel)
    argv = em.ptr_array([em.ptr[id(v)] for v in rest])
    resv = em.ptr_array([em.ptr[id(r)] for r in node.results])
    sub = _byte_offset(b, em.scratch, ALIGN)
    x = em.load(sel, Index(em, ()))
    if node.op.name == "cond":
        with b.if_else(x) as (then, otherwise):
            with then:
                b.call(fns[0], [argv, resv, sub, em.rt])
            with otherwise:
                b.call(fns[1], [argv, resv, sub, em.rt])
        return
    n = len(fns)
    done = em.fn.append_basic_block("case_done")
    blocks = [em.fn.append_basic_block(f"case{k}") for k in range(n)]
    sw = b.switch(x, blocks[-1])
    for k in range(n - 1):
        sw.add_case(ir.Constant(x.type, k), blocks[k])
    for k, blk in enumerate(blocks):
        b.position_at_end(blk)
        b.call(fns[k], [argv, resv, sub, em.rt])
        b.branch(done)
    b.position_at_end(done)


def _carry_slots(em, types):
    """Two copies (A, B) of the loop carry in the kernel's scratch, and where the rest starts."""
    offs, size = _layout(types)
    a = [_byte_offset(em.b, em.scratch, o) for o in offs]
    bb = [_byte_offset(em.b, em.scratch, size + o) for o in offs]
    return a, bb, 2 * size


def emit_while(em: Emitter, kernel):
    b = em.b
    node = kernel.node
    types = [v.type for v in kernel.operands]
    cond_fn, body_fn = _region_calls(em, kernel)
    A, B, used = _carry_slots(em, types)
    pred = _byte_offset(b, em.scratch, used)
    sub = _byte_offset(b, em.scratch, used + ALIGN)
    for dst, v in zip(A, kernel.operands):
        em.memcpy(dst, em.ptr[id(v)], v.type.nbytes)
    tabA, tabB = em.ptr_array(A), em.ptr_array(B)
    predv = em.ptr_array([pred])
    phase = em.alloca(I1, ir.Constant(I1, 0))  # 0: the carry is in A
    head = em.fn.append_basic_block("while_cond")
    body = em.fn.append_basic_block("while_body")
    done = em.fn.append_basic_block("while_done")
    b.branch(head)
    b.position_at_end(head)
    ph = b.load(phase)
    cur = b.select(ph, tabB, tabA)
    b.call(cond_fn, [cur, predv, sub, em.rt])
    go = b.icmp_unsigned("!=", b.load(pred, typ=I8), ir.Constant(I8, 0))
    b.cbranch(go, body, done)
    b.position_at_end(body)
    b.call(body_fn, [cur, b.select(ph, tabA, tabB), sub, em.rt])
    b.store(b.not_(ph), phase)
    b.branch(head)
    b.position_at_end(done)
    ph = b.load(phase)
    for r, a_, b_ in zip(node.results, A, B):
        em.memcpy(em.ptr[id(r)], b.select(ph, b_, a_), r.type.nbytes)


def emit_scan(em: Emitter, kernel):
    b = em.b
    node = kernel.node
    nc, nk, length = node.attrs["num_consts"], node.attrs["num_carry"], node.attrs["length"]
    ops = kernel.operands
    consts, init, xs = ops[:nc], ops[nc:nc + nk], ops[nc + nk:]
    (body_fn,) = _region_calls(em, kernel)
    A, B, used = _carry_slots(em, [v.type for v in init])
    sub = _byte_offset(b, em.scratch, used + ALIGN)
    for dst, v in zip(A, init):
        em.memcpy(dst, em.ptr[id(v)], v.type.nbytes)
    carry_out, ys = node.results[:nk], node.results[nk:]
    phase = em.alloca(I1, ir.Constant(I1, 0))
    with em.loop(length) as step:
        i = b.sub(i64(length - 1), step) if node.attrs["reverse"] else step
        ph = b.load(phase)
        cur = [b.select(ph, y_, x_) for x_, y_ in zip(A, B)]
        nxt = [b.select(ph, x_, y_) for x_, y_ in zip(A, B)]
        xsl = [_byte_offset(b, em.ptr[id(x)], b.mul(i, i64(x.type.nbytes // max(length, 1)))) for x in xs]
        ysl = [_byte_offset(b, em.ptr[id(y)], b.mul(i, i64(y.type.nbytes // max(length, 1)))) for y in ys]
        argv = em.ptr_array([em.ptr[id(c)] for c in consts] + cur + xsl)
        resv = em.ptr_array(nxt + ysl)
        b.call(body_fn, [argv, resv, sub, em.rt])
        b.store(b.not_(ph), phase)
    ph = b.load(phase)
    for r, a_, b_ in zip(carry_out, A, B):
        em.memcpy(em.ptr[id(r)], b.select(ph, b_, a_), r.type.nbytes)


KERNELS = {"loop": lambda em, k: emit_loop_kernel(em, k.roots), "reduce": emit_reduce, "argmax": emit_arg,
           "argmin": emit_arg, "dot_general": emit_dot, "scatter": emit_scatter,
           "dynamic_update_slice": emit_dus, "cond": emit_cond, "case": emit_cond, "while": emit_while,
           "scan": emit_scan}


class ModuleBuilder:
    """The whole graph as one LLVM module with the entry point ENTRY.

    Regions of control-flow nodes become internal functions of the same module with the
    entry's signature (`sub_entry`); their results table lists every result, and results
    that are parameters, constants or duplicates are copied in natively."""

    def __init__(self, plan: Plan, name: str = "chainrule", module=None, prefix: str = "", threads: int = 1,
                 force_split: bool = False):
        self.plan = plan
        self.prefix = prefix
        self.threads = threads
        self.force_split = force_split  # tests: split large GEMMs whatever the load
        self.module = module if module is not None else ir.Module(name=name)
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
                            force_split=self.force_split)
        return sub.entry_function(f"{self.prefix}{tag}_entry", full_results=True)

    def entry_function(self, fname: str, full_results: bool = False):
        plan = self.plan
        entry = ir.Function(self.module, ir.FunctionType(VOID, [PTR, PTR, PTR, PTR]), fname)
        if full_results:
            entry.linkage = "internal"
        args, results, arena, rt = entry.args
        b = ir.IRBuilder(entry.append_basic_block("entry"))
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
        quiet = self._quiet_flag(b) if any(extents) else None
        for n, ker in enumerate(plan.kernels):
            buffers = list(ker.roots) + [v for v in ker.reads if all(v is not r for r in ker.roots)]
            want_rt = ker.kind == "dot_general" or ker.kind in CONTROL_FLOW_OPS
            want_scratch = ker.kind in CONTROL_FLOW_OPS
            em = Emitter(self, f"{self.prefix}k{n}_{ker.kind}", buffers, want_rt, want_scratch,
                         ranged=bool(extents[n]))
            KERNELS[ker.kind](em, ker)
            em.finish()
            call_args = [pointer(id(v)) for v in buffers] + ([rt] if want_rt else []) + (
                [pointer(id(ker))] if want_scratch else [])
            if extents[n]:
                self._split_call(b, em.fn, call_args, extents[n], quiet)
            else:
                b.call(em.fn, call_args)
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
                    b.call(memcpy_fn(self.module), [slot(results, j), src, i64(t.nbytes), ir.Constant(I1, 0)])
        b.ret_void()
        return entry

    def _quiet_flag(self, b):
        """i1: split work over two threads now? (a core is free by the 1-minute load average)"""
        if self.force_split:
            return ir.Constant(I1, 1)
        la = b.alloca(F64)
        got = b.call(_extern(self.module, "getloadavg", I32, [PTR, I32]), [b.bitcast(la, PTR), ir.Constant(I32, 1)])
        return b.and_(b.icmp_signed("==", got, ir.Constant(I32, 1)),
                      b.fcmp_ordered("<", b.load(la), ir.Constant(F64, self.threads - 0.5)))

    def _split_call(self, b, fn, args, extent, quiet):
        """fn(args, 0, extent), as two halves on two threads when `quiet`, else on this one."""
        mid = extent // 2
        tramp = self._trampoline(fn, len(args))
        with b.if_else(quiet) as (then, otherwise):
            with then:
                slots = [b.ptrtoint(a, I64) if isinstance(a.type, ir.PointerType) else a for a in args]
                slots += [i64(mid), i64(extent)]
                arr = b.alloca(ir.ArrayType(I64, len(slots)))
                for k, v in enumerate(slots):
                    b.store(v, b.gep(arr, [i64(0), i64(k)], inbounds=True))
                argp = b.bitcast(arr, PTR)
                tid = b.alloca(I64)
                rc = b.call(_extern(self.module, "pthread_create", I32, [PTR, PTR, PTR, PTR]),
                            [b.bitcast(tid, PTR), ir.Constant(PTR, None), tramp, argp])
                b.call(fn, list(args) + [i64(0), i64(mid)])
                with b.if_else(b.icmp_signed("==", rc, ir.Constant(I32, 0))) as (joined, inline):
                    with joined:
                        b.call(_extern(self.module, "pthread_join", I32, [I64, PTR]), [b.load(tid), ir.Constant(PTR, None)])
                    with inline:
                        b.call(tramp, [argp])
            with otherwise:
                b.call(fn, list(args) + [i64(0), i64(extent)])

    def _trampoline(self, fn, nptr):
        """void* tramp(i64 slots[nptr + 2]): fn(ptr slots[0..nptr), slots[nptr], slots[nptr + 1])."""
        t = ir.Function(self.module, ir.FunctionType(PTR, [PTR]), fn.name + "_thread")
        t.linkage = "internal"
        tb = ir.IRBuilder(t.append_basic_block("entry"))
        (blk,) = t.args
        vals = [tb.load(tb.gep(blk, [i64(k)], inbounds=True, source_etype=I64), typ=I64) for k in range(nptr + 2)]
        tb.call(fn, [tb.inttoptr(v, PTR) for v in vals[:nptr]] + vals[nptr:])
        tb.ret(ir.Constant(PTR, None))
        return t

    def build(self) -> str:
        entry = self.entry_function(ENTRY)
        self._object_entry(entry)
        return self._fill_blobs(str(self.module))

    def _object_entry(self, entry):
        """ENTRY_OBJECTS(state): state = {argobjs, resobjs, arena, rt}, like ENTRY's arguments but
        holding the addresses of the NumPy array objects (Python's id()); each data pointer is read
        at DATA_OFFSET. One pointer argument and id() calls keep the per-call Python work small;
        runtime.py checks the offset before using this entry."""
        plan = self.plan
        nargs = len(plan.graph.params)
        nres = sum(1 for r in plan.results if r[0] == "native")
        fn = ir.Function(self.module, ir.FunctionType(VOID, [PTR]), ENTRY_OBJECTS)
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
        b.call(entry, [b.bitcast(tables[0], PTR), b.bitcast(tables[1], PTR), arena, rt])
        b.ret_void()


def build_module(plan: Plan, name: str = "chainrule", threads: int = 1, force_split: bool = False) -> str:
    return ModuleBuilder(plan, name, threads=threads, force_split=force_split).build()


__all__ = ["ENTRY", "RUNTIME_SLOTS", "build_module", "ModuleBuilder", "Index", "Emitter", "F64"]
