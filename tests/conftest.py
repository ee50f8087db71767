import os

import numpy as np
import pytest

os.environ.setdefault("CHAINRULE_VERIFY", "1")


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


@pytest.fixture(scope="module")
def private_llvm_cache(tmp_path_factory):
    """A fresh CHAINRULE_CACHE_DIR for one test module, so its compiles run the whole pipeline."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CHAINRULE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()
