"""Reference evaluation of the control-flow ops: cond, case, while, scan.

Regions are evaluated with the interpreter itself, so these rules are the
definition other backends must match (see `chainrule.ir.control_flow` for the
semantics): `case` runs its last branch for an out-of-range index, and a
reverse `scan` visits i = length-1 .. 0 but stores y_i at index i.
"""

from __future__ import annotations

import numpy as np

from .rules import rule


def _run(region, args):
    from .interpreter import evaluate
    return tuple(evaluate(region, list(args)))


@rule("cond")
def _cond(args, attrs, out, regions):
    true_branch, false_branch = regions
    return _run(true_branch if bool(args[0]) else false_branch, args[1:])


@rule("case")
def _case(args, attrs, out, regions):
    index = int(args[0])
    if not 0 <= index < len(regions):
        index = len(regions) - 1
    return _run(regions[index], args[1:])


@rule("while")
def _while(args, attrs, out, regions):
    cond, body = regions
    carry = tuple(args)
    while bool(_run(cond, carry)[0]):
        carry = _run(body, carry)
    return carry


@rule("scan")
def _scan(args, attrs, out, regions):
    (body,) = regions
    nc, nk, length = attrs["num_consts"], attrs["num_carry"], attrs["length"]
    consts, carry, xs = tuple(args[:nc]), tuple(args[nc:nc + nk]), tuple(args[nc + nk:])
    ys = [np.empty(t.shape, t.dtype.np) for t in out[nk:]]
    order = range(length - 1, -1, -1) if attrs["reverse"] else range(length)
    for i in order:
        res = _run(body, consts + carry + tuple(x[i, ...] for x in xs))  # x[i, ...]: a 0-d array, not a NumPy scalar
        carry = res[:nk]
        for y, r in zip(ys, res[nk:]):
            y[i] = r
    return tuple(carry) + tuple(ys)
