"""Errors of the autodiff pass."""

from __future__ import annotations


class NonDifferentiableError(NotImplementedError):
    """An op on the path from a differentiated input to an output has no derivative rule.

    The message names the op and says what to do (wrap the value in
    `stop_gradient` when its derivative is not wanted).
    """
