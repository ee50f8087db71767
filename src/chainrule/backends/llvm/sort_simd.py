"""A vectorised quicksort for long single-operand rows of 32- and 64-bit keys (targets with AVX-512).

`cnp.sort` of a long float32/float64/int row: the radix sort of `sort.py` makes
a pass over the row per digit and scatters it to 2^11 places each time; on a
CPU with 512-bit vectors a quicksort whose partitions are vector compares and
compresses (`llvm.experimental.vector.compress`, one `vpcompressd`/`q`) is
faster (2^20 float32: 6.8 ms against 11 on one thread; NumPy's own AVX-512
quicksort takes 4.4). On AVX2 the 512-bit compress is emulated and the radix
sort wins, so it stays there.

The first partition reads the row's values, maps them to keys (`key_of`:
unsigned integers ordered as the values, -0.0 read as 0.0 and every NaN as the
largest key) and moves them into scratch X; every later one moves a range of X
into Y or back. A partition writes the keys below its pivot from the front and
the others from the back, with whole-vector stores whose other lanes fall in
the gap not yet written. The smaller side recurses and the larger loops, so the
stack stays O(log n). A range of at most LEAF_VECTORS vectors is a leaf: sorted
in registers by bitonic networks, mapped back to values and stored into the
result. A pivot that is the range's least key splits off every key equal to it
instead (many duplicates stay O(n log n)), and a range that has been split
2 log2(n) + 8 times goes to the radix sort (adversarial rows stay O(n log n)).
Rows of PARALLEL_ROW or more sort the two sides of their first partition on
two threads of the pool.

Quicksort is not stable, and keys forget -0.0's sign and NaN payloads: when the
row holds either, a last scalar pass writes its zeros and NaNs back into their
runs in their original order, so the result is the stable sort's bit for bit.
"""

from __future__ import annotations

import llvmlite.ir as ir

from .lltypes import I1, I32, I64, PTR, VOID, i64
from .sort_keys import Loop, float_bits, forgotten, is_nan, key_of, value_of

MIN_ROW = 1 << 14  # shorter rows stay on the radix sort, whose code compiles in a third of the time
VECTOR_BYTES = 64   # the quicksort is emitted for targets with 512-bit vectors only


def applies(w: int, vbytes: int, n: int) -> bool:
    """Whether a single-operand row of n keys of w bits is quicksorted on a target of vbytes vectors."""
    return vbytes >= VECTOR_BYTES and w in (32, 64) and n >= MIN_ROW


def scratch_bytes(w: int, n: int) -> int:
    """Bytes of each of the two key buffers X and Y (a vector's slack past the row's end)."""
    return -(-(n * w // 8 + VECTOR_BYTES) // 64) * 64


# --- intrinsics -------------------------------------------------------------------------------------

def _intrinsic(module, name, ret, args):
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(ret, args), name)
    return fn


class _V:
    """The vector operations of one key width: L lanes of iW."""

    def __init__(self, module, w: int):
        self.module, self.w = module, w
        self.L = L = 512 // w
        self.ety = ir.IntType(w)
        self.vty = ir.VectorType(self.ety, L)
        self.mty = ir.VectorType(I1, L)
        sfx = f"v{L}i{w}"
        self.umin = _intrinsic(module, f"llvm.umin.{sfx}", self.vty, [self.vty, self.vty])
        self.umax = _intrinsic(module, f"llvm.umax.{sfx}", self.vty, [self.vty, self.vty])
        self.compress_fn = _intrinsic(module, f"llvm.experimental.vector.compress.{sfx}", self.vty,
                                      [self.vty, self.mty, self.vty])
        self.mstore = _intrinsic(module, f"llvm.masked.store.{sfx}.p0", VOID, [self.vty, PTR, I32, self.mty])
        self.mload = _intrinsic(module, f"llvm.masked.load.{sfx}.p0", self.vty, [PTR, I32, self.mty, self.vty])
        self.ctpop = _intrinsic(module, f"llvm.ctpop.i{L}", ir.IntType(L), [ir.IntType(L)])
        self.iota = ir.Constant(self.vty, list(range(L)))
        self.ones = ir.Constant(self.ety, (1 << w) - 1)
        self.zero = ir.Constant(self.vty, [0] * L)

    def splat(self, b, x):
        undef = ir.Constant(self.vty, ir.Undefined)
        v = b.insert_element(undef, x, ir.Constant(I32, 0))
        return b.shuffle_vector(v, undef, ir.Constant(ir.VectorType(I32, self.L), [0] * self.L))

    def first(self, b, c):
        """The mask of lanes < c (c an i64)."""
        return b.icmp_unsigned("<", self.iota, self.splat(b, b.trunc(c, self.ety) if self.w < 64 else c))

    def count(self, b, m):
        return b.zext(b.call(self.ctpop, [b.bitcast(m, ir.IntType(self.L))]), I64)

    def compress(self, b, v, m):
        return b.call(self.compress_fn, [v, m, ir.Constant(self.vty, ir.Undefined)])

    def store(self, b, v, p, m):
        b.call(self.mstore, [v, p, ir.Constant(I32, self.w // 8), m])

    def load(self, b, p, m, fill):
        return b.call(self.mload, [p, ir.Constant(I32, self.w // 8), m, fill])

    def _lanes(self, b, v, j, keep_lo):
        other = b.shuffle_vector(v, v, ir.Constant(ir.VectorType(I32, self.L), [i ^ j for i in range(self.L)]))
        lo, hi = b.call(self.umin, [v, other]), b.call(self.umax, [v, other])
        return b.select(ir.Constant(self.mty, keep_lo), lo, hi)

    def network(self, b, v):
        """v sorted ascending across its lanes (a bitonic network: log L (log L + 1) / 2 stages)."""
        L = self.L
        k = 2
        while k <= L:
            j = k // 2
            while j >= 1:
                v = self._lanes(b, v, j, [((i & j) == 0) == ((i & k) == 0) for i in range(L)])
                j //= 2
            k *= 2
        return v

    def reverse(self, b, v):
        return b.shuffle_vector(v, v, ir.Constant(ir.VectorType(I32, self.L), list(range(self.L))[::-1]))

    def _clean(self, b, vs):
        """A bitonic sequence of vectors sorted: half-cleaners across vectors, then within each."""
        vs = list(vs)
        step = len(vs) // 2
        while step >= 1:
            for g in range(0, len(vs), 2 * step):
                for i in range(g, g + step):
                    x, y = vs[i], vs[i + step]
                    vs[i], vs[i + step] = b.call(self.umin, [x, y]), b.call(self.umax, [x, y])
            step //= 2
        out = []
        for v in vs:
            j = self.L // 2
            while j >= 1:
                v = self._lanes(b, v, j, [(i & j) == 0 for i in range(self.L)])
                j //= 2
            out.append(v)
        return out

    def sort_vectors(self, b, vs):
        """K (a power of 2) vectors sorted as one sequence of K * L keys: each by the network, then
        bitonic merges of sorted runs of 1, 2, ... K/2 vectors."""
        vs = [self.network(b, v) for v in vs]
        size = 1
        while size < len(vs):
            for g in range(0, len(vs), 2 * size):
                a = vs[g:g + size]
                r = [self.reverse(b, v) for v in reversed(vs[g + size:g + 2 * size])]
                lo = [b.call(self.umin, [x, y]) for x, y in zip(a, r)]
                hi = [b.call(self.umax, [x, y]) for x, y in zip(a, r)]
                vs[g:g + 2 * size] = self._clean(b, lo) + self._clean(b, hi)
            size *= 2
        return vs


def _gep(b, ty, p, i):
    return b.gep(p, [i], inbounds=True, source_etype=ty)


def _fn(module, name, ret, args):
    fn = module.globals.get(name)
    if fn is not None:
        return fn, False
    fn = ir.Function(module, ir.FunctionType(ret, args), name)
    fn.linkage = "internal"
    fn.attributes.add("nounwind")
    return fn, True


# --- the pieces ---------------------------------------------------------------------------------------

def _partition_fn(module, V: _V, dt=None):
    """`i64 partition(ptr s, ptr t, i64 n, iW p, ptr flag)`: the n keys of s into t, those below p first
    (their count is returned), the others after them. With `dt`, s holds values of dt instead, mapped to
    keys on the way (the first partition of a row), and the i8 at `flag` is set when one is -0.0 or NaN.

    Both sides are written with whole-vector stores, the keys below p from the front (compressed to the
    low lanes) and the others from the back (compressed, then reversed into the high lanes): each store's
    other lanes fall in the gap not yet written, as long as two vectors of keys remain unread. The last
    vector and the tail use masked stores."""
    name = f"chainrule_qsort_partition{V.w}" + ("" if dt is None else f"_{dt.name}")
    fn, new = _fn(module, name, I64, [PTR, PTR, I64, V.ety, PTR])
    if not new:
        return fn
    fn.attributes.add("noinline")
    s, t, n, p, flag = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    P = V.splat(b, p)
    L = V.L
    track = dt is not None and dt.is_float
    none = ir.Constant(V.mty, [0] * L)
    wide = b.select(b.icmp_unsigned(">=", n, i64(2 * L)), b.sub(n, i64(2 * L - 1)), i64(0))  # i < wide: 2 L unread
    full = b.sub(n, b.urem(n, i64(L)))
    entry = b.block
    head, body, last, tail = (fn.append_basic_block(x) for x in ("head", "body", "last", "tail"))
    b.branch(head)
    b.position_at_end(head)
    i, lo, hi, seen = b.phi(I64, "i"), b.phi(I64, "l"), b.phi(I64, "r"), b.phi(V.mty, "seen")
    for phi, start in ((i, i64(0)), (lo, i64(0)), (hi, n), (seen, none)):
        phi.add_incoming(start, entry)
    b.cbranch(b.icmp_unsigned("<", i, wide), body, last)

    def load(at, valid=None):
        """(keys, specials) of the vector at s + at (lanes `valid` only, when given)."""
        ptr = _gep(b, V.ety, s, at)
        if dt is None:
            return (b.load(ptr, typ=V.vty, align=V.w // 8) if valid is None else V.load(b, ptr, valid, P)), none
        bits = b.load(ptr, typ=V.vty, align=V.w // 8) if valid is None else V.load(b, ptr, valid, V.zero)
        special = forgotten(b, dt, bits) if track else none
        return key_of(b, dt, bits), special

    b.position_at_end(body)
    v, special = load(i)
    below = b.icmp_unsigned("<", v, P)
    cl = V.count(b, below)
    b.store(V.compress(b, v, below), _gep(b, V.ety, t, lo), align=V.w // 8)
    b.store(V.reverse(b, V.compress(b, v, b.not_(below))), _gep(b, V.ety, t, b.sub(hi, i64(L))), align=V.w // 8)
    i.add_incoming(b.add(i, i64(L)), body)
    lo.add_incoming(b.add(lo, cl), body)
    hi.add_incoming(b.sub(hi, b.sub(i64(L), cl)), body)
    seen.add_incoming(b.or_(seen, special), body)
    b.branch(head)

    def masked(start, count, v, valid):
        below = b.and_(b.icmp_unsigned("<", v, P), valid)
        cl = V.count(b, below)
        cr = b.sub(count, cl)
        V.store(b, V.compress(b, v, below), _gep(b, V.ety, t, start[0]), V.first(b, cl))
        V.store(b, V.compress(b, v, b.and_(b.not_(below), valid)), _gep(b, V.ety, t, b.sub(start[1], cr)),
                V.first(b, cr))
        return b.add(start[0], cl), b.sub(start[1], cr)

    b.position_at_end(last)  # the full vectors left (at most one), then the last n % L keys
    allv = ir.Constant(V.mty, [1] * L)
    with b.if_then(b.icmp_unsigned("<", i, full)):
        v, special1 = load(i)
        l1, r1 = masked((lo, hi), i64(L), v, allv)
        seen1 = b.or_(seen, special1)
        one = b.block
    lo2, hi2, seen2 = b.phi(I64), b.phi(I64), b.phi(V.mty)
    for phi, x, y in ((lo2, l1, lo), (hi2, r1, hi), (seen2, seen1, seen)):
        phi.add_incoming(x, one)
        phi.add_incoming(y, last)
    b.branch(tail)
    b.position_at_end(tail)
    rest = b.sub(n, full)
    valid = V.first(b, rest)
    v, special = load(full, valid)
    l3, _ = masked((lo2, hi2), rest, v, valid)
    if track:
        anyv = b.icmp_unsigned("!=", b.bitcast(b.or_(seen2, b.and_(special, valid)), ir.IntType(L)),
                               ir.Constant(ir.IntType(L), 0))
        with b.if_then(anyv):
            b.store(ir.Constant(ir.IntType(8), 1), flag)
    b.ret(l3)
    return fn


LEAF_VECTORS = 8  # ranges of at most this many vectors of keys are sorted in registers


def _leaf_fn(module, V: _V, dt, k: int):
    """`void leaf(ptr s, ptr o, i64 n)`: the n <= k L keys of s sorted in k registers into values in o."""
    fn, new = _fn(module, f"chainrule_qsort_leaf{k}_{dt.name}{V.w}", VOID, [PTR, PTR, I64])
    if not new:
        return fn
    if k == LEAF_VECTORS:
        fn.attributes.add("noinline")  # also the row pivot's: one copy of the biggest network
    s, o, n = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    fill = V.splat(b, V.ones)
    masks, vs = [], []
    for j in range(k):
        m = V.first(b, b.select(b.icmp_unsigned(">", n, i64(j * V.L)), b.sub(n, i64(j * V.L)), i64(0)))
        masks.append(m)
        vs.append(V.load(b, _gep(b, V.ety, s, i64(j * V.L)), m, fill))
    for j, v in enumerate(V.sort_vectors(b, vs)):
        V.store(b, value_of(b, dt, v), _gep(b, V.ety, o, i64(j * V.L)), masks[j])
    b.ret_void()
    return fn


def _pivot(b, V: _V, s, n, key=None):
    """The median of L keys sampled evenly from s[0..n) (of values mapped by `key`, when given)."""
    v = ir.Constant(V.vty, ir.Undefined)
    step = b.udiv(n, i64(V.L))
    for k in range(V.L):
        x = b.load(_gep(b, V.ety, s, b.add(b.mul(step, i64(k)), b.udiv(step, i64(2)))), typ=V.ety)
        v = b.insert_element(v, x, ir.Constant(I32, k))
    if key is not None:
        v = key(v)
    return b.extract_element(V.network(b, v), ir.Constant(I32, V.L // 2))


def _row_pivot(b, module, V: _V, dt, src, n):
    """The key of the median of LEAF_VECTORS L values sampled evenly from a row's values src[0..n), sorted
    by the largest leaf (a first split close to even, for the two threads)."""
    m = LEAF_VECTORS * V.L
    keys, values = b.alloca(ir.ArrayType(V.ety, m)), b.alloca(ir.ArrayType(V.ety, m))
    step = b.udiv(n, i64(m))
    with _loop(b, i64(m), "sample") as k:
        x = b.load(_gep(b, V.ety, src, b.add(b.mul(step, k), b.udiv(step, i64(2)))), typ=V.ety)
        b.store(key_of(b, dt, x), b.gep(keys, [i64(0), k], inbounds=True))
    b.call(_leaf_fn(module, V, dt, LEAF_VECTORS), [b.bitcast(keys, PTR), b.bitcast(values, PTR), i64(m)])
    return key_of(b, dt, b.load(b.gep(values, [i64(0), i64(m // 2)], inbounds=True), typ=V.ety))


def _loop(b, n, name):
    return Loop(b, i64(0), n, name)


def _rec_fn(module, V: _V, dt, radix):
    """`void rec(ptr s, ptr t, ptr o, i64 n, i32 depth)`: the n keys of s sorted into values in o, with t
    (as long as s) for scratch; `radix` sorts keys for the depth limit."""
    fn, new = _fn(module, f"chainrule_qsort_{dt.name}{V.w}_{radix.name}", VOID, [PTR, PTR, PTR, I64, I32, PTR])
    if not new:
        return fn
    s0, t0, o0, n0, d0, hist = fn.args
    L = V.L
    entry = fn.append_basic_block("entry")
    b = ir.IRBuilder(entry)
    head = fn.append_basic_block("head")
    b.branch(head)
    b.position_at_end(head)
    s, t, o, n, depth = (b.phi(ty, nm) for ty, nm in ((PTR, "s"), (PTR, "t"), (PTR, "o"), (I64, "n"), (I32, "d")))
    for phi, start in zip((s, t, o, n, depth), (s0, t0, o0, n0, d0)):
        phi.add_incoming(start, entry)
    leaf, inner = fn.append_basic_block("leaf"), fn.append_basic_block("inner")
    b.cbranch(b.icmp_unsigned("<=", n, i64(LEAF_VECTORS * L)), leaf, inner)

    b.position_at_end(leaf)  # at most LEAF_VECTORS vectors: sorted in registers
    k = 1
    while k <= LEAF_VECTORS:
        fits = fn.append_basic_block(f"leaf{k}")
        more = fn.append_basic_block(f"leaf{k}.more") if k < LEAF_VECTORS else None
        if more is not None:
            b.cbranch(b.icmp_unsigned("<=", n, i64(k * L)), fits, more)
        else:
            b.branch(fits)
        b.position_at_end(fits)
        b.call(_leaf_fn(module, V, dt, k), [s, o, n])
        b.ret_void()
        if more is not None:
            b.position_at_end(more)
        k *= 2

    b.position_at_end(inner)
    deep, split = fn.append_basic_block("deep"), fn.append_basic_block("split")
    b.cbranch(b.icmp_unsigned("==", depth, ir.Constant(I32, 0)), deep, split)

    b.position_at_end(deep)  # the depth limit: the radix sort (s is read first, then free: its second buffer)
    null = ir.Constant(PTR, None)
    b.call(radix, [s, t, s, null, null, null, n, hist, o])
    with _loop(b, n, "unkey") as i:
        p = _gep(b, V.ety, o, i)
        b.store(value_of(b, dt, b.load(p, typ=V.ety)), p)
    b.ret_void()

    b.position_at_end(split)
    part = _partition_fn(module, V)
    p = _pivot(b, V, s, n)
    flag = ir.Constant(PTR, None)
    nl = b.call(part, [s, t, n, p, flag])
    d1 = b.sub(depth, ir.Constant(I32, 1))
    least, both = fn.append_basic_block("least"), fn.append_basic_block("both")
    b.cbranch(b.icmp_unsigned("==", nl, i64(0)), least, both)

    b.position_at_end(least)  # p is the range's least key: the keys equal to it are done
    top = b.icmp_unsigned("==", p, V.ones)
    ne = b.select(top, n, b.call(part, [s, t, n, b.add(p, ir.Constant(V.ety, 1)), flag]))
    value = value_of(b, dt, p)
    with _loop(b, ne, "fill") as i:
        b.store(value, _gep(b, V.ety, o, i))
    nxt = (_gep(b, V.ety, t, ne), _gep(b, V.ety, s, ne), _gep(b, V.ety, o, ne), b.sub(n, ne), d1)
    for phi, x in zip((s, t, o, n, depth), nxt):
        phi.add_incoming(x, b.block)
    b.branch(head)

    b.position_at_end(both)  # recurse into the smaller side, loop on the larger
    nr = b.sub(n, nl)
    left_small = b.icmp_unsigned("<", nl, nr)
    ts, ss, os_ = _gep(b, V.ety, t, nl), _gep(b, V.ety, s, nl), _gep(b, V.ety, o, nl)
    b.call(fn, [b.select(left_small, t, ts), b.select(left_small, s, ss), b.select(left_small, o, os_),
                b.select(left_small, nl, nr), d1, hist])
    nxt = (b.select(left_small, ts, t), b.select(left_small, ss, s), b.select(left_small, os_, o),
           b.select(left_small, nr, nl), d1)
    for phi, x in zip((s, t, o, n, depth), nxt):
        phi.add_incoming(x, b.block)
    b.branch(head)
    return fn


# --- keys and the entry --------------------------------------------------------------------------------

def _restore_fn(module, dt, w):
    """`void restore(ptr src, ptr out, i64 n)`: the sorted row `out` gets the zeros and NaNs of `src`
    in their original order (their runs hold +0.0 and one NaN after the quicksort)."""
    ety = ir.IntType(w)
    fn, new = _fn(module, f"chainrule_qsort_restore_{dt.name}{w}", VOID, [PTR, PTR, I64])
    if not new:
        return fn
    src, out, n = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    sign, _ = float_bits(dt)
    zero_key = ir.Constant(ety, sign)  # +0.0's key
    neg, nans = b.alloca(I64), b.alloca(I64)
    b.store(i64(0), neg)
    b.store(i64(0), nans)
    with _loop(b, n, "count") as i:
        x = b.load(_gep(b, ety, src, i), typ=ety)
        b.store(b.add(b.load(neg, typ=I64), b.zext(b.icmp_unsigned("<", key_of(b, dt, x), zero_key), I64)), neg)
        b.store(b.add(b.load(nans, typ=I64), b.zext(is_nan(b, dt, x), I64)), nans)
    z, q = neg, nans
    b.store(b.sub(n, b.load(nans, typ=I64)), q)
    with _loop(b, n, "place") as i:
        x = b.load(_gep(b, ety, src, i), typ=ety)
        zero = b.icmp_unsigned("==", b.and_(x, ir.Constant(ety, sign - 1)), ir.Constant(ety, 0))
        with b.if_then(b.or_(zero, is_nan(b, dt, x))):
            slot = b.select(zero, z, q)
            at = b.load(slot, typ=I64)
            b.store(x, _gep(b, ety, out, at))
            b.store(b.add(at, i64(1)), slot)
    b.ret_void()
    return fn


PARALLEL_ROW = 1 << 16  # rows this long sort their two halves on two threads when the module has them


def _halves_fn(module, dt, V: _V, rec):
    """`void half(ptr ctx, i64 c)`: a parallel region's chunk c (0 or 1) sorts one side of the row's first
    partition; ctx holds x, y, out, nl, n, depth, hist, the second side's hist offset (i64 each)."""
    fn, new = _fn(module, f"{rec.name}_half", VOID, [PTR, I64])
    if not new:
        return fn
    ctx, c = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    x, y, out, nl, n, depth, hist, stride = (b.load(_gep(b, I64, ctx, i64(k)), typ=I64) for k in range(8))
    second = b.icmp_unsigned("!=", c, i64(0))
    start = b.select(second, nl, i64(0))
    count = b.select(second, b.sub(n, nl), nl)
    at = lambda base: _gep(b, V.ety, b.inttoptr(base, PTR), start)  # noqa: E731
    h = _gep(b, ir.IntType(8), b.inttoptr(hist, PTR), b.select(second, stride, i64(0)))
    b.call(rec, [at(x), at(y), at(out), count, b.trunc(depth, I32), h])
    b.ret_void()
    return fn


def entry_fn(module, dt, w: int, radix):
    """`void qsort(ptr src, ptr x, ptr y, i64 n, i32 depth, ptr hist, ptr out, ptr pool, i64 helpers,
    i64 stride)`: the n values of src sorted into out, through the key buffers x and y (scratch_bytes
    each) and `radix`'s counters `hist`. With helpers > 0, rows of PARALLEL_ROW or more sort the two
    sides of their first partition (split at the median of 8 L samples) as a parallel region of the
    thread pool `pool` (pool.py); the second side's counters are at hist + stride."""
    from .pool import pool_run
    V = _V(module, w)
    fn, new = _fn(module, f"chainrule_qsort_entry_{dt.name}{w}_{radix.name}", VOID,
                  [PTR, PTR, PTR, I64, I32, PTR, PTR, PTR, I64, I64])
    if not new:
        return fn
    src, x, y, n, depth, hist, out, pool, helpers, stride = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    flag = b.alloca(ir.IntType(8))
    b.store(ir.Constant(ir.IntType(8), 0), flag)
    ctx = b.alloca(ir.ArrayType(I64, 8))
    # the first partition maps the values to keys as it moves them into x; both sides go on from there
    p = _row_pivot(b, module, V, dt, src, n)
    nl = b.call(_partition_fn(module, V, dt), [src, x, n, p, flag])
    rec = _rec_fn(module, V, dt, radix)
    d1 = b.sub(depth, ir.Constant(I32, 1))
    parallel = b.and_(b.icmp_unsigned(">", helpers, i64(0)), b.icmp_unsigned(">=", n, i64(PARALLEL_ROW)))
    with b.if_else(parallel) as (two, one):
        with two:
            fields = [b.ptrtoint(x, I64), b.ptrtoint(y, I64), b.ptrtoint(out, I64), nl, n, b.zext(d1, I64),
                      b.ptrtoint(hist, I64), stride]
            for k, v in enumerate(fields):
                b.store(v, b.gep(ctx, [i64(0), i64(k)], inbounds=True))
            b.call(pool_run(module), [pool, _halves_fn(module, dt, V, rec), b.bitcast(ctx, PTR), i64(2),
                                      i64(1)])
        with one:
            b.call(rec, [x, y, out, nl, d1, hist])
            b.call(rec, [_gep(b, V.ety, x, nl), _gep(b, V.ety, y, nl), _gep(b, V.ety, out, nl), b.sub(n, nl), d1,
                         hist])
    if dt.is_float:
        with b.if_then(b.icmp_unsigned("!=", b.load(flag, typ=ir.IntType(8)), ir.Constant(ir.IntType(8), 0)),
                       likely=False):
            b.call(_restore_fn(module, dt, w), [src, out, n])
    b.ret_void()
    return fn


def depth_limit(n: int) -> int:
    """Partitions a range may go through before the radix sort takes it: 2 log2(n) + 8."""
    return 2 * max(1, n.bit_length()) + 8
