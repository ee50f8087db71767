"""chainrule.lax: jax.lax's names and semantics for what chainrule has.

Slicing (`dynamic_slice`, `dynamic_update_slice`, `slice_in_dim`, ...), `pad` with interior padding,
`concatenate`, `broadcast_in_dim`, `dot_general`, the convolutions (`conv_general_dilated`, `conv`,
`conv_transpose`), `reduce_window`, `select`, `clamp`, control flow (`cond`, `switch`,
`while_loop`, `fori_loop`, `scan`, `map`), `associative_scan`, the cumulative reductions, `sort`,
`top_k`, `stop_gradient`, elementwise functions and the collectives (`psum`, `all_gather`, ...;
see chainrule.sharding). The implementation lives in
chainrule/frontend/lax_ops.py, lax_scan.py and lax_conv.py; this namespace only re-exports it.
"""

from ..frontend.lax_ops import *  # noqa: F401,F403
from ..frontend.lax_ops import slice  # noqa: F401  (shadows the builtin on purpose, as jax.lax does)
from ..frontend.lax_scan import *  # noqa: F401,F403
from ..frontend.lax_scan import map  # noqa: F401  (shadows the builtin on purpose, as jax.lax does)
from ..frontend.lax_conv import *  # noqa: F401,F403  (conv_general_dilated, conv, conv_transpose, reduce_window, ...)
from ..frontend.control_flow import cond, fori_loop, scan, switch, while_loop  # noqa: F401
from ..frontend.transforms import stop_gradient  # noqa: F401
from ..frontend.sharding import (all_gather, all_to_all, axis_index, pmax, pmean, pmin, ppermute,  # noqa: F401
                                 psum, psum_scatter)  # the collectives, under jax.lax's names
