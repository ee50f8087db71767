"""Can this host run an artifact's native library? Answered without llvmlite.

At export the LLVM target features the code was built with (`+avx512f,...`)
are mapped to the names Linux shows in /proc/cpuinfo; the ones the exporting
CPU has are recorded as `cpu_flags`. At load the library runs natively only
on the same OS and machine architecture with all those flags present;
otherwise loading falls back (see loader.py) and says which flags are
missing. Features with no /proc/cpuinfo twin are not checked.
"""

from __future__ import annotations

import functools
import platform
import sys

# LLVM feature name -> /proc/cpuinfo flag, where they differ.
_LLVM_TO_CPUINFO = {
    "sse3": "pni", "bmi": "bmi1", "sse4.1": "sse4_1", "sse4.2": "sse4_2", "pclmul": "pclmulqdq", "sha": "sha_ni",
    "rdrnd": "rdrand", "sahf": "lahf_lm", "lzcnt": "abm", "avx512vnni": "avx512_vnni",
    "avx512bf16": "avx512_bf16", "avx512vbmi2": "avx512_vbmi2", "avx512bitalg": "avx512_bitalg",
    "avx512vpopcntdq": "avx512_vpopcntdq", "avx512fp16": "avx512_fp16", "avxvnni": "avx_vnni",
    "cx16": "cx16", "cmov": "cmov",
}


# The x86-64 micro-architecture levels (psABI), as the /proc/cpuinfo flags code built for them may use.
_V2 = ["cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"]
_V3 = _V2 + ["abm", "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "movbe", "xsave"]
X86_64_LEVELS = {"x86-64": [], "x86-64-v2": _V2, "x86-64-v3": _V3,
                 "x86-64-v4": _V3 + ["avx512bw", "avx512cd", "avx512dq", "avx512f", "avx512vl"]}


def level_flags(cpu: str) -> list[str]:
    """The cpuinfo flags of an x86-64 level name (`x86-64-v3`), for portable exports."""
    if cpu not in X86_64_LEVELS:
        raise ValueError(f"cpu {cpu!r} is not supported for export; expected 'host' or one of "
                         f"{', '.join(X86_64_LEVELS)}")
    return sorted(X86_64_LEVELS[cpu])


@functools.lru_cache(maxsize=None)
def cpu_flags() -> frozenset | None:
    """The CPU flags /proc/cpuinfo lists (first processor), or None where there is no such file."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        return None
    return frozenset()


def describe() -> dict:
    """OS and machine of this process, as recorded in and compared with the manifest."""
    return {"os": sys.platform, "machine": platform.machine()}


def required_flags(llvm_features: str) -> list[str]:
    """The cpuinfo flags behind `+feature`s of an LLVM feature string that this CPU shows."""
    have = cpu_flags() or frozenset()
    out = set()
    for f in llvm_features.split(","):
        if f.startswith("+"):
            name = _LLVM_TO_CPUINFO.get(f[1:], f[1:].replace(".", "_"))
            if name in have:
                out.add(name)
    return sorted(out)


def incompatibility(native: dict) -> str | None:
    """Why this host cannot run the native payload described by `native`, or None when it can."""
    here = describe()
    for key in ("os", "machine"):
        if native.get(key) != here[key]:
            return f"it was built for {native.get('os')}/{native.get('machine')}, this is {here['os']}/{here['machine']}"
    need = native.get("cpu_flags") or []
    if need:
        have = cpu_flags()
        if have is None:
            return "this host's CPU features cannot be read (no /proc/cpuinfo) to check them"
        missing = sorted(set(need) - have)
        if missing:
            return (f"it was built for a {native.get('cpu', 'different')} CPU and this CPU lacks "
                    f"{', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
    return None
