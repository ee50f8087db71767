"""The reference backend: a NumPy interpreter, the oracle of every test."""

from __future__ import annotations

from ..common import Executable
from . import control_flow as _control_flow  # noqa: F401  (registers cond, case, while, scan)
from . import sharding as _sharding  # noqa: F401  (sharding_constraint, shard_map simulation, collectives)
from . import bit_ops as _bit_ops  # noqa: F401  (shifts, popcnt, bitcast_convert)
from . import complex as _complex  # noqa: F401  (registers real, imag, complex, conj, fft)
from . import windows as _windows  # noqa: F401  (convolution, reduce_window, select_and_*_add)
from . import linalg as _linalg  # noqa: F401  (registers cholesky, triangular_solve, lu, qr, eigh, svd)
from . import sort as _sort  # noqa: F401  (registers sort)
from .interpreter import UnsupportedOpError, evaluate, evaluate_op
from .rules import RULES


class ReferenceExecutable(Executable):
    backend = "reference"

    def run(self, args):
        return evaluate(self.graph, args)


def compile(graph, **options) -> ReferenceExecutable:
    return ReferenceExecutable(graph)


__all__ = ["RULES", "ReferenceExecutable", "UnsupportedOpError", "compile", "evaluate", "evaluate_op"]
