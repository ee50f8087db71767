"""The JVP of `sort` (as JAX's): sort an iota along with the operands, and gather every tangent by
that permutation (take along the sorted dimension). Gathers are linear, so reverse mode transposes
them into scatters; the permutation itself is a primal (integer) value."""

from __future__ import annotations

from ...ir import int32, int64
from .jvp_rules import jvp


def take_along(e, t, perm, d):
    """t[..., perm[..., i, ...], ...] along dimension d (perm has t's shape)."""
    nd = t.ndim
    last = nd - 1
    if d != last:  # gather's shared dimensions lead: put the sorted one last
        order = tuple(k for k in range(nd) if k != d) + (d,)
        t = e.op("transpose", t, permutation=order)
        perm = e.op("transpose", perm, permutation=order)
    out = e.op("gather", t, perm, axis=last, batch_dims=last)
    if d != last:
        back = tuple(range(d)) + (last,) + tuple(range(d, last))
        out = e.op("transpose", out, permutation=back)
    return out


@jvp("sort")
def _sort(e, node, xs, ts, ys):
    d = node.attrs["dimension"]
    shape = xs[0].shape
    index = int32 if shape[d] < 2 ** 31 else int64
    iota = e.op("iota", shape=shape, dimension=d, dtype=index)
    sorted_ = e.emit(node.op, tuple(xs) + (iota,), node.attrs).results
    perm = sorted_[-1]
    return [None if t is None or not x.dtype.is_float else take_along(e, t, perm, d) for x, t in zip(xs, ts)]
