import os
import pathlib
import subprocess

import numpy as np
import pytest

os.environ.setdefault("CHAINRULE_VERIFY", "1")

ROOT = pathlib.Path(__file__).resolve().parent.parent

try:  # tests never write into the repository: hypothesis keeps its files in a temporary directory
    import atexit
    import shutil
    import tempfile

    from hypothesis import configuration as _hypothesis_configuration, settings as _hypothesis_settings
    _hypothesis_home = tempfile.mkdtemp(prefix="chainrule-hypothesis-")
    atexit.register(shutil.rmtree, _hypothesis_home, True)
    _hypothesis_configuration.set_hypothesis_home_dir(_hypothesis_home)
    _hypothesis_settings.register_profile("chainrule", database=None)
    _hypothesis_settings.load_profile("chainrule")
except ImportError:
    pass


def _repo_files() -> set | None:
    """Files in the checkout git does not track (ignored ones included), or None without git."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    skip = (".venv", "__pycache__", ".egg-info", ".pytest_cache")
    return {line[3:] for line in out.stdout.splitlines() if line[:2] in ("??", "!!")
            and not any(part in line for part in skip)}


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the controlling process only
        session.config._repo_files_before = _repo_files()


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "_repo_files_before", None)
    after = _repo_files() if before is not None else None
    new = sorted(after - before) if after is not None else []
    if new:
        session.config._repo_writes = new
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    new = getattr(config, "_repo_writes", None)
    if new:
        terminalreporter.write_line("tests wrote into the repository (they must use temporary directories): "
                                    + ", ".join(new[:20]), red=True)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def jax_x64():
    """JAX with 64-bit types for a whole test module (the flag is process-global: restored after).

    Use it with `pytestmark = pytest.mark.usefixtures("jax_x64")`."""
    jax = pytest.importorskip("jax")
    prev = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", prev)


@pytest.fixture
def opened(monkeypatch):
    """Records every native library that loading an artifact opens (the artifact tests expect none
    for a refused artifact)."""
    from chainrule.artifact import native
    calls = []
    real = native.open_library
    monkeypatch.setattr(native, "open_library", lambda data, sym: calls.append(sym) or real(data, sym))
    return calls


@pytest.fixture(scope="module")
def private_llvm_cache(tmp_path_factory):
    """A fresh CHAINRULE_CACHE_DIR for one test module, so its compiles run the whole pipeline."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CHAINRULE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()
