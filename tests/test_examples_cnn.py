"""examples/cnn_training.py runs as a user would run it: a short training (3 epochs) that already
passes 90% test accuracy, writes its plot where --out says (never into the repository), and the
loss falls. The full run (10 epochs, about 98-99%) is the slow test."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
needs_sklearn = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None,
                                   reason="needs scikit-learn: pip install -e '.[examples]'")


def _run(tmp_path, *args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "cnn_training.py"), "--plain-progress",
                           "--out", str(tmp_path / "plots"), *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def _accuracy(out):
    return float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))


@needs_sklearn
def test_cnn_example_short_run(tmp_path):
    out = _run(tmp_path, "--epochs", "3")
    assert _accuracy(out) > 0.9, out
    losses = [float(v) for v in re.findall(r"/\d+ loss ([0-9.]+)", out)]
    assert len(losses) == 3 and losses[-1] < losses[0] / 2, out
    if importlib.util.find_spec("matplotlib") is not None:
        png = tmp_path / "plots" / "cnn_training.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_sklearn
@pytest.mark.slow
def test_cnn_example_reaches_97_percent(tmp_path):
    assert _accuracy(_run(tmp_path)) >= 0.97


@needs_sklearn
@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax")
def test_cnn_example_on_the_jax_backend(tmp_path):
    """The same keys give the same dropout masks and initial weights on both backends."""
    out = _run(tmp_path, "--epochs", "2", "--backend", "jax")
    assert "backend jax" in out and _accuracy(out) > 0.9, out
