"""The host target: LLVM initialisation, the target machine and the optimiser.

Everything that talks to llvmlite's binding layer about *where* code runs
lives here, so the rest of the backend only builds IR. llvmlite >= 0.45 has
no legacy pass manager and `llvm.initialize()` raises: only the
`initialize_native_*` calls are made.
"""

from __future__ import annotations

import functools
import threading

import llvmlite
import llvmlite.binding as llvm

_lock = threading.Lock()


@functools.lru_cache(maxsize=None)
def initialised() -> bool:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    # Epilogue vectorisation costs ~30% compile time for little run time (FIELD-NOTES).
    try:
        llvm.set_option("", "-enable-epilogue-vectorization=false")
    except Exception:  # pragma: no cover - option renamed in a future LLVM
        pass
    return True


@functools.lru_cache(maxsize=None)
def host() -> dict:
    """Triple, CPU name and feature string of this machine (part of the cache key)."""
    initialised()
    return {
        "triple": llvm.get_process_triple(),
        "cpu": llvm.get_host_cpu_name(),
        "features": llvm.get_host_cpu_features().flatten(),
        "llvmlite": llvmlite.__version__,
        "llvm": ".".join(map(str, llvm.llvm_version_info)),
    }


def vector_bytes(cpu: str | None, features: str) -> int:
    """Bytes in one SIMD register of the code's target: 64 (AVX-512), 32 (AVX2) or 16."""
    if cpu in ("x86-64-v4",):
        return 64
    if cpu in ("x86-64-v3",):
        return 32
    if cpu in ("x86-64", "x86-64-v2"):
        return 16
    have = set(f[1:] for f in (features or "").split(",") if f.startswith("+"))
    if "avx512f" in have and "-evex512" not in (features or ""):
        return 64
    if "avx2" in have:
        return 32
    return 16


def host_vector_bytes() -> int:
    """`vector_bytes` of this machine: what the code compiled for it may use."""
    return vector_bytes(None, host()["features"])


@functools.lru_cache(maxsize=None)
def target_machine(opt_level: int = 2, cpu: str | None = None, features: str | None = None):
    """A position-independent target machine: its objects link into shared libraries."""
    h = host()
    target = llvm.Target.from_triple(h["triple"])
    return target.create_target_machine(
        cpu=h["cpu"] if cpu is None else cpu,
        features=h["features"] if features is None else features,
        opt=max(0, min(3, opt_level)), reloc="pic", codemodel="default")


def compile_ir(ir_text: str, opt_level: int = 2, cpu: str | None = None, features: str | None = None) -> bytes:
    """Parse, verify, optimise (LLVM's O`opt_level` pipeline) and emit an object file, for the host
    CPU or for `cpu`/`features` (artifacts built for a CPU level, e.g. x86-64-v3)."""
    initialised()
    with _lock:  # llvmlite serialises binding calls anyway; keep one compile at a time
        mod = llvm.parse_assembly(ir_text)
        mod.triple = host()["triple"]
        mod.verify()
        tm = target_machine(opt_level, cpu, features)
        mod.data_layout = str(tm.target_data)
        if opt_level > 0:
            pto = llvm.create_pipeline_tuning_options(speed_level=min(opt_level, 3))
            pto.loop_vectorization = True
            pto.slp_vectorization = True
            # Unrolling after vectorization doubled object size and compile time for no
            # measurable speed (the vectorizer already interleaves); only O3 keeps it.
            pto.loop_unrolling = opt_level >= 3
            pto.loop_interleaving = True
            pb = llvm.create_pass_builder(tm, pto)
            pb.getModulePassManager().run(mod, pb)
        return tm.emit_object(mod)


def assembly(ir_text: str, opt_level: int = 2) -> str:
    """Optimised host assembly of `ir_text` (for inspection and tests)."""
    initialised()
    with _lock:
        mod = llvm.parse_assembly(ir_text)
        mod.triple = host()["triple"]
        tm = target_machine(opt_level)
        mod.data_layout = str(tm.target_data)
        if opt_level > 0:
            pto = llvm.create_pipeline_tuning_options(speed_level=min(opt_level, 3))
            pto.loop_vectorization = True
            pto.slp_vectorization = True
            pb = llvm.create_pass_builder(tm, pto)
            pb.getModulePassManager().run(mod, pb)
        return tm.emit_assembly(mod)
