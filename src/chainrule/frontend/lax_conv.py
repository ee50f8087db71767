"""jax.lax's convolutions and window reductions: conv_general_dilated, conv, conv_with_general_padding,
conv_transpose, conv_dimension_numbers, reduce_window (and its sum/max/min forms).

Same names, signatures and semantics as jax.lax; they build `convolution` and
`reduce_window` nodes (computed at once on concrete arrays). Bad arguments
raise ValueError/TypeError naming the argument and what was expected.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..ir.conv_ops import dilate_shape
from ..ir.window_ops import window_identity as _identity
from .core import bind, type_of
from .lax import convert, operand, result_type
from .lax import operand as _as_operand  # reduce_window's first parameter is named `operand`, as in JAX


class ConvDimensionNumbers(NamedTuple):
    """Which dimensions hold (batch, feature, spatial...) of lhs and result and (out feature, in
    feature, spatial...) of rhs, as jax.lax.ConvDimensionNumbers."""
    lhs_spec: tuple
    rhs_spec: tuple
    out_spec: tuple


def _perm(spec: str, chars, rhs_spec: str, name: str):
    for c in chars:
        if spec.count(c) != 1:
            raise ValueError(f"dimension_numbers: {name} spec {spec!r} must hold {c!r} exactly once")
    spatial = [i for i, c in enumerate(spec) if c not in chars]
    if spec is not rhs_spec:
        missing = [spec[i] for i in spatial if spec[i] not in rhs_spec]
        if missing:
            raise ValueError(f"dimension_numbers: spatial dimension(s) {missing} of {name} spec {spec!r} "
                             f"are not in the rhs spec {rhs_spec!r}")
        spatial.sort(key=lambda i: rhs_spec.index(spec[i]))
    return (spec.index(chars[0]), spec.index(chars[1])) + tuple(spatial)


def conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers) -> ConvDimensionNumbers:
    """jax.lax.conv_dimension_numbers: None (NCHW/OIHW/NCHW), three strings such as
    ('NHWC', 'HWIO', 'NHWC'), or three tuples of dimension indices."""
    nd = len(lhs_shape)
    if len(rhs_shape) != nd:
        raise ValueError(f"conv: lhs and rhs must have the same rank, got lhs shape {tuple(lhs_shape)} and rhs "
                         f"shape {tuple(rhs_shape)}")
    if nd < 2:
        raise ValueError(f"conv: operands must have rank >= 2 (batch, feature, spatial...), got rank {nd}")
    if dimension_numbers is None:
        ident = tuple(range(nd))
        return ConvDimensionNumbers(ident, ident, ident)
    if isinstance(dimension_numbers, ConvDimensionNumbers) or (
            len(dimension_numbers) == 3 and not any(isinstance(s, str) for s in dimension_numbers)):
        specs = tuple(tuple(int(d) for d in s) for s in dimension_numbers)
        for name, s in zip(("lhs", "rhs", "out"), specs):
            if sorted(s) != list(range(nd)):
                raise ValueError(f"dimension_numbers: {name} spec {s} is not a permutation of the {nd} dimensions")
        return ConvDimensionNumbers(*specs)
    if len(dimension_numbers) != 3 or not all(isinstance(s, str) for s in dimension_numbers):
        raise TypeError(f"dimension_numbers must be None, a ConvDimensionNumbers or three strings such as "
                        f"('NCHW', 'OIHW', 'NCHW'), got {dimension_numbers!r}")
    ls, rs, os_ = dimension_numbers
    for name, s in (("lhs", ls), ("rhs", rs), ("out", os_)):
        if len(s) != nd:
            raise ValueError(f"dimension_numbers: {name} spec {s!r} has {len(s)} letters for rank-{nd} operands")
    return ConvDimensionNumbers(_perm(ls, "NC", rs, "lhs"), _perm(rs, "OI", rs, "rhs"), _perm(os_, "NC", rs, "out"))


def _ints(name, value, n, fn, positive=True):
    if value is None:
        return (1,) * n
    try:
        vals = tuple(int(v) for v in value)
    except TypeError:
        raise TypeError(f"{fn}: {name} must be a sequence of {n} integers, got {value!r}") from None
    if len(vals) != n:
        raise ValueError(f"{fn}: {name} must have {n} entries (one per spatial dimension), got {value!r}")
    if positive and any(v < 1 for v in vals):
        raise ValueError(f"{fn}: {name} must be positive integers, got {value!r}")
    return vals


def padtype_to_pads(in_shape, window_shape, window_strides, padding, fn="conv"):
    """'SAME', 'SAME_LOWER' or 'VALID' as explicit (low, high) pairs (jax.lax.padtype_to_pads)."""
    p = padding.upper()
    if p == "VALID":
        return ((0, 0),) * len(in_shape)
    if p not in ("SAME", "SAME_LOWER"):
        raise ValueError(f"{fn}: padding must be 'SAME', 'SAME_LOWER', 'VALID' or a sequence of (low, high) "
                         f"pairs, got {padding!r}")
    pads = []
    for n, w, s in zip(in_shape, window_shape, window_strides):
        out = -(-n // s)
        size = max(0, (out - 1) * s + w - n)
        lo = size // 2 if p == "SAME" else size - size // 2
        pads.append((lo, size - lo))
    return tuple(pads)


def _pairs(fn, padding, n):
    try:
        pads = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: padding must be 'SAME', 'VALID' or a sequence of {n} (low, high) pairs, "
                        f"got {padding!r}") from None
    if len(pads) != n:
        raise ValueError(f"{fn}: padding must have {n} (low, high) pairs, got {padding!r}")
    return pads


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                         dimension_numbers=None, feature_group_count=1, batch_group_count=1, precision=None,
                         preferred_element_type=None):
    """jax.lax.conv_general_dilated: a general dilated, grouped convolution (XLA's, a cross-correlation)."""
    fn = "conv_general_dilated"
    x, w = operand(lhs), operand(rhs)
    dt = result_type(x, w)
    if preferred_element_type is not None and np.dtype(preferred_element_type) != dt.np:
        raise NotImplementedError(f"{fn}: preferred_element_type={preferred_element_type} differs from the "
                                  f"operands' dtype {dt.name}; cast the operands instead")
    x, w = convert(x, dt), convert(w, dt)
    xs, ws = type_of(x).shape, type_of(w).shape
    dn = conv_dimension_numbers(xs, ws, dimension_numbers)
    nsp = len(xs) - 2
    strides = _ints("window_strides", window_strides, nsp, fn)
    ldil = _ints("lhs_dilation", lhs_dilation, nsp, fn)
    rdil = _ints("rhs_dilation", rhs_dilation, nsp, fn)
    in_sp = [xs[d] for d in dn.lhs_spec[2:]]
    k_sp = [ws[d] for d in dn.rhs_spec[2:]]
    if isinstance(padding, str):
        if any(d != 1 for d in ldil):
            raise ValueError(f"{fn}: string padding {padding!r} is not supported with lhs_dilation {ldil} (as in "
                             "JAX): give explicit (low, high) pairs, or use conv_transpose")
        pads = padtype_to_pads(in_sp, [dilate_shape(k, r) for k, r in zip(k_sp, rdil)], strides, padding, fn)
    else:
        pads = _pairs(fn, padding, nsp)
    for name, count in (("feature_group_count", feature_group_count), ("batch_group_count", batch_group_count)):
        if not isinstance(count, (int, np.integer)) or isinstance(count, bool) or count < 1:
            raise ValueError(f"{fn}: {name} must be a positive integer, got {count!r}")
    if feature_group_count > 1 and batch_group_count > 1:
        raise ValueError(f"{fn}: at most one of feature_group_count ({feature_group_count}) and batch_group_count "
                         f"({batch_group_count}) may exceed 1")
    c, i, o, n = xs[dn.lhs_spec[1]], ws[dn.rhs_spec[1]], ws[dn.rhs_spec[0]], xs[dn.lhs_spec[0]]
    if c % feature_group_count:
        raise ValueError(f"{fn}: feature_group_count={feature_group_count} must divide the lhs feature "
                         f"dimension {c}")
    if c // feature_group_count != i:
        raise ValueError(f"{fn}: the rhs input feature dimension ({i}) must equal the lhs feature dimension ({c}) "
                         f"divided by feature_group_count ({feature_group_count})")
    if o % feature_group_count or o % batch_group_count:
        raise ValueError(f"{fn}: the rhs output feature dimension ({o}) must be divisible by feature_group_count "
                         f"({feature_group_count}) and batch_group_count ({batch_group_count})")
    if n % batch_group_count:
        raise ValueError(f"{fn}: batch_group_count={batch_group_count} must divide the lhs batch dimension {n}")
    for k, (size, win, (lo, hi), ld, rd) in enumerate(zip(in_sp, k_sp, pads, ldil, rdil)):
        padded, span = dilate_shape(size, ld) + lo + hi, dilate_shape(win, rd)
        if span > padded:
            raise ValueError(f"{fn}: the rhs window of spatial dimension {k} (size {win}, dilated to {span}) is "
                             f"larger than the padded lhs ({padded} = {size} dilated by {ld}, padding {(lo, hi)})")
    return bind("convolution", x, w, window_strides=strides, padding=pads, lhs_dilation=ldil, rhs_dilation=rdil,
                lhs_spec=dn.lhs_spec, rhs_spec=dn.rhs_spec, out_spec=dn.out_spec,
                feature_group_count=int(feature_group_count), batch_group_count=int(batch_group_count))


def conv(lhs, rhs, window_strides, padding, precision=None, preferred_element_type=None):
    """jax.lax.conv: NCHW lhs, OIHW rhs, no dilation."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_with_general_padding(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, precision=None,
                              preferred_element_type=None):
    """jax.lax.conv_with_general_padding: NCHW lhs, OIHW rhs, explicit padding and dilations."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                precision=precision, preferred_element_type=preferred_element_type)


def _conv_transpose_padding(k, s, padding):
    if padding == "SAME":
        total = k + s - 2
        lo = k - 1 if s > k - 1 else math.ceil(total / 2)
    elif padding == "VALID":
        total = k + s - 2 + max(k - s, 0)
        lo = k - 1
    else:
        raise ValueError(f"conv_transpose: padding must be 'SAME', 'VALID' or explicit pairs, got {padding!r}")
    return lo, total - lo


_TRANSPOSE_DEFAULTS = {2: ("NC", "IO", "NC"), 3: ("NHC", "HIO", "NHC"), 4: ("NHWC", "HWIO", "NHWC"),
                       5: ("NHWDC", "HWDIO", "NHWDC")}


def conv_transpose(lhs, rhs, strides, padding, rhs_dilation=None, dimension_numbers=None, transpose_kernel=False,
                   precision=None, preferred_element_type=None):
    """jax.lax.conv_transpose: the gradient-of-convolution ("deconvolution"), an lhs-dilated convolution."""
    x, w = operand(lhs), operand(rhs)
    nd = type_of(x).ndim
    if dimension_numbers is None:
        if nd not in _TRANSPOSE_DEFAULTS:
            raise ValueError(f"conv_transpose: no default dimension_numbers for rank-{nd} operands; pass them")
        dimension_numbers = _TRANSPOSE_DEFAULTS[nd]
    dn = conv_dimension_numbers(type_of(x).shape, type_of(w).shape, dimension_numbers)
    nsp = nd - 2
    strides = _ints("strides", strides, nsp, "conv_transpose")
    rdil = _ints("rhs_dilation", rhs_dilation, nsp, "conv_transpose")
    k_sp = [type_of(w).shape[d] for d in dn.rhs_spec[2:]]
    if isinstance(padding, str):
        pads = tuple(_conv_transpose_padding(dilate_shape(k, r), s, padding.upper())
                     for k, r, s in zip(k_sp, rdil, strides))
    else:
        pads = padding
    if transpose_kernel:   # flip the spatial dimensions and swap the kernel's input and output features
        if nsp:
            w = bind("reverse", w, dimensions=tuple(sorted(dn.rhs_spec[2:])))
        perm = list(range(nd))
        perm[dn.rhs_spec[0]], perm[dn.rhs_spec[1]] = perm[dn.rhs_spec[1]], perm[dn.rhs_spec[0]]
        w = bind("transpose", w, permutation=tuple(perm))
    return conv_general_dilated(x, w, (1,) * nsp, pads, strides, rdil, dn, precision=precision,
                                preferred_element_type=preferred_element_type)


# --- reduce_window ------------------------------------------------------------------------------

_KIND_OF = {"add": "sum", "sum": "sum", "max": "max", "maximum": "max", "min": "min", "minimum": "min"}



def _window_args(fn, x, window_dimensions, window_strides, padding, base_dilation, window_dilation):
    shape = type_of(x).shape
    n = len(shape)
    wd = _ints("window_dimensions", window_dimensions, n, fn)
    st = _ints("window_strides", window_strides, n, fn)
    bd = _ints("base_dilation", base_dilation, n, fn)
    wdil = _ints("window_dilation", window_dilation, n, fn)
    if isinstance(padding, str):
        pads = padtype_to_pads(shape, [dilate_shape(w, d) for w, d in zip(wd, wdil)], st, padding, fn)
    else:
        pads = _pairs(fn, padding, n)
    for k, (size, w, (lo, hi), b, d) in enumerate(zip(shape, wd, pads, bd, wdil)):
        padded, span = dilate_shape(size, b) + lo + hi, dilate_shape(w, d)
        if span > padded:
            raise ValueError(f"{fn}: the window of dimension {k} (size {w}, dilated to {span}) is larger than the "
                             f"padded operand ({padded} = {size} dilated by {b}, padding {(lo, hi)})")
    return dict(window_dimensions=wd, window_strides=st, padding=pads, base_dilation=bd, window_dilation=wdil)


def _reduce_window_kind(x, kind, window_dimensions, window_strides, padding, base_dilation=None,
                        window_dilation=None, fn="reduce_window"):
    x = operand(x)
    if type_of(x).dtype.is_bool:
        raise TypeError(f"{fn}: bool operands are not supported; convert to an integer or float dtype")
    attrs = _window_args(fn, x, window_dimensions, window_strides, padding, base_dilation, window_dilation)
    return bind("reduce_window", x, kind=kind, **attrs)


def reduce_window_sum(operand_, window_dimensions, window_strides, padding, base_dilation=None, window_dilation=None):
    """The sum over every window (jax.lax.reduce_window with lax.add and 0)."""
    return _reduce_window_kind(operand_, "sum", window_dimensions, window_strides, padding, base_dilation,
                               window_dilation, "reduce_window_sum")


def reduce_window_max(operand_, window_dimensions, window_strides, padding, base_dilation=None, window_dilation=None):
    """The max over every window (jax.lax.reduce_window with lax.max and -inf)."""
    return _reduce_window_kind(operand_, "max", window_dimensions, window_strides, padding, base_dilation,
                               window_dilation, "reduce_window_max")


def reduce_window_min(operand_, window_dimensions, window_strides, padding, base_dilation=None, window_dilation=None):
    """The min over every window (jax.lax.reduce_window with lax.min and +inf)."""
    return _reduce_window_kind(operand_, "min", window_dimensions, window_strides, padding, base_dilation,
                               window_dilation, "reduce_window_min")


def reduce_window(operand, init_value, computation, window_dimensions, window_strides, padding, base_dilation=None,
                  window_dilation=None):
    """jax.lax.reduce_window with computation add, max or min (jax.lax's, NumPy's or chainrule's
    functions of those names). An init value other than the identity joins every window once."""
    fn = "reduce_window"
    if isinstance(operand, (tuple, list)) and not isinstance(init_value, (int, float, np.generic, np.ndarray)):
        raise NotImplementedError(f"{fn}: variadic reduce_window (tuples of operands) is not supported yet")
    kind = _KIND_OF.get(getattr(computation, "__name__", None))
    if kind is None:
        raise NotImplementedError(f"{fn}: computation must be add, max or min (lax.add/lax.max/lax.min, "
                                  f"np.add/np.maximum/np.minimum), got {computation!r}")
    x = _as_operand(operand)
    dt = type_of(x).dtype
    init = np.asarray(init_value).astype(dt.np) if not hasattr(init_value, "type") else init_value
    ident = _identity(kind, dt)
    if isinstance(init, np.ndarray) and init.shape == () and init == np.asarray(ident, dt.np):
        return _reduce_window_kind(x, kind, window_dimensions, window_strides, padding, base_dilation,
                                   window_dilation, fn)
    # another init value joins every window once (padding and dilation holes still count as the
    # identity, as jax.lax.reduce_window computes)
    r = _reduce_window_kind(x, kind, window_dimensions, window_strides, padding, base_dilation, window_dilation, fn)
    init_b = bind("broadcast_in_dim", convert(init, dt), shape=type_of(r).shape, broadcast_dimensions=())
    return bind({"sum": "add", "max": "maximum", "min": "minimum"}[kind], init_b, r)


__all__ = ["ConvDimensionNumbers", "conv", "conv_dimension_numbers", "conv_general_dilated", "conv_transpose",
           "conv_with_general_padding", "padtype_to_pads", "reduce_window", "reduce_window_max", "reduce_window_min",
           "reduce_window_sum"]
