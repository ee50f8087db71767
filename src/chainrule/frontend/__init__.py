"""The frontend: symbolic tensors, chainrule.numpy, tracing and transformations."""

from . import tensor_methods as _tensor_methods  # noqa: F401  (operators on Tensor)
from .api import Compiled, GraphFunction, JitFunction, Lowered, function, jit, placeholder, trace
from .tensor import Tensor
from .tracing import Spec
