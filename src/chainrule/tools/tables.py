"""Every per-op rule table of the package, loaded: what the registry test and docs/ir.md walk.

Tables live beside the code that uses them (a backend's lowerings in the
backend), and are filled when their module is imported; this module imports
each such module (the optional ones only when their dependency is
installed) and returns `RuleTable.ALL`.
"""

from __future__ import annotations

import importlib

from ..ir import RuleTable

# Modules whose import fills a rule table; optional ones need llvmlite or jax.
MODULES = ("chainrule.backends.reference", "chainrule.passes.autodiff", "chainrule.passes.batching",
           "chainrule.fuzz.generator")
OPTIONAL = ("chainrule.backends.llvm", "chainrule.backends.jax.interpreter", "chainrule.interop.jax_primitives")


def all_tables() -> list[RuleTable]:
    for name in MODULES:
        importlib.import_module(name)
    for name in OPTIONAL:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    return sorted(RuleTable.ALL, key=lambda t: t.name)  # import order varies; the docs must not
