"""The `sort` kernel: a stable radix sort on keys mapped to order-preserving unsigned integers.

Each key becomes an unsigned integer of its width whose unsigned order is the
op's order (sort_keys.key_of). Long single-operand rows of 32- and 64-bit keys
on CPUs with 512-bit vectors take the vectorised quicksort of sort_simd.py
instead, which gives the same bits.

A row is sorted by LSD radix passes of B-bit digits (B = 8, or 11 for rows of
2^12 or more), least significant first, each a stable counting pass; one read
counts every digit position first (into 4 interleaved copies of the counters,
so a digit that repeats, a float's exponent byte, does not serialise the
increments), a position whose digit is the same everywhere is skipped, and
every pass scatters by those counts without reading the row again. Rows of at most INSERTION elements are
insertion-sorted. Single-operand rows of 64-bit keys of MSD_ROW or more elements go MSD first: one
pass on the top bits splits them into buckets, each then sorted LSD while it is in cache (unless the
buckets come out small, evenly spread keys: then the row is sorted LSD as a whole). Work is O(n * width / B)
per row, and the code emitted does not depend on n beyond these thresholds.

Two forms:
* one operand (`cnp.sort`): the values' own bits are moved, their keys computed
  on the fly (so -0.0 and NaN payloads survive), from the operand's row
  straight into the result's;
* otherwise: a permutation P (int32, int64 for rows of 2^31 or more) is sorted
  with the mapped keys, the last key first (each pass stable, so several keys
  sort lexicographically), and every result is its operand gathered by P; an
  operand that is an iota along the sorted dimension (argsort) is P itself.

Rows are the operand's elements along `dimension` for each position of the
other dimensions; the kernel sorts them one after another in scratch memory of
the arena (`scratch_bytes`).
"""

from __future__ import annotations

import math

import llvmlite.ir as ir

from . import sort_simd
from .emitter import Emitter, Index
from .sort_keys import Loop as _Loop, key_of
from .pool import pool_state
from .target import host_vector_bytes
from .lltypes import I1, I8, I32, I64, PTR, VOID, i64, load_narrow, mem_type, store_narrow

INSERTION = 16     # rows this short are insertion-sorted
SHORT_ROW = 1 << 12  # rows shorter than this count digits of 8 bits (smaller histograms), else 11


def _digit_bits(n: int) -> int:
    return 8 if n < SHORT_ROW else 11


def _key_width(dt) -> int:
    return 8 if dt.is_bool else dt.bits


def _index_type(n: int):
    return I32 if n < 2 ** 31 else I64


def _single(node) -> bool:
    return len(node.operands) == 1


def _pad(nbytes: int) -> int:
    return -(-nbytes // 64) * 64


def _layout(node):
    """Byte offsets of the two key buffers, the two permutations and the histograms, and the total."""
    t = node.operands[0].type
    d, k = node.attrs["dimension"], node.attrs["num_keys"]
    n = t.shape[d]
    w = max(_key_width(v.type.dtype) for v in node.operands[:k])
    row = _pad(n * -(-w // 8))
    # one operand: the permutation slots stage strided rows instead
    perm = row if _single(node) else _pad(n * (_index_type(n).width // 8))
    bits = _digit_bits(n)
    hist = _hist_bytes(w, bits, _ways(n))
    if _single(node) and _msd(n, w, None):
        hist = max(hist, _msd_hist_bytes(w))
    if _single(node) and _quick(w, n):
        row = perm = max(row, sort_simd.scratch_bytes(w, n))
        hist = 2 * _pad(hist)  # one set of counters per half of a parallel row (_quick_stride)
    return (0, row, 2 * row, 2 * row + perm, 2 * row + 2 * perm), 2 * row + 2 * perm + hist


def _quick(w: int, n: int, target_vbytes: int | None = None) -> bool:
    """Whether single-operand rows of n keys of w bits take the vectorised quicksort (sort_simd): on this
    machine (the plan sizes the scratch by it) and the code's target (an artifact's CPU level), both."""
    vbytes = host_vector_bytes()
    return sort_simd.applies(w, vbytes if target_vbytes is None else min(vbytes, target_vbytes), n)


def _quick_stride(w: int, n: int) -> int:
    """Offset of the second half's radix counters in a quicksorted row's `hist` (see _layout)."""
    return _pad(_hist_bytes(w, _digit_bits(n), _ways(n)))


def _hist_bytes(w, bits, ways):
    """The counters of one sorter: every digit position's, `ways` copies."""
    bits = min(bits, w)
    return math.ceil(w / bits) * (1 << bits) * 4 * ways


def scratch_bytes(node) -> int:
    """Arena bytes the sort kernel of `node` needs (0 when there is nothing to sort)."""
    t = node.operands[0].type
    n = t.shape[node.attrs["dimension"]]
    if t.size == 0 or n <= 1:
        return 0
    if n >= 2 ** 31:
        raise NotImplementedError(f"the llvm sort kernel sorts rows of fewer than 2**31 elements (got {n})")
    return _layout(node)[1]


# --- keys ----------------------------------------------------------------------------------------------

def _ity(w):
    return ir.IntType(w)


def _to_bits(b, dt, x):
    """A loaded element (register form) as its iW bits."""
    w = _key_width(dt)
    if dt.is_bool:
        return b.zext(x, I8)
    if dt.is_narrow_float:  # float16/bfloat16 registers are float32: back to the 16 stored bits (exact)
        m = store_narrow(b, dt, x)
        return m if m.type == _ity(w) else b.bitcast(m, _ity(w))
    if dt.is_float:
        return b.bitcast(x, _ity(w))
    return x


def _gep(b, ty, p, i):
    return b.gep(p, [i], inbounds=True, source_etype=ty)


def _memset_fn(module):
    fn = module.globals.get("llvm.memset.p0.i64")
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(VOID, [PTR, I8, I64, I1]), "llvm.memset.p0.i64")
    return fn


# --- the radix and insertion sorts, one function per (dtype form, width, digit, index) ---------------

def _bump(b, c):
    """counter c += 1; returns its old value."""
    v = b.load(c, typ=I32)
    b.store(b.add(v, ir.Constant(I32, 1)), c)
    return v


def _internal_fn(module, name: str, ret, args):
    """(function, new): the module's internal function `name`, declared now (nounwind, noinline: each
    sorter helper is optimised once, not once per call site) when new, for the caller to fill in."""
    if module.globals.get(name) is not None:
        return module.globals[name], False
    fn = ir.Function(module, ir.FunctionType(ret, args), name)
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    fn.attributes.add("noinline")
    return fn, True


def _scatter_fn(module, dt, w: int, bits: int, ity):
    """`void scatter(ptr src, ptr dst, ptr isrc, ptr idst, i64 n, ptr starts, iW shift)`: one stable
    counting pass src -> dst on the digit (key >> shift) & (2^bits - 1) whose exclusive prefix sums
    (2^bits i32, bumped as elements go) were counted beforehand."""
    name = f"chainrule_sort_scatter_{'key' if dt is None else dt.name}{w}_{bits}_{'n' if ity is None else ity.width}"
    ety = _ity(w)
    fn, new = _internal_fn(module, name, VOID, [PTR] * 4 + [I64, PTR, ety])
    if not new:
        return fn
    src, dst, isrc, idst, n, starts, shift = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    mask = ir.Constant(ety, (1 << bits) - 1)
    with _Loop(b, i64(0), n, "scatter") as i:
        x = b.load(_gep(b, ety, src, i), typ=ety)
        d = b.and_(b.lshr(x if dt is None else key_of(b, dt, x), shift), mask)
        pos = b.zext(_bump(b, _gep(b, I32, starts, b.zext(d, I64) if w < 64 else d)), I64)
        b.store(x, _gep(b, ety, dst, pos))
        if ity is not None:
            b.store(b.load(_gep(b, ity, isrc, i), typ=ity), _gep(b, ity, idst, pos))
    b.ret_void()
    return fn


def _ways(n: int) -> int:
    """Histogram copies the counting pass interleaves (breaking the chain of increments on one counter)."""
    return 4 if n >= SHORT_ROW else 1


MSD_ROW = 1 << 17  # single-operand rows of 64-bit keys this long split by their top bits first
LOW = 11            # digit bits of the radix sorts of the buckets
MSD_BUCKET = 1024   # the least average bucket size (over buckets not empty) the split is worth


TOP = 14  # bits of that first digit: a float64's sign, exponent and first 2 bits of its mantissa


def _msd_hist_bytes(w: int) -> int:
    """The bucket sorters' counters, then the top digit's."""
    return _pad(_hist_bytes(w, LOW, 1)) + (1 << TOP) * 4


def _msd(n_static: int, w: int, ity) -> bool:
    """Whether the sorter of rows of n_static elements splits them by their top digit first."""
    return ity is None and w == 64 and n_static >= MSD_ROW  # 32-bit keys: measured no faster


def _msd_sorter(module, dt, w: int):
    """The single-operand sorter (`_sorter`'s signature) for long rows: a stable counting pass on the
    keys' top `TOP` bits moves the row into `a` as buckets, each (for keys as clustered as a float's
    exponent) small enough to stay in cache while it is radix-sorted on its own (its top digit, the same
    throughout, is skipped) into its place of `out`. Keys spread so evenly that the buckets are small
    are sorted by the plain LSD sorter instead."""
    name = f"chainrule_sort_msd_{dt.name}{w}"
    ety = _ity(w)
    fn, new = _internal_fn(module, name, I32, [PTR] * 6 + [I64, PTR, PTR])
    if not new:
        return fn
    src0, buf_a, buf_b, _, _, _, n, hist, out = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    radix = 1 << TOP
    # the bucket sorters use hist from its start; the top digit's counters follow theirs
    top = _gep(b, I8, hist, i64(_pad(_hist_bytes(w, LOW, 1))))
    b.call(_memset_fn(module), [top, ir.Constant(I8, 0), i64(radix * 4), ir.Constant(I1, 0)])
    shift = ir.Constant(ety, w - TOP)
    with _Loop(b, i64(0), n, "count") as i:
        k = key_of(b, dt, b.load(_gep(b, ety, src0, i), typ=ety))
        d = b.lshr(k, shift)
        c = _gep(b, I32, top, b.zext(d, I64) if w < 64 else d)
        b.store(b.add(b.load(c, typ=I32), ir.Constant(I32, 1)), c)
    acc, used = b.alloca(I32), b.alloca(I64)
    b.store(ir.Constant(I32, 0), acc)
    b.store(i64(0), used)
    with _Loop(b, i64(0), i64(radix), "scan") as d:
        c = _gep(b, I32, top, d)
        v = b.load(c, typ=I32)
        s0 = b.load(acc, typ=I32)
        b.store(s0, c)
        b.store(b.add(s0, v), acc)
        b.store(b.add(b.load(used, typ=I64), b.zext(b.icmp_unsigned("!=", v, ir.Constant(I32, 0)), I64)), used)
    null = ir.Constant(PTR, None)
    tiny = _sorter(module, dt, w, 8, None, 2)
    small = _sorter(module, dt, w, 8, None, INSERTION + 1)
    big = _sorter(module, dt, w, LOW, None, INSERTION + 1)
    # buckets of fewer than MSD_BUCKET elements on average (keys spread evenly): the whole row by LSD passes
    # (the big buckets' sorter: one function fewer to compile)
    with b.if_then(b.icmp_unsigned(">", b.mul(b.load(used, typ=I64), i64(MSD_BUCKET)), n), likely=False):
        b.call(big, [src0, buf_a, buf_b, null, null, null, n, hist, out])
        b.ret(ir.Constant(I32, 0))
    b.call(_scatter_fn(module, dt, w, TOP, None), [src0, buf_a, null, null, n, top, shift])
    # the counters now hold every bucket's end
    prev = b.alloca(I64)
    b.store(i64(0), prev)
    with _Loop(b, i64(0), i64(radix), "bucket") as d:
        hi = b.zext(b.load(_gep(b, I32, top, d), typ=I32), I64)
        lo = b.load(prev, typ=I64)
        b.store(hi, prev)
        m = b.sub(hi, lo)
        a = _gep(b, ety, buf_a, lo)
        args = [a, a, _gep(b, ety, buf_b, lo), null, null, null, m, hist, _gep(b, ety, out, lo)]
        with b.if_else(b.icmp_unsigned("<=", m, i64(INSERTION))) as (then, other):
            with then:
                with b.if_then(b.icmp_unsigned(">", m, i64(0))):
                    b.call(tiny, args)
            with other:
                with b.if_else(b.icmp_unsigned("<", m, i64(SHORT_ROW))) as (then2, other2):
                    with then2:
                        b.call(small, args)
                    with other2:
                        b.call(big, args)
    b.ret(ir.Constant(I32, 0))
    return fn


def _sorter(module, dt, w: int, bits: int, ity, n_static: int):
    """`i32 sort(ptr in, ptr a, ptr b, ptr iin, ptr ia, ptr ib, i64 n, ptr hist, ptr out)`.

    Sorts the n iW elements of `in` stably by their keys (`key_of(dt)`, or the elements themselves when dt
    is None), moving the indices `iin` alongside when `ity` is not None; `a` and `b` (and `ia`, `ib`) are
    scratch rows. Without indices the result goes to `out` (`in` may be read only; the last pass writes
    `out` directly); with them, `in` must be `a` and the result stays in a (returns 0) or b (returns 1)."""
    if dt is not None and _msd(n_static, w, ity):
        return _msd_sorter(module, dt, w)
    bits = min(bits, w)
    ways = _ways(n_static)
    tag = f"{'key' if dt is None else dt.name}{w}_{bits}_{'n' if ity is None else ity.width}_{n_static <= INSERTION}_{ways}"
    name = f"chainrule_sort_{tag}"
    ety = _ity(w)
    fn, new = _internal_fn(module, name, I32, [PTR] * 6 + [I64, PTR, PTR])
    if not new:
        return fn
    src0, buf_a, buf_b, isrc0, ibuf_a, ibuf_b, n, hist, out = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    single = ity is None

    def key(x):
        return x if dt is None else key_of(b, dt, x)

    if n_static <= INSERTION:
        if single:  # sort a copy of the row in `out`
            with _Loop(b, i64(0), n, "copy", vectorize=True) as i:
                b.store(b.load(_gep(b, ety, src0, i), typ=ety), _gep(b, ety, out, i))
            src0 = out
        with _Loop(b, i64(1), n, "ins") as i:
            x = b.load(_gep(b, ety, src0, i), typ=ety)
            xi = b.load(_gep(b, ity, isrc0, i), typ=ity) if ity is not None else None
            k = key(x)
            head = fn.append_basic_block("shift.head")
            body = fn.append_basic_block("shift.body")
            done = fn.append_basic_block("shift.done")
            pre = b.block
            b.branch(head)
            b.position_at_end(head)
            j = b.phi(I64, "j")
            j.add_incoming(i, pre)
            jm = b.sub(j, i64(1))
            more = b.icmp_signed(">", j, i64(0))
            b.cbranch(more, body, done)
            b.position_at_end(body)
            y = b.load(_gep(b, ety, src0, jm), typ=ety)
            after = b.icmp_unsigned(">", key(y), k)
            move = fn.append_basic_block("shift.move")
            b.cbranch(after, move, done)
            b.position_at_end(move)
            b.store(y, _gep(b, ety, src0, j))
            if ity is not None:
                b.store(b.load(_gep(b, ity, isrc0, jm), typ=ity), _gep(b, ity, isrc0, j))
            j.add_incoming(jm, move)
            b.branch(head)
            b.position_at_end(done)
            slot = b.phi(I64, "slot")
            slot.add_incoming(j, head)
            slot.add_incoming(j, body)
            b.store(x, _gep(b, ety, src0, slot))
            if ity is not None:
                b.store(xi, _gep(b, ity, isrc0, slot))
        b.ret(ir.Constant(I32, 0))
        return fn

    radix = 1 << bits
    mask = ir.Constant(ety, radix - 1)
    passes = math.ceil(w / bits)
    size = passes * radix
    b.call(_memset_fn(module), [hist, ir.Constant(I8, 0), i64(ways * size * 4), ir.Constant(I1, 0)])

    def digit(k, p):
        d = b.and_(b.lshr(k, ir.Constant(ety, p * bits)) if p else k, mask)
        return b.zext(d, I64) if w < 64 else d

    def counter(p, d, way=0):
        off = p * radix + way * size
        return _gep(b, I32, hist, b.add(d, i64(off)) if off else d)

    def at(p, d):
        return _gep(b, I32, hist, b.add(b.mul(p, i64(radix)), d))

    def digit_at(k, p):
        shift = b.mul(p, i64(bits))
        d = b.and_(b.lshr(k, shift if w == 64 else b.trunc(shift, ety)), mask)
        return d if w == 64 else b.zext(d, I64)

    def count(i, way):
        k = key(b.load(_gep(b, ety, src0, i), typ=ety))
        for p in range(passes):
            c = counter(p, digit(k, p), way)
            b.store(b.add(b.load(c, typ=I32), ir.Constant(I32, 1)), c)

    # one read of the row counts the digits of every position, `ways` elements at a time into as many
    # histograms (independent increments), then summed
    if ways > 1:
        blocks = b.udiv(n, i64(ways))
        with _Loop(b, i64(0), blocks, "count") as i:
            for way in range(ways):
                count(b.add(b.mul(i, i64(ways)), i64(way)), way)
        with _Loop(b, b.mul(blocks, i64(ways)), n, "count.tail") as i:
            count(i, 0)
    else:  # short rows (in cache): one read per digit position, one copy of the code
        with _Loop(b, i64(0), i64(passes), "count.pos") as p:
            with _Loop(b, i64(0), n, "count") as i:
                k = key(b.load(_gep(b, ety, src0, i), typ=ety))
                c = at(p, digit_at(k, p))
                b.store(b.add(b.load(c, typ=I32), ir.Constant(I32, 1)), c)
    k0 = key(b.load(src0, typ=ety))
    n32 = b.trunc(n, I32)
    if ways > 1:
        with _Loop(b, i64(0), i64(size), "merge") as d:
            tot = b.load(_gep(b, I32, hist, d), typ=I32)
            for way in range(1, ways):
                tot = b.add(tot, b.load(_gep(b, I32, hist, b.add(d, i64(way * size))), typ=I32))
            b.store(tot, _gep(b, I32, hist, d))
    # the work per digit position runs as loops over the positions (one copy of the code, whatever the
    # width: it compiles in a third of the time). A position with one digit everywhere leaves the order as
    # it is: it is skipped (bit p of `active`, taken before the counts become offsets).
    active = b.alloca(I32)
    b.store(ir.Constant(I32, 0), active)
    with _Loop(b, i64(0), i64(passes), "active") as p:
        moves = b.zext(b.icmp_unsigned("!=", b.load(at(p, digit_at(k0, p)), typ=I32), n32), I32)
        b.store(b.or_(b.load(active, typ=I32), b.shl(moves, b.trunc(p, I32))), active)
    acc = b.alloca(I32)  # every position's counts become its digits' first slots (exclusive prefix sums)
    with _Loop(b, i64(0), i64(passes), "scan") as p:
        b.store(ir.Constant(I32, 0), acc)
        with _Loop(b, i64(0), i64(radix), "scan.digit") as d:
            c = at(p, d)
            v = b.load(c, typ=I32)
            s0 = b.load(acc, typ=I32)
            b.store(s0, c)
            b.store(b.add(s0, v), acc)
    cur, icur = b.alloca(PTR), b.alloca(PTR)
    b.store(src0, cur)
    b.store(isrc0, icur)
    scatter = _scatter_fn(module, dt, w, bits, ity)
    with _Loop(b, i64(0), i64(passes), "pass") as p:
        bits_left = b.lshr(b.load(active, typ=I32), b.trunc(p, I32))
        with b.if_then(b.trunc(bits_left, I1)):
            src, isrc = b.load(cur, typ=PTR), b.load(icur, typ=PTR)
            on_a = b.icmp_unsigned("==", b.ptrtoint(src, I64), b.ptrtoint(buf_a, I64))
            dst = b.select(on_a, buf_b, buf_a)
            idst = b.select(on_a, ibuf_b, ibuf_a)
            if single:  # the last pass writes the result
                later = b.icmp_unsigned("!=", b.lshr(bits_left, ir.Constant(I32, 1)), ir.Constant(I32, 0))
                dst = b.select(later, dst, out)
            shift = b.mul(p, i64(bits))
            b.call(scatter, [src, dst, isrc if ity is not None else ir.Constant(PTR, None),
                             idst if ity is not None else ir.Constant(PTR, None), n, at(p, i64(0)),
                             shift if w == 64 else b.trunc(shift, ety)])
            b.store(dst, cur)
            b.store(idst, icur)
    last = b.load(cur, typ=PTR)
    if single:  # no pass ran: the row was sorted already (one digit everywhere)
        with b.if_then(b.icmp_unsigned("==", b.ptrtoint(last, I64), b.ptrtoint(src0, I64))):
            with _Loop(b, i64(0), n, "copy", vectorize=True) as i:
                b.store(b.load(_gep(b, ety, src0, i), typ=ety), _gep(b, ety, out, i))
        b.ret(ir.Constant(I32, 0))
    else:
        b.ret(b.zext(b.icmp_unsigned("==", b.ptrtoint(last, I64), b.ptrtoint(buf_b, I64)), I32))
    return fn


# --- the kernel --------------------------------------------------------------------------------------

def _iota_along(v, d) -> bool:
    node = v.node
    return node is not None and node.op.name == "iota" and node.attrs["dimension"] == d and v.dtype.is_int


def emit_sort(em: Emitter, kernel):
    node = kernel.node
    xs, outs = kernel.operands, node.results
    d, num_keys = node.attrs["dimension"], node.attrs["num_keys"]
    shape = xs[0].shape
    b = em.b
    if math.prod(shape) == 0:
        return
    outer, n, inner = math.prod(shape[:d]), shape[d], math.prod(shape[d + 1:])
    if n <= 1:
        for x, r in zip(xs, outs):
            with em.nest(shape, need_dims=False) as idx:
                em.store_at(r, idx.flat(), em.ev(x, idx))
        return
    module = em.mb.module
    bits = _digit_bits(n)
    offs, _ = _layout(node)
    keys_a, keys_b, perm_a, perm_b, hist = (_gep(b, I8, em.scratch, i64(o)) for o in offs)
    single = len(xs) == 1
    ity = _index_type(n)
    nn = i64(n)
    null = ir.Constant(PTR, None)

    def at(x, base, i):
        """Element i of the row at `base` (flat offset of its first element) of x."""
        flat = b.add(base, b.mul(i, i64(inner)) if inner != 1 else i)
        return em.ev(x, Index(em, shape, flat=flat))

    with em.loop(outer) as o, em.loop(inner) as j:
        base = b.add(b.mul(o, i64(n * inner)), j)
        if single:
            (x,), (r,) = xs, outs
            ety = _ity(_key_width(x.dtype))
            w = ety.width
            if _quick(w, n, em.mb.vbytes):
                qs = sort_simd.entry_fn(module, x.dtype, w, _sorter(module, None, w, bits, None, n))
                depth = ir.Constant(I32, sort_simd.depth_limit(n))

                threads = em.mb.threads if em.rt is not None else 1
                pool = pool_state(b, em.rt) if threads > 1 else null

                def sort_row(src, dst):
                    b.call(qs, [src, keys_a, keys_b, nn, depth, hist, dst, pool, i64(threads - 1),
                                i64(_quick_stride(w, n))])
            else:
                fn = _sorter(module, x.dtype, w, bits, None, n)

                def sort_row(src, dst):
                    b.call(fn, [src, keys_a, keys_b, null, null, null, nn, hist, dst])
            if inner == 1:  # rows are contiguous: read the operand's row, write the result's
                sort_row(_gep(b, mem_type(x.dtype), em.ptr[id(x)], base), _gep(b, mem_type(r.dtype), em.ptr[id(r)], base))
            else:
                with em.loop(n) as i:  # strided rows: through contiguous copies
                    b.store(_to_bits(b, x.dtype, at(x, base, i)), _gep(b, ety, perm_a, i))
                sort_row(perm_a, perm_b)
                with em.loop(n) as i:
                    v = b.load(_gep(b, ety, perm_b, i), typ=ety)
                    if x.dtype.is_bool:
                        v = b.icmp_unsigned("!=", v, ir.Constant(I8, 0))
                    elif x.dtype.is_narrow_float:
                        v = load_narrow(b, x.dtype, b.bitcast(v, mem_type(x.dtype)))  # store_at rounds it back
                    elif x.dtype.is_float:
                        v = b.bitcast(v, mem_type(x.dtype))
                    em.store_at(r, b.add(base, b.mul(i, i64(inner))), v)
        else:
            pa, pbuf, ka, kb = perm_a, perm_b, keys_a, keys_b
            with em.loop(n) as i:
                b.store(b.trunc(i, ity) if ity is I32 else i, _gep(b, ity, pa, i))
            for k in reversed(range(num_keys)):
                x = xs[k]
                ety = _ity(_key_width(x.dtype))
                with em.loop(n) as i:
                    p = b.load(_gep(b, ity, pa, i), typ=ity)
                    p = b.zext(p, I64) if ity is I32 else p
                    b.store(key_of(b, x.dtype, _to_bits(b, x.dtype, at(x, base, p))), _gep(b, ety, ka, i))
                fn = _sorter(module, None, ety.width, bits, ity, n)
                moved = b.icmp_unsigned("!=", b.call(fn, [ka, ka, kb, pa, pa, pbuf, nn, hist, null]),
                                        ir.Constant(I32, 0))
                pa, pbuf = b.select(moved, pbuf, pa), b.select(moved, pa, pbuf)
                ka, kb = b.select(moved, kb, ka), b.select(moved, ka, kb)
            with em.loop(n) as i:
                p = b.load(_gep(b, ity, pa, i), typ=ity)
                p64 = b.zext(p, I64) if ity is I32 else p
                flat = b.add(base, b.mul(i, i64(inner)) if inner != 1 else i)
                for x, r in zip(xs, outs):
                    if _iota_along(x, d):
                        v = p64 if r.dtype.bits == 64 else b.trunc(p64, mem_type(r.dtype))
                    else:
                        v = at(x, base, p64)
                    em.store_at(r, flat, v)
