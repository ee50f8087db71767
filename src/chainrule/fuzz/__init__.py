"""Random-program testing: random well-typed graphs run on every backend and opt level,
compared against the reference backend, with mismatches shrunk to a minimal graph.

    python -m chainrule.fuzz --minutes 5 [--backends reference,llvm,jax] [--seed 0]
"""

from .generator import (GenConfig, GraphGenerator, generate_graph, graphs, graphs_with_inputs, inexact_values,
                        random_inputs)

__all__ = ["GenConfig", "GraphGenerator", "generate_graph", "graphs", "graphs_with_inputs", "inexact_values",
           "random_inputs"]
