"""The llvm backend's compile cache, argument checks, threads and options."""

import os
import subprocess
import sys
import tempfile
import threading

import numpy as np
import pytest

from chainrule.backends import llvm
from chainrule.backends.llvm import cache as llcache
from chainrule.backends.reference import evaluate
from chainrule.ir import GraphBuilder, TensorType


def small_graph(name="f", n=64, scale=2.0):
    b = GraphBuilder(name)
    x = b.param(TensorType((n,), "float32"), "x")
    y = b.param(TensorType((n,), "float32"), "y")
    s = b.constant(np.float32(scale))
    sb = b.op("broadcast_in_dim", s, shape=(n,), broadcast_dimensions=())
    z = b.op("add", b.op("multiply", x, sb), b.op("tanh", y))
    return b.build([z, b.op("reduce", z, kind="sum", dimensions=(0,))])


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(tmp_path))
    llcache.clear_memory()
    yield tmp_path
    llcache.clear_memory()


def entries(d):
    return sorted(p for p in os.listdir(os.path.join(d, "llvm")) if p.endswith(".so"))


def test_cache_miss_then_memory_hit_then_disk_hit(cache_dir):
    g = small_graph()
    e1 = llvm.compile(g)
    assert e1.stats["source"] == "compiled"
    assert len(entries(cache_dir)) == 1
    e2 = llvm.compile(small_graph())  # equal text, new graph object
    assert e2.stats["source"] == "memory"
    llcache.clear_memory()
    e3 = llvm.compile(small_graph())
    assert e3.stats["source"] == "disk"
    x = np.linspace(-1, 1, 64, dtype=np.float32)
    for e in (e1, e2, e3):
        np.testing.assert_array_equal(e(x, x)[0], e1(x, x)[0])
    # a different graph (or opt level) is a different entry
    assert llvm.compile(small_graph(scale=3.0)).stats["source"] == "compiled"
    assert llvm.compile(g, opt_level=1).stats["source"] == "compiled"
    assert len(entries(cache_dir)) == 3


def test_corrupted_entry_is_ignored_and_rebuilt(cache_dir):
    g = small_graph()
    llvm.compile(g)
    (so,) = entries(cache_dir)
    path = os.path.join(cache_dir, "llvm", so)
    with open(path, "r+b") as f:
        f.seek(200)
        f.write(b"\xff" * 64)
    llcache.clear_memory()
    e = llvm.compile(g)
    assert e.stats["source"] == "compiled"
    x = np.ones(64, np.float32)
    want = evaluate(g, [x, x])
    np.testing.assert_allclose(e(x, x)[0], want[0], rtol=1e-6)
    # a truncated checksum file is ignored too
    with open(path[:-3] + ".json", "w") as f:
        f.write("{not json")
    llcache.clear_memory()
    assert llvm.compile(g).stats["source"] == "compiled"


def test_unwritable_cache_dir_and_cache_off_still_compile(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(blocker))  # makedirs under a file fails
    llcache.clear_memory()
    x = np.ones(64, np.float32)
    e = llvm.compile(small_graph("nowrite"))
    assert e.stats["source"] == "compiled" and e.library_path is None
    assert float(e(x, x)[1]) == pytest.approx(64 * (2 + np.tanh(1.0)), rel=1e-5)
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    e2 = llvm.compile(small_graph("nocache"), cache=False)
    assert e2.library_path is None and float(e2(x, x)[1]) == pytest.approx(64 * (2 + np.tanh(1.0)), rel=1e-5)
    assert os.listdir(private_tmp) == []  # linked privately, nothing left behind
    llcache.clear_memory()


def test_second_process_hits_the_disk_cache(cache_dir):
    g = small_graph("proc")
    llvm.compile(g)
    code = ("import sys; sys.path.insert(0, %r); from test_llvm_runtime import small_graph; "
            "from chainrule.backends import llvm; import numpy as np; "
            "e = llvm.compile(small_graph('proc')); x = np.ones(64, np.float32); "
            "print(e.stats['source'], float(e(x, x)[1]))") % os.path.dirname(__file__)
    env = dict(os.environ, CHAINRULE_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    source, value = out.stdout.split()
    assert source == "disk"
    assert abs(float(value) - 64 * (2 + np.tanh(1.0))) < 1e-3


def test_argument_errors_name_the_argument(cache_dir):
    e = llvm.compile(small_graph())
    x = np.zeros(64, np.float32)
    with pytest.raises(TypeError, match="takes 2 argument"):
        e(x)
    with pytest.raises(TypeError, match="y: expected dtype float32, got float64"):
        e(x, np.zeros(64))
    with pytest.raises(ValueError, match=r"x: expected shape \(64,\), got \(63,\)"):
        e(np.zeros(63, np.float32), x)
    with pytest.raises(TypeError, match="expected an array"):
        e([0.0] * 64, x)
    # non-contiguous and misaligned arrays are copied, not misread
    big = np.arange(128, dtype=np.float32)
    raw = np.zeros(64 * 4 + 1, np.uint8)[1:].view(np.float32)
    raw[:] = big[::2]
    got = e(big[::2], raw)
    want = evaluate(small_graph(), [np.ascontiguousarray(big[::2]), np.ascontiguousarray(raw)])
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)


def test_options_are_checked(cache_dir):
    with pytest.raises(TypeError, match="unknown option"):
        llvm.compile(small_graph(), fastmath=True)
    with pytest.raises(ValueError, match="opt_level"):
        llvm.compile(small_graph(), opt_level=7)


def test_opt_levels_agree(cache_dir):
    x = np.linspace(-3, 3, 64, dtype=np.float32)
    outs = [llvm.compile(small_graph(), opt_level=o)(x, x) for o in (0, 3)]
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-6)


def test_eight_threads_call_one_function(cache_dir):
    b = GraphBuilder("mt")
    x = b.param(TensorType((300, 40), "float32"), "x")
    w = b.param(TensorType((40, 20), "float32"), "w")
    h = b.op("tanh", b.op("dot_general", x, w, lhs_contracting=(1,), rhs_contracting=(0,)))
    e2 = b.op("exponential", b.op("negate", h))
    s = b.op("reduce", b.op("multiply", h, e2), kind="sum", dimensions=(1,))  # needs arena buffers
    g = b.build([s, b.op("reduce", s, kind="max", dimensions=(0,))])
    ex = llvm.compile(g)
    rng = np.random.default_rng(0)
    inputs = [(rng.standard_normal((300, 40)).astype(np.float32), rng.standard_normal((40, 20)).astype(np.float32))
              for _ in range(8)]
    want = [ex(*a) for a in inputs]
    errors = []

    def worker(k):
        try:
            for _ in range(30):
                got = ex(*inputs[k])
                for gg, ww in zip(got, want[k]):
                    if not np.array_equal(gg, ww):
                        errors.append(k)
                        return
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    ref = evaluate(g, list(inputs[0]))
    np.testing.assert_allclose(want[0][0], ref[0], rtol=1e-4, atol=1e-5)


def test_arena_reuses_memory(cache_dir):
    """A chain of big intermediates needs far less arena than their total size."""
    b = GraphBuilder("chain")
    x = b.param(TensorType((1000,), "float64"), "x")
    v = x
    for k in range(10):
        v = b.op("broadcast_in_dim", b.op("reduce", b.op("exponential", v), kind="max", dimensions=(0,)),
                 shape=(1000,), broadcast_dimensions=())
        v = b.op("subtract", x, v)
        v = b.op("reverse", b.op("sine", v), dimensions=(0,))
        v = b.op("add", v, b.op("reverse", v, dimensions=(0,)))  # two uses: materialized
    g = b.build([v])
    ex = llvm.compile(g)
    assert ex.arena_size <= 4 * 8000 + 64 * 4
    xx = np.linspace(-1, 1, 1000)
    np.testing.assert_allclose(ex(xx)[0], evaluate(g, [xx])[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("trans", [False, True])
def test_two_thread_gemm_split_matches_reference(cache_dir, trans):
    """threads=2 computes large GEMMs in slices on the pool (along M, or N when larger), also transposed."""
    b = GraphBuilder("split")
    xshape = (200, 300) if trans else (300, 200)
    x = b.param(TensorType(xshape, "float32"), "x")
    w = b.param(TensorType((200, 280), "float32"), "w")
    y = b.param(TensorType((280, 120), "float64"), "y")
    z = b.param(TensorType((200, 120), "float64"), "z")
    r1 = b.op("dot_general", x, w, lhs_contracting=(0,) if trans else (1,), rhs_contracting=(0,))
    r2 = b.op("dot_general", z, y, lhs_contracting=(1,), rhs_contracting=(1,))  # N > M: split along N
    g = b.build([r1, r2])
    rng = np.random.default_rng(1)
    args = [rng.standard_normal(xshape).astype(np.float32), rng.standard_normal((200, 280)).astype(np.float32),
            rng.standard_normal((280, 120)), rng.standard_normal((200, 120))]
    got = llvm.compile(g, threads=2)(*args)
    want = evaluate(g, args)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=1e-10)


def test_two_thread_loop_split_matches_reference(cache_dir):
    """threads=2 runs big loop kernels as parallel regions (flat, and along dimension 0 of a nest)."""
    b = GraphBuilder("loopsplit")
    x = b.param(TensorType((1 << 19,), "float32"), "x")
    m = b.param(TensorType((700, 800), "float64"), "m")
    v = b.param(TensorType((800,), "float64"), "v")
    flat = b.op("multiply", b.op("tanh", x), b.op("exponential", b.op("negate", x)))
    nested = b.op("add", b.op("sine", b.op("transpose", b.op("reshape", m, shape=(800, 700)), permutation=(1, 0))),
                  b.op("broadcast_in_dim", v, shape=(700, 800), broadcast_dimensions=(1,)))
    g = b.build([flat, nested])
    rng = np.random.default_rng(2)
    args = [rng.standard_normal(1 << 19).astype(np.float32), rng.standard_normal((700, 800)), rng.standard_normal(800)]
    assert llvm.llvm_ir(g, threads=2).count('_chunk"(ptr') == 2  # both loop kernels become parallel regions
    assert "_chunk" not in llvm.llvm_ir(g, threads=1)
    split = llvm.compile(g, threads=2)
    whole = llvm.compile(g, threads=1)
    got, ref = split(*args), whole(*args)
    for a, w in zip(got, ref):
        np.testing.assert_array_equal(a, w)
    want = evaluate(g, args)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-13, atol=1e-13)
