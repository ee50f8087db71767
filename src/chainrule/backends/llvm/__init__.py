"""The LLVM backend: a graph becomes one native function, vectorized for this CPU.

`compile(graph, opt_level=2)` plans the graph (plan.py: fusion regions
opened, inline-or-buffer decisions, kernels, arena offsets from liveness),
emits one LLVM module with one entry point (codegen.py; loops and loads in
emitter.py, index mappings in expressions.py, per-element semantics in
scalar.py with inline vectorizable math from mathlib.py, reductions and
scatter in kernels.py, GEMM in gemm.py, control flow in control.py), lets
LLVM optimise it for the host CPU (target.py), links it into a shared
library cached in memory and on disk (cache.py), and returns an
`LLVMExecutable` (runtime.py) that calls it through ctypes.
"""

from __future__ import annotations

import os
import time

from ...ir import Graph, RuleTable
from .. import BACKEND_OPTIONS
from . import cache as _cache
from . import complex as _complex  # noqa: F401  (real, imag, conj on floats)
from .codegen import KERNELS, build_module
from .emitter import EXPR
from .placement import UNSUPPORTED_SPMD, without_placement
from .plan import INLINED_REGION_OPS, KERNEL_OPS, Unsupported, make_plan
from .lapack_export import lapack_slots
from .runtime import LLVMExecutable, runtime_table
from .scalar import SCALAR
from .target import compile_ir
from .windows import EXPANSIONS as WINDOW_EXPANSIONS

# How each op lowers (an elementwise rule, an index expression, a kernel, or its region opened into the
# schedule); ops that compile raises NotImplementedError for are its exemptions, with the reason.
LOWERING = RuleTable("llvm lowering")
for _table, _how in ((SCALAR, "scalar"), (EXPR, "expression"), (KERNEL_OPS, "kernel"),
                     (INLINED_REGION_OPS, "region opened into the schedule")):
    for _name in sorted(_table):
        if _name not in LOWERING:
            LOWERING[_name] = _how
SCALAR.exempt("complex", "its result is complex: the complex scalar table (complex.py) has it")
LOWERING["complex"] = "scalar (complex)"
for _name in sorted(WINDOW_EXPANSIONS):
    LOWERING[_name] = "expanded (windows.py): im2col + GEMM, or elementwise chains over strided slices"
LOWERING.exempt("custom_vjp_lin", "it cannot be evaluated by any backend (forward-mode differentiation of a "
                                  "custom_vjp function is not supported, as in JAX)")
LOWERING["sharding_constraint"] = "dropped before planning (one device: placement is ignored; placement.py)"
for _name, _why in UNSUPPORTED_SPMD.items():
    LOWERING.exempt(_name, _why)
UNSUPPORTED: dict[str, str] = LOWERING.exemptions

_OPTIONS = BACKEND_OPTIONS["llvm"]
DEFAULT_THREADS = 8  # more helpers than this rarely pay for their hand-off on the GEMM sizes we see


def lowering_table() -> dict:
    """Op name -> how it lowers (elementwise rule, index expression, kernel or structural)."""
    return dict(LOWERING)


def _usable_cpus() -> int:
    """CPUs this process may run on (its affinity set), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def compile(graph: Graph, opt_level: int = 2, **options) -> LLVMExecutable:
    """Compile `graph` for this CPU.

    Options: cache=True (memory and disk compile cache); threads (default: the usable CPUs, at
    most DEFAULT_THREADS): with more than one, large GEMMs and loop kernels are parallel regions
    whose chunks the calling thread and up to threads - 1 process-wide helper threads take
    dynamically (pool.py); with 1 they run on the calling thread only. donate_argnums: indices of
    parameters the caller gives up: a result of the same type may be written into that array
    (and returned as it), where plan._donations finds it safe; the others are allocated."""
    unknown = set(options) - _OPTIONS
    if unknown:
        raise TypeError(f"llvm compile got unknown option(s) {', '.join(sorted(unknown))}; "
                        f"expected opt_level, {', '.join(sorted(_OPTIONS))}")
    if not isinstance(opt_level, int) or not 0 <= opt_level <= 3:
        raise ValueError(f"opt_level must be 0, 1, 2 or 3, got {opt_level!r}")
    use_cache = options.get("cache", True)
    threads = options.get("threads")
    threads = min(DEFAULT_THREADS, _usable_cpus()) if threads is None else int(threads)
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    _complex.check_complex(graph)
    for node in graph.walk():
        if node.op.name in UNSUPPORTED:
            raise NotImplementedError(f"op {node.op.name!r} is not supported by the llvm backend yet: "
                                      f"{UNSUPPORTED[node.op.name]}")
    t0 = time.perf_counter()
    donate = options.get("donate_argnums") or ()
    donate = tuple(sorted({int(i) % len(graph.params) for i in donate})) if graph.params else ()
    try:
        plan = make_plan(without_placement(graph), donate=donate)
    except Unsupported as e:
        raise NotImplementedError(str(e)) from None
    _check_lapack(plan)
    text = str(graph)
    extra = f"threads={threads}" + (f";donated={sorted(plan.donated_params)}" if plan.donated else "")
    key = _cache.cache_key(text, opt_level, extra)
    stats = {"plan_s": time.perf_counter() - t0}

    def build() -> bytes:
        t1 = time.perf_counter()
        ir_text = build_module(plan, graph.name, threads)
        t2 = time.perf_counter()
        obj = compile_ir(ir_text, opt_level)
        stats.update(irgen_s=t2 - t1, llvm_s=time.perf_counter() - t2)
        return obj

    lib, path, stats["source"] = _cache.load_or_build(key, build, use_cache)
    stats["total_s"] = time.perf_counter() - t0
    return LLVMExecutable(graph, plan, lib, library_path=path, cache_key=key, stats=stats)


def _check_lapack(plan):
    """NotImplementedError when the plan calls a LAPACK routine NumPy's OpenBLAS does not export here."""
    need = lapack_slots(plan)
    table, _lib = runtime_table()
    gone = sorted(name for k, name in need.items() if not table[k])
    if gone:
        raise NotImplementedError(f"the llvm backend's linear algebra calls LAPACK from NumPy's bundled OpenBLAS, "
                                  f"which does not export {', '.join(gone)} here; use backend='jax' or 'reference'")


def llvm_ir(graph: Graph, threads: int = 1) -> str:
    """The unoptimised LLVM IR of `graph` (for inspection)."""
    return build_module(make_plan(graph), graph.name, threads)


__all__ = ["compile", "llvm_ir", "lowering_table", "UNSUPPORTED", "LLVMExecutable", "KERNELS"]
