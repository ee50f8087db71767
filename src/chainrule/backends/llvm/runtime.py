"""Calling compiled code: the Executable, its argument fast path, arenas and GEMM.

A call checks its arguments, allocates the results with NumPy, and crosses
into native code once through ctypes (which releases the GIL). Each thread
gets its own arena and pointer arrays, so one compiled function may be
called from many threads at once.

A graph with while/scan loops polls the interrupt flag (backends/interrupt.py):
before each call the native SIGINT handler is (re)armed if needed, and a call
that returns status 1 raises KeyboardInterrupt (its results were not written).
"""

from __future__ import annotations

import ctypes
import functools
import threading

import numpy as np

from .. import interrupt as _interrupt
from ..blas import numpy_openblas
from ..interrupt import INTERRUPT_SLOT_NAME, interrupt_state
from ..threadpool import POOL_SLOT_NAME, pool_state
from ..common import ARRAY_DATA_OFFSET, Executable, array_data_offset_holds, check_arguments, data_pointer
from .codegen import DATA_OFFSET, ENTRY, ENTRY_OBJECTS, RUNTIME_SLOTS, has_loops

# the entries return 0, or 1 when interrupted (codegen.py)
_ENTRY_TYPE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
_OBJ_TYPE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
_OBJ_TYPE_GIL = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
SMALL_BYTES = 1 << 16


def _is_small(graph, plan) -> bool:
    """Cheap enough that holding the GIL beats releasing it: little data, no GEMM or loops."""
    if any(k.kind not in ("loop", "reduce", "argmax", "argmin") for k in plan.kernels):
        return False
    total = sum(p.type.nbytes for p in graph.params) + sum(r.type.nbytes for r in graph.results) + plan.arena_size
    return total <= SMALL_BYTES


def _openblas():
    """NumPy's bundled OpenBLAS (see backends/blas.py)."""
    return numpy_openblas()


@functools.lru_cache(maxsize=None)
def runtime_table():
    """The function-pointer table every module receives (see codegen.RUNTIME_SLOTS)."""
    lib, found = _openblas()
    found = dict(found, **{POOL_SLOT_NAME: pool_state(), INTERRUPT_SLOT_NAME: interrupt_state()})
    table = (ctypes.c_void_p * len(RUNTIME_SLOTS))()
    for i, slot in enumerate(RUNTIME_SLOTS):
        table[i] = found.get(slot) or 0
    return table, lib


def object_entry_ok() -> bool:
    """Whether ENTRY_OBJECTS may read data pointers at DATA_OFFSET of the array objects (checked on
    live arrays once, see backends/common.py); when it does not hold, calls take the ctypes.data path."""
    return DATA_OFFSET == ARRAY_DATA_OFFSET and array_data_offset_holds()


def blas_available() -> bool:
    return bool(_openblas()[1])


class LLVMExecutable(Executable):
    """A graph compiled to one native entry point in a shared library."""

    backend = "llvm"

    def __init__(self, graph, plan, library, library_path=None, cache_key=None, stats=None):
        super().__init__(graph)
        self._lib = library  # keeps the shared library loaded
        self.library_path = library_path
        self.cache_key = cache_key
        self.stats = stats or {}
        self._fn = _ENTRY_TYPE(ctypes.cast(getattr(library, ENTRY), ctypes.c_void_p).value)
        # Small graphs keep the GIL across the call (PYFUNCTYPE): releasing and retaking it costs
        # more than they run. Graphs with real work release it so threads run in parallel.
        proto = _OBJ_TYPE_GIL if _is_small(graph, plan) else _OBJ_TYPE
        self._fn_obj = proto(ctypes.cast(getattr(library, ENTRY_OBJECTS), ctypes.c_void_p).value) \
            if object_entry_ok() else None
        self._rt_table, self._blas = runtime_table()
        self._rt = ctypes.addressof(self._rt_table)
        self._arena_size = plan.arena_size
        self._results = plan.results
        self._nparams = len(graph.params)
        self._sig = [(p.type.shape, np.dtype(p.type.dtype.np.type)) for p in graph.params]
        self._native = [(r.type.shape, r.type.dtype.np) for r, info in zip(graph.results, plan.results)
                        if info[0] == "native"]
        self._all_native = all(info[0] == "native" for info in plan.results)
        self.donated = sorted(plan.donated_params)  # parameters results are written into (see run)
        self._tls = threading.local()
        self._fast = self._fn_obj is not None and self._all_native
        self.arena_size = plan.arena_size
        # loops poll the interrupt flag: arm the SIGINT handler before each call (cheap when armed)
        self._arm = _interrupt.arm if has_loops(plan) else None
        if self._arm is not None:
            self._arm()

    def _state(self):
        tls = self._tls
        st = getattr(tls, "st", None)
        if st is None:
            args = (ctypes.c_void_p * max(1, self._nparams))()
            res = (ctypes.c_void_p * max(1, len(self._native)))()
            arena = np.empty(self._arena_size + 64, dtype=np.uint8)
            base = arena.ctypes.data
            aligned = base + (-base % 64)
            block = (ctypes.c_void_p * 4)(ctypes.addressof(args), ctypes.addressof(res), aligned, self._rt)
            st = tls.st = (args, res, arena, aligned, ctypes.addressof(args), ctypes.addressof(res), block,
                           ctypes.addressof(block))
        return st

    def __call__(self, *args):
        """Fast path: exact ndarrays of the right dtype and shape, C-contiguous and aligned."""
        sig = self._sig
        if len(args) != len(sig) or not self._fast:
            return self.run(check_arguments(self.graph, args))
        st = getattr(self._tls, "st", None) or self._state()
        argv = st[0]
        for i, (a, (shape, dt)) in enumerate(zip(args, sig)):
            if type(a) is not np.ndarray or a.dtype is not dt or a.shape != shape or not a.flags.carray:
                return self.run(check_arguments(self.graph, args))
            argv[i] = id(a)
        outs = [np.empty(shape, dt) for shape, dt in self._native]
        resv = st[1]
        for j, o in enumerate(outs):
            resv[j] = id(o)
        if self._arm is not None:
            self._arm()
        if self._fn_obj(st[7]):
            _interrupt.interrupted()
        return outs

    def fast_caller(self, scalar_dtypes, single, slow):
        """`call(args)` for arguments whose kinds the caller has matched already: ndarrays of the
        compiled dtype and shape where `scalar_dtypes[i]` is None, scalars to wrap in that dtype
        elsewhere. Arrays that are not C-contiguous and aligned go to `slow(args)`. Returns the
        first result when `single`, else the list; None when this executable has no fast entry.

        The function is generated for its signature (unrolled, no loops or comprehensions): this
        is the whole Python cost of a warm call, ~4x less than the general path."""
        if not self._fast:
            return None
        env = {"tls": self._tls, "state": self._state, "fn": self._fn_obj, "slow": slow,
               "asarray": np.asarray, "empty": np.empty, "arm": self._arm, "interrupted": _interrupt.interrupted}
        n = len(scalar_dtypes)
        lines = ["def call(args):"]
        if n:
            lines.append(f"    {', '.join(f'a{i}' for i in range(n))}, = args")
        lines += ["    st = getattr(tls, 'st', None) or state()", "    argv = st[0]"]
        for i, dt in enumerate(scalar_dtypes):
            if dt is None:
                lines += [f"    if not a{i}.flags.carray:", "        return slow(args)"]
            else:
                env[f"dt{i}"] = dt
                lines.append(f"    a{i} = asarray(a{i}, dt{i})")  # alive until the call returns
            lines.append(f"    argv[{i}] = id(a{i})")
        lines.append("    resv = st[1]")
        for j, (shape, dt) in enumerate(self._native):
            env[f"shape{j}"], env[f"odt{j}"] = shape, dt
            lines += [f"    o{j} = empty(shape{j}, odt{j})", f"    resv[{j}] = id(o{j})"]
        if self._arm is not None:
            lines.append("    arm()")
        lines += ["    if fn(st[7]):", "        interrupted()"]
        outs = [f"o{j}" for j in range(len(self._native))]
        lines.append(f"    return {outs[0] if single else '[' + ', '.join(outs) + ']'}")
        exec("\n".join(lines), env)  # noqa: S102 - generated from shapes and indices only
        return env["call"]

    def _own_donated(self, args):
        """Donated arguments are written into: one that is read-only, or whose memory another argument
        shares (the same array passed twice, a view), is copied first so that nothing else changes."""
        for i in self.donated:
            a = args[i]
            if not a.flags.writeable or any(j != i and isinstance(b, np.ndarray) and np.may_share_memory(a, b)
                                            for j, b in enumerate(args)):
                args[i] = np.array(a, copy=True)
        return args

    def run(self, args, runtime_table=None):
        """Checked arrays in, results out. `runtime_table`: the address of another runtime table
        (tests pass one with NULL slots, e.g. no thread pool)."""
        argv, resv, _arena, arena_ptr, pa, pr = self._state()[:6]
        if self.donated:
            args = self._own_donated(list(args))
        for i, a in enumerate(args):
            argv[i] = data_pointer(a)
        outs = [np.empty(shape, dt) for shape, dt in self._native]
        for j, o in enumerate(outs):
            resv[j] = data_pointer(o)
        if self._arm is not None:
            self._arm()
        if self._fn(pa, pr, arena_ptr, self._rt if runtime_table is None else runtime_table):
            _interrupt.interrupted()
        if self._all_native:
            return outs
        final = []
        for info in self._results:
            tag, k = info
            if tag == "native":
                final.append(outs[k])
            elif tag == "param":
                final.append(np.array(args[k], copy=True))
            elif tag == "donated":  # written into the donated argument's array: that array is the result
                final.append(args[k])
            elif tag == "const":
                final.append(np.array(k, copy=True))
            else:
                final.append(np.array(final[k], copy=True))
        return final
