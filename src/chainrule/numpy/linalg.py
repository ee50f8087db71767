"""chainrule.numpy.linalg: NumPy's linalg names on tensors and arrays (see frontend/numpy/linalg.py)."""

from ..frontend.numpy.linalg import *  # noqa: F401,F403
from ..frontend.located import locate_namespace as _locate_namespace

_locate_namespace(globals())
