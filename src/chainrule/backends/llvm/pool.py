"""Parallel regions: `pool_run(state, fn, ctx, n, maxh)` runs fn(ctx, 0..n-1) on this thread and up
to maxh helpers.

Emitted into each module as small internal functions; all state lives in the
process-wide block of backends/threadpool.py (runtime table slot "pool2"), so
every module shares the same helper threads, started lazily by the regions
that want them (helper k when a region first wants k+1). A NULL state, a busy
pool (another thread is in a region) or a forked child run the chunks
sequentially; a failed pthread_create leaves the helpers started so far (none:
sequential) and no more are tried.

Protocol (no lock on the hot path): the two-party protocol below, once per
helper, each in its own slot of the block. The caller takes `busy` by CAS,
writes the job once (fn, ctx, n, next = 0) and publishes ticket_k = 2g+1
(odd: open) for helpers k < h = min(maxh, n - 1, helpers started). Helper k
JOINS by CAS 2g+1 -> 2g+2 on its own ticket and only then reads the job; all
take chunks with an atomic add on `next`. When the chunks are gone the caller
REVOKES each ticket by CAS 2g+1 -> 2g+2: success means that helper never
joined (nothing to wait for: under oversubscription the caller just does its
work); failure means it joined, and the caller waits for its done == g. An
idle helper spins briefly, then sleeps on its slot's mutex and condition
variable; `sleeping` and `ticket` are stored and loaded seq_cst on both sides,
so either the caller sees the helper asleep and signals it, or the helper sees
the open ticket and does not sleep.

Placement: a futex wake-up or a busy moment can leave the helper on the
caller's CPU, where it only takes turns with the caller (measured: a whole
run at single-thread speed), and the scheduler keeps both "cache hot" there.
So the caller publishes its CPU, and a helper that joins on that CPU sets
its own affinity to the CPUs it started with minus that one (helpers only
avoid the caller's CPU, not each other's: the scheduler spreads those).
"""

from __future__ import annotations

import llvmlite.ir as ir

from ..threadpool import (BUSY, CALLER_CPU, COND, CTX, DONE, FAILED, FN, GEN, HELPER0, HELPER_BYTES, HELPERS, JOINED,
                          MAX_HELPERS, MUTEX, NCHUNKS, NEXT, PID, SLEEPING, STATE, TICKET)
from .emitter import extern, memcpy_fn
from .target import host
from .lltypes import I1, I8, I32, I64, PTR, VOID, i64

POOL_RUN = "chainrule_pool_run"
POOL_SLOT = 3  # index of threadpool.POOL_SLOT_NAME in codegen.RUNTIME_SLOTS
CHUNK_TYPE = ir.FunctionType(VOID, [PTR, I64])  # fn(ctx, chunk)
HELPER_SPINS = 1500   # idle helper polls ~60 us (one pause ~40 ns on Zen 4) before it sleeps
CPU_SET_BYTES = 128  # glibc's cpu_set_t: CPUs 0..1023
WAIT_SPINS = 2000     # caller spins ~80 us for the helper's last chunk, then yields


def _small(fn):
    """Marks pool code: never inlined, optimised for size (no vectorizing: compile time stays small)."""
    fn.linkage = "internal"
    for a in ("noinline", "nounwind", "optnone"):
        fn.attributes.add(a)


def field_ptr(b, state, off, ty):
    """Pointer to the field at byte `off` of the state block, typed (llvmlite's atomics want a pointee)."""
    p = b.gep(state, [i64(off)], inbounds=True, source_etype=I8)
    return b.inttoptr(b.ptrtoint(p, I64), ir.PointerType(ty))


def _pause(b, module):
    """The CPU's spin-wait hint (x86 pause), or nothing where there is none we know."""
    if host()["triple"].startswith(("x86_64", "i686", "i386")):
        b.call(extern(module, "llvm.x86.sse2.pause", VOID, []), [])


def _loop_counter(b, fn, name):
    """(header block, phi i64 starting at 0) for a hand-built loop; caller adds the back edge."""
    pre = b.block
    head = fn.append_basic_block(name)
    b.branch(head)
    b.position_at_end(head)
    phi = b.phi(I64)
    phi.add_incoming(i64(0), pre)
    return head, phi


def _take_chunks(b, fn, state, job_fn, job_ctx, n, name):
    """while (c = next++) < n: job_fn(job_ctx, c)"""
    head = fn.append_basic_block(name)
    body = fn.append_basic_block(name + ".body")
    out = fn.append_basic_block(name + ".out")
    b.branch(head)
    b.position_at_end(head)
    c = b.atomic_rmw("add", field_ptr(b, state, NEXT, I64), i64(1), "monotonic")
    b.cbranch(b.icmp_unsigned("<", c, n), body, out)
    b.position_at_end(body)
    b.call(b.inttoptr(b.ptrtoint(job_fn, I64), ir.PointerType(CHUNK_TYPE)), [job_ctx, c])
    b.branch(head)
    b.position_at_end(out)


def _slot(b, state, k):
    """Helper k's slot in the state block (k an i64 value)."""
    return b.gep(state, [b.add(i64(HELPER0), b.mul(k, i64(HELPER_BYTES)))], inbounds=True, source_etype=I8)


def _for_range(b, fn, n, name, body):
    """for k in 0..n-1: body(k) (body may add blocks)."""
    head, k = _loop_counter(b, fn, name)
    body_bb, out = fn.append_basic_block(name + ".body"), fn.append_basic_block(name + ".out")
    b.cbranch(b.icmp_signed("<", k, n), body_bb, out)
    b.position_at_end(body_bb)
    body(k)
    k.add_incoming(b.add(k, i64(1)), b.block)
    b.branch(head)
    b.position_at_end(out)


def _umin(b, x, y):
    return b.select(b.icmp_signed("<", x, y), x, y)


def _helper(module):
    """void* helper(slot): helper k's loop (never returns); its argument is its slot in the block."""
    name = "chainrule_pool_helper"
    fn = module.globals.get(name)
    if fn is not None:
        return fn
    fn = ir.Function(module, ir.FunctionType(PTR, [PTR]), name)
    _small(fn)
    (slot,) = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    state = b.load(field_ptr(b, slot, STATE, PTR), typ=PTR)
    mask_ty = ir.ArrayType(I8, CPU_SET_BYTES)
    orig, other = b.alloca(mask_ty), b.alloca(mask_ty)
    b.call(extern(module, "llvm.memset.p0.i64", VOID, [PTR, I8, I64, I1]),
           [orig, ir.Constant(I8, 0), i64(CPU_SET_BYTES), ir.Constant(I1, 0)])
    affinity = b.call(extern(module, "sched_getaffinity", I32, [I32, I64, PTR]), [ir.Constant(I32, 0),
                                                                                 i64(CPU_SET_BYTES), orig])
    have_mask = b.icmp_signed("==", affinity, ir.Constant(I32, 0))
    top = fn.append_basic_block("top")
    b.branch(top)
    b.position_at_end(top)
    spins = b.phi(I64)
    spins.add_incoming(i64(0), fn.entry_basic_block)
    ticket = field_ptr(b, slot, TICKET, I64)
    t = b.load_atomic(ticket, "acquire", 8, typ=I64)
    odd = b.trunc(t, I1)
    join_bb, idle_bb = fn.append_basic_block("try_join"), fn.append_basic_block("idle")
    b.cbranch(odd, join_bb, idle_bb)

    b.position_at_end(join_bb)
    res = b.cmpxchg(ticket, t, b.add(t, i64(1)), "acquire", "monotonic")
    work_bb = fn.append_basic_block("work")
    from_join = b.block
    b.cbranch(b.extract_value(res, 1), work_bb, top)
    spins.add_incoming(i64(0), from_join)

    b.position_at_end(work_bb)
    job_fn = b.load(field_ptr(b, state, FN, PTR), typ=PTR)
    job_ctx = b.load(field_ptr(b, state, CTX, PTR), typ=PTR)
    n = b.load(field_ptr(b, state, NCHUNKS, I64), typ=I64)
    b.atomic_rmw("add", field_ptr(b, slot, JOINED, I64), i64(1), "monotonic")
    cpu = b.call(extern(module, "sched_getcpu", I32, []), [])
    caller = b.load(field_ptr(b, state, CALLER_CPU, I32), typ=I32)
    same = b.and_(b.icmp_signed("==", cpu, caller), b.icmp_unsigned("<", cpu, ir.Constant(I32, 8 * CPU_SET_BYTES)))
    with b.if_then(b.and_(same, have_mask), likely=False):
        b.call(memcpy_fn(module), [other, orig, i64(CPU_SET_BYTES), ir.Constant(I1, 0)])
        byte = b.gep(other, [i64(0), b.zext(b.lshr(cpu, ir.Constant(I32, 3)), I64)], inbounds=True)
        bit = b.trunc(b.shl(ir.Constant(I32, 1), b.and_(cpu, ir.Constant(I32, 7))), I8)
        b.store(b.and_(b.load(byte, typ=I8), b.not_(bit)), byte)
        b.call(extern(module, "sched_setaffinity", I32, [I32, I64, PTR]), [ir.Constant(I32, 0),
                                                                          i64(CPU_SET_BYTES), other])
    _take_chunks(b, fn, state, job_fn, job_ctx, n, "chunks")
    b.store_atomic(b.lshr(t, i64(1)), field_ptr(b, slot, DONE, I64), "release", 8)
    spins.add_incoming(i64(0), b.block)
    b.branch(top)

    b.position_at_end(idle_bb)
    spin_bb, sleep_bb = fn.append_basic_block("spin"), fn.append_basic_block("sleep")
    b.cbranch(b.icmp_unsigned("<", spins, i64(HELPER_SPINS)), spin_bb, sleep_bb)
    b.position_at_end(spin_bb)
    _pause(b, module)
    spins.add_incoming(b.add(spins, i64(1)), spin_bb)
    b.branch(top)

    b.position_at_end(sleep_bb)
    mutex, cond = field_ptr(b, slot, MUTEX, I8), field_ptr(b, slot, COND, I8)
    sleeping = field_ptr(b, slot, SLEEPING, I32)
    b.call(extern(module, "pthread_mutex_lock", I32, [PTR]), [mutex])
    b.store_atomic(ir.Constant(I32, 1), sleeping, "seq_cst", 4)
    t2 = b.load_atomic(ticket, "seq_cst", 8, typ=I64)
    with b.if_then(b.not_(b.trunc(t2, I1))):
        b.call(extern(module, "pthread_cond_wait", I32, [PTR, PTR]), [cond, mutex])
    b.store_atomic(ir.Constant(I32, 0), sleeping, "seq_cst", 4)
    b.call(extern(module, "pthread_mutex_unlock", I32, [PTR]), [mutex])
    spins.add_incoming(i64(0), b.block)
    b.branch(top)
    return fn


def _wait_done(b, fn, slot, g):
    """Spin (then yield) until the helper of `slot` stores done == g."""
    module = fn.module
    pre = b.block
    wait_bb = fn.append_basic_block("wait")
    b.branch(wait_bb)
    b.position_at_end(wait_bb)
    k = b.phi(I64)
    k.add_incoming(i64(0), pre)
    finished = b.icmp_unsigned("==", b.load_atomic(field_ptr(b, slot, DONE, I64), "acquire", 8, typ=I64), g)
    more_bb, out_bb = fn.append_basic_block("wait_more"), fn.append_basic_block("wait_out")
    b.cbranch(finished, out_bb, more_bb)
    b.position_at_end(more_bb)
    spin_bb, yield_bb, next_bb = (fn.append_basic_block(s) for s in ("wait_spin", "wait_yield", "wait_next"))
    b.cbranch(b.icmp_unsigned("<", k, i64(WAIT_SPINS)), spin_bb, yield_bb)
    b.position_at_end(spin_bb)
    _pause(b, module)
    b.branch(next_bb)
    b.position_at_end(yield_bb)
    b.call(extern(module, "sched_yield", I32, []), [])
    b.branch(next_bb)
    b.position_at_end(next_bb)
    k.add_incoming(b.add(k, i64(1)), next_bb)
    b.branch(wait_bb)
    b.position_at_end(out_bb)


def pool_run(module):
    """void pool_run(ptr state, ptr fn, ptr ctx, i64 n, i64 maxh): fn(ctx, c) for every c < n, in any
    order, on this thread and up to maxh helper threads (the module's threads - 1); returns when
    all are done."""
    fn = module.globals.get(POOL_RUN)
    if fn is not None:
        return fn
    fn = ir.Function(module, ir.FunctionType(VOID, [PTR, PTR, PTR, I64, I64]), POOL_RUN)
    _small(fn)
    state, job_fn, job_ctx, n, maxh = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    tid = b.alloca(I64)
    seq = fn.append_basic_block("sequential")
    i32 = lambda v: ir.Constant(I32, v)  # noqa: E731

    def bail_if(cond, to=seq):
        go = fn.append_basic_block("go")
        b.cbranch(cond, to, go)
        b.position_at_end(go)

    bail_if(b.or_(b.or_(b.icmp_unsigned("==", b.ptrtoint(state, I64), i64(0)), b.icmp_signed("<=", n, i64(1))),
                  b.icmp_signed("<", maxh, i64(1))))
    busy = field_ptr(b, state, BUSY, I32)
    got = b.cmpxchg(busy, i32(0), i32(1), "acquire", "monotonic")
    bail_if(b.not_(b.extract_value(got, 1)))

    # busy held: helpers started by another process (we are a forked child) are not ours
    release_seq = fn.append_basic_block("release_sequential")
    getpid = extern(module, "getpid", I32, [])
    helpers_p, failed_p, pid_p = (field_ptr(b, state, off, I32) for off in (HELPERS, FAILED, PID))
    have = b.zext(b.load(helpers_p, typ=I32), I64)
    bail_if(b.and_(b.icmp_signed(">", have, i64(0)),
                   b.icmp_signed("!=", b.load(pid_p, typ=I32), b.call(getpid, []))), release_seq)

    # start helpers up to want = min(maxh, n - 1, MAX_HELPERS) unless a start failed before
    want = _umin(b, _umin(b, maxh, b.sub(n, i64(1))), i64(MAX_HELPERS))
    pre = b.block
    start_head = fn.append_basic_block("start")
    b.branch(start_head)
    b.position_at_end(start_head)
    k = b.phi(I64)
    k.add_incoming(have, pre)
    start_body, start_out = fn.append_basic_block("start_one"), fn.append_basic_block("started")
    b.cbranch(b.and_(b.icmp_signed("<", k, want), b.icmp_unsigned("==", b.load(failed_p, typ=I32), i32(0))),
              start_body, start_out)
    b.position_at_end(start_body)
    slot = _slot(b, state, k)
    b.store(state, field_ptr(b, slot, STATE, PTR))
    rc = b.call(extern(module, "pthread_create", I32, [PTR, PTR, PTR, PTR]),
                [tid, ir.Constant(PTR, None), _helper(module), slot])
    ok_bb, fail_bb = fn.append_basic_block("start_ok"), fn.append_basic_block("start_failed")
    b.cbranch(b.icmp_signed("==", rc, i32(0)), ok_bb, fail_bb)
    b.position_at_end(ok_bb)
    b.call(extern(module, "pthread_detach", I32, [I64]), [b.load(tid, typ=I64)])
    b.store(b.call(getpid, []), pid_p)
    b.store(b.trunc(b.add(k, i64(1)), I32), helpers_p)
    k.add_incoming(b.add(k, i64(1)), ok_bb)
    b.branch(start_head)
    b.position_at_end(fail_bb)
    b.store(i32(1), failed_p)
    b.branch(start_out)

    b.position_at_end(start_out)
    h = _umin(b, want, b.zext(b.load(helpers_p, typ=I32), I64))
    bail_if(b.icmp_signed("<", h, i64(1)), release_seq)
    ready = b.block

    b.position_at_end(release_seq)
    b.store_atomic(i32(0), busy, "release", 4)
    b.branch(seq)

    # publish the job, open each helper's ticket (waking it if it sleeps), take chunks, revoke or wait
    b.position_at_end(ready)
    gen_p = field_ptr(b, state, GEN, I64)
    g = b.add(b.load(gen_p, typ=I64), i64(1))
    b.store(g, gen_p)
    b.store(job_fn, field_ptr(b, state, FN, PTR))
    b.store(job_ctx, field_ptr(b, state, CTX, PTR))
    b.store(n, field_ptr(b, state, NCHUNKS, I64))
    b.store(b.call(extern(module, "sched_getcpu", I32, []), []), field_ptr(b, state, CALLER_CPU, I32))
    b.store_atomic(i64(0), field_ptr(b, state, NEXT, I64), "monotonic", 8)
    open_t = b.add(b.shl(g, i64(1)), i64(1))

    def open_ticket(j):
        s = _slot(b, state, j)
        b.store_atomic(open_t, field_ptr(b, s, TICKET, I64), "seq_cst", 8)
        asleep = b.load_atomic(field_ptr(b, s, SLEEPING, I32), "seq_cst", 4, typ=I32)
        with b.if_then(b.icmp_unsigned("!=", asleep, i32(0))):
            mutex, cond = field_ptr(b, s, MUTEX, I8), field_ptr(b, s, COND, I8)
            b.call(extern(module, "pthread_mutex_lock", I32, [PTR]), [mutex])
            b.call(extern(module, "pthread_cond_signal", I32, [PTR]), [cond])
            b.call(extern(module, "pthread_mutex_unlock", I32, [PTR]), [mutex])

    def revoke_or_wait(j):
        s = _slot(b, state, j)
        res = b.cmpxchg(field_ptr(b, s, TICKET, I64), open_t, b.add(open_t, i64(1)), "seq_cst", "seq_cst")
        with b.if_then(b.not_(b.extract_value(res, 1))):
            _wait_done(b, fn, s, g)

    _for_range(b, fn, h, "open", open_ticket)
    _take_chunks(b, fn, state, job_fn, job_ctx, n, "chunks")
    _for_range(b, fn, h, "revoke", revoke_or_wait)
    b.store_atomic(i32(0), busy, "release", 4)
    b.ret_void()

    b.position_at_end(seq)
    head, c = _loop_counter(b, fn, "seq_loop")
    body, out = fn.append_basic_block("seq_body"), fn.append_basic_block("seq_out")
    b.cbranch(b.icmp_signed("<", c, n), body, out)
    b.position_at_end(body)
    b.call(b.inttoptr(b.ptrtoint(job_fn, I64), ir.PointerType(CHUNK_TYPE)), [job_ctx, c])
    c.add_incoming(b.add(c, i64(1)), body)
    b.branch(head)
    b.position_at_end(out)
    b.ret_void()
    return fn

def pool_state(b, rt):
    """The pool state pointer from runtime table `rt` (NULL: run regions sequentially)."""
    return b.load(b.gep(rt, [i64(POOL_SLOT)], inbounds=True, source_etype=PTR), typ=PTR)
