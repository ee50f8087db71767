"""`chainrule bench` runs the benchmarks of the checkout and reports bad arguments as user errors."""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _chainrule(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "chainrule.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_bench_runs_a_workload_and_writes_json(tmp_path):
    out = tmp_path / "b.json"
    r = _chainrule("bench", "--quick", "--only", "dispatch", "--json", str(out))
    assert r.returncode == 0, r.stderr
    assert "dispatch: jitted scalar function" in r.stdout and "chainrule-llvm" in r.stdout
    rows = json.loads(out.read_text())["rows"]
    assert {row["system"] for row in rows} >= {"chainrule-llvm", "chainrule-reference"}
    assert all(row["median_s"] > 0 for row in rows)


def test_bench_rejects_an_unknown_workload():
    r = _chainrule("bench", "--only", "no_such_workload")
    assert r.returncode == 1
    assert "chainrule bench: error: bad benchmark arguments" in r.stderr


def test_bench_rounds_sample_every_system_in_each_round(tmp_path):
    out = tmp_path / "r.json"
    r = _chainrule("bench", "--quick", "--rounds", "2", "--only", "newton_logreg", "--json", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("(round 2 of 2)") == 1
    systems = [row["system"] for row in json.loads(out.read_text())["rows"]]
    assert len(systems) == len(set(systems)) >= 3  # one row per system, whatever the rounds


def test_harness_rows_are_medians_over_all_rounds():
    sys.path.insert(0, str(ROOT))
    from benchmarks.harness import Harness
    h = Harness()
    for _ in range(2):
        h.time("w", "fast", lambda: None, repeat=5, warmup=0)
        h.record("w", "jax", 2.0)
        h.record("w", "jax", 4.0)
    (fast, jax) = sorted(h.to_json()["rows"], key=lambda row: row["system"])
    assert fast["runs"] == 10 and jax["runs"] == 4
    assert jax["median_s"] == 3.0 and fast["ratio_to_jax"] == fast["median_s"] / 3.0


def test_bench_rejects_zero_rounds():
    r = _chainrule("bench", "--rounds", "0", "--only", "dispatch")
    assert r.returncode == 1
    assert "bad benchmark arguments" in r.stderr



def test_bench_help_lists_the_workloads():
    out = _chainrule("bench", "--help").stdout
    for name in ("mlp_step", "dispatch", "first_call", "artifact_load"):
        assert name in out


def test_bench_plot_without_matplotlib_fails_before_running(tmp_path):
    stub = tmp_path / "stub" / "matplotlib"  # first on the path and failing to import: not installed
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('no matplotlib here')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(stub.parent), str(ROOT / "src")]))
    r = subprocess.run([sys.executable, "-m", "chainrule.cli", "bench", "--only", "dispatch", "--plot",
                        str(tmp_path / "x.png")], capture_output=True, text=True, cwd=ROOT, timeout=300, env=env)
    assert r.returncode == 1
    assert "needs matplotlib" in r.stderr and "running" not in r.stderr and r.stdout == ""
