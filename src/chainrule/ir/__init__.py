"""The IR: types, the op registry, graphs, builder, verifier and text form.

This package imports nothing else of chainrule.
"""

from . import opdefs as _opdefs  # noqa: F401  (registers the core ops)
from . import region_ops as _region_ops  # noqa: F401
from . import control_flow as _control_flow  # noqa: F401  (cond, case, while, scan)
from . import remat as _remat  # noqa: F401  (remat: checkpointed calls)
from . import complex_ops as _complex_ops  # noqa: F401  (real, imag, complex, conj)
from . import fft_ops as _fft_ops  # noqa: F401  (fft)
from .attrs import Attrs, Literal
from .builder import GraphBuilder, make_node, node_key, typed
from .dtypes import (ALL_DTYPES, FLOAT_DTYPES, INT_DTYPES, DType, bool_, dtype, float32, float64,
                     int32, int64, result_dtype)
from .errors import IRError, IRTypeError, ParseError, VerifyError
from .graph import Graph, Node, Value
from .ops import REGISTRY, AttrSpec, OpDef, all_ops, get_op, register
from .parser import parse
from .printer import print_graph
from .rules import RuleTable, op_names, ops_with
from .types import TensorType
from .verifier import verify

__all__ = [
    "ALL_DTYPES", "FLOAT_DTYPES", "INT_DTYPES", "Attrs", "AttrSpec", "DType", "Graph", "GraphBuilder",
    "IRError", "IRTypeError", "Literal", "Node", "OpDef", "ParseError", "REGISTRY", "TensorType", "Value",
    "VerifyError", "all_ops", "bool_", "dtype", "float32", "float64", "get_op", "int32", "int64", "make_node", "node_key", "parse",
    "RuleTable", "op_names", "ops_with", "print_graph", "register", "result_dtype", "typed", "verify",
]
