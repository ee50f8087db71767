"""chainrule: a static-graph automatic-differentiation compiler for Python.

The public API, re-exported; nothing is defined here.
"""

__version__ = "0.1.0"

from .frontend import Compiled, Lowered, Spec, Tensor, function, jit, placeholder, trace  # noqa: E402
from .frontend import pytree as tree  # noqa: E402
from .ir import Graph, TensorType, parse  # noqa: E402
from . import numpy  # noqa: E402,F401

__all__ = ["Compiled", "Graph", "Lowered", "Spec", "Tensor", "TensorType", "function", "jit", "numpy", "parse",
           "placeholder", "trace", "tree"]
