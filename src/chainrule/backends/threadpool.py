"""The process-wide state block of native code's helper-thread pool (no llvmlite import).

Generated code runs its parallel regions (GEMM chunks, split loop kernels) on
the calling thread plus one helper thread; the code that starts, feeds and
parks that thread is emitted into each module (backends/llvm/pool.py) and
keeps all its state in one zeroed block passed in the runtime table's "pool"
slot. This module allocates that block once per process, for the JIT and for
loaded artifacts alike, so every library shares one helper thread. The block
is never freed: the helper thread may sleep on the mutex inside it forever.

Layout (byte offsets; the emitter reads them from here). Caller-side fields,
only touched while holding `busy`: busy, started (0 none, 1 running, 2 failed),
pid (of the process that started the helper: a forked child runs
sequentially), gen. Job fields, published by an odd `ticket`: fn, ctx,
nchunks, caller_cpu (where the caller runs: a helper that finds itself on
that CPU moves to the others, see pool.py); `next` is the chunk counter both threads take from; the helper
stores `done` (the job's generation) when it has finished its chunks,
`sleeping` while parked on the mutex and condition variable, and counts the
jobs it joined in `joined` (diagnostics and tests).
"""

from __future__ import annotations

import ctypes
import functools

BUSY, STARTED, PID, GEN = 0, 4, 8, 16
TICKET, FN, CTX, NCHUNKS, CALLER_CPU = 64, 72, 80, 88, 96
NEXT = 128
DONE, SLEEPING, JOINED = 192, 200, 208
MUTEX, COND = 256, 384  # 128 bytes each: glibc x86-64 needs 40 and 48; zero bytes are their static initialisers
POOL_BYTES = 1024


@functools.lru_cache(maxsize=None)
def pool_state() -> int:
    """Address of the zeroed, 64-byte aligned state block (allocated once, kept for the process)."""
    buf = ctypes.create_string_buffer(POOL_BYTES + 64)
    _keep.append(buf)
    addr = ctypes.addressof(buf)
    return addr + (-addr % 64)


_keep: list = []


def pool_info() -> dict:
    """What the state block says now: started (0 none, 1 running, 2 failed), pid, jobs joined by the helper."""
    base = pool_state()
    return {"started": ctypes.c_int32.from_address(base + STARTED).value,
            "pid": ctypes.c_int32.from_address(base + PID).value,
            "joined": ctypes.c_int64.from_address(base + JOINED).value}
