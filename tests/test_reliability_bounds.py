"""Out-of-range indices never reach memory out of bounds on the LLVM backend.

gather, scatter, dynamic_slice and dynamic_update_slice clamp their indices
as XLA defines (gather/scatter indices to [0, n-1], slice starts to
[0, n - size]). A wrong clamp would usually still read *some* mapped memory
and go unnoticed, so the operands are placed flush against an inaccessible
guard page (mmap + mprotect PROT_NONE): a single byte read past either end
faults. That runs in a child process (this file run as a script), and the
test asserts the child exits 0 and its results match NumPy's clamped
indexing. Writes land in NumPy-allocated outputs that cannot be guarded; the
results (compared against NumPy) show an out-of-bounds write as a missing
update, and the slow valgrind run checks every access of the same programs.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.abspath(__file__)
PAGE = mmap.PAGESIZE
PROT_NONE = 0  # <sys/mman.h>; the mmap module does not export it

# Index values at and beyond both ends of every axis, and at the integer limits.
I32_BAD = [-(2**31), -(2**31) + 1, -1000, -2, -1, 0, 1, 2, 3, 4, 5, 1000, 2**31 - 1]
I64_BAD = I32_BAD + [-(2**63), -(2**63) + 1, -(2**40), 2**40, 2**62, 2**63 - 1]


class Guarded:
    """An array flush against a PROT_NONE page (after it for end="tail", before it for end="head").

    Keeps its mapping alive; the array is C-contiguous, aligned and writable,
    so compiled code reads it in place (no defensive copy hides a bad read)."""

    def __init__(self, values: np.ndarray, end: str):
        values = np.ascontiguousarray(values)
        nbytes = values.nbytes
        data_pages = max(1, -(-nbytes // PAGE))
        self.map = mmap.mmap(-1, (data_pages + 2) * PAGE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        base = ctypes.addressof(ctypes.c_char.from_buffer(self.map))
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        for guard in (base, base + (data_pages + 1) * PAGE):
            if libc.mprotect(guard, PAGE, PROT_NONE) != 0:
                raise OSError(ctypes.get_errno(), "mprotect failed")
        offset = PAGE if end == "head" else (data_pages + 1) * PAGE - nbytes
        self.array = np.frombuffer(self.map, dtype=values.dtype, count=values.size, offset=offset) \
            .reshape(values.shape)
        self.array[...] = values
        assert self.array.flags.c_contiguous and self.array.flags.aligned and self.array.flags.writeable


# --- the programs (built directly in IR, so no pass rewrites the indexing) ---------------------

def _gather_graph(xshape, ishape, axis, idt, bd=0, then_add=False):
    from chainrule.ir import GraphBuilder, TensorType
    b = GraphBuilder("gather_oob")
    x = b.param(TensorType(xshape, "float32"), "x")
    i = b.param(TensorType(ishape, idt), "i")
    y = b.op("gather", x, i, axis=axis, batch_dims=bd)
    if then_add:  # the gather inlined into a fused elementwise consumer
        y = b.op("add", y, y)
    return b.build([y])


def _scatter_graph(xshape, ishape, axis, idt, kind):
    from chainrule.ir import GraphBuilder, TensorType
    b = GraphBuilder("scatter_oob")
    x = b.param(TensorType(xshape, "float32"), "x")
    i = b.param(TensorType(ishape, idt), "i")
    ushape = xshape[:axis] + ishape + xshape[axis + 1:]
    u = b.param(TensorType(ushape, "float32"), "u")
    return b.build([b.op("scatter", x, i, u, axis=axis, batch_dims=0, kind=kind)])


def _dslice_graph(xshape, sizes, idt):
    from chainrule.ir import GraphBuilder, TensorType
    b = GraphBuilder("dslice_oob")
    x = b.param(TensorType(xshape, "float32"), "x")
    starts = [b.param(TensorType((), idt), f"s{d}") for d in range(len(xshape))]
    return b.build([b.op("dynamic_slice", x, *starts, slice_sizes=tuple(sizes))])


def _dus_graph(xshape, ushape, idt):
    from chainrule.ir import GraphBuilder, TensorType
    b = GraphBuilder("dus_oob")
    x = b.param(TensorType(xshape, "float32"), "x")
    u = b.param(TensorType(ushape, "float32"), "u")
    starts = [b.param(TensorType((), idt), f"s{d}") for d in range(len(xshape))]
    return b.build([b.op("dynamic_update_slice", x, u, *starts)])


# --- NumPy oracles (XLA's clamping) -----------------------------------------------------------

def _np_gather(x, idx, axis):
    return np.take(x, np.clip(idx, 0, x.shape[axis] - 1), axis=axis)


def _np_scatter(x, idx, u, axis, kind):
    res = x.copy()
    view = np.moveaxis(res, axis, 0)
    k = np.clip(idx, 0, x.shape[axis] - 1).reshape(-1)
    uu = np.moveaxis(u, list(range(axis, axis + idx.ndim)), list(range(idx.ndim))).reshape((k.size,) + view.shape[1:])
    for j in range(k.size):  # in order: for "set", the last update wins
        view[k[j]] = view[k[j]] + uu[j] if kind == "add" else uu[j]
    return res


def _clamp_starts(starts, shape, sizes):
    return [int(min(max(int(s), 0), n - k)) for s, n, k in zip(starts, shape, sizes)]


def _np_dslice(x, starts, sizes):
    st = _clamp_starts(starts, x.shape, sizes)
    return x[tuple(slice(s, s + k) for s, k in zip(st, sizes))]


def _np_dus(x, u, starts):
    st = _clamp_starts(starts, x.shape, u.shape)
    res = x.copy()
    res[tuple(slice(s, s + k) for s, k in zip(st, u.shape))] = u
    return res


# --- the child: every case, operands guarded at both ends -------------------------------------

def run_cases(guard: bool = True, quick: bool = False) -> int:
    """Run every case; return how many ran. Raises AssertionError on a wrong result."""
    from chainrule.backends import compile as compile_graph
    rng = np.random.default_rng(0)
    ends = ("tail", "head") if guard else (None,)
    count = 0

    def place(a, end):
        if end is None:
            return a, None
        g = Guarded(a, end)
        return g.array, g

    for idt, bad in (("int32", I32_BAD), ("int64", I64_BAD)):
        npi = np.dtype(idt)
        ivals = np.array(bad, dtype=npi)
        # gather along each axis of a 3-d operand, plain and inlined into a fused add
        xshape = (3, 5, 4)
        x0 = rng.standard_normal(xshape).astype(np.float32)
        for axis in range(3):
            for then_add in (False, True):
                exe = compile_graph(_gather_graph(xshape, ivals.shape, axis, idt, then_add=then_add), "llvm")
                want = _np_gather(x0, ivals, axis)
                want = want + want if then_add else want
                for end in ends:
                    xa, _gx = place(x0, end)
                    ia, _gi = place(ivals, end)
                    (got,) = exe(xa, ia)
                    np.testing.assert_array_equal(got, want, err_msg=f"gather axis={axis} {idt} end={end}")
                    count += 1
        # gather with a batch dimension and 2-d indices
        xb = rng.standard_normal((2, 6, 3)).astype(np.float32)
        ib = np.array([bad[: len(bad) // 2 * 2]] * 2, dtype=npi).reshape(2, -1, 2)
        exe = compile_graph(_gather_graph(xb.shape, ib.shape, 1, idt, bd=1), "llvm")
        want = np.stack([_np_gather(xb[j], ib[j], 0) for j in range(2)])
        for end in ends:
            xa, _gx = place(xb, end)
            ia, _gi = place(ib, end)
            np.testing.assert_array_equal(exe(xa, ia)[0], want, err_msg=f"batched gather {idt} end={end}")
            count += 1
        # scatter (add and set) along each axis
        for axis in range(3):
            for kind in ("add", "set"):
                exe = compile_graph(_scatter_graph(xshape, ivals.shape, axis, idt, kind), "llvm")
                ushape = xshape[:axis] + ivals.shape + xshape[axis + 1:]
                u0 = rng.standard_normal(ushape).astype(np.float32)
                want = _np_scatter(x0, ivals, u0, axis, kind)
                for end in ends:
                    xa, _gx = place(x0, end)
                    ia, _gi = place(ivals, end)
                    ua, _gu = place(u0, end)
                    (got,) = exe(xa, ia, ua)
                    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6,
                                               err_msg=f"scatter {kind} axis={axis} {idt} end={end}")
                    count += 1
        # dynamic_slice / dynamic_update_slice with every start at every bad value per axis
        xs = (4, 6)
        x1 = rng.standard_normal(xs).astype(np.float32)
        for sizes in ((2, 3), (4, 6), (1, 1), (0, 2)):
            exe = compile_graph(_dslice_graph(xs, sizes, idt), "llvm")
            exu = compile_graph(_dus_graph(xs, sizes, idt), "llvm")
            u1 = rng.standard_normal(sizes).astype(np.float32)
            starts_list = [(a, b) for a in bad for b in (bad if not quick else bad[:3])][:: (1 if not quick else 7)]
            for end in ends:
                xa, _gx = place(x1, end)
                ua, _gu = place(u1, end)
                for s0, s1 in starts_list:
                    st = (npi.type(s0), npi.type(s1))
                    (got,) = exe(xa, *st)
                    np.testing.assert_array_equal(got, _np_dslice(x1, st, sizes),
                                                  err_msg=f"dynamic_slice {sizes} at {st} {idt}")
                    (got,) = exu(xa, ua, *st)
                    np.testing.assert_array_equal(got, _np_dus(x1, u1, st),
                                                  err_msg=f"dynamic_update_slice {sizes} at {st} {idt}")
                    count += 2
    return count


def child_env():
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(os.path.dirname(HERE)), "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_guard_page_faults_on_a_read_past_the_end():
    """The guard itself works: NumPy reading one element past the guarded array kills the child."""
    code = (f"import sys; sys.path.insert(0, {os.path.dirname(HERE)!r});"
            "import numpy as np, test_reliability_bounds as t;"
            "g = t.Guarded(np.arange(10, dtype=np.float32), 'tail');"
            "a = np.lib.stride_tricks.as_strided(g.array, shape=(11,), strides=(4,));"
            "print(float(a[10]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=child_env())
    assert proc.returncode == -signal.SIGSEGV, (proc.returncode, proc.stdout, proc.stderr[-2000:])


def test_out_of_range_indices_are_clamped_under_guard_pages():
    """Every index class on every op runs with operands flush against PROT_NONE pages; the child exits 0."""
    proc = subprocess.run([sys.executable, HERE, "guard"], capture_output=True, text=True, timeout=240,
                          env=child_env())
    assert proc.returncode == 0, f"child exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}"
    assert "cases:" in proc.stdout
    assert int(proc.stdout.split("cases:")[1].split()[0]) > 500


@pytest.mark.parametrize("backend", ["reference", "jax", "llvm"])
def test_every_backend_clamps_the_same_way(backend):
    """The oracle (and jax) agree with the NumPy clamping used above, so all backends and NumPy agree."""
    from chainrule.backends import available_backends, compile as compile_graph
    if backend not in available_backends():
        pytest.skip(f"{backend} unavailable")
    x = np.arange(15, dtype=np.float32).reshape(3, 5)
    for idt, bad in (("int32", I32_BAD), ("int64", I64_BAD)):
        i = np.array(bad, dtype=idt)
        (got,) = compile_graph(_gather_graph(x.shape, i.shape, 1, idt), backend)(x, i)
        np.testing.assert_array_equal(got, _np_gather(x, i, 1))
        u = np.arange(3 * i.size, dtype=np.float32).reshape(3, i.size)
        for kind in ("add", "set"):
            (got,) = compile_graph(_scatter_graph(x.shape, i.shape, 1, idt, kind), backend)(x, i, u)
            np.testing.assert_array_equal(got, _np_scatter(x, i, u, 1, kind), err_msg=f"scatter {kind} {idt}")
        ds = compile_graph(_dslice_graph(x.shape, (2, 2), idt), backend)
        dus = compile_graph(_dus_graph(x.shape, (2, 2), idt), backend)
        upd = -np.ones((2, 2), np.float32)
        for s0, s1 in ((bad[0], bad[-1]), (bad[-1], bad[0]), (-1, 4), (3, 5)):
            st = (np.dtype(idt).type(s0), np.dtype(idt).type(s1))
            np.testing.assert_array_equal(ds(x, *st)[0], _np_dslice(x, st, (2, 2)))
            np.testing.assert_array_equal(dus(x, upd, *st)[0], _np_dus(x, upd, st))


# glibc's dynamic loader reads 8 bytes at a time past the end of short strings (a known,
# harmless memcheck report); nothing of chainrule's is suppressed.
VALGRIND_SUPPRESSIONS = """
{
   ld.so is_dst strncmp reads whole words
   Memcheck:Addr8
   fun:strncmp
   fun:is_dst
}
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_out_of_range_indices_under_valgrind(tmp_path):
    """Every access (reads, and the writes into outputs) checked by memcheck; ~20 s, hence slow.

    The child compiles under valgrind (whose emulated CPU lacks AVX-512, so the cache key
    differs from the host's) into a private cache directory."""
    supp = tmp_path / "ldso.supp"
    supp.write_text(VALGRIND_SUPPRESSIONS)
    env = child_env()
    env["PYTHONMALLOC"] = "malloc"
    env["CHAINRULE_CACHE_DIR"] = str(tmp_path / "cache")
    proc = subprocess.run(["valgrind", "--error-exitcode=99", "--leak-check=no", "--undef-value-errors=no",
                           f"--suppressions={supp}", sys.executable, HERE, "plain"],
                          capture_output=True, text=True, timeout=1200, env=env)
    assert proc.returncode == 0, f"valgrind exited {proc.returncode}\n{proc.stderr[-6000:]}"
    assert "ERROR SUMMARY: 0 errors" in proc.stderr
    assert int(proc.stdout.split("cases:")[1].split()[0]) > 100


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "guard"
    n = run_cases(guard=(mode == "guard"), quick=(mode == "plain"))
    print(f"cases: {n}")
