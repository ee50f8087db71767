"""Sharded programs on the jax backend over 8 simulated CPU devices, against the reference
backend's simulated mesh; the tensor-parallel and multi-process examples.

JAX fixes its device count when it is imported, so each check runs in a fresh
interpreter with XLA_FLAGS set (bounded by a timeout); this process's JAX is untouched.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax")

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 180


def _env(devices=8):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["JAX_PLATFORMS"] = "cpu"
    if devices:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def _run(args, cwd, devices=8) -> str:
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=_env(devices),
                          timeout=TIMEOUT_S, cwd=cwd)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc.stdout


CHECKS = r'''
import warnings
import numpy as np, jax
import chainrule as cr, chainrule.numpy as cnp
from chainrule import sharding as sh
from chainrule.sharding import P, NamedSharding
assert jax.device_count() == 8
mesh = sh.make_mesh((2, 4), ("data", "model"))
rng = np.random.default_rng(0)
x = rng.normal(size=(8, 8)).astype(np.float32)
cases = [  # (name, body, in_specs, out_specs)
    ("psum", lambda v: sh.psum(v, "model"), P("data", "model"), P("data", "model")),
    ("psum2", lambda v: sh.psum(v, ("data", "model")), P("data", "model"), P("data", "model")),
    ("pmean", lambda v: sh.pmean(v, "data"), P("data", "model"), P("data", "model")),
    ("pmax", lambda v: sh.pmax(v, "model") - sh.pmin(v, "data"), P("data", "model"), P("data", "model")),
    ("all_gather", lambda v: sh.all_gather(v, "model", axis=1, tiled=True), P("data", "model"), P("data")),
    ("all_gather_stacked", lambda v: sh.all_gather(v, "model", axis=0), P("data", "model"), P(None, "data")),
    ("psum_scatter", lambda v: sh.psum_scatter(v, "model", scatter_dimension=1, tiled=True), P("data"),
     P("data", "model")),
    ("all_to_all", lambda v: sh.all_to_all(v, "model", 1, 0, tiled=True), P("data"), P("data", "model")),
    ("ppermute", lambda v: sh.ppermute(v, "model", [(0, 1), (1, 2), (2, 3), (3, 0)]), P("data", "model"),
     P("data", "model")),
    ("axis_index", lambda v: v * sh.axis_index(("data", "model")).astype("float32"), P("data", "model"),
     P("data", "model")),
]
for name, body, ins, outs in cases:
    sm = sh.shard_map(lambda v: cnp.sin(body(v)), mesh=mesh, in_specs=ins, out_specs=outs)
    ref, got = cr.jit(sm, backend="reference")(x), cr.jit(sm, backend="jax")(x)
    np.testing.assert_allclose(got, ref, rtol=2e-6, atol=2e-6, err_msg=name)
    if name in ("pmax", "axis_index"):
        continue  # not differentiable / integer
    c = rng.normal(size=ref.shape).astype(np.float32)
    loss = lambda v: cnp.sum(sm(v) * c)
    gr, gj = cr.jit(cr.grad(loss), backend="reference")(x), cr.jit(cr.grad(loss), backend="jax")(x)
    np.testing.assert_allclose(gj, gr, rtol=2e-5, atol=2e-5, err_msg=name + " grad")
    print("ok", name)

# cr.jit shardings place the arguments and results on the 8 devices
f = lambda a, w: cnp.tanh(a @ w)
ins = (NamedSharding(mesh, P("data")), NamedSharding(mesh, P(None, "model")))
j = cr.jit(f, backend="jax", in_shardings=ins, out_shardings=NamedSharding(mesh, P("data", "model")))
c = j.lower(x, x).compile()
exe = c.executable
assert [tuple(s.spec) for s in exe.in_shardings] == [("data",), (None, "model")], exe.in_shardings
assert len(exe.out_shardings[0].device_set) == 8
np.testing.assert_allclose(j(x, x), np.tanh(x @ x), rtol=2e-5, atol=1e-6)
assert "sharding" in exe.as_stablehlo()
print("ok jit shardings")

# artifacts: the StableHLO payload runs over 8 devices, the graph payload on the simulated mesh
def step(a, w):
    h = sh.shard_map(lambda p, q: sh.psum(p @ q, "model"), mesh=mesh, in_specs=(P("data", "model"), P("model")),
                     out_specs=P("data"))(a, w)
    return cnp.tanh(cr.with_sharding_constraint(h, NamedSharding(mesh, P("data"))))
w = rng.normal(size=(8, 4)).astype(np.float32)
c = cr.jit(step, backend="jax", in_shardings=(NamedSharding(mesh, P("data", "model")), NamedSharding(mesh, P("model")))
           ).lower(x, w).compile()
import tempfile, os
with tempfile.TemporaryDirectory() as d, warnings.catch_warnings():
    warnings.simplefilter("ignore")
    c.export(os.path.join(d, "s.crx"))
    for payload in ("stablehlo", "graph"):
        g = cr.load(os.path.join(d, "s.crx"), payload=payload)
        np.testing.assert_allclose(g(x, w), np.tanh(x @ w), rtol=2e-5, atol=1e-6, err_msg=payload)
    assert "shard_map" in str(cr.load(os.path.join(d, "s.crx"), payload="graph").graph)
print("ok artifacts")
print("ALL OK")
'''


def test_collectives_shardings_and_artifacts_on_8_devices(tmp_path):
    out = _run(["-c", CHECKS], tmp_path)
    assert "ALL OK" in out, out


def test_tensor_parallel_example_matches_one_device(tmp_path):
    out = _run([str(ROOT / "examples" / "tensor_parallel.py")], tmp_path)
    assert out.strip().endswith("OK"), out
    for name in ("shard_map", "jit shardings"):
        (line,) = [ln for ln in out.splitlines() if ln.startswith(name + ":")]
        assert "(same)" in line, line
        assert float(re.search(r"difference to one device ([0-9.e+-]+)", line).group(1)) < 1e-4
    (line,) = [ln for ln in out.splitlines() if ln.startswith("shard_map:")]
    assert "'all_reduce'" in line  # the psums are in the StableHLO chainrule hands to XLA


@pytest.mark.slow  # two JAX processes joined over loopback; ~25 s
def test_multi_process_example_matches_one_device(tmp_path):
    out = _run([str(ROOT / "examples" / "multi_process.py"), "--timeout", "150"], tmp_path, devices=None)
    assert "2 processes, 8 devices" in out and out.strip().endswith("OK"), out
