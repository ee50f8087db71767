import os

import numpy as np
import pytest

os.environ.setdefault("CHAINRULE_VERIFY", "1")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
