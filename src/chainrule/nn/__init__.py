"""chainrule.nn: jax.nn's activation functions, softmax, one_hot, standardize, dot_product_attention,
pooling and `chainrule.nn.initializers`.

The implementation lives in chainrule/frontend/nn.py (with nn_pooling.py and nn_initializers.py); this namespace only
re-exports it.
"""

from ..frontend.nn import *  # noqa: F401,F403
from ..frontend.nn_pooling import *  # noqa: F401,F403  (max_pool, avg_pool, min_pool)
from . import initializers  # noqa: F401
