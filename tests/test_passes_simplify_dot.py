"""simplify_dot.py: a contraction with an identity is a relayout, bit for bit, and the transposes
vmap leaves behind move onto the data so the elementwise fix-up fuses.

Oracles: the reference backend on the graph before the rewrite (bitwise, specials included:
inf * 0 = NaN, a sum that starts at +0.0 turns -0.0 into +0.0), and jax.hessian in x64."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
import chainrule.passes.standard as standard
from chainrule.backends.reference import evaluate
from chainrule.passes import optimize
from chainrule.passes.simplify import SIMPLIFY, rule as base_rules
from chainrule.passes.simplify_dot import DOT_SIMPLIFY


def _same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    if a.dtype.kind == "f":
        assert np.array_equal(np.isnan(a), np.isnan(b))
        ok = ~np.isnan(a)
        assert np.array_equal(a[ok], b[ok]) and np.array_equal(np.signbit(a[ok]), np.signbit(b[ok]))
    else:
        assert np.array_equal(a, b)


def _ops(graph):
    return [n.op.name for n in graph.walk()]


def _specials(shape, dtype=np.float64):
    """Random values with rows holding -0.0, a lone inf, a lone -inf, a lone NaN, two infs, inf and NaN."""
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    flat = x.reshape(-1, shape[-1])
    if dtype(0).dtype.kind != "f":
        return x
    flat[0, 1] = -0.0
    flat[1, :] = -np.abs(flat[1, :])
    flat[1, 2] = -0.0
    flat[2, 0] = np.inf
    flat[3, -1] = -np.inf
    flat[4, 1] = np.nan
    flat[5, 0], flat[5, 2] = np.inf, -np.inf
    flat[6, 1], flat[6, 2] = np.inf, np.nan
    return x


CASES = {  # name: (function of x and the identity, x's shape)
    "x @ I": (lambda x, eye: x @ eye, (8, 4)),
    "I @ x": (lambda x, eye: eye @ x.T, (8, 4)),
    "jacfwd's [m, m, 1] basis": (lambda x, eye: cr.lax.dot_general(x, eye[:, :, None], (((1,), (1,)), ((), ()))),
                                 (8, 4)),
    "3-d x": (lambda x, eye: cnp.einsum("abk,kj->abj", x, eye), (3, 8, 4)),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32])
def test_identity_dot_is_gone_and_bit_identical(name, dtype):
    f, shape = CASES[name]
    x = _specials(shape, dtype)
    eye = np.eye(4, dtype=dtype)
    g = cr.trace(lambda x: f(x, eye), x)
    assert "dot_general" in _ops(g)
    opt = optimize(g, passes="simplify")
    assert "dot_general" not in _ops(opt), str(opt)
    with np.errstate(invalid="ignore"):
        _same_bits(evaluate(opt, [x])[0], evaluate(g, [x])[0])
        _same_bits(evaluate(optimize(g), [x])[0], evaluate(g, [x])[0])


@pytest.mark.parametrize("matrix", [
    2 * np.eye(4), np.eye(4)[::-1], np.where(np.eye(4) == 1, 1.0, -0.0), np.eye(4)[:, :3]])
def test_only_an_exact_identity_is_rewritten(matrix):
    x = np.random.default_rng(1).standard_normal((8, 4))
    g = cr.trace(lambda x: x @ matrix, x)
    assert "dot_general" in _ops(optimize(g, passes="simplify"))


def test_llvm_matches_the_gemm_on_specials():
    x = _specials((8, 4))
    g = cr.trace(lambda x: (x @ np.eye(4)).T * 3.0, x)
    with np.errstate(invalid="ignore"):
        _same_bits(np.asarray(cr.jit(g, backend="llvm")(x)).reshape(4, 8), evaluate(g, [x])[0])


def test_transpose_moves_into_an_elementwise_expression():
    x = _specials((7, 5))
    b = np.random.default_rng(2).standard_normal(7)
    g = cr.trace(lambda x, b: cnp.where(x > 0, x + b[:, None], -x).T, x, b)
    opt = optimize(g, passes="simplify")
    (t,) = [n for n in opt.nodes if n.op.name == "transpose"]
    assert t.operands[0] is opt.params[0]  # the data is transposed, the expression runs after
    with np.errstate(invalid="ignore"):
        _same_bits(evaluate(opt, [x, b])[0], evaluate(g, [x, b])[0])


def test_transpose_stays_when_two_tensors_would_be_copied():
    x, y = np.ones((3, 4)), np.ones((3, 4))
    g = cr.trace(lambda x, y: (x * y).T, x, y)
    opt = optimize(g, passes="simplify")
    (t,) = [n for n in opt.nodes if n.op.name == "transpose"]
    assert t.operands[0].node.op.name == "multiply"


def test_transpose_of_a_unit_reshape():
    x = np.arange(24.0).reshape(4, 6)
    g = cr.trace(lambda x: cnp.transpose(x.reshape(4, 1, 6, 1), (2, 3, 1, 0)), x)
    opt = optimize(g, passes="simplify")
    assert [n.op.name for n in opt.nodes] == ["transpose", "reshape"]
    _same_bits(evaluate(opt, [x])[0], evaluate(g, [x])[0])
    g2 = cr.trace(lambda x: cnp.transpose(x.reshape(4, 1, 6), (1, 0, 2)), x)
    assert [n.op.name for n in optimize(g2, passes="simplify").nodes] == ["reshape"]


def test_rules_have_formulas_and_join_simplify():
    names = {r.name for r in SIMPLIFY}
    for r in DOT_SIMPLIFY:
        assert r.name in names and "->" in r.formula
    assert len(SIMPLIFY) == len(base_rules.set) + len(DOT_SIMPLIFY)


# --- the Newton step's Hessian ----------------------------------------------------------------

N, D = 200, 6


def _loss(w, X, y, xp=cnp):
    z = X @ w
    return xp.mean(xp.logaddexp(0.0, z) - y * z) + 0.5e-3 * xp.sum(w * w)


def _data():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((N, D))
    y = (rng.uniform(size=N) < 0.5).astype(np.float64)
    return rng.standard_normal(D), X, y


def test_hessian_has_one_gemm_per_product():
    w, X, y = _data()
    g = cr.jit(cr.hessian(_loss)).lower(w, X, y).optimized_graph()
    dots = [n for n in g.walk() if n.op.name == "dot_general"]
    assert all(o.node is None or o.node.op.name != "constant" for n in dots for o in n.operands), str(g)
    assert len(dots) == 2, str(g)  # X @ w and X^T diag(s) X


@pytest.mark.parametrize("backend", ["reference", "llvm"])
def test_hessian_bit_identical_without_the_rules(backend, monkeypatch):
    w, X, y = _data()
    X[0, 1] = -0.0
    new = cr.jit(cr.hessian(_loss), backend=backend)(w, X, y)
    monkeypatch.setattr(standard, "SIMPLIFY", base_rules.set)
    old = cr.jit(cr.hessian(_loss), backend=backend)(w, X, y)
    _same_bits(new, old)


def test_hessian_matches_jax(jax_x64):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    w, X, y = _data()
    want = jax.hessian(lambda w: _loss(w, X, y, jnp))(w)
    for backend in ("reference", "llvm"):
        np.testing.assert_allclose(cr.jit(cr.hessian(_loss), backend=backend)(w, X, y), want, rtol=1e-12, atol=1e-15)


def test_transpose_stays_after_a_narrowing_convert():
    x = np.ones((3, 4))
    g = cr.trace(lambda x: x.astype(np.float32).T, x)
    (t,) = [n for n in optimize(g, passes="simplify").nodes if n.op.name == "transpose"]
    assert t.operands[0].node.op.name == "convert"  # the f32 result is copied, not the f64 input
