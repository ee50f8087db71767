"""chainrule.numpy.einsum: subscripts parsed into diagonals, sums, dot_generals and a transpose.

The plan, per operand: a label repeated within it takes the diagonal of
those axes; size-1 axes broadcast to the label's size; labels used nowhere
else are summed out. Operands are then contracted left to right with
`dot_general`: labels shared by the pair that are still needed (by the
output or a later operand) are batch dimensions, the others contract. A
final transpose puts the labels in output order. '...' stands for the
broadcast leading dimensions, as in NumPy.
"""

from __future__ import annotations

import string

import numpy as np

from ..ir import dtype as as_dtype
from . import lax
from .core import bind, type_of
from .lax import broadcast_to, convert, operand, result_type
from .numpy_manip import diagonal

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


__all__ = ["einsum"]
