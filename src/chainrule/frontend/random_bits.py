"""Threefry-2x32 on 32-bit words in IR ops: keys, split, fold_in and raw bits, bit-identical with jax.random.

A key is a raw array of two 32-bit words, as `jax.random.PRNGKey` returns. The hash is the 20-round
Threefry-2x32 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11) written with
add, xor and rotations on words, so it runs, batches and stays out of derivatives on every backend.
The counter layout follows JAX's default mode (``jax_threefry_partitionable=True`` since JAX 0.5):
element i of an output of shape s hashes the 64-bit counter i (row-major) split into its high and
low words, and a 32-bit output is the xor of the two hashed words.
"""

from __future__ import annotations

import math

import numpy as np

from .core import bind, is_tensor, type_of
from .lax import convert, operand

_MASK = 0xFFFFFFFF
WORD = "uint32"
_WORD_NP = np.dtype(np.uint32)


def _c(v):
    return np.asarray(v, dtype=_WORD_NP)


def _full(x, v):
    shape = type_of(x).shape
    c = _c(v)
    return c if not shape else bind("broadcast_in_dim", c, shape=shape, broadcast_dimensions=())


def _same_shape(a, b):
    sa, sb = type_of(a).shape, type_of(b).shape
    if sa == sb:
        return a, b
    shape = tuple(np.broadcast_shapes(sa, sb))
    return _bcast(a, shape), _bcast(b, shape)


def _bcast(x, shape):
    t = type_of(x)
    if t.shape == shape:
        return x
    lead = len(shape) - t.ndim
    return bind("broadcast_in_dim", x, shape=shape, broadcast_dimensions=tuple(range(lead, len(shape))))


def _binary(op):
    def f(a, b):
        a, b = _same_shape(a, b)
        return bind(op, a, b)
    return f


w_add, w_xor, w_or = _binary("add"), _binary("xor"), _binary("or")  # add wraps modulo 2**32


def w_shl(x, k: int):
    return bind("shift_left", x, _full(x, k))


def w_shr(x, k: int):
    return bind("shift_right_logical", x, _full(x, k))


def w_rotl(x, r: int):
    return w_or(w_shl(x, r), w_shr(x, 32 - r))


def to_word(x):
    """uint32 words from an integer tensor: its low 32 bits (two's complement for negatives)."""
    return convert(operand(x), WORD)


_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def threefry2x32(k0, k1, x0, x1):
    """The Threefry-2x32 hash of the counter words (x0, x1) under key words (k0, k1), broadcast."""
    k2 = w_xor(w_xor(k0, k1), _c(0x1BD11BDA))
    ks = (k0, k1, k2)
    x0, x1 = w_add(x0, k0), w_add(x1, k1)
    x0, x1 = _same_shape(x0, x1)
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = w_add(x0, x1)
            x1 = w_xor(w_rotl(x1, r), x0)
        x0 = w_add(x0, ks[(i + 1) % 3])
        x1 = w_add(x1, w_add(ks[(i + 2) % 3], _c(i + 1)))
    return x0, x1


# --- keys ---------------------------------------------------------------------------------------------

def _check_key(name, key):
    key = operand(key)
    t = type_of(key)
    if t.shape != (2,) or not (t.dtype.kind in "iu"):
        raise TypeError(f"{name}: key must be a raw key, an array of two 32-bit words (uint32[2]) as "
                        f"cr.random.PRNGKey(seed) returns; got {t}" + (
                            " (a batch of keys: use cr.vmap over them)" if t.ndim > 1 and t.shape[-1] == 2 else ""))
    return to_word(key)


def key_words(name, key):
    key = _check_key(name, key)
    k0 = bind("reshape", bind("slice", key, start_indices=(0,), limit_indices=(1,), strides=()), shape=())
    k1 = bind("reshape", bind("slice", key, start_indices=(1,), limit_indices=(2,), strides=()), shape=())
    return k0, k1


def _stack_words(a, b):
    shape = type_of(a).shape
    a = bind("reshape", a, shape=shape + (1,))
    b = bind("reshape", b, shape=shape + (1,))
    return bind("concatenate", a, b, dimension=len(shape))


def PRNGKey(seed):
    """A raw key from an integer seed, as `jax.random.PRNGKey`: [seed >> 32, seed & 0xFFFFFFFF] as uint32.

    A Python int seed is int64 (chainrule's default integer), which matches JAX with ``jax_enable_x64``;
    JAX without x64 first truncates seeds to int32 (only negative or huge seeds differ). An int32
    array seed gives [0, seed] as in JAX.
    """
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError("PRNGKey: seed must be an integer, got a bool")
    if isinstance(seed, int):
        if not -(1 << 63) <= seed < (1 << 64):
            raise OverflowError(f"PRNGKey: seed {seed} does not fit in 64 bits")
        seed = np.asarray(seed if seed < (1 << 63) else seed - (1 << 64), np.int64)
    s = operand(seed)
    t = type_of(s)
    if t.shape != ():
        raise TypeError(f"PRNGKey: seed must be a scalar, got an array of shape {t.shape} (use cr.vmap to batch)")
    if t.dtype.kind not in "iu":
        raise TypeError(f"PRNGKey: seed must be an integer, got {t.dtype}")
    if not is_tensor(s):
        v = int(np.asarray(s))
        wide = t.dtype.bits > 32
        hi = (v >> 32) & _MASK if wide else 0
        return np.asarray([hi, v & _MASK], dtype=_WORD_NP)
    lo = to_word(s)
    if t.dtype.bits > 32:
        s64 = convert(s, "uint64")
        hi = to_word(bind("shift_right_logical", s64, np.asarray(32, np.uint64)))
    else:
        hi = _full(lo, 0)
    return _stack_words(hi, lo)


key = PRNGKey


def key_data(keys):
    """The raw words of a key (raw keys are their own data)."""
    return operand(keys)


def _counters(shape):
    """The row-major flat index of each element of `shape` as (high, low) words."""
    shape = tuple(int(s) for s in shape)
    n = math.prod(shape)
    if n > (1 << 32):
        raise NotImplementedError(f"random arrays of more than 2**32 elements (shape {shape}) are not supported")
    if not shape:
        return _c(0), _c(0)
    flat = bind("iota", dtype=WORD, shape=(n,), dimension=0) if n else np.zeros((0,), _WORD_NP)
    lo = bind("reshape", flat, shape=shape)
    return _full(lo, 0), lo


def _hash_shape(key, shape, name):
    k0, k1 = key_words(name, key)
    hi, lo = _counters(shape)
    return threefry2x32(k0, k1, hi, lo)


def split(key, num=2):
    """`num` new keys (shape (num, 2), or num + (2,) for a tuple), as jax.random.split."""
    shape = tuple(num) if isinstance(num, (tuple, list)) else (int(num),)
    if any(s < 0 for s in shape):
        raise ValueError(f"split: num must be non-negative, got {num}")
    b0, b1 = _hash_shape(key, shape, "split")
    return _stack_words(b0, b1)


def fold_in(key, data):
    """A new key from `key` and a 32-bit integer `data`, as jax.random.fold_in."""
    k0, k1 = key_words("fold_in", key)
    if isinstance(data, (bool, np.bool_)):
        raise TypeError("fold_in: data must be an integer, got a bool")
    if isinstance(data, int):
        data = np.asarray(data & _MASK, np.int64)
    d = operand(data)
    if type_of(d).shape != ():
        raise TypeError(f"fold_in: data must be a scalar integer, got shape {type_of(d).shape} (use cr.vmap to batch)")
    if type_of(d).dtype.kind not in "iu":
        raise TypeError(f"fold_in: data must be an integer, got {type_of(d).dtype}")
    y0, y1 = threefry2x32(k0, k1, _c(0), to_word(d))
    return _stack_words(y0, y1)


def bits32(key, shape, name="bits"):
    b0, b1 = _hash_shape(key, shape, name)
    return w_xor(b0, b1)


def bits_pair(key, shape, name="bits"):
    """The two hashed words per element (a 64-bit draw is hi << 32 | lo)."""
    return _hash_shape(key, shape, name)


__all__ = ["PRNGKey", "key", "key_data", "split", "fold_in", "threefry2x32", "bits32", "bits_pair"]
