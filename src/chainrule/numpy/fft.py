"""chainrule.numpy.fft: NumPy's discrete Fourier transforms on tensors and arrays (see frontend/numpy/fft.py)."""

from ..frontend.numpy.fft import *  # noqa: F401,F403
from ..frontend.located import locate_namespace as _locate_namespace

_locate_namespace(globals())
