"""Which backends the linear-algebra tests run on (imported by tests/test_linalg_*.py and a few others).

The llvm backend gets these ops with its LAPACK kernels; until then its
lowering table exempts them, and the llvm parameters skip with that reason,
so they run by themselves once the kernels land.
"""

from __future__ import annotations

import pytest

import chainrule.backends as backends
from chainrule.ir.linalg_ops import LINALG_OPS


def llvm_missing_linalg() -> str | None:
    """Why the llvm backend cannot run the linalg ops, or None when it can."""
    if "llvm" not in backends.available_backends():
        return "the llvm backend is not available"
    from chainrule.backends.llvm import UNSUPPORTED
    missing = [op for op in LINALG_OPS if op in UNSUPPORTED]
    return f"the llvm backend lacks {', '.join(missing)}: {UNSUPPORTED[missing[0]]}" if missing else None


def backend_params(*names):
    """pytest params for `names` (default: reference, jax, llvm): llvm skipped while it lacks the ops."""
    out = []
    for name in names or ("reference", "jax", "llvm"):
        if name == "jax" and "jax" not in backends.available_backends():
            out.append(pytest.param(name, marks=pytest.mark.skip(reason="jax is not installed")))
        elif name == "llvm" and llvm_missing_linalg():
            out.append(pytest.param(name, marks=pytest.mark.skip(reason=llvm_missing_linalg())))
        else:
            out.append(name)
    return out
