"""Ctrl-C inside native code: the process-wide interrupt block and its SIGINT handler (no llvmlite import
until a handler is compiled).

Python runs signal handlers only in the main thread, between bytecodes: while a thread is inside a
native call, a SIGINT only trips CPython's C-level handler and the call runs on (for ever, in a
non-terminating `while_loop`). So generated code polls a flag: every iteration of a `while` or `scan`
loop does one relaxed atomic load of FLAG (the address comes in the runtime table's
INTERRUPT_SLOT_NAME slot; NULL: never checked, as in the C ABI's built-in table) and, when it is set,
returns status 1 up through its kernels and the entry point, skipping the rest of the call.

The flag is set by a small native SIGINT handler (compiled once per process, `arm`) that chains
to the handler it replaced, CPython's own, so Python still sees the signal: after a call returns
status 1 the caller runs the pending Python handler (`interrupted`), which raises KeyboardInterrupt
(or does whatever the program's SIGINT handler does; then KeyboardInterrupt is raised anyway, since
the call has no results).

The handler sets FLAG only while a native call that can poll it is running (ACTIVE > 0: the top
entry of a module with loops adds 1 on entry and subtracts 1 on return), and the last such call to
return clears it, so a Ctrl-C in Python code does not stop the next native call. The flag is
process-wide: a SIGINT stops every native loop running at that moment, in every thread, and each of
those calls raises KeyboardInterrupt; a call that never polls the flag before it is cleared runs to
completion and returns its results. Only Linux (glibc's `struct sigaction`) is supported; elsewhere
the block exists but no handler is installed, and loops poll a flag that stays 0.

Layout (byte offsets): FLAG i32 (read by loops), ACTIVE i64 on its own cache line (written twice
per call), then the replaced handler's address and flags (read by the handler).
"""

from __future__ import annotations

import _signal  # getsignal without signal.py's enum conversion (~10 us for a callable handler; this ~0.1 us)
import ctypes
import functools
import signal
import sys
import threading

# Generated code bakes in FLAG and ACTIVE and the JIT's disk cache is keyed by backends/llvm's sources only:
# a new layout needs a new slot name (as threadpool.py's "pool2"), so old libraries find no block.
INTERRUPT_SLOT_NAME = "interrupt"
FLAG, ACTIVE, OLD_HANDLER, OLD_FLAGS = 0, 64, 128, 136
BLOCK_BYTES = 192

_keep: list = []
_lock = threading.Lock()
_getsignal, _SIGINT = _signal.getsignal, int(signal.SIGINT)
_seen = [None]  # the Python-level SIGINT handler the native handler was installed under


@functools.lru_cache(maxsize=None)
def interrupt_state() -> int:
    """Address of the zeroed, 64-byte aligned interrupt block (allocated once, kept for the process)."""
    buf = ctypes.create_string_buffer(BLOCK_BYTES + 64)
    _keep.append(buf)
    addr = ctypes.addressof(buf)
    return addr + (-addr % 64)


class _Sigaction(ctypes.Structure):
    """glibc's struct sigaction (x86-64 and aarch64 alike): handler, sa_mask[128 bytes], sa_flags, restorer."""
    _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_ubyte * 128), ("flags", ctypes.c_int),
                ("restorer", ctypes.c_void_p)]


@functools.lru_cache(maxsize=None)
def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.sigaction.argtypes = [ctypes.c_int, ctypes.POINTER(_Sigaction), ctypes.POINTER(_Sigaction)]
    libc.sigaction.restype = ctypes.c_int
    return libc


def handler_ir(block: int) -> str:
    """LLVM IR of `void chainrule_sigint(int sig, siginfo_t *info, void *ctx)` for the block at `block`:
    sets FLAG if ACTIVE, then calls the replaced handler with the same arguments (a one-argument
    handler ignores the other two). Only async-signal-safe work: two atomic accesses and a call."""
    return f"""
define void @chainrule_sigint(i32 %sig, ptr %info, ptr %ctx) nounwind {{
entry:
  %base = inttoptr i64 {block} to ptr
  %activep = getelementptr i8, ptr %base, i64 {ACTIVE}
  %active = load atomic i64, ptr %activep monotonic, align 8
  %busy = icmp ne i64 %active, 0
  br i1 %busy, label %set, label %chain
set:
  store atomic i32 1, ptr %base monotonic, align 4
  br label %chain
chain:
  %oldp = getelementptr i8, ptr %base, i64 {OLD_HANDLER}
  %old = load ptr, ptr %oldp, align 8
  call void %old(i32 %sig, ptr %info, ptr %ctx)
  ret void
}}
"""


@functools.lru_cache(maxsize=None)
def _handler() -> int:
    """Address of the compiled handler (MCJIT, kept for the process: a signal may arrive at any time)."""
    import llvmlite.binding as llvm  # not backends/llvm: a loaded artifact needs only this (~30 ms, no host())

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    triple = llvm.get_process_triple()
    mod = llvm.parse_assembly(handler_ir(interrupt_state()))
    mod.triple = triple
    mod.verify()
    tm = llvm.Target.from_triple(triple).create_target_machine(codemodel="jitdefault")
    engine = llvm.create_mcjit_compiler(mod, tm)
    engine.finalize_object()
    _keep.append(engine)
    return engine.get_function_address("chainrule_sigint")


def armed_state(slots=(INTERRUPT_SLOT_NAME,)) -> int:
    """The block's address for a runtime table listing `slots` (armed first), or 0 where it lists none."""
    if INTERRUPT_SLOT_NAME not in slots:
        return 0
    arm()
    return interrupt_state()


def supported() -> bool:
    return sys.platform.startswith("linux")


def arm() -> bool:
    """Install the native handler in front of CPython's, if SIGINT is handled in Python (the
    default KeyboardInterrupt handler or a Python callable) and ours is not already there. Cheap
    when nothing changed: call it before each native call that polls the flag. A program that
    replaces the SIGINT handler (signal.signal) removes ours; the next call re-installs it (unless
    the new Python handler is the very object it replaced: then loops are not interrupted)."""
    cur = _getsignal(_SIGINT)
    if cur is _seen[0]:
        return cur is not None
    return _install(cur)


def _install(cur) -> bool:
    with _lock:
        if cur is _seen[0]:
            return True
        if not supported() or not callable(cur):  # SIG_DFL, SIG_IGN or None (not set from Python)
            _seen[0] = cur
            return False
        handler = _handler()
        libc = _libc()
        old = _Sigaction()
        if libc.sigaction(signal.SIGINT, None, ctypes.byref(old)) != 0:  # pragma: no cover
            return False
        if old.handler in (None, 0, 1) or old.handler == handler:  # SIG_DFL / SIG_IGN, or ours already
            _seen[0] = cur
            return old.handler == handler
        base = interrupt_state()
        ctypes.c_void_p.from_address(base + OLD_HANDLER).value = old.handler
        ctypes.c_int64.from_address(base + OLD_FLAGS).value = old.flags
        new = _Sigaction()
        new.handler = handler
        new.mask = old.mask
        new.flags = old.flags  # the same calling convention (SA_SIGINFO or not) as the handler we chain to
        if libc.sigaction(signal.SIGINT, ctypes.byref(new), None) != 0:  # pragma: no cover
            return False
        _seen[0] = cur
        return True


def installed() -> bool:
    """Whether the native handler is SIGINT's handler now (for tests and diagnostics)."""
    if not supported() or _handler.cache_info().currsize == 0:
        return False
    cur = _Sigaction()
    _libc().sigaction(signal.SIGINT, None, ctypes.byref(cur))
    return cur.handler == _handler()


def interrupted():
    """After a native call returned status 1 (its loops saw the flag): run Python's pending signal
    handlers now (the default one raises KeyboardInterrupt here, in the main thread); if that raised
    nothing (another thread, or a handler that does not raise), raise KeyboardInterrupt: the call was
    cut short and has no results."""
    ctypes.pythonapi.PyErr_CheckSignals()  # raises what the handler raised (PyDLL checks the error flag)
    raise KeyboardInterrupt("a native call was interrupted by SIGINT")


def flag_value() -> int:
    return ctypes.c_int32.from_address(interrupt_state() + FLAG).value


def active_calls() -> int:
    return ctypes.c_int64.from_address(interrupt_state() + ACTIVE).value
