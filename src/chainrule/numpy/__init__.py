"""chainrule.numpy: NumPy's functions on symbolic tensors and on arrays.

On symbolic tensors (placeholders, or inside cr.jit/cr.grad) they build graph
nodes; on concrete arrays they compute at once, as jax.numpy does.
"""

from ..frontend import numpy_ufunc as _numpy_ufunc  # noqa: F401  (add.reduce, maximum.accumulate, ...)
from ..frontend.numpy_core import *  # noqa: F401,F403
from ..frontend.numpy_core import (abs, all, any, max, min, round, sum)  # noqa: F401  (shadow builtins on purpose)
from ..frontend.numpy_core import broadcast_to_ as broadcast_to  # noqa: F401
from ..frontend.numpy_array import array, asarray  # noqa: F401
from ..frontend.numpy_manip import *  # noqa: F401,F403
from ..frontend.numpy_extra import *  # noqa: F401,F403
from ..frontend.numpy_scan import *  # noqa: F401,F403
from ..frontend.numpy_sort import *  # noqa: F401,F403
from ..frontend.numpy_einsum import einsum  # noqa: F401
from ..frontend.numpy_index_tricks import c_, r_  # noqa: F401
from ..frontend.numpy_sized import *  # noqa: F401,F403  (nonzero/where(cond)/bincount/histogram with static sizes)
from . import linalg, special  # noqa: F401
from ..frontend.located import locate_namespace as _locate_namespace

_locate_namespace(globals())
_locate_namespace(special.__dict__)
