"""chainrule.numpy: NumPy's functions on symbolic tensors and on arrays.

On symbolic tensors (placeholders, or inside cr.jit/cr.grad) they build graph
nodes; on concrete arrays they compute at once, as jax.numpy does. The
implementation lives in chainrule/frontend/numpy/, one module per topic; this
namespace only re-exports it.
"""

from ..frontend.numpy import ufunc_methods as _ufunc_methods  # noqa: F401  (add.reduce, maximum.accumulate, ...)
from ..frontend.numpy.ufuncs import *  # noqa: F401,F403
from ..frontend.numpy.ufuncs import abs, round  # noqa: F401  (shadow builtins on purpose)
from ..frontend.numpy.transcendental import *  # noqa: F401,F403
from ..frontend.numpy.shapes import *  # noqa: F401,F403
from ..frontend.numpy.shapes import broadcast_to_ as broadcast_to  # noqa: F401
from ..frontend.numpy.reductions import *  # noqa: F401,F403
from ..frontend.numpy.reductions import all, any, max, min, sum  # noqa: F401  (shadow builtins on purpose)
from ..frontend.numpy.creation import *  # noqa: F401,F403
from ..frontend.numpy.indexing import *  # noqa: F401,F403
from ..frontend.numpy.manipulation import *  # noqa: F401,F403
from ..frontend.numpy.matrices import *  # noqa: F401,F403
from ..frontend.numpy.products import *  # noqa: F401,F403
from ..frontend.numpy.sorting import *  # noqa: F401,F403
from ..frontend.numpy.index_tricks import *  # noqa: F401,F403
from ..frontend.numpy.sized import *  # noqa: F401,F403  (nonzero/where(cond) with static sizes)
from ..frontend.numpy.calculus import *  # noqa: F401,F403
from ..frontend.numpy.statistics import *  # noqa: F401,F403
from ..frontend.numpy.polynomials import *  # noqa: F401,F403
from ..frontend.numpy.functional import *  # noqa: F401,F403
from . import fft, linalg, special  # noqa: F401
from ..frontend.located import locate_namespace as _locate_namespace

_locate_namespace(globals())
_locate_namespace(special.__dict__)
