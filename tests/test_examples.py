"""Each example runs as a user would run it (a subprocess, with a timeout), and
what it prints is checked against what it promises: accuracy, convergence,
agreement with JAX and hand-derived formulas.

Examples that need an optional package (scikit-learn, JAX) skip cleanly when
it is missing; multi_device.py is run by tests/test_jax_backend.py.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TIMEOUT_S = 120  # each example runs in well under a minute alone; leave room for a busy machine


def has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


needs_sklearn = pytest.mark.skipif(not has("sklearn"), reason="needs scikit-learn: pip install -e '.[examples]'")
needs_jax = pytest.mark.skipif(not has("jax"), reason="needs jax: pip install -e '.[jax]'")


def run_example(name: str, *args: str, cwd: Path) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(EXAMPLES.parent / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"{name} failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def floats_after(label: str, text: str) -> list[float]:
    return [float(m) for m in re.findall(re.escape(label) + r"\s*([-+0-9.eE]+(?:inf|nan)?)", text)]


def test_quickstart(tmp_path):
    out = run_example("quickstart.py", cwd=tmp_path)
    # f(x) = x^4 + 3x^2 + 2x: f(2) = 32, f'(2) = 46, f''(2) = 54
    assert "f(2) = 32.0" in out and "f'(2) = 46.0" in out
    assert "f''(2) = 54.0" in out


@needs_sklearn
def test_mlp_training_llvm_reaches_95_percent(tmp_path):
    out = run_example("mlp_training.py", "--plain-progress", cwd=tmp_path)
    (acc,) = floats_after("test accuracy:", out)
    assert acc > 0.95, out
    losses = floats_after("loss", out)
    assert losses[-1] < losses[0] / 10, losses  # the loss falls as it trains
    assert "backend llvm" in out or "llvm" not in __import__("chainrule").backends.available_backends()


@pytest.mark.slow  # the same training as above on another backend; ~10 s
@needs_sklearn
@needs_jax
def test_mlp_training_jax_backend(tmp_path):
    # default progress bar: tqdm when installed
    out = run_example("mlp_training.py", "--backend", "jax", "--epochs", "8", cwd=tmp_path)
    (acc,) = floats_after("test accuracy:", out)
    assert acc > 0.93, out


def _run_without(module, name, args, tmp_path):
    """Run an example with a stub package `module` first on the path that fails to import."""
    stub = tmp_path / "stub" / module
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(f"raise ImportError('no {module} here')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(stub.parent), str(EXAMPLES.parent / "src")]))
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT_S)


@pytest.mark.parametrize("name,args", [("jax_interop.py", []), ("multi_device.py", []),
                                       ("newton.py", ["--synthetic", "--backend", "jax"])])
def test_examples_without_jax_say_what_to_install(tmp_path, name, args):
    proc = _run_without("jax", name, args, tmp_path)
    assert proc.returncode != 0
    assert "pip install" in proc.stderr and "jax" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_mlp_training_without_sklearn_says_what_to_install(tmp_path):
    # A stub package named sklearn that fails to import, first on the path, stands for a missing install.
    stub = tmp_path / "stub" / "sklearn"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise ImportError('no scikit-learn here')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(stub.parent), str(EXAMPLES.parent / "src")]))
    proc = subprocess.run([sys.executable, str(EXAMPLES / "mlp_training.py")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode != 0
    assert "pip install scikit-learn" in proc.stderr


@needs_sklearn
def test_newton_converges_quadratically_on_breast_cancer(tmp_path):
    out = run_example("newton.py", cwd=tmp_path)
    norms = floats_after("|grad|", out)
    assert len(norms) <= 11 and norms[-1] < 1e-8, out  # a handful of steps, to rounding level
    # quadratic convergence: once small, each step at least squares the norm (up to a constant)
    tail = [n for n in norms if n < 1e-2]
    assert len(tail) >= 2 and all(b < 50 * a * a for a, b in zip(tail, tail[1:]) if b > 1e-12), tail
    (err,) = floats_after("max abs difference", out)
    assert err < 1e-10  # the Hessian against X^T diag(p(1-p)) X / n + l2 I
    (acc,) = floats_after("training accuracy", out)
    assert acc > 0.95


def test_newton_synthetic_without_sklearn(tmp_path):
    out = run_example("newton.py", "--synthetic", "--backend", "reference", cwd=tmp_path)
    norms = floats_after("|grad|", out)
    assert norms[-1] < 1e-8 and len(norms) <= 10, out
    (err,) = floats_after("max abs difference", out)
    assert err < 1e-10


def test_define_then_run(tmp_path):
    out = run_example("define_then_run.py", "--out", str(tmp_path / "pics"), cwd=tmp_path)
    # the gradient from cr.gradients equals the hand-derived one (the example asserts it; check it printed both)
    dw = floats_after("d/dw", out.replace("[", " ").replace("]", " "))
    assert dw and "by hand" in out
    before, after = map(int, re.search(r"(\d+) nodes before, (\d+) after", out).groups())
    assert after < before
    assert "fusion" in out and "func @loss_and_grads" in out
    dot = (tmp_path / "pics" / "loss_and_grads.dot").read_text()
    assert dot.startswith("digraph") and "dot_general" in dot


@needs_jax
def test_jax_interop(tmp_path):
    out = run_example("jax_interop.py", "--out", str(tmp_path), cwd=tmp_path)
    (fwd,) = floats_after("max abs difference from jax.jit", out)
    (grad,) = floats_after("max abs difference from jax.grad", out)
    assert fwd < 1e-4 and grad < 1e-4, out
    assert (tmp_path / "block.crx").exists() and "loaded it back" in out, out
