"""chainrule.nn: jax.nn's activation functions, softmax, one_hot, standardize, dot_product_attention,
pooling and `chainrule.nn.initializers`.

The implementation lives in chainrule/frontend/nn.py (and nn_initializers.py); this namespace only
re-exports it.
"""

from ..frontend.nn import *  # noqa: F401,F403
from . import initializers  # noqa: F401
