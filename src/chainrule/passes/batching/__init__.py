"""Batching (vmap) as a graph-to-graph pass.

`batch_graph(g, in_axes, axis_size)` returns the graph that applies `g` to
every element of a batch at once. Rules, one per op, live in `BATCH_RULES`
(keyed by op name), written in IR ops like JAX's batching rules: batch
dimensions move only where an op needs them elsewhere, dot_general and
gather/scatter take them as batch dimensions, and dynamic slices with
per-element starts become gathers and selects.
"""

from . import control_flow_rules, elementwise_rules, fft_rules, index_rules, region_rules, shape_rules, sharding_rules  # noqa: F401  (fill the table)
from . import conv_rules  # noqa: F401  (convolution, reduce_window, select_and_*_add)
from . import linalg_rules  # noqa: F401
from . import sort_rules  # noqa: F401  (sort)
from .context import BatchContext, batched_type
from .driver import BatchingError, batch_graph, batch_nodes
from .table import BATCH_RULES

__all__ = ["BATCH_RULES", "BatchContext", "BatchingError", "batch_graph", "batch_nodes", "batched_type"]
