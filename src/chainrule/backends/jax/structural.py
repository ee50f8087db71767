"""Lowerings of shape, reduction, contraction and indexing ops.

The IR's gather/scatter are take-along-axis style (`axis`, `batch_dims`)
with indices clamped into range; they lower to `jnp.take` /
`.at[].add` on indices clamped here (so negative indices never wrap), and
`jax.vmap` over the leading batch dimensions, which JAX turns into a
single batched XLA gather/scatter.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .elementwise import convert
from .table import lowering


def _np(t):
    return t.dtype.np


# --- shapes ---------------------------------------------------------------------------

@lowering("broadcast_in_dim")
def _broadcast_in_dim(args, attrs, out, regions):
    return (lax.broadcast_in_dim(args[0], attrs["shape"], attrs["broadcast_dimensions"]),)


@lowering("reshape")
def _reshape(args, attrs, out, regions):
    return (lax.reshape(args[0], attrs["shape"]),)


@lowering("transpose")
def _transpose(args, attrs, out, regions):
    return (lax.transpose(args[0], attrs["permutation"]),)


@lowering("slice")
def _slice(args, attrs, out, regions):
    return (lax.slice(args[0], attrs["start_indices"], attrs["limit_indices"], attrs["strides"] or None),)


def _common_index_type(starts):
    """lax wants all start indices of one dtype; the IR lets them differ (int32 and int64)."""
    if len({np.dtype(s.dtype) for s in starts}) <= 1:
        return list(starts)
    return [lax.convert_element_type(s, np.int64) for s in starts]


@lowering("dynamic_slice")
def _dynamic_slice(args, attrs, out, regions):
    x, starts = args[0], _common_index_type(args[1:])
    # XLA clamps starts into range; negative starts must clamp to 0, not wrap as lax's default does.
    return (lax.dynamic_slice(x, starts, attrs["slice_sizes"], allow_negative_indices=False),)


@lowering("dynamic_update_slice")
def _dynamic_update_slice(args, attrs, out, regions):
    x, u, starts = args[0], args[1], _common_index_type(args[2:])
    return (lax.dynamic_update_slice(x, u, starts, allow_negative_indices=False),)


@lowering("concatenate")
def _concatenate(args, attrs, out, regions):
    return (lax.concatenate(args, attrs["dimension"]),)


@lowering("pad")
def _pad(args, attrs, out, regions):
    x, v = args
    interior = attrs["interior_padding"] or (0,) * x.ndim
    config = list(zip(attrs["edge_padding_low"], attrs["edge_padding_high"], interior))
    return (lax.pad(x, v, config),)


@lowering("reverse")
def _reverse(args, attrs, out, regions):
    return (lax.rev(args[0], attrs["dimensions"]),)


# --- reductions -------------------------------------------------------------------------

def _lowest(dt):
    return -np.inf if jnp.issubdtype(dt, jnp.inexact) else np.iinfo(dt).min  # (complex: never used)


def _highest(dt):
    return np.inf if jnp.issubdtype(dt, jnp.inexact) else np.iinfo(dt).max


def _monoid(kind, dt):
    """(init, combiner) of a reduction kind for dtype `dt`."""
    if dt == np.bool_:
        return {"sum": (False, lax.bitwise_or), "max": (False, lax.bitwise_or), "or": (False, lax.bitwise_or),
                "prod": (True, lax.bitwise_and), "min": (True, lax.bitwise_and),
                "and": (True, lax.bitwise_and)}[kind]
    ones = np.iinfo(dt).max if np.dtype(dt).kind == "u" else -1
    return {"sum": (0, lax.add), "prod": (1, lax.mul), "max": (_lowest(dt), lax.max),
            "min": (_highest(dt), lax.min), "and": (ones, lax.bitwise_and), "or": (0, lax.bitwise_or)}[kind]


@lowering("reduce")
def _reduce(args, attrs, out, regions):
    (x,) = args
    narrow = attrs["kind"] in ("sum", "prod") and out[0].dtype.is_narrow_float
    if narrow:  # float16/bfloat16 sums and products accumulate in float32 and round once
        x = lax.convert_element_type(x, np.float32)
    init, fn = _monoid(attrs["kind"], x.dtype)
    r = lax.reduce(x, np.asarray(init, dtype=x.dtype), fn, tuple(attrs["dimensions"]))
    return (convert(r, _np(out[0])) if narrow else r,)


@lowering("argmax")
def _argmax(args, attrs, out, regions):
    # lax.argmax counts the first NaN as the maximum, as NumPy does
    return (lax.argmax(args[0], attrs["dimension"], _np(out[0])),)


@lowering("argmin")
def _argmin(args, attrs, out, regions):
    return (lax.argmin(args[0], attrs["dimension"], _np(out[0])),)


# --- contraction ------------------------------------------------------------------------

@lowering("dot_general")
def _dot_general(args, attrs, out, regions):
    lhs, rhs = args
    dims = ((attrs["lhs_contracting"], attrs["rhs_contracting"]), (attrs["lhs_batch"], attrs["rhs_batch"]))
    # HIGHEST: full float32 products on GPUs/TPUs too (no TF32/bf16 passes), as the oracle computes.
    return (lax.dot_general(lhs, rhs, dims, precision=lax.Precision.HIGHEST,
                            preferred_element_type=_np(out[0])),)


# --- gather / scatter ---------------------------------------------------------------------

def _clip(idx, n):
    return lax.clamp(np.asarray(0, idx.dtype), idx, np.asarray(max(n - 1, 0), idx.dtype))


def _batched(fn, batch_dims):
    for _ in range(batch_dims):
        fn = jax.vmap(fn)
    return fn


@lowering("gather")
def _gather(args, attrs, out, regions):
    x, idx = args
    axis, bd = attrs["axis"], attrs["batch_dims"]
    if out[0].size == 0:
        return (jnp.zeros(out[0].shape, _np(out[0])),)
    idx = _clip(idx, x.shape[axis])
    take = _batched(lambda a, i: jnp.take(a, i, axis=axis - bd, mode="clip"), bd)
    return (take(x, idx),)


def _scatter_add(x, idx, upd, axis):
    where = (slice(None),) * axis + (idx,)
    if x.dtype == np.bool_:  # bool addition is "or": count the true updates per target
        hits = jnp.zeros(x.shape, np.int32).at[where].add(upd.astype(np.int32), mode="clip")
        return lax.bitwise_or(x, lax.gt(hits, lax.full_like(hits, 0)))
    return x.at[where].add(upd, mode="clip")


def _scatter_set(x, idx, upd, axis):
    """Set with "last update wins" on every device: XLA leaves the order of
    colliding updates unspecified, so each target first learns the position
    of its last update (a scatter-max), and every colliding update then
    writes that winner's value: the order no longer matters."""
    where = (slice(None),) * axis + (idx,)
    if idx.ndim == 0:  # one update per target: nothing collides
        return x.at[where].set(upd, mode="clip")
    nj = idx.size
    pos_dtype = np.int64 if nj > 2**31 - 1 else np.int32
    flat_pos = lax.reshape(lax.iota(pos_dtype, nj), idx.shape)
    # pos[p.., j.., q..] = the flat position j of the update within the indices
    pos = lax.broadcast_in_dim(flat_pos, upd.shape, tuple(range(axis, axis + idx.ndim)))
    winner = jnp.full(x.shape, -1, pos_dtype).at[where].max(pos, mode="clip")
    w = jnp.take(winner, idx, axis=axis, mode="clip")  # each update's target's winner, upd.shape
    flat = upd.shape[:axis] + (nj,) + upd.shape[axis + idx.ndim:]
    chosen = jnp.take_along_axis(lax.reshape(upd, flat), lax.reshape(w, flat), axis=axis, mode="clip")
    return x.at[where].set(lax.reshape(chosen, upd.shape), mode="clip")


@lowering("scatter")
def _scatter(args, attrs, out, regions):
    x, idx, upd = jnp.asarray(args[0]), args[1], args[2]  # a constant operand arrives as a NumPy array
    axis, bd, kind = attrs["axis"], attrs["batch_dims"], attrs["kind"]
    if upd.size == 0:
        return (x,)
    idx = _clip(idx, x.shape[axis])
    one = _scatter_add if kind == "add" else _scatter_set
    fn = _batched(lambda a, i, u: one(a, i, u, axis - bd), bd)
    return (fn(x, idx, upd),)
