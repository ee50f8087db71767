"""Reference evaluation of `remat`: run the checkpointed region on the operands.

Checkpointing changes what reverse-mode autodiff stores, never a value, so
the forward meaning is exactly a call of the region.
"""

from __future__ import annotations

from .rules import rule


@rule("remat")
def _remat(args, attrs, out, regions):
    from .interpreter import evaluate
    (body,) = regions
    return tuple(evaluate(body, list(args)))
