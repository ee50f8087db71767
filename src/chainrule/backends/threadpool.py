"""The process-wide state block of native code's helper-thread pool (no llvmlite import).

Generated code runs its parallel regions (GEMM slices, split loop kernels) on
the calling thread plus up to MAX_HELPERS helper threads; the code that starts,
feeds and parks them is emitted into each module (backends/llvm/pool.py) and
keeps all its state in one zeroed block passed in the runtime table's
POOL_SLOT_NAME slot. This module allocates that block once per process, for the JIT and for
loaded artifacts alike, so every library shares the same helpers. The block is
never freed: a helper thread may sleep on a mutex inside it forever.

Layout (byte offsets; the emitter reads them from here). Caller-side fields,
only touched while holding `busy`: busy, helpers (how many were started),
failed (a pthread_create failed: start no more), pid (of the process that
started the first helper: a forked child runs sequentially), gen. Job fields,
written before any ticket opens: fn, ctx, nchunks, caller_cpu (where the
caller runs: a helper that finds itself on that CPU moves to the others, see
pool.py); `next` is the chunk counter every participant takes from. Then one
HELPER_BYTES slot per helper k at HELPER0 + k * HELPER_BYTES, each the
two-party protocol of pool.py on its own cache lines: `ticket` (opened by the
caller, joined or revoked by CAS) and `state` (the block's address, the
helper's thread argument is its slot); the helper's line: `done` (the job's
generation, stored when it has finished its chunks), `sleeping` (while parked
on the slot's mutex and condition variable), `joined` (jobs it joined:
diagnostics and tests); then the mutex and the condition variable.
"""

from __future__ import annotations

import ctypes
import functools

BUSY, HELPERS, PID, FAILED, GEN = 0, 4, 8, 12, 16
FN, CTX, NCHUNKS, CALLER_CPU = 64, 72, 80, 88
NEXT = 128
HELPER0, HELPER_BYTES = 192, 384
TICKET, STATE = 0, 8                    # within a slot: the line the caller writes
DONE, SLEEPING, JOINED = 64, 72, 80     # the line the helper writes
MUTEX, COND = 128, 256  # 128 bytes each: glibc x86-64 needs 40 and 48; zero bytes are their static initialisers
MAX_HELPERS = 31        # threads up to 32
# The runtime-table slot name carries the layout's version: a library built for another layout
# (the one-helper "pool" of older artifacts) finds no slot of its name and runs sequentially.
POOL_SLOT_NAME = "pool2"
POOL_BYTES = HELPER0 + MAX_HELPERS * HELPER_BYTES


@functools.lru_cache(maxsize=None)
def pool_state() -> int:
    """Address of the zeroed, 64-byte aligned state block (allocated once, kept for the process)."""
    buf = ctypes.create_string_buffer(POOL_BYTES + 64)
    _keep.append(buf)
    addr = ctypes.addressof(buf)
    return addr + (-addr % 64)


_keep: list = []


def pool_info() -> dict:
    """What the state block says now: started (0 none, 1 running, 2 failed to start any), helpers
    (threads started), pid, jobs joined by all helpers."""
    base = pool_state()
    i32 = lambda off: ctypes.c_int32.from_address(base + off).value  # noqa: E731
    helpers = i32(HELPERS)
    joined = sum(ctypes.c_int64.from_address(base + HELPER0 + k * HELPER_BYTES + JOINED).value
                 for k in range(helpers))
    return {"started": 1 if helpers else (2 if i32(FAILED) else 0), "helpers": helpers, "pid": i32(PID),
            "joined": joined}
