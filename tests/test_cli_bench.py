"""`chainrule bench` runs the benchmarks of the checkout and reports bad arguments as user errors."""

import json
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
