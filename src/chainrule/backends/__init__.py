"""Backends: `compile(graph, backend=..., **options) -> Executable`.

Each backend is a subpackage with a `compile(graph, **options)` function and
is imported only when first used, so a missing optional dependency (jax)
affects only its own backend.
"""

from __future__ import annotations

import importlib
import os

KNOWN_BACKENDS = ("reference", "llvm", "jax")
DEFAULT_BACKEND = os.environ.get("CHAINRULE_BACKEND", "llvm")  # native code unless the user says otherwise


# The compile options each backend takes (besides opt_level), checked by `cr.jit` when it is
# called, so that a misspelt option fails there and not at the first call.
BACKEND_OPTIONS = {
    "reference": frozenset(),
    "llvm": frozenset({"cache", "threads", "donate_argnums"}),
    "jax": frozenset({"device", "return_jax_arrays", "mesh", "in_shardings", "out_shardings", "cache",
                      "donate_argnums"}),
}


class BackendUnavailableError(RuntimeError):
    pass


_INSTALL_HINTS = {"jax": " (install JAX with: pip install 'chainrule[jax]')",
                  "llvm": " (install llvmlite with: pip install llvmlite)"}


def get_backend(name: str):
    if name not in KNOWN_BACKENDS:
        raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(KNOWN_BACKENDS)}")
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ImportError as e:
        hint = _INSTALL_HINTS.get(name, "")
        raise BackendUnavailableError(f"backend {name!r} is not available: {e}{hint}") from e


def available_backends() -> list[str]:
    out = []
    for name in KNOWN_BACKENDS:
        try:
            get_backend(name)
        except BackendUnavailableError:
            continue
        out.append(name)
    return out


def pick(name: str | None = None) -> str:
    """The backend to use: `name` when it can be imported here (BackendUnavailableError, with the
    install command, when not), else the default, else the reference interpreter."""
    if name is not None:
        get_backend(name)
        return name
    return DEFAULT_BACKEND if DEFAULT_BACKEND in available_backends() else "reference"


def compile(graph, backend: str | None = None, **options):
    return get_backend(backend or DEFAULT_BACKEND).compile(graph, **options)
