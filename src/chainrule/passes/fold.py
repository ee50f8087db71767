"""Constant folding through the reference backend's evaluation rules.

DESIGN says a pass never imports a backend. The reference interpreter is the
one exception we accept here: its rules *define* op semantics (it is the
oracle), so folding with them can never disagree with any backend that is
correct. The import is done lazily, inside the rule, so importing
`chainrule.passes` still pulls in no backend.

Size cap: a fold whose result would hold more than `fold_max_elements`
(default 1024) elements, and more than its largest operand, is not done, so
constants never grow past the cap: a broadcast of a splat to a large shape
stays symbolic. Elementwise ops on splats fold on the scalar and broadcast the
result; a broadcast of a scalar constant stays a broadcast, and a splat literal of
more than 16 elements is rewritten to one (its canonical form). A reduction (or
any fold that shrinks) of a broadcast constant folds through it.
"""

from __future__ import annotations

from ..ir import Literal, TensorType
from .graphutil import splat_array
from .rewrite import RuleRegistry

FOLD_MAX_ELEMENTS = 1024
# A splat literal with more elements than this (what the printer still writes out
# value by value) is kept as a broadcast of a scalar, its canonical form.
SPLAT_INLINE_ELEMENTS = 16
# Beyond this many operand + result elements folding costs too much compile time.
FOLD_MAX_WORK = 1 << 20
# Ops never folded: those whose OpDef says fold=False (leaves, stop_gradient), and ops with regions.

rule = RuleRegistry("fold")


def _evaluate(node, arrays):
    from ..backends.reference import evaluate_op  # lazy: see the module docstring
    try:
        return evaluate_op(node.op, arrays, node.attrs, [r.type for r in node.results], node.regions)
    except Exception:  # noqa: BLE001 - a fold that cannot be evaluated is simply not done
        return None


def _is_constant(v) -> bool:
    return v.node is not None and v.node.op.name == "constant"


def _is_broadcast_constant(v) -> bool:
    return v.node is not None and v.node.op.name == "broadcast_in_dim" and _is_constant(v.node.operands[0])


def _materialize(v):
    """The array of a constant, or of a broadcast of a constant (evaluated on the spot)."""
    if _is_constant(v):
        return v.node.attrs["value"].array
    b = v.node
    outs = _evaluate(b, [b.operands[0].node.attrs["value"].array])
    return None if outs is None else outs[0]


@rule(formula="op(c1, ..., cn) -> c   (all operands constant, result within the size cap)")
def fold_constants(node, rw):
    if not node.op.fold or node.regions or not node.operands:
        return None
    if node.op.name == "broadcast_in_dim" and node.operands[0].type.size == 1:
        return None  # a broadcast scalar stays symbolic (see splat_literal_to_broadcast)
    cap = rw.options.get("fold_max_elements", FOLD_MAX_ELEMENTS)
    in_sizes = [v.type.size for v in node.operands]
    out_sizes = [r.type.size for r in node.results]
    if not all(_is_constant(v) for v in node.operands):
        # a broadcast constant operand is materialised only for a fold that shrinks it (a
        # reduction of it); elementwise ops on broadcast splats are fold_splats' job
        if node.op.elementwise or not all(_is_constant(v) or _is_broadcast_constant(v) for v in node.operands):
            return None
        if max(out_sizes) >= max(in_sizes) or max(out_sizes) > cap:
            return None
    if sum(in_sizes) + sum(out_sizes) > FOLD_MAX_WORK:
        return None
    if node.op.name == "dot_general" and max(out_sizes) * max(in_sizes) > FOLD_MAX_WORK:
        return None
    if any(n > cap and n > max(in_sizes) for n in out_sizes):
        return None
    arrays = [_materialize(v) for v in node.operands]
    if any(a is None for a in arrays):
        return None
    outs = _evaluate(node, arrays)
    if outs is None:
        return None
    return [rw.constant(a, r.dtype) for a, r in zip(outs, node.results)]


@rule(formula="op(splat(a), ..., splat(z)) -> splat(op(a, ..., z))   (elementwise)")
def fold_splats(node, rw):
    if not node.op.elementwise or node.regions or not node.operands or not node.op.fold:
        return None
    if all(_is_constant(v) for v in node.operands) and node.results[0].type.size <= FOLD_MAX_ELEMENTS:
        return None  # fold_constants does it
    if node.results[0].shape == ():
        return None
    scalars = []
    for v in node.operands:
        s = splat_array(v)
        if s is None:
            return None
        scalars.append(s)
    outs = _evaluate_scalar(node, scalars, [TensorType((), r.dtype) for r in node.results])
    if outs is None:
        return None
    return [rw.splat(a, r) for a, r in zip(outs, node.results)]


def _evaluate_scalar(node, scalars, types):
    from ..backends.reference import evaluate_op  # lazy: see the module docstring
    try:
        return evaluate_op(node.op, scalars, node.attrs, types, ())
    except Exception:  # noqa: BLE001 - not foldable: leave the node
        return None


@rule("constant", formula="dense<splat of n > 16> -> broadcast_in_dim(dense<scalar>)")
def splat_literal_to_broadcast(node, rw):
    lit: Literal = node.attrs["value"]
    if lit.array.size <= SPLAT_INLINE_ELEMENTS or not lit.is_splat():
        return None
    scalar = lit.array.reshape(-1)[0]
    return rw.splat(scalar, node.results[0])


FOLD = rule.set

