"""Rewrites that are exact in IEEE arithmetic but not bit-equal to NumPy's power.

`x ** 2 -> x * x` and `x ** -1 -> 1 / x`: IEEE's pow is correctly rounded,
so are * and /. The oracle here is the correctly rounded value computed in
higher precision, plus pow's special values; the reference's float power
(NumPy's) must be within an ulp of it.
"""

import numpy as np
import pytest

from chainrule.backends.reference import evaluate
from chainrule.ir import parse
from chainrule.passes import optimize
from chainrule.passes.fold import FOLD
from chainrule.passes.simplify import SIMPLIFY
from chainrule.passes.testing import ulp_close

SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 1e-30, -1e30, 3.0e38, 1e-45, 5e-324]


def _power_graph(dtype, exponent):
    t = f"{dtype}[64]"
    return parse(f"""func @f(%x: {t}) -> ({t}) {{
  %0 = constant {{value=dense<{dtype}[], [{exponent}]>}} : {dtype}[]
  %1 = broadcast_in_dim %0 {{shape=[64], broadcast_dimensions=[]}} : {t}
  %2 = power %x, %1 : {t}
  return %2
}}
""")


def _inputs(np_dtype, rng):
    with np.errstate(over="ignore"):
        x = (rng.standard_normal(64) * 10.0 ** rng.integers(-20, 20, 64)).astype(np_dtype)
        x[: len(SPECIALS)] = np.array(SPECIALS).astype(np_dtype)
    return x


@pytest.mark.parametrize("dtype, np_dtype", [("f32", np.float32), ("f64", np.float64)])
@pytest.mark.parametrize("exponent, oracle", [
    ("2.0", lambda x: x.astype(np.longdouble) ** 2),
    ("-1.0", lambda x: 1 / x.astype(np.longdouble)),
    ("1.0", lambda x: x),
])
def test_power_rewrites_are_correctly_rounded(dtype, np_dtype, exponent, oracle):
    g = _power_graph(dtype, exponent)
    out = optimize(g, passes="simplify")
    assert "power" not in str(out)
    rng = np.random.default_rng(1)
    for _ in range(5):
        x = _inputs(np_dtype, rng)
        with np.errstate(all="ignore"):
            want = np.asarray(oracle(x)).astype(np_dtype)  # one rounding from (near) exact
            got = evaluate(out, [x])[0]
            ref = evaluate(g, [x])[0]
        if np_dtype == np.float32 or exponent == "1.0":  # long double rounds f64 results once more otherwise
            np.testing.assert_array_equal(got, want)
        assert ulp_close(got, want, 1)
        assert ulp_close(ref, got, 1), "the reference's power is more than an ulp off"


def test_sqrt_rewrite_needs_fast_math_because_of_minus_zero_and_minus_inf():
    g = _power_graph("f64", "0.5")
    assert "power" in str(optimize(g, passes="simplify"))
    fast = optimize(g, passes="simplify", fast_math=True)
    assert "sqrt" in str(fast)
    x = np.zeros(64)
    x[0], x[1] = -0.0, -np.inf
    want, got = evaluate(g, [x])[0], evaluate(fast, [x])[0]
    assert (want[0], np.signbit(want[0])) == (0.0, False) and np.signbit(got[0])   # pow(-0,.5)=+0, sqrt(-0)=-0
    assert want[1] == np.inf and np.isnan(got[1])                                   # pow(-inf,.5)=inf, sqrt=nan


def test_every_rule_has_a_formula_and_a_unique_name():
    names = [r.name for r in SIMPLIFY | FOLD]
    assert len(names) == len(set(names))
    for r in SIMPLIFY | FOLD:
        assert "->" in r.formula, r.name
