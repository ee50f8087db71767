"""Products of arrays: matmul, dot, vdot, inner, outer, tensordot, matvec, vecmat, vecdot, kron,
cross, and einsum.

chainrule.numpy.einsum: subscripts parsed into diagonals, sums, dot_generals and a transpose.

The plan, per operand: a label repeated within it takes the diagonal of
those axes; size-1 axes broadcast to the label's size; labels used nowhere
else are summed out. Operands are then contracted left to right with
`dot_general`: labels shared by the pair that are still needed (by the
output or a later operand) are batch dimensions, the others contract. A
final transpose puts the labels in output order. '...' stands for the
broadcast leading dimensions, as in NumPy.
"""

from __future__ import annotations

import builtins
import string

import numpy as np

from ...ir import dtype as as_dtype
from .. import lax
from ..core import bind, type_of
from ..lax import broadcast_to, convert, normalize_axis, operand, result_type
from .ufuncs import multiply, negative, subtract
from .shapes import concatenate, moveaxis, ravel, reshape
from .reductions import sum
from .manipulation import slice_axis
from .matrices import diagonal


# --- linear algebra ------------------------------------------------------------------

def _promote2(a, b):
    a, b = operand(a), operand(b)
    dt = result_type(a, b)
    if dt.is_bool:
        dt = as_dtype("int64")
    return convert(a, dt), convert(b, dt)


def _pref(preferred_element_type):
    """dot_general's accumulation dtype, as jnp's `preferred_element_type=`."""
    return {} if preferred_element_type is None else {"preferred_element_type": as_dtype(preferred_element_type)}


def matmul(a, b, *, preferred_element_type=None):
    """NumPy's matmul; `preferred_element_type` (jnp's) accumulates and returns in that dtype, e.g.
    bfloat16 x bfloat16 -> float32 or int8 x int8 -> int32."""
    a, b = _promote2(a, b)
    ta, tb = type_of(a), type_of(b)
    if ta.ndim == 0 or tb.ndim == 0:
        raise ValueError("matmul: input operand does not have enough dimensions (use multiply for scalars)")
    a2 = a if ta.ndim >= 2 else reshape(a, (1,) + ta.shape)
    b2 = b if tb.ndim >= 2 else reshape(b, tb.shape + (1,))
    sa, sb = type_of(a2).shape, type_of(b2).shape
    if sa[-1] != sb[-2]:
        raise ValueError(f"matmul: contracting dimensions differ: {ta.shape} @ {tb.shape}")
    batch = lax.broadcast_shapes(sa[:-2], sb[:-2])
    a2 = broadcast_to(a2, batch + sa[-2:])
    b2 = broadcast_to(b2, batch + sb[-2:])
    nb = len(batch)
    r = bind("dot_general", a2, b2, lhs_batch=tuple(range(nb)), rhs_batch=tuple(range(nb)),
             lhs_contracting=(nb + 1,), rhs_contracting=(nb,), **_pref(preferred_element_type))
    out = batch + ((sa[-2],) if ta.ndim >= 2 else ()) + ((sb[-1],) if tb.ndim >= 2 else ())
    return reshape(r, out)


def dot(a, b, *, preferred_element_type=None):
    a, b = _promote2(a, b)
    ta, tb = type_of(a), type_of(b)
    if ta.ndim == 0 or tb.ndim == 0:
        r = multiply(a, b)
        return r if preferred_element_type is None else convert(r, as_dtype(preferred_element_type))
    if tb.ndim == 1 or ta.ndim == 1 and tb.ndim <= 2:
        return matmul(a, b, preferred_element_type=preferred_element_type)
    # N-d: sum over the last axis of a and the second-to-last of b
    return bind("dot_general", a, b, lhs_contracting=(ta.ndim - 1,), rhs_contracting=(tb.ndim - 2,),
                **_pref(preferred_element_type))


def vdot(a, b):
    """The dot product of the flattened arrays, the first one conjugated when complex (NumPy)."""
    a = operand(a)
    if type_of(a).dtype.is_complex:
        a = bind("conj", a)
    return dot(ravel(a), ravel(b))


def inner(a, b):
    a, b = _promote2(a, b)
    ta, tb = type_of(a), type_of(b)
    if ta.ndim == 0 or tb.ndim == 0:
        return multiply(a, b)
    return bind("dot_general", a, b, lhs_contracting=(ta.ndim - 1,), rhs_contracting=(tb.ndim - 1,))


def outer(a, b):
    a, b = _promote2(ravel(a), ravel(b))
    return bind("dot_general", a, b)


def tensordot(a, b, axes=2):
    a, b = _promote2(a, b)
    ta, tb = type_of(a), type_of(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        la, lb = tuple(range(ta.ndim - n, ta.ndim)), tuple(range(n))
    else:
        la, lb = axes
        la = tuple(normalize_axis(x, ta.ndim) for x in (la if isinstance(la, (list, tuple)) else [la]))
        lb = tuple(normalize_axis(x, tb.ndim) for x in (lb if isinstance(lb, (list, tuple)) else [lb]))
    return bind("dot_general", a, b, lhs_contracting=la, rhs_contracting=lb)


def matvec(x1, x2):
    x, v = operand(x1), operand(x2)
    r = matmul(x, reshape(v, type_of(v).shape + (1,)))
    return reshape(r, type_of(r).shape[:-1])


def vecmat(x1, x2):
    v, x = operand(x1), operand(x2)
    r = matmul(reshape(v, type_of(v).shape[:-1] + (1,) + type_of(v).shape[-1:]), x)
    return reshape(r, type_of(r).shape[:-2] + type_of(r).shape[-1:])


def vecdot(x1, x2, axis=-1):
    return sum(multiply(x1, x2), axis=axis)


# --- products of arrays -----------------------------------------------------------------------

def kron(a, b):
    x, y = operand(a), operand(b)
    dt = result_type(x, y)
    x, y = convert(x, dt), convert(y, dt)
    sa, sb = type_of(x).shape, type_of(y).shape
    n = builtins.max(len(sa), len(sb))
    sa, sb = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
    xa = reshape(x, tuple(v for s in sa for v in (s, 1)))
    yb = reshape(y, tuple(v for s in sb for v in (1, s)))
    prod = multiply(xa, yb)
    return reshape(prod, tuple(p * q for p, q in zip(sa, sb)))


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """NumPy's formulas term by term (2-vectors have a zero third component)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    x, y = operand(a), operand(b)
    dt = result_type(x, y)
    x, y = moveaxis(convert(x, dt), axisa, -1), moveaxis(convert(y, dt), axisb, -1)
    na, nb = type_of(x).shape[-1], type_of(y).shape[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError("incompatible dimensions for cross product (dimension must be 2 or 3)")
    a0, a1, a2 = (slice_axis(x, type_of(x).ndim - 1, i, i + 1) if i < na else None for i in range(3))
    b0, b1, b2 = (slice_axis(y, type_of(y).ndim - 1, i, i + 1) if i < nb else None for i in range(3))
    z = subtract(multiply(a0, b1), multiply(a1, b0))
    if na == 2 and nb == 2:
        return reshape(z, type_of(z).shape[:-1])
    if na == 2:
        c0, c1 = multiply(a1, b2), negative(multiply(a0, b2))
    elif nb == 2:
        c0, c1 = negative(multiply(a2, b1)), multiply(a2, b0)
    else:
        c0, c1 = subtract(multiply(a1, b2), multiply(a2, b1)), subtract(multiply(a2, b0), multiply(a0, b2))
    return moveaxis(concatenate([c0, c1, z], axis=-1), -1, axisc)


_LETTERS = set(string.ascii_letters)


def _parse(subscripts: str, ndims: list[int]):
    """Input label lists and the output label list; ellipsis dims get private labels."""
    s = subscripts.replace(" ", "")
    if "->" in s:
        lhs, rhs = s.split("->", 1)
        if "->" in rhs:
            raise ValueError("einsum subscripts may contain '->' only once")
    else:
        lhs, rhs = s, None
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise ValueError(f"einsum: {len(terms)} operand subscripts in {subscripts!r} but {len(ndims)} operands given")
    for term in terms + ([rhs] if rhs is not None else []):
        bad = set(term.replace("...", "")) - _LETTERS
        if bad or term.count("...") > 1:
            raise ValueError(f"einsum: invalid subscript term {term!r} (letters and at most one '...' allowed)")
    ell_n = 0
    for term, nd in zip(terms, ndims):
        named = len(term.replace("...", ""))
        if "..." in term:
            if nd < named:
                raise ValueError(f"einsum: term {term!r} names {named} axes but the operand has {nd}")
            ell_n = max(ell_n, nd - named)
        elif named != nd:
            raise ValueError(f"einsum: term {term!r} names {named} axes but the operand has {nd} dimensions")
    ell = [f"...{i}" for i in range(ell_n)]
    inputs = []
    for term, nd in zip(terms, ndims):
        if "..." in term:
            before, after = term.split("...")
            k = nd - len(before) - len(after)
            inputs.append(list(before) + ell[ell_n - k:] + list(after))
        else:
            inputs.append(list(term))
    if rhs is None:
        counts = {}
        for labels in inputs:
            for lab in labels:
                counts[lab] = counts.get(lab, 0) + 1
        output = ell + sorted(lab for lab, c in counts.items() if c == 1 and not lab.startswith("..."))
    else:
        if "..." in rhs:
            before, after = rhs.split("...")
            output = list(before) + ell + list(after)
        else:
            output = list(rhs)
        if len(set(output)) != len(output):
            raise ValueError(f"einsum: output subscript {rhs!r} repeats a label")
        known = {lab for labels in inputs for lab in labels}
        for lab in output:
            if lab not in known:
                raise ValueError(f"einsum: output label {lab!r} does not appear in any input")
    return inputs, output


def _label_sizes(inputs, shapes):
    sizes = {}
    for labels, shape in zip(inputs, shapes):
        for lab, n in zip(labels, shape):
            old = sizes.get(lab)
            if old is None or old == 1:
                sizes[lab] = n
            elif n != 1 and n != old:
                raise ValueError(f"einsum: label {lab!r} has sizes {old} and {n}, which do not broadcast")
    return sizes


def _take_diagonals(x, labels):
    """Repeated labels within one operand: keep their diagonal (appended as the last axis)."""
    while True:
        seen = {}
        dup = None
        for i, lab in enumerate(labels):
            if lab in seen:
                dup = (seen[lab], i)
                break
            seen[lab] = i
        if dup is None:
            return x, labels
        i, j = dup
        x = diagonal(x, 0, i, j)
        labels = [lab for k, lab in enumerate(labels) if k not in (i, j)] + [labels[i]]


def _sum_out(x, labels, keep):
    axes = tuple(i for i, lab in enumerate(labels) if lab not in keep)
    if not axes:
        return x, labels
    return bind("reduce", x, kind="sum", dimensions=axes), [lab for lab in labels if lab in keep]


def _sublist_term(sublist) -> str:
    """NumPy's sublist ([0, 1, Ellipsis]) as a subscript term: 0..25 are A..Z, 26..51 are a..z."""
    out = []
    for v in sublist:
        if v is Ellipsis:
            out.append("...")
            continue
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= int(v) < 52:
            raise ValueError(f"einsum: sublist items must be integers in [0, 52) or Ellipsis, got {v!r}")
        out.append(string.ascii_uppercase[v] if v < 26 else string.ascii_lowercase[v - 26])
    return "".join(out)


def _interleaved(first, rest):
    """einsum(op0, sublist0, op1, sublist1, ..., [sublist_out]) -> (subscripts, operands)."""
    args = (first,) + tuple(rest)
    ops, terms = list(args[0::2][:len(args) // 2]), [_sublist_term(s) for s in args[1::2]]
    if len(args) % 2:
        return ",".join(terms) + "->" + _sublist_term(args[-1]), ops
    return ",".join(terms), ops


def einsum(subscripts, *operands, dtype=None, optimize=False, out=None, casting="safe"):
    if out is not None:
        raise NotImplementedError("einsum(out=...) writes in place, which tensors cannot")
    if not isinstance(subscripts, str):
        subscripts, operands = _interleaved(subscripts, operands)
    ops = [operand(o) for o in operands]
    if not ops:
        raise ValueError("einsum needs at least one operand")
    dt = as_dtype(dtype) if dtype is not None else result_type(*ops)
    work_dt = as_dtype("int64") if dt.is_bool else dt
    ops = [convert(o, work_dt) for o in ops]
    inputs, output = _parse(subscripts, [type_of(o).ndim for o in ops])
    sizes = _label_sizes(inputs, [type_of(o).shape for o in ops])
    prepared = []
    for k, (x, labels) in enumerate(zip(ops, inputs)):
        x, labels = _take_diagonals(x, labels)
        full = tuple(sizes[lab] for lab in labels)
        if type_of(x).shape != full:
            x = broadcast_to(x, full)
        others = {lab for j, ls in enumerate(inputs) if j != k for lab in ls}
        x, labels = _sum_out(x, labels, others | set(output))
        prepared.append((x, labels))
    acc, acc_labels = prepared[0]
    for k in range(1, len(prepared)):
        nxt, nxt_labels = prepared[k]
        later = {lab for _, ls in prepared[k + 1:] for lab in ls} | set(output)
        acc, acc_labels = _sum_out(acc, acc_labels, later | set(nxt_labels))
        nxt, nxt_labels = _sum_out(nxt, nxt_labels, later | set(acc_labels))
        common = [lab for lab in acc_labels if lab in nxt_labels]
        batch = [lab for lab in common if lab in later]
        contract = [lab for lab in common if lab not in later]
        acc = bind("dot_general", acc, nxt,
                   lhs_batch=tuple(acc_labels.index(lab) for lab in batch),
                   rhs_batch=tuple(nxt_labels.index(lab) for lab in batch),
                   lhs_contracting=tuple(acc_labels.index(lab) for lab in contract),
                   rhs_contracting=tuple(nxt_labels.index(lab) for lab in contract))
        acc_labels = (batch + [lab for lab in acc_labels if lab not in common]
                      + [lab for lab in nxt_labels if lab not in common])
    acc, acc_labels = _sum_out(acc, acc_labels, set(output))
    acc = lax.transpose(acc, [acc_labels.index(lab) for lab in output])
    if dt.is_bool:
        acc = convert(acc, dt)
    return acc


__all__ = ["matmul", "dot", "vdot", "inner", "outer", "tensordot", "matvec", "vecmat", "vecdot", "kron", "cross",
           "einsum"]
