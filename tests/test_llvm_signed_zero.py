"""Odd functions keep the sign of zero on the LLVM backend, as NumPy (and the reference) do."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp

ODD = {"tanh": cnp.tanh, "sin": cnp.sin, "tan": cnp.tan, "expm1": cnp.expm1, "log1p": cnp.log1p,
       "sqrt": cnp.sqrt, "erf": cnp.special.erf, "arctan": cnp.arctan}
NP = {"tanh": np.tanh, "sin": np.sin, "tan": np.tan, "expm1": np.expm1, "log1p": np.log1p,
      "sqrt": np.sqrt, "erf": None, "arctan": np.arctan}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_signed_zero_is_kept(dtype):
    x = np.array([-0.0, 0.0], dtype)
    names = list(ODD)
    f = cr.jit(lambda v: [ODD[n](v) for n in names], backend="llvm")
    for name, got in zip(names, f(x)):
        assert np.array_equal(np.signbit(got), [True, False]), f"{name}: sign of zero lost: {got}"
        if NP[name] is not None:
            np.testing.assert_array_equal(np.signbit(NP[name](x)), np.signbit(got))
