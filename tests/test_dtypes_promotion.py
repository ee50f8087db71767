"""Promotion of the real dtypes: `chainrule.ir.result_dtype` against numpy.result_type (every pair
NumPy has) and jnp.promote_types (bfloat16), the same through chainrule.numpy (traced and eager),
weak Python scalars, and the table in docs/api.md cell by cell.
"""

from __future__ import annotations

import itertools
import pathlib
import re

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.ir import REAL_DTYPES, dtype, result_dtype

BF16 = dtype("bfloat16")
PAIRS = list(itertools.product(REAL_DTYPES, REAL_DTYPES))


def _oracle(a, b):
    if BF16 in (a, b):
        jnp = pytest.importorskip("jax.numpy")
        return dtype(jnp.promote_types(a.np, b.np))
    return dtype(np.result_type(a.np, b.np))


def test_every_pair_matches_numpy_or_jax():
    bad = [(a, b, result_dtype(a, b), _oracle(a, b)) for a, b in PAIRS if result_dtype(a, b) is not _oracle(a, b)]
    assert not bad


def test_cnp_add_follows_the_table_traced_and_eager():
    for a, b in PAIRS:
        if a.is_bool and b.is_bool:
            continue  # NumPy's bool + bool is a logical or: bool
        want = result_dtype(a, b)
        g = cr.trace(lambda x, y: cnp.add(x, y), cr.Spec((2,), a), cr.Spec((2,), b))
        assert g.result_types[0].dtype is want, (a, b)
        eager = cnp.add(np.ones(2, a.np), np.ones(2, b.np))
        assert np.asarray(eager).dtype == want.np, (a, b)
        assert cnp.promote_types(a.np, b.np) == want.np


@pytest.mark.parametrize("name", ["int8", "uint8", "uint32", "float16", "bfloat16"])
def test_python_scalars_stay_weak(name):
    d = dtype(name)
    for scalar in (2, 2.5, True):
        g = cr.trace(lambda x: x * scalar, cr.Spec((2,), d))
        want = d if not (isinstance(scalar, float) and not d.is_float) else dtype("float64")
        assert g.result_types[0].dtype is want, (name, scalar)


def test_docs_table_matches():
    text = (pathlib.Path(__file__).parent.parent / "docs" / "api.md").read_text()
    rows = {}
    for line in text.splitlines():
        m = re.match(r"\| \*\*(\w+)\*\* \| (.*) \|$", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in m.group(2).split("|")]
    assert len(rows) == len(REAL_DTYPES)
    for i, a in enumerate(REAL_DTYPES):
        for j, b in enumerate(REAL_DTYPES):
            assert rows[a.short][j] == result_dtype(a, b).short, (a, b)
