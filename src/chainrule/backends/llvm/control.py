"""Control flow: cond/case/while/scan kernels calling their regions' entry functions.

Each region is compiled as an internal function with the entry's signature
(ModuleBuilder.sub_entry). Loops keep two copies of the carry in the kernel's
arena scratch and swap them each iteration, so a body never reads the buffer
it writes; a scan carry that the body also stacks as an output lives in that
output's slices instead (`_stacked_carries`).

Control-flow kernels and region entries return a status (0 done, 1 interrupted):
each iteration of a while or scan loop polls the interrupt flag
(backends/interrupt.py) once, and a set flag or an interrupted region ends the
kernel at once, passing the status up to the entry point.
"""

from __future__ import annotations

import llvmlite.ir as ir

from .emitter import Emitter, Index, byte_offset
from .lltypes import I1, I8, I32, i64
from .plan import ALIGN, pad


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
    sub = byte_offset(b, em.scratch, ALIGN)
    x = em.load(sel, Index(em, ()))
    if node.op.name == "cond":
        with b.if_else(x) as (then, otherwise):
            with then:
                st1 = b.call(fns[0], [argv, resv, sub, em.rt])
                then_end = b.block
            with otherwise:
                st0 = b.call(fns[1], [argv, resv, sub, em.rt])
                else_end = b.block
        st = b.phi(I32)
        st.add_incoming(st1, then_end)
        st.add_incoming(st0, else_end)
        em.bail_on_status(st)
        return
    n = len(fns)
    done = em.fn.append_basic_block("case_done")
    blocks = [em.fn.append_basic_block(f"case{k}") for k in range(n)]
    sw = b.switch(x, blocks[-1])
    for k in range(n - 1):
        sw.add_case(ir.Constant(x.type, k), blocks[k])
    sts = []
    for k, blk in enumerate(blocks):
        b.position_at_end(blk)
        sts.append((b.call(fns[k], [argv, resv, sub, em.rt]), b.block))
        b.branch(done)
    b.position_at_end(done)
    st = b.phi(I32)
    for v, blk in sts:
        st.add_incoming(v, blk)
    em.bail_on_status(st)


def _carry_slots(em, types):
    """Two copies (A, B) of the loop carry in the kernel's scratch, and where the rest starts."""
    offs, size = _layout(types)
    a = [byte_offset(em.b, em.scratch, o) for o in offs]
    bb = [byte_offset(em.b, em.scratch, size + o) for o in offs]
    return a, bb, 2 * size


def emit_while(em: Emitter, kernel):
    b = em.b
    node = kernel.node
    types = [v.type for v in kernel.operands]
    cond_fn, body_fn = _region_calls(em, kernel)
    A, B, used = _carry_slots(em, types)
    pred = byte_offset(b, em.scratch, used)
    sub = byte_offset(b, em.scratch, used + ALIGN)
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
    em.poll_interrupt()
    ph = b.load(phase)
    cur = b.select(ph, tabB, tabA)
    em.bail_on_status(b.call(cond_fn, [cur, predv, sub, em.rt]))
    go = b.icmp_unsigned("!=", b.load(pred, typ=I8), ir.Constant(I8, 0))
    b.cbranch(go, body, done)
    b.position_at_end(body)
    em.bail_on_status(b.call(body_fn, [cur, b.select(ph, tabA, tabB), sub, em.rt]))
    b.store(b.not_(ph), phase)
    b.branch(head)
    b.position_at_end(done)
    ph = b.load(phase)
    for r, a_, b_ in zip(node.results, A, B):
        em.memcpy(em.ptr[id(r)], b.select(ph, b_, a_), r.type.nbytes)


def _stacked_carries(node) -> dict[int, int]:
    """{carry k: output j} for outputs that stack carry k as it enters each step (the body returns the
    carry's parameter itself, as reverse mode's residual scans do). Such a carry lives in its output's
    slices: step i reads slice i and writes the next step's slice, so nothing is copied per step."""
    (body,) = node.regions
    nc, nk = node.attrs["num_consts"], node.attrs["num_carry"]
    if node.attrs["length"] == 0:
        return {}
    out = {}
    for j, r in enumerate(body.results[nk:]):
        for k in range(nk):
            if r is body.params[nc + k] and k not in out:
                out[k] = j
                break
    return out


def emit_scan(em: Emitter, kernel):
    b = em.b
    node = kernel.node
    nc, nk, length = node.attrs["num_consts"], node.attrs["num_carry"], node.attrs["length"]
    rev = node.attrs["reverse"]
    ops = kernel.operands
    consts, init, xs = ops[:nc], ops[nc:nc + nk], ops[nc + nk:]
    (body_fn,) = _region_calls(em, kernel)
    A, B, used = _carry_slots(em, [v.type for v in init])
    sub = byte_offset(b, em.scratch, used + ALIGN)
    carry_out, ys = node.results[:nk], node.results[nk:]
    stacked = _stacked_carries(node)

    def y_slice(y, i):
        return byte_offset(b, em.ptr[id(y)], b.mul(i, i64(y.type.nbytes // max(length, 1))))

    for k, (dst, v) in enumerate(zip(A, init)):
        first = y_slice(ys[stacked[k]], i64(length - 1 if rev else 0)) if k in stacked else dst
        em.memcpy(first, em.ptr[id(v)], v.type.nbytes)
    phase = em.alloca(I1, ir.Constant(I1, 0))
    with em.loop(length) as step:
        em.poll_interrupt()
        i = b.sub(i64(length - 1), step) if rev else step
        ph = b.load(phase)
        cur = [b.select(ph, y_, x_) for x_, y_ in zip(A, B)]
        nxt = [b.select(ph, x_, y_) for x_, y_ in zip(A, B)]
        ysl = [y_slice(y, i) for y in ys]
        last = b.icmp_unsigned("==", step, i64(length - 1))
        for k, j in stacked.items():
            cur[k] = ysl[j]
            after = y_slice(ys[j], b.sub(i, i64(1)) if rev else b.add(i, i64(1)))
            nxt[k] = b.select(last, em.ptr[id(carry_out[k])], after)
        xsl = [byte_offset(b, em.ptr[id(x)], b.mul(i, i64(x.type.nbytes // max(length, 1)))) for x in xs]
        argv = em.ptr_array([em.ptr[id(c)] for c in consts] + cur + xsl)
        resv = em.ptr_array(nxt + ysl)
        em.bail_on_status(b.call(body_fn, [argv, resv, sub, em.rt]))
        b.store(b.not_(ph), phase)
    ph = b.load(phase)
    for k, (r, a_, b_) in enumerate(zip(carry_out, A, B)):
        if k not in stacked:  # a stacked carry's last step wrote the result
            em.memcpy(em.ptr[id(r)], b.select(ph, b_, a_), r.type.nbytes)
