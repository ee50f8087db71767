"""Fuzz makers of convolution and the window ops: random layouts, strides, padding (negative too),
dilations and groups; the selecting ops get exact operands (a near-tie may pick another position)."""

from __future__ import annotations

from ..ir import TensorType
from ..ir.window_ops import SELECT_KINDS, WINDOW_KINDS, window_out_shape


def _small(gen, lo, hi):
    return gen.rnd.randint(lo, hi)


def _permuted(gen, canon):
    """A random layout of a [a, b, spatial...] shape: (shape, spec) with spec[i] = where dim i went."""
    perm = list(range(len(canon)))
    gen.rnd.shuffle(perm)
    shape = [0] * len(canon)
    for i, p in enumerate(perm):
        shape[p] = canon[i]
    return tuple(shape), tuple(perm)


def _convolution(gen, op):
    nsp = gen.rnd.choice((0, 1, 1, 2))
    fg = bg = 1
    r = gen.rnd.random()
    if r < 0.2:
        fg = 2
    elif r < 0.3:
        bg = 2
    n = _small(gen, 1, 2) * bg
    cin = _small(gen, 1, 2)
    o = _small(gen, 1, 2) * fg * bg
    ksp = [_small(gen, 1, 3) for _ in range(nsp)]
    xsp = [_small(gen, 1, 5) for _ in range(nsp)]
    xs, ls = _permuted(gen, [n, cin * fg] + xsp)
    ws, rs = _permuted(gen, [o, cin] + ksp)
    os_ = tuple(gen.rnd.sample(range(nsp + 2), nsp + 2))
    dt = gen.dtype("f")
    x = gen.like(TensorType(xs, dt))
    w = gen.like(TensorType(ws, dt))
    attrs = {"window_strides": tuple(_small(gen, 1, 2) for _ in range(nsp)),
             "padding": tuple((_small(gen, -1, 2), _small(gen, -1, 2)) for _ in range(nsp)),
             "lhs_dilation": tuple(_small(gen, 1, 2) for _ in range(nsp)),
             "rhs_dilation": tuple(_small(gen, 1, 2) for _ in range(nsp)),
             "lhs_spec": ls, "rhs_spec": rs, "out_spec": os_, "feature_group_count": fg, "batch_group_count": bg}
    return gen.emit("convolution", [x, w], attrs)


def _window_attrs(gen, x):
    nd = x.ndim
    return {"window_dimensions": tuple(_small(gen, 1, min(3, max(n, 1))) for n in x.shape),
            "window_strides": tuple(_small(gen, 1, 2) for _ in range(nd)),
            "padding": tuple((_small(gen, -1 if n > 1 else 0, 1), _small(gen, 0, 1)) for n in x.shape),
            "base_dilation": tuple(_small(gen, 1, 2) if gen.rnd.random() < 0.3 else 1 for _ in range(nd)),
            "window_dilation": tuple(_small(gen, 1, 2) if gen.rnd.random() < 0.3 else 1 for _ in range(nd))}


def _reduce_window(gen, op):
    x = gen.operand("if", pred=lambda v: v.ndim > 0)
    return gen.emit("reduce_window", [x], {"kind": gen.rnd.choice(WINDOW_KINDS), **_window_attrs(gen, x)})


def _select(gen, op):
    x = gen.operand("f", exact=True, pred=lambda v: v.ndim > 0)
    attrs = {"kind": gen.rnd.choice(SELECT_KINDS), **_window_attrs(gen, x)}
    out = window_out_shape(op, attrs, x.type)   # the attributes above are always valid
    first = gen.like(x.type if op == "select_and_gather_add" else TensorType(out, x.dtype))
    return gen.emit(op, [first, x], attrs)


WINDOW_MAKERS = {"convolution": _convolution, "reduce_window": _reduce_window,
                 "select_and_gather_add": _select, "select_and_scatter_add": _select}
