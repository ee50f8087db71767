"""`convolution`: StableHLO's convolution, with jax.lax.conv_general_dilated's dimension numbers.

    %y = convolution %x, %w {window_strides=[1,1], padding=[[1,1],[1,1]], lhs_dilation=[1,1],
                             rhs_dilation=[1,1], lhs_spec=[0,1,2,3], rhs_spec=[0,1,2,3],
                             out_spec=[0,1,2,3], feature_group_count=1, batch_group_count=1}

`lhs_spec` lists the lhs dimensions holding (batch, feature, spatial...),
`rhs_spec` the rhs dimensions holding (output feature, input feature,
spatial...), `out_spec` the result dimensions holding (batch, feature,
spatial...), exactly as `jax.lax.ConvDimensionNumbers`. An empty
`window_strides`, `lhs_dilation` or `rhs_dilation` means ones, an empty
`padding` means no padding. The shape helpers below are shared by the
frontend, the derivative and batching rules and the backends.
"""

from __future__ import annotations

from .errors import IRTypeError
from .ops import AttrSpec, OpDef, register
from .types import TensorType


def dilate_shape(n: int, d: int) -> int:
    """The size of `n` elements with `d - 1` holes between neighbours (0 stays 0)."""
    return 0 if n == 0 else 1 + d * (n - 1)


def window_out_size(n: int, window: int, stride: int, lo: int, hi: int, base_dilation: int = 1,
                    window_dilation: int = 1) -> int:
    """Output length of a strided window over a padded, dilated axis (0 when the window does not fit)."""
    padded = dilate_shape(n, base_dilation) + lo + hi
    w = dilate_shape(window, window_dilation)
    if padded < w:
        return 0
    return (padded - w) // stride + 1


def check_pairs(op, types, name, value, n):
    """`value` as a tuple of `n` (lo, hi) integer pairs (empty means zeros)."""
    if value == ():
        return ((0, 0),) * n
    ok = isinstance(value, tuple) and len(value) == n and all(
        isinstance(p, tuple) and len(p) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in p)
        for p in value)
    if not ok:
        raise IRTypeError(op, types, f"{name}={list(value) if isinstance(value, tuple) else value!r}",
                          f"{n} (low, high) pairs of integers")
    return value


def check_positive(op, types, name, value, n, default=1):
    """`value` as `n` integers >= 1 (empty means all `default`)."""
    if value == ():
        return (default,) * n
    if len(value) != n or any(v < 1 for v in value):
        raise IRTypeError(op, types, f"{name}={list(value)}", f"{n} integers >= 1")
    return value


def check_padded(op, types, sizes, padding, dilation):
    """Negative padding may crop, but not more than the (dilated) dimension holds, as in XLA."""
    for k, (n, (lo, hi), d) in enumerate(zip(sizes, padding, dilation)):
        m = dilate_shape(n, d)
        if -lo > m or -hi > m or m + lo + hi < 0:
            raise IRTypeError(op, types, f"padding {(lo, hi)} of a dimension of size {m} (dimension {k})",
                              "negative padding that crops no more than the dimension holds")


def conv_params(attrs, nsp, types=()):
    """(strides, padding, lhs_dilation, rhs_dilation) with empty attributes filled in."""
    op = "convolution"
    return (check_positive(op, types, "window_strides", attrs["window_strides"], nsp),
            check_pairs(op, types, "padding", attrs["padding"], nsp),
            check_positive(op, types, "lhs_dilation", attrs["lhs_dilation"], nsp),
            check_positive(op, types, "rhs_dilation", attrs["rhs_dilation"], nsp))


def _check_spec(types, name, spec, ndim):
    if sorted(spec) != list(range(ndim)):
        raise IRTypeError("convolution", types, f"{name}={list(spec)} is not a permutation of the {ndim} dimensions",
                          f"a permutation of 0..{ndim - 1} (batch/feature dimensions first, then spatial)")


def _convolution(types, attrs, regions):
    lhs, rhs = types
    if lhs.dtype != rhs.dtype:
        raise IRTypeError("convolution", types, "operand dtypes differ", "operands of one dtype")
    if lhs.dtype.kind not in "if":
        raise IRTypeError("convolution", types, f"dtype {lhs.dtype.name} is not supported", "integer or float operands")
    nd = lhs.ndim
    if nd < 2 or rhs.ndim != nd:
        raise IRTypeError("convolution", types, f"ranks {lhs.ndim} and {rhs.ndim}", "operands of one rank >= 2")
    ls, rs, os_ = attrs["lhs_spec"], attrs["rhs_spec"], attrs["out_spec"]
    for name, spec in (("lhs_spec", ls), ("rhs_spec", rs), ("out_spec", os_)):
        _check_spec(types, name, spec, nd)
    nsp = nd - 2
    strides, padding, ldil, rdil = conv_params(attrs, nsp, types)
    g, bg = attrs["feature_group_count"], attrs["batch_group_count"]
    if g < 1 or bg < 1 or (g > 1 and bg > 1):
        raise IRTypeError("convolution", types, f"feature_group_count={g}, batch_group_count={bg}",
                          "group counts >= 1, at most one of them above 1")
    n, c = lhs.shape[ls[0]], lhs.shape[ls[1]]
    o, i = rhs.shape[rs[0]], rhs.shape[rs[1]]
    if c % g or c // g != i:
        raise IRTypeError("convolution", types, f"lhs feature size {c} with feature_group_count={g} and rhs "
                          f"input feature size {i}", "lhs features == feature_group_count * rhs input features")
    if o % g:
        raise IRTypeError("convolution", types, f"rhs output feature size {o} with feature_group_count={g}",
                          "output features divisible by feature_group_count")
    if n % bg or o % bg:
        raise IRTypeError("convolution", types, f"batch size {n} / output features {o} with batch_group_count={bg}",
                          "both divisible by batch_group_count")
    check_padded("convolution", types, [lhs.shape[d] for d in ls[2:]], padding, ldil)
    out = [0] * nd
    out[os_[0]] = n // bg
    out[os_[1]] = o
    for k in range(nsp):
        out[os_[2 + k]] = window_out_size(lhs.shape[ls[2 + k]], rhs.shape[rs[2 + k]], strides[k], *padding[k],
                                          ldil[k], rdil[k])
    return (TensorType(out, lhs.dtype),)


register(OpDef(
    "convolution", _convolution, num_operands=2, category="dot", linear=(0, 1),
    attrs={"window_strides": AttrSpec("ints", ()), "padding": AttrSpec("any", ()),
           "lhs_dilation": AttrSpec("ints", ()), "rhs_dilation": AttrSpec("ints", ()),
           "lhs_spec": AttrSpec("ints"), "rhs_spec": AttrSpec("ints"), "out_spec": AttrSpec("ints"),
           "feature_group_count": AttrSpec("int", 1), "batch_group_count": AttrSpec("int", 1)},
    doc="StableHLO convolution (a cross-correlation, as XLA's): out[n, o, s] = sum over input features and "
        "window positions k of lhs_padded[n, c, s * window_strides + k * rhs_dilation] * rhs[o, c, k], the lhs "
        "dilated by `lhs_dilation` and padded by `padding` ((low, high) per spatial dimension). Dimension "
        "numbers as jax.lax: `lhs_spec` (batch, feature, spatial...), `rhs_spec` (out feature, in feature, "
        "spatial...), `out_spec` (batch, feature, spatial...). `feature_group_count`/`batch_group_count` "
        "split features/batch into groups."))
