"""The IR: types, the op registry, graphs, builder, verifier and text form.

This package imports nothing else of chainrule.
"""

from . import opdefs as _opdefs  # noqa: F401  (registers the core ops)
from . import bit_ops as _bit_ops  # noqa: F401  (shifts, popcnt, bitcast_convert)
from . import region_ops as _region_ops  # noqa: F401
from . import control_flow as _control_flow  # noqa: F401  (cond, case, while, scan)
from . import remat as _remat  # noqa: F401  (remat: checkpointed calls)
from . import complex_ops as _complex_ops  # noqa: F401  (real, imag, complex, conj)
from . import fft_ops as _fft_ops  # noqa: F401  (fft)
from . import sharding_ops as _sharding_ops  # noqa: F401  (sharding_constraint, shard_map, collectives)
from . import conv_ops as _conv_ops  # noqa: F401  (convolution)
from . import window_ops as _window_ops  # noqa: F401  (reduce_window, select_and_{gather,scatter}_add)
from . import linalg_ops as _linalg_ops  # noqa: F401  (cholesky, triangular_solve, lu, qr, eigh, svd)
from . import sort_ops as _sort_ops  # noqa: F401  (sort)
from .attrs import Attrs, Literal
from .builder import GraphBuilder, make_node, node_key, typed
from .dtypes import (ALL_DTYPES, COMPLEX_DTYPES, FLOAT_DTYPES, INT_DTYPES, NARROW_FLOAT_DTYPES, REAL_DTYPES,
                     SIGNED_DTYPES, UNSIGNED_DTYPES, DType, bfloat16, bool_, complex64, complex128, dtype, float16,
                     float32, float64, int8, int16, int32, int64, result_dtype, uint8, uint16, uint32, uint64)
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
    "COMPLEX_DTYPES", "NARROW_FLOAT_DTYPES", "REAL_DTYPES", "SIGNED_DTYPES", "UNSIGNED_DTYPES", "bfloat16",
    "complex64", "complex128", "float16", "int8", "int16", "uint8", "uint16", "uint32", "uint64",
]
