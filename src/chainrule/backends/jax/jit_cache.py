"""One `jax.jit` per distinct graph and options.

Compiling the same graph again (a re-lowered cr.jit, a reloaded artifact)
reuses the jitted function, and with it JAX's trace and XLA's executable.
Keyed by the graph's text form, so equal graphs built separately share it;
graphs holding large constants skip the cache (printing them costs more
than it saves).
"""

from __future__ import annotations

from collections import OrderedDict

import jax

from .interpreter import lower_graph

_CACHE: OrderedDict = OrderedDict()
CACHE_SIZE = 64
MAX_CONSTANT_BYTES = 1 << 20


def clear_cache():
    """Forget every cached jitted graph."""
    _CACHE.clear()


def _freeze(v):
    return tuple(_freeze(x) for x in v) if isinstance(v, (list, tuple)) else v


def _constant_bytes(graph) -> int:
    return sum(n.attrs["value"].array.nbytes for n in graph.walk() if n.op.name == "constant")


def _key(graph, jit_kwargs):
    if _constant_bytes(graph) > MAX_CONSTANT_BYTES:
        return None
    key = (str(graph), tuple(sorted((k, _freeze(v)) for k, v in jit_kwargs.items())))
    try:
        hash(key)
    except TypeError:  # an unhashable option: compile afresh
        return None
    return key


def jit_graph(graph, jit_kwargs: dict, cache: bool = True):
    """`jax.jit` of the function that lowers `graph` (a tuple of results), cached when `cache`."""
    key = _key(graph, jit_kwargs) if cache else None
    if key is not None and key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]

    def run_graph(*args):
        return tuple(lower_graph(graph, args))

    run_graph.__name__ = graph.name
    jitted = jax.jit(run_graph, **jit_kwargs)
    if key is not None:
        _CACHE[key] = jitted
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return jitted
