"""chainrule.nn.initializers: jax.nn.initializers' names, taking chainrule.random keys (re-exports only)."""

from ..frontend.nn_initializers import *  # noqa: F401,F403
