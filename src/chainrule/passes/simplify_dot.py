"""Simplify: a contraction with an identity matrix is a relayout of the other operand.

`jacfwd` pushes the identity basis through the JVP, so a linear map `X @ w`
becomes `dot_general(X, I)`, a GEMM whose only job is to copy `X` (the Newton
step's Hessian spends half its flops there). This rule replaces it by a
transpose/reshape of `X`, with the IEEE behaviour of the GEMM kept bit for bit:

    dot(x, I)[.., j, ..] = sum_k x[k] * I[k, j]   accumulated from +0.0
                         = x[j] + 0.0              when every other x[k] is finite
                         = NaN                     otherwise (inf * 0 = NaN)

`+ 0.0` is what a sum that starts at +0.0 does to `x[j] = -0.0` (the other
products are zeros, exact); an infinite or NaN `x[j]` alone stays itself. So
the rewrite is `select(others_nonfinite == 0, x + 0.0, NaN)` for floats and
plain `x` for integers, elementwise and O(size of x), followed by the
relayout. Only a constant identity (exact 1s and +0.0s) qualifies.
"""

from __future__ import annotations

import math

import numpy as np

from ..ir import int32
from .rewrite import RuleRegistry

rule = RuleRegistry("simplify_dot")

# Checking a literal costs O(its size) each time the rule looks at it.
MAX_IDENTITY_ELEMENTS = 1 << 20


def _identity_constant(value, contracting: int, free: list[int]) -> bool:
    """True when `value` is a constant whose [contracting, free...] view is the m x m identity."""
    node = value.node
    if node is None or node.op.name != "constant":
        return False
    a = node.attrs["value"].array
    if a.size > MAX_IDENTITY_ELEMENTS or a.dtype.kind not in "fiu":
        return False
    m = a.shape[contracting]
    if math.prod(a.shape[d] for d in free) != m:
        return False
    nontrivial = [d for d in free if a.shape[d] != 1]
    if len(nontrivial) > 1:
        return False  # the identity's second axis must be one dimension, the others size 1
    view = np.transpose(a, [contracting] + free).reshape(m, m)
    eye = np.eye(m, dtype=a.dtype)
    if not np.array_equal(view, eye):
        return False
    return a.dtype.kind != "f" or not np.signbit(view).any()  # -0.0 would flip signs of zeros


def _gemm_exact(x, axis: int, rw):
    """x[j] + 0.0 where x's other elements along `axis` are finite, else NaN (what x @ I gives)."""
    if not x.dtype.is_float:
        return x
    # finite count per row: |x| < inf (not is_finite, so the row reduction and the elementwise
    # select stay separate nodes and the fusion pass does not materialise a shared mask)
    finite = rw.op("compare", rw.op("abs", x), rw.splat(np.inf, x), direction="LT")
    count = rw.op("reduce", rw.op("convert", finite, dtype=int32), kind="sum", dimensions=(axis,))
    keep = tuple(d for d in range(x.ndim) if d != axis)
    count = rw.op("broadcast_in_dim", count, shape=x.shape, broadcast_dimensions=keep)
    # the others are finite when count == m - 1 + (x finite)
    own = rw.op("convert", rw.op("is_finite", x), dtype=int32)
    want = rw.op("add", own, rw.splat(x.shape[axis] - 1, own))
    clean = rw.op("compare", count, want, direction="EQ")
    return rw.op("select", clean, rw.op("add", x, rw.splat(0.0, x)), rw.splat(np.nan, x))


@rule("dot_general", formula="dot_general(x, I) -> reshape(transpose(x)), I a constant identity; same for "
                             "dot_general(I, x)   (exact: select(others finite, x + 0.0, NaN) keeps the GEMM's "
                             "inf * 0 = NaN and +0.0 start)")
def dot_with_identity(node, rw):
    a = node.attrs
    if a["lhs_batch"] or a["rhs_batch"] or len(a["lhs_contracting"]) != 1:
        return None
    out = node.results[0]
    lhs, rhs = node.operands
    if not (lhs.dtype == rhs.dtype == out.dtype):
        return None
    for side in ("rhs", "lhs"):
        eye, x = (rhs, lhs) if side == "rhs" else (lhs, rhs)
        other = "lhs" if side == "rhs" else "rhs"
        ce = a[f"{side}_contracting"][0]
        if not _identity_constant(eye, ce, [d for d in range(eye.ndim) if d != ce]):
            continue
        cx = a[f"{other}_contracting"][0]
        x_free = [d for d in range(x.ndim) if d != cx]
        # result = x's free dimensions then the identity's free ones (rhs identity), or the reverse;
        # the identity's free part is x's contracted dimension padded with size-1 dimensions
        perm = x_free + [cx] if side == "rhs" else [cx] + x_free
        y = x
        if perm != list(range(x.ndim)):  # relayout first: the elementwise fix-up then fuses with its users
            y = rw.op("transpose", y, permutation=tuple(perm))
        y = _gemm_exact(y, perm.index(cx), rw)
        if y.shape != out.shape:
            y = rw.op("reshape", y, shape=out.shape)
        return y
    return None


# --- moving transposes to the data they permute -------------------------------------------------
#
# The fix-up above is elementwise, and vmap's batching puts a transpose (and unit-dimension
# reshapes) after it. Fusion groups elementwise ops but never a transpose, so the fix-up would be
# materialised and then copied. These two rules move the transpose onto the one tensor the
# elementwise expression reads (its other operands being broadcasts), which is then copied once,
# and the fix-up fuses with what uses it. Both are relayouts: exact.

MAX_SINK_DEPTH = 8


def _unit_only_reshape(src_shape, dst_shape) -> bool:
    return [d for d in src_shape if d != 1] == [d for d in dst_shape if d != 1]


@rule("transpose", formula="transpose(reshape(x), p) -> reshape(transpose(x, q))   "
                           "(the reshape only adds or drops size-1 dimensions; q: p on x's dimensions)")
def transpose_of_unit_reshape(node, rw):
    (r,) = node.operands
    if r.node is None or r.node.op.name != "reshape":
        return None
    x = r.node.operands[0]
    if not _unit_only_reshape(x.shape, r.shape):
        return None
    perm = node.attrs["permutation"]
    big_r = [i for i in range(r.ndim) if r.shape[i] != 1]      # r's non-unit dims, in order
    big_x = [i for i in range(x.ndim) if x.shape[i] != 1]      # the same dims of x, in order
    rank = {d: k for k, d in enumerate(big_r)}
    order = [big_x[rank[p]] for p in perm if r.shape[p] != 1]  # x's non-unit dims, output order
    slots = iter(order)
    q = [next(slots) if x.shape[i] != 1 else i for i in range(x.ndim)]
    y = x if q == list(range(x.ndim)) else rw.op("transpose", x, permutation=tuple(q))
    return rw.op("reshape", y, shape=node.results[0].shape)


def _inverse(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return inv


def _permuted_broadcast(v, perm):
    """The broadcast_dimensions of `transpose(v, perm)` as a broadcast, or None (not increasing)."""
    n = v.node
    if n is None or n.op.name != "broadcast_in_dim":
        return None
    inv = _inverse(perm)
    dims = tuple(inv[d] for d in n.attrs["broadcast_dimensions"])
    return dims if all(a < b for a, b in zip(dims, dims[1:])) else None


def _sinkable(v, perm, leaves: set, depth: int) -> bool:
    """True when transpose(v, perm) can move to v's leaves, at most one of them not a broadcast."""
    if _permuted_broadcast(v, perm) is not None:
        return True
    n = v.node
    if (n is not None and n.op.elementwise and not n.regions and depth < MAX_SINK_DEPTH
            and all(o.shape == v.shape for o in n.operands)):
        return all(_sinkable(o, perm, leaves, depth + 1) for o in n.operands)
    leaves.add(v)
    return len(leaves) <= 1


@rule("transpose", formula="transpose(f(x, broadcast(b)...), p) -> f(transpose(x, p), broadcast(b)...)   "
                           "(f elementwise; the broadcasts' dimensions permuted, still increasing)")
def transpose_into_elementwise(node, rw):
    (v,) = node.operands
    perm = tuple(node.attrs["permutation"])
    if _permuted_broadcast(v, perm) is not None:
        return _sink(v, perm, node.results[0].shape, rw, 0)
    n = v.node
    leaves: set = set()
    if n is None or not n.op.elementwise or n.regions or not _sinkable(v, perm, leaves, 0):
        return None
    if any(x.dtype.np.itemsize > v.dtype.np.itemsize for x in leaves):
        return None  # transposing a wider tensor (convert f64 -> f32) would move more bytes
    return _sink(v, perm, node.results[0].shape, rw, 0)


def _sink(v, perm, shape, rw, depth: int):
    """transpose(v, perm) rebuilt with the transpose on the leaves (the walk of `_sinkable`)."""
    dims = _permuted_broadcast(v, perm)
    if dims is not None:
        return rw.op("broadcast_in_dim", v.node.operands[0], shape=shape, broadcast_dimensions=dims)
    n = v.node
    if (n is not None and n.op.elementwise and not n.regions and depth < MAX_SINK_DEPTH
            and all(o.shape == v.shape for o in n.operands)):
        ops = [_sink(o, perm, shape, rw, depth + 1) for o in n.operands]
        return rw.op(n.op.name, *ops, **dict(n.attrs))
    return rw.op("transpose", v, permutation=perm)


DOT_SIMPLIFY = rule.set
