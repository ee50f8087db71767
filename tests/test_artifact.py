"""Artifacts (.crx): export, load in a fresh process, signatures and payloads.

Oracles: NumPy on the same inputs (and the exported function itself only
where the check is that the two agree bit for bit on the same code).
"""

import collections
import ctypes
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.artifact import ArtifactFallbackWarning
from chainrule.artifact.container import pack, read_verified

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks.workloads import mlp_data, mlp_loss, mlp_numpy  # noqa: E402


def _fresh(code: str, *args) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter (no tracing or compiling happened there)."""
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src") + os.pathsep + ROOT}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def _scalar(x, y):
    return x * 2.0 + y


Pair = collections.namedtuple("Pair", ["lo", "hi"])


def _tree_fn(d, scale):
    a, (b, c) = d["a"], d["b"]
    return {"sum": cnp.sum(a * scale) + cnp.sum(b), "pair": Pair(cnp.minimum(a, c), cnp.maximum(a, c)),
            "list": [b.astype("float64") * 2.0, c > 0]}


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    params, x, y = mlp_data(batch=8)
    c = cr.jit(cr.value_and_grad(mlp_loss), backend="llvm").lower(params, x, y).compile()
    path = tmp_path_factory.mktemp("mlp") / "mlp.crx"
    c.export(path)
    return c, path


def test_scalar_round_trip_in_a_fresh_process(tmp_path):
    x, y = np.float32(1.5), np.float32(-0.25)
    c = cr.jit(_scalar, backend="llvm").lower(x, y).compile()
    path = cr.export(c, tmp_path / "s.crx", payloads=["native"])
    out = _fresh("""
        import sys, numpy as np, chainrule as cr
        import chainrule.backends, chainrule.frontend.api, chainrule.frontend.tracing, chainrule.passes
        def forbidden(*a, **k):
            raise AssertionError("loading traced, optimised or compiled something")
        for mod, name in ((chainrule.frontend.tracing, "trace_flat"), (chainrule.frontend.api, "trace_flat"),
                          (chainrule.passes, "optimize"), (chainrule.frontend.api, "optimize_graph"),
                          (chainrule.backends, "compile")):
            setattr(mod, name, forbidden)
        g = cr.load(sys.argv[1])
        r = g(np.float32(1.5), np.float32(-0.25))
        print(repr(float(r)), r.dtype, r.shape, g.payload, g.signature)
        print(sorted(m for m in sys.modules if m.split('.')[0] in ('llvmlite', 'jax')))
        print(g.as_text() == open(sys.argv[2]).read())
    """, path, _write(tmp_path / "g.crir", c.as_text()))
    val, dt, shape, payload, *sig = out.stdout.splitlines()[0].split(" ", 4)
    assert float(val) == 1.5 * 2.0 - 0.25 and dt == "float32" and shape == "()" and payload == "native"
    assert eval(sig[0]) == c.signature
    assert out.stdout.splitlines()[1] == "[]"  # the load path imported neither llvmlite nor jax (nor traced,
    # optimised or compiled: those functions raised in the child)
    assert out.stdout.splitlines()[2] == "True"


def _write(path, text):
    path.write_text(text)
    return path


def test_pytree_round_trip_in_a_fresh_process(tmp_path):
    rng = np.random.default_rng(1)
    d = {"a": rng.standard_normal(5).astype(np.float32),
         "b": (rng.standard_normal(3).astype(np.float32), rng.standard_normal(5).astype(np.float32))}
    c = cr.jit(_tree_fn).lower(d, np.float32(3.0)).compile()
    path = cr.export(c, tmp_path / "t.crx", payloads=["native"])
    np.savez(tmp_path / "in.npz", a=d["a"], b0=d["b"][0], b1=d["b"][1])
    _fresh("""
        import sys, numpy as np, chainrule as cr
        g = cr.load(sys.argv[1]); i = np.load(sys.argv[2])
        r = g({"a": i["a"], "b": (i["b0"], i["b1"])}, np.float32(3.0))
        assert type(r["pair"]).__name__ == "Pair" and r["pair"]._fields == ("lo", "hi"), r
        assert isinstance(r["list"], list) and sorted(r) == ["list", "pair", "sum"]
        np.savez(sys.argv[3], s=r["sum"], lo=r["pair"].lo, hi=r["pair"].hi, l0=r["list"][0], l1=r["list"][1])
    """, path, tmp_path / "in.npz", tmp_path / "out.npz")
    o = np.load(tmp_path / "out.npz")
    a, b, cc = d["a"], d["b"][0], d["b"][1]
    np.testing.assert_allclose(o["s"], np.sum(a * 3) + np.sum(b), rtol=1e-6)
    np.testing.assert_array_equal(o["lo"], np.minimum(a, cc))
    np.testing.assert_array_equal(o["hi"], np.maximum(a, cc))
    assert o["l0"].dtype == np.float64 and np.array_equal(o["l0"], b.astype(np.float64) * 2)
    assert o["l1"].dtype == np.bool_ and np.array_equal(o["l1"], cc > 0)


def test_mlp_value_and_grad_round_trip_in_a_fresh_process(mlp, tmp_path):
    c, path = mlp
    out = _fresh("""
        import sys, numpy as np, chainrule as cr
        sys.path.insert(0, sys.argv[3])
        from benchmarks.workloads import mlp_data
        params, x, y = mlp_data(batch=8)
        g = cr.load(sys.argv[1])
        loss, grads = g(params, x, y)
        np.savez(sys.argv[2], loss, *[a for pair in grads for a in pair])
        print(g.payload)
    """, path, tmp_path / "out.npz", ROOT)
    assert out.stdout.strip() == "native"
    got = np.load(tmp_path / "out.npz")
    params, x, y = mlp_data(batch=8)
    loss, grads = mlp_numpy(params, x, y)
    want = [loss] + [a for pair in grads for a in pair]
    assert len(got.files) == len(want)
    for k, w in enumerate(want):
        np.testing.assert_allclose(got[f"arr_{k}"], w, rtol=2e-3, atol=2e-5)


def test_signature_and_text_match_the_compiled_function(mlp):
    c, path = mlp
    g = cr.load(path)
    assert g.signature == c.signature and g.as_text() == c.as_text()
    assert str(g.graph) == c.as_text()
    m = g.manifest
    assert m["format_version"] == 1 and m["chainrule_version"] == cr.__version__
    assert {"native", "graph"} <= set(m["payloads"])
    nat = m["payloads"]["native"]
    assert nat["kind"] == "shared-library" and nat["triple"] and nat["cpu"] and "header" in nat
    assert nat["needs"] == ["libc", "libm"]


def test_loaded_function_checks_its_arguments(mlp):
    c, path = mlp
    g = cr.load(path)
    params, x, y = mlp_data(batch=8)
    with pytest.raises(TypeError, match="structured as"):
        g(params, x)
    with pytest.raises(ValueError, match="expected shape"):
        g(params, x[:4], y)
    with pytest.raises(TypeError, match="float32"):
        g(params, x.astype(np.float64), y)
    # a non-contiguous argument is copied, not misread
    xt = np.asfortranarray(x)
    np.testing.assert_array_equal(g(params, xt, y)[0], g(params, x, y)[0])


def test_native_library_runs_standalone_with_its_builtin_gemm(mlp):
    """The C entry point (built-in loop GEMM, no OpenBLAS) computes what NumPy computes."""
    c, path = mlp
    manifest, members = read_verified(path)
    nat = manifest["payloads"]["native"]
    from chainrule.artifact.native import open_library
    lib = open_library(members[nat["member"]], nat["symbol"])
    params, x, y = mlp_data(batch=8)
    leaves = [a for p in params for a in p] + [x, y]
    outs = [np.empty(o["shape"], o["dtype"]) for o in manifest["signature"]["outputs"]]
    ins = (ctypes.c_void_p * len(leaves))(*[a.ctypes.data for a in leaves])
    res = (ctypes.c_void_p * len(outs))(*[o.ctypes.data for o in outs])
    fn = getattr(lib, nat["symbol"])
    assert fn(ins, res) == 0
    assert getattr(lib, nat["symbol"] + "_workspace_size")() == nat["workspace_size"]
    loss, grads = mlp_numpy(params, x, y)
    for got, want in zip(outs, [loss] + [a for p in grads for a in p]):
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-5)


def test_results_that_are_parameters_or_constants_are_written(tmp_path):
    """Results the plan does not compute (an input passed through, a constant, a duplicate)."""
    def f(x):
        y = x * 3.0
        return x, y, y, np.float64(2.5) * np.ones(2)
    x = np.arange(2.0)
    c = cr.jit(f, backend="llvm").lower(x).compile()
    path = cr.export(c, tmp_path / "p.crx", payloads=["native"])
    r = cr.load(path)(x)
    assert [list(a) for a in r] == [[0, 1], [0, 3], [0, 3], [2.5, 2.5]]
    # the C entry point writes them too
    manifest, members = read_verified(path)
    nat = manifest["payloads"]["native"]
    from chainrule.artifact.native import open_library
    lib = open_library(members[nat["member"]], nat["symbol"])
    outs = [np.full(2, -1.0) for _ in range(4)]
    res = (ctypes.c_void_p * 4)(*[o.ctypes.data for o in outs])
    assert getattr(lib, nat["symbol"])((ctypes.c_void_p * 1)(x.ctypes.data), res) == 0
    assert [list(a) for a in outs] == [[0, 1], [0, 3], [0, 3], [2.5, 2.5]]


def test_function_from_define_then_run_exports(tmp_path):
    x = cr.placeholder((3,), "float64", name="x")
    y = cnp.sum(x ** 4 + 3 * x ** 2 + 2 * x)
    (dx,) = cr.gradients(y, [x])
    f = cr.function([x], [y, dx])
    path = cr.export(f, tmp_path / "f.crx", payloads=["native"])
    g = cr.load(path)
    v = np.array([0.5, -1.0, 2.0])
    got = g(v)
    np.testing.assert_allclose(got[0], np.sum(v ** 4 + 3 * v ** 2 + 2 * v))
    np.testing.assert_allclose(got[1], 4 * v ** 3 + 6 * v + 2)
    assert g.manifest["signature"]["inputs"][0]["name"] == "x"


def test_loaded_function_is_thread_safe(mlp):
    from concurrent.futures import ThreadPoolExecutor
    _c, path = mlp
    g = cr.load(path)
    rng = np.random.default_rng(3)
    params, x, y = mlp_data(batch=8)
    xs = [rng.standard_normal(x.shape).astype(np.float32) for _ in range(8)]
    want = [float(mlp_numpy(params, xi, y)[0]) for xi in xs]
    with ThreadPoolExecutor(4) as ex:
        got = list(ex.map(lambda xi: float(g(params, xi, y)[0]), xs * 3))
    np.testing.assert_allclose(got, want * 3, rtol=1e-4)


# --- fallbacks -------------------------------------------------------------------------------

def _rewrite(src, dst, manifest_fn=None, drop=()):
    """A consistent artifact (fresh checksums) with the manifest changed: what a foreign host exports."""
    manifest, members = read_verified(src)
    for name in drop:
        member = manifest["payloads"].pop(name)["member"]
        members.pop(member)
    if manifest_fn:
        manifest_fn(manifest)
    manifest.pop("members")
    with open(dst, "wb") as f:
        f.write(pack(manifest, members))
    return dst


def _foreign_cpu(m):
    m["payloads"]["native"]["cpu_flags"] = m["payloads"]["native"]["cpu_flags"] + ["chainrule_future_isa"]
    m["payloads"]["native"]["cpu"] = "future9"


def test_foreign_cpu_falls_back_to_stablehlo(tmp_path):
    pytest.importorskip("jax")
    pytest.importorskip("flatbuffers")
    x = np.linspace(-1, 1, 6).astype(np.float32)
    c = cr.jit(lambda v: cnp.tanh(v) * 2.0).lower(x).compile()
    path = cr.export(c, tmp_path / "a.crx")
    foreign = _rewrite(path, tmp_path / "foreign.crx", _foreign_cpu)
    with pytest.warns(ArtifactFallbackWarning, match="chainrule_future_isa.*StableHLO"):
        g = cr.load(foreign)
    assert g.payload == "stablehlo" and "chainrule_future_isa" in g.fallback_reason
    np.testing.assert_allclose(g(x), np.tanh(x) * 2, rtol=1e-6)


def test_foreign_os_without_stablehlo_recompiles_the_graph(tmp_path):
    x = np.linspace(-1, 1, 6)
    c = cr.jit(lambda v: cnp.exp(v) - v).lower(x).compile()
    path = cr.export(c, tmp_path / "a.crx", payloads=["native"])
    foreign = _rewrite(path, tmp_path / "foreign.crx", lambda m: m["payloads"]["native"].update(os="plan9"))
    with pytest.warns(ArtifactFallbackWarning, match="plan9.*recompiling the stored graph"):
        g = cr.load(foreign)
    assert g.payload == "graph"
    np.testing.assert_allclose(g(x), np.exp(x) - x, rtol=1e-12)


def test_payload_can_be_forced(tmp_path):
    x = np.arange(4.0)
    c = cr.jit(lambda v: v * v).lower(x).compile()
    path = cr.export(c, tmp_path / "a.crx", payloads=["native"])
    g = cr.load(path, payload="graph")
    assert g.payload == "graph" and list(g(x)) == [0, 1, 4, 9]
    with pytest.raises(ValueError, match="no 'stablehlo' payload"):
        cr.load(path, payload="stablehlo")


def test_export_without_a_linker_stores_object_code(tmp_path, monkeypatch):
    import chainrule.backends.llvm.export as nexp
    monkeypatch.setattr(nexp, "_linker_name", lambda: None)
    x = np.arange(5, dtype=np.float32)
    c = cr.jit(lambda v: cnp.sum(v * v)).lower(x).compile()
    with pytest.warns(RuntimeWarning, match="no linker"):
        path = cr.export(c, tmp_path / "o.crx", payloads=["native"])
    m = cr.load(path).manifest
    nat = m["payloads"]["native"]
    assert nat["kind"] == "object" and nat["member"].endswith(".o") and "header" not in nat
    g = cr.load(path)
    assert g.payload == "native" and float(g(x)) == 30.0


def test_export_from_the_jax_and_reference_backends(tmp_path):
    pytest.importorskip("jax")
    x = np.linspace(0, 1, 5)
    for backend in ("jax", "reference"):
        c = cr.jit(lambda v: cnp.sin(v) + 1.0, backend=backend).lower(x).compile()
        path = cr.export(c, tmp_path / f"{backend}.crx")
        g = cr.load(path)
        assert g.payload == "native" and g.manifest["backend"] == backend
        np.testing.assert_allclose(g(x), np.sin(x) + 1, rtol=1e-12)
        s = cr.load(path, payload="stablehlo")
        np.testing.assert_allclose(s(x), np.sin(x) + 1, rtol=1e-12)


def test_export_is_reproducible_apart_from_its_date(tmp_path, mlp):
    c, _ = mlp
    a = cr.export(c, tmp_path / "a.crx", payloads=["native"])
    b = cr.export(c, tmp_path / "b.crx", payloads=["native"])
    ma, mb = read_verified(a), read_verified(b)
    assert ma[1] == mb[1]  # member bytes identical
    assert json.dumps({**ma[0], "created": 0}, sort_keys=True) == json.dumps({**mb[0], "created": 0}, sort_keys=True)


@pytest.mark.parametrize("batch", [256])
def test_load_and_first_call_time_in_a_fresh_process(tmp_path, batch):
    """cr.load plus the first MLP value_and_grad step, timed in a fresh process (target: 50 ms;
    the bound here is loose because the CI machine is shared)."""
    params, x, y = mlp_data(batch=batch)
    c = cr.jit(cr.value_and_grad(mlp_loss), backend="llvm").lower(params, x, y).compile()
    path = cr.export(c, tmp_path / "m.crx", payloads=["native"])
    out = _fresh("""
        import sys, time, numpy as np
        import chainrule as cr
        sys.path.insert(0, sys.argv[2])
        from benchmarks.workloads import mlp_data
        params, x, y = mlp_data(batch=int(sys.argv[3]))
        t0 = time.perf_counter()
        g = cr.load(sys.argv[1])
        loss, grads = g(params, x, y)
        t1 = time.perf_counter()
        print(t1 - t0, float(loss))
    """, path, ROOT, batch)
    seconds, loss = map(float, out.stdout.split())
    assert abs(loss - float(mlp_numpy(params, x, y)[0])) < 1e-3 * abs(loss)
    assert seconds < 0.5, f"load + first call took {seconds * 1e3:.0f} ms"


def c_call(path, leaves):
    """Call the artifact's C entry point (the built-in GEMM) through ctypes."""
    manifest, members = read_verified(path)
    nat = manifest["payloads"]["native"]
    from chainrule.artifact.native import open_library
    lib = open_library(members[nat["member"]], nat["symbol"])
    outs = [np.empty(o["shape"], o["dtype"]) for o in manifest["signature"]["outputs"]]
    ins = (ctypes.c_void_p * max(1, len(leaves)))(*[a.ctypes.data for a in leaves])
    res = (ctypes.c_void_p * max(1, len(outs)))(*[o.ctypes.data for o in outs])
    assert getattr(lib, nat["symbol"])(ins, res) == 0
    return outs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_builtin_gemm_covers_every_layout(tmp_path, dtype):
    """Transposed operands (both GEMM trans flags), batch dimensions and odd sizes, against NumPy."""
    rng = np.random.default_rng(7)
    a = rng.standard_normal((7, 5)).astype(dtype)
    b = rng.standard_normal((7, 9)).astype(dtype)
    c = rng.standard_normal((9, 5)).astype(dtype)
    p = rng.standard_normal((3, 4, 6)).astype(dtype)
    q = rng.standard_normal((3, 6, 2)).astype(dtype)

    def f(a, b, c, p, q):
        return a.T @ b, b @ c, a @ c.T, b.T @ a @ c.T @ c, p @ q, cnp.einsum("bij,bkj->bik", p, p)
    comp = cr.jit(f, backend="llvm").lower(a, b, c, p, q).compile()
    path = cr.export(comp, tmp_path / "g.crx", payloads=["native"])
    want = [a.T @ b, b @ c, a @ c.T, b.T @ a @ c.T @ c, p @ q, np.einsum("bij,bkj->bik", p, p)]
    tol = 1e-4 if dtype == np.float32 else 1e-12
    for got, w in zip(c_call(path, [a, b, c, p, q]), want):
        np.testing.assert_allclose(got, w, rtol=tol, atol=tol)
    for got, w in zip(cr.load(path)(a, b, c, p, q), want):  # the Python path (OpenBLAS)
        np.testing.assert_allclose(got, w, rtol=tol, atol=tol)


def test_portable_cpu_level(tmp_path):
    """cpu="x86-64-v3": a library for any AVX2 machine; the manifest requires only that level's flags."""
    from chainrule.artifact.host import X86_64_LEVELS, cpu_flags
    x = np.linspace(0, 1, 100).astype(np.float32)
    c = cr.jit(lambda v: cnp.sum(cnp.tanh(v) * cnp.exp(v)), backend="llvm").lower(x).compile()
    path = cr.export(c, tmp_path / "v3.crx", payloads=["native"], cpu="x86-64-v3")
    nat = read_verified(path)[0]["payloads"]["native"]
    assert nat["cpu"] == "x86-64-v3" and nat["cpu_flags"] == sorted(X86_64_LEVELS["x86-64-v3"])
    host_nat = read_verified(cr.export(c, tmp_path / "h.crx", payloads=["native"]))[0]["payloads"]["native"]
    if (cpu_flags() or set()) >= set(nat["cpu_flags"]):  # an AVX2 host: its own export needs all that and more
        assert set(nat["cpu_flags"]) < set(host_nat["cpu_flags"])
        g = cr.load(path)
        assert g.payload == "native"
        np.testing.assert_allclose(g(x), np.sum(np.tanh(x) * np.exp(x)), rtol=1e-5)
    with pytest.raises(ValueError, match="x86-64-v3"):
        cr.export(c, tmp_path / "bad.crx", cpu="pentium9")
