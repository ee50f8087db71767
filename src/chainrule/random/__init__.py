"""chainrule.random: counter-based random numbers with jax.random's names, keys and bits.

Keys are raw uint32[2] arrays (`PRNGKey(seed)`, `split`, `fold_in`); every sampler is a pure function
of a key and a static shape, built from IR ops, so it runs inside `cr.jit`, batches under `cr.vmap`
and gives the same bits as the installed `jax.random` for the same key. The implementation lives in
chainrule/frontend/random.py and random_bits.py; this namespace only re-exports it.
"""

from ..frontend.random import *  # noqa: F401,F403
