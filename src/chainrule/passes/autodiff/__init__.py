"""Automatic differentiation as graph-to-graph passes.

`jvp_graph` (forward mode) and `vjp_graph` (reverse mode = linearize +
transpose) rewrite a `Graph` into a `Graph` written in ordinary IR ops, so the
result differentiates again (higher order = the pass applied again).

The per-op rules live in tables keyed by op name:
`JVP_RULES` (every differentiable op), `EXPANSIONS` (ops replaced by their
region when differentiated: fusion, custom_vjp_call, scan), `NON_DIFFERENTIABLE`
(ops whose derivative is zero, with the reason) and `TRANSPOSE_RULES` (the
linear ops).
"""

from .errors import NonDifferentiableError
from .jvp_rules import JVP_RULES, NON_DIFFERENTIABLE
from .trace import EXPANSIONS
from .transform import jvp_graph, vjp_graph
from .transpose_rules import TRANSPOSE_RULES

# rules of the region ops, added to the tables above (imported last: they use jvp_graph/vjp_graph)
from . import custom_rules as _custom_rules  # noqa: E402,F401
from . import control_flow_rules as _control_flow_rules  # noqa: E402,F401
from . import remat_rules as _remat_rules  # noqa: E402,F401
from . import complex_rules as _complex_rules  # noqa: E402,F401  (real, imag, complex, conj, fft)
from . import sharding_rules as _sharding_rules  # noqa: E402,F401
from . import conv_rules as _conv_rules  # noqa: E402,F401  (convolution, reduce_window, select_and_*_add)
from . import linalg_rules as _linalg_rules  # noqa: E402,F401
from . import sort_rules as _sort_rules  # noqa: E402,F401

__all__ = ["EXPANSIONS", "JVP_RULES", "NON_DIFFERENTIABLE", "NonDifferentiableError", "TRANSPOSE_RULES",
           "jvp_graph", "vjp_graph"]
