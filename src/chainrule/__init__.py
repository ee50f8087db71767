"""chainrule: a static-graph automatic-differentiation compiler for Python.

The public API, re-exported; nothing is defined here.
"""

__version__ = "0.1.0"

from .frontend import Compiled, Lowered, Spec, Tensor, function, jit, placeholder, trace  # noqa: E402
from .frontend import debug  # noqa: E402
from .frontend import pytree as tree  # noqa: E402
from .frontend.api import block_until_ready, device_put, eval_shape, make_jaxpr  # noqa: E402
from .frontend.config import config  # noqa: E402
from .frontend.check_grads import check_grads  # noqa: E402
from .frontend.control_flow import cond, fori_loop, scan, switch, while_loop  # noqa: E402
from .frontend.custom import custom_jvp, custom_vjp  # noqa: E402
from .frontend.remat import checkpoint, checkpoint_policies, remat  # noqa: E402
from .frontend.to_source import to_source  # noqa: E402
from .frontend.transforms import (gradients, grad, hessian, jacfwd, jacobian, jacrev, jvp,  # noqa: E402
                                  linearize, stop_gradient, value_and_grad, vjp)
from .frontend.vmap import vmap  # noqa: E402
from .interop import from_jax  # noqa: E402  (imports jax only when called)
from .artifact import export, load  # noqa: E402  (the load path imports neither llvmlite nor jax)
from .ir import Graph, TensorType, parse  # noqa: E402
from . import numpy  # noqa: E402,F401
from . import scipy  # noqa: E402,F401  (cr.scipy.special, cr.scipy.stats, as jax.scipy)
from . import lax, nn, random  # noqa: E402,F401  (as jax.lax, jax.nn, jax.random)
from . import tree_util  # noqa: E402
from . import sharding  # noqa: E402  (cr.sharding: Mesh, PartitionSpec, NamedSharding, collectives)
from .frontend.sharding import shard_map, with_sharding_constraint  # noqa: E402

__all__ = [
    "Compiled", "Graph", "Lowered", "Spec", "Tensor", "TensorType", "block_until_ready", "check_grads",
    "checkpoint", "checkpoint_policies", "cond", "config", "custom_jvp", "custom_vjp", "debug", "device_put",
    "eval_shape", "export", "fori_loop", "from_jax", "function", "grad", "gradients", "hessian", "jacfwd",
    "jacobian", "jacrev", "jit", "jvp", "lax", "linearize", "load", "make_jaxpr", "nn", "numpy", "parse",
    "placeholder", "random", "remat", "scan", "shard_map", "sharding", "stop_gradient", "switch", "to_source",
    "trace", "tree", "tree_util", "value_and_grad", "vjp", "vmap", "while_loop", "with_sharding_constraint"
]
