"""cr.cond, cr.switch, cr.while_loop, cr.fori_loop, cr.scan against jax.lax on the same programs.

Each program runs eagerly (concrete arrays: the reference rules), under
cr.jit and as a define-then-run graph, and must give what JAX gives (x64).
"""

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.testing import assert_roundtrip

jax = pytest.importorskip("jax")
jnp = jax.numpy
lax = jax.lax


pytestmark = pytest.mark.usefixtures("jax_x64")


def close(got, want, rtol=1e-12):
    gl, gt = cr.tree.flatten(got)
    wl = jax.tree_util.tree_leaves(want)
    assert len(gl) == len(wl)
    for g, w in zip(gl, wl):
        g = np.asarray(g)
        assert g.shape == np.shape(w)
        assert g.dtype == np.asarray(w).dtype, (g.dtype, np.asarray(w).dtype)
        np.testing.assert_allclose(g, np.asarray(w), rtol=rtol, atol=1e-14)


def ops_in(g):
    return {n.op.name for n in g.walk()}


def three_ways(prog, args):
    """prog(ns, lax_module) run eagerly, jitted and as placeholders, against JAX."""
    want = jax.jit(prog(jnp, lax))(*args)  # jitted: one XLA compile instead of one per primitive
    f = prog(cnp, cr)
    close(f(*args), want)
    close(cr.jit(f)(*args), want)
    arg_leaves, arg_tree = cr.tree.flatten(tuple(args))
    arrs = [np.asarray(a) for a in arg_leaves]
    phs = [cr.placeholder(a.shape, a.dtype.name, name=f"a{i}") for i, a in enumerate(arrs)]
    out = f(*cr.tree.unflatten(arg_tree, phs))
    leaves, tree = cr.tree.flatten(out)
    got = cr.function(phs, leaves)(*arrs)
    close(cr.tree.unflatten(tree, list(got)), want)
    g = cr.trace(f, *args)
    assert_roundtrip(g)
    return g


# --- cond ---------------------------------------------------------------------------------

def cond_prog(ns, L):
    def f(p, x, y):
        return L.cond(p > 0, lambda a, b: {"s": ns.sin(a) * b, "t": (a + b, a)},
                      lambda a, b: {"s": a - b, "t": (a * b, ns.cos(a))}, x, y)
    return f


@pytest.mark.parametrize("p", [1.0, -1.0])
def test_cond_pytrees_both_branches(p):
    x, y = np.array([0.5, -1.5, 2.0]), np.array([1.0, 2.0, 3.0])
    g = three_ways(cond_prog, (p, x, y))
    assert "cond" in ops_in(g)


def test_cond_with_integer_predicate_and_no_operands():
    for p in (0, 3):
        want = lax.cond(jnp.int32(p), lambda: jnp.float64(1.0), lambda: jnp.float64(2.0))
        assert cr.cond(np.int32(p), lambda: np.float64(1.0), lambda: np.float64(2.0)) == want
        got = cr.jit(lambda q: cr.cond(q, lambda: np.float64(1.0), lambda: np.float64(2.0)))(np.int32(p))
        assert got == want


def test_cond_branch_capturing_an_outer_traced_value():
    # only the false branch closes over w: every branch still gets the same parameters
    def prog(ns, L):
        def f(x, w):
            return L.cond(x.sum() > 0, lambda a: a * 2.0, lambda a: a * w + ns.sin(w), x)
        return f
    for x in (np.array([1.0, 2.0]), np.array([-1.0, -2.0])):
        three_ways(prog, (x, 0.7))


def test_cond_errors():
    x = np.ones(3)
    with pytest.raises(TypeError, match="identical types"):
        cr.cond(True, lambda a: a, lambda a: a.astype(np.float32), x)
    with pytest.raises(TypeError, match="cond: true_fun and false_fun must return the same type structure"):
        cr.cond(True, lambda a: (a, a), lambda a: a, x)
    with pytest.raises(TypeError, match="must be a scalar"):
        cr.cond(np.array([True, False]), lambda a: a, lambda a: a, x)
    with pytest.raises(TypeError, match="boolean or integer, got float64"):
        cr.cond(1.0, lambda a: a, lambda a: a, x)
    with pytest.raises(TypeError, match="must be a scalar"):
        cr.jit(lambda v: cr.cond(v > 0, lambda a: a, lambda a: a, v))(x)


# --- switch ---------------------------------------------------------------------------------

def switch_prog(ns, L):
    def f(i, x):
        return L.switch(i, [lambda a: a + 1.0, lambda a: ns.sin(a), lambda a: a * a], x)
    return f


@pytest.mark.parametrize("i", [-3, 0, 1, 2, 7])
def test_switch_clamps_the_index_like_jax(i):
    x = np.array([0.5, -1.5])
    g = three_ways(switch_prog, (np.int32(i), x))
    assert "case" in ops_in(g)


def test_switch_with_one_branch_and_an_int64_index_under_jit():
    x = np.array([0.5, 2.0])
    assert np.array_equal(cr.switch(5, [lambda a: a * 3.0], x), x * 3.0)
    f = cr.jit(lambda i, a: cr.switch(i, [lambda v: v - 1.0, lambda v: v * 2.0], a))
    for i in (-1, 0, 1, 9):
        close(f(np.int64(i), x), lax.switch(jnp.int64(i), [lambda v: v - 1.0, lambda v: v * 2.0], x))


def test_switch_errors():
    with pytest.raises(ValueError, match="empty branch sequence"):
        cr.switch(0, [], 1.0)
    with pytest.raises(TypeError, match="must be an integer, got float64"):
        cr.switch(1.0, [lambda a: a, lambda a: a], 1.0)
    with pytest.raises(TypeError, match=r"switch: every branch must return identical types, but the output is "
                                        r"float64\[2\] from branches\[0\] and float32\[2\] from branches\[1\]"):
        cr.switch(0, [lambda a: a, lambda a: a.astype(np.float32)], np.ones(2))


# --- while_loop and fori_loop -----------------------------------------------------------------

def while_prog(ns, L):
    def f(x, n):
        def cond(c):
            return c["i"] < n

        def body(c):
            return {"i": c["i"] + 1, "x": ns.sin(c["x"]) + c["x"] * 0.5, "hist": c["hist"] + c["x"][0]}
        return L.while_loop(cond, body, {"i": np.int32(0), "x": x, "hist": np.float64(0.0)})
    return f


@pytest.mark.parametrize("n", [0, 1, 6])
def test_while_loop_pytree_carry_and_a_captured_bound(n):
    x = np.array([0.3, -1.2, 2.5])
    g = three_ways(while_prog, (x, np.int32(n)))
    assert "while" in ops_in(g)


def fori_prog(ns, L, lo=1, hi=6):
    def f(x):
        return L.fori_loop(lo, hi, lambda i, c: (c[0] * ns.cos(c[1]) + i, c[1] + 0.1 * i), (x, x * 2.0))
    return f


def test_fori_loop_with_static_bounds_is_a_scan():
    x = np.array([0.3, -1.2])
    g = three_ways(fori_prog, (x,))
    assert "scan" in ops_in(g) and "while" not in ops_in(g)
    close(cr.fori_loop(5, 2, lambda i, c: c + 1.0, x), lax.fori_loop(5, 2, lambda i, c: c + 1.0, x))


def test_fori_loop_with_traced_bounds_is_a_while():
    def prog(ns, L):
        def f(lo, hi, x):
            return L.fori_loop(lo, hi, lambda i, c: c * 1.5 + i, x)
        return f
    for lo, hi in ((0, 4), (3, 1), (2, 7)):
        args = (np.int32(lo), np.int32(hi), np.array([0.5, 1.0]))
        want = prog(jnp, lax)(*args)
        g = cr.trace(prog(cnp, cr), *args)
        assert "while" in ops_in(g)
        close(cr.jit(prog(cnp, cr))(*args), want)


def test_while_loop_errors():
    with pytest.raises(TypeError, match="cond_fun must return a boolean scalar"):
        cr.while_loop(lambda c: c, lambda c: c, 1.0)
    with pytest.raises(TypeError, match=r"while_loop body_fun must return the carry with the type it was given: "
                                        r"the input carry c has type float64\[\] but body_fun returns float32\[\]"):
        cr.while_loop(lambda c: c < 3, lambda c: (c + 1.0).astype(np.float32), 1.0)
    with pytest.raises(TypeError, match="while_loop body_fun must return the carry in the structure it was"):
        cr.while_loop(lambda c: c[0] < 3, lambda c: c[0], (1.0, 2.0))
    with pytest.raises(TypeError, match="lower must be a scalar integer"):
        cr.jit(lambda a: cr.fori_loop(a, 3, lambda i, c: c, a))(1.0)


# --- scan --------------------------------------------------------------------------------------

def scan_prog(ns, L, reverse=False):
    def f(c0, xs, w):
        def step(c, x):
            h = ns.tanh(c["h"] * w + x["u"]) + x["v"][0]
            return {"h": h, "n": c["n"] + 1}, (h * 2.0, c["n"])
        return L.scan(step, {"h": c0, "n": np.int32(0)}, xs, reverse=reverse)
    return f


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_pytrees_consts_and_reverse(reverse):
    c0 = np.array([0.1, -0.2, 0.3])
    xs = {"u": np.linspace(-1, 1, 15).reshape(5, 3), "v": np.arange(10.0).reshape(5, 2) / 10}
    g = three_ways(lambda ns, L: scan_prog(ns, L, reverse), (c0, xs, 0.8))
    (node,) = [n for n in g.nodes if n.op.name == "scan"]
    assert node.attrs["reverse"] is reverse and node.attrs["num_consts"] == 1  # w is a const


def test_scan_without_xs_and_with_ys_none():
    def prog(ns, L):
        def f(x):
            c, ys = L.scan(lambda c, _: (c * 0.5 + 1.0, c), x, None, length=4)
            c2, none = L.scan(lambda c, _: (c + 1.0, None), c, None, length=3)
            return c, ys, c2
        return f
    three_ways(prog, (np.array([1.0, 8.0]),))
    assert cr.scan(lambda c, _: (c, None), 1.0, None, length=2)[1] is None


def test_scan_of_length_zero_matches_jax():
    xs = np.zeros((0, 2))
    got = cr.scan(lambda c, x: (c + x.sum(), x * 2.0), 1.5, xs)
    close(got, lax.scan(lambda c, x: (c + x.sum(), x * 2.0), 1.5, xs))


def test_nested_scan_inside_cond_inside_jit():
    def prog(ns, L):
        def f(x, k):
            def inner(v):
                return L.scan(lambda c, a: (c + a * k, c), 0.0, v)[0]
            return L.cond(k > 0, inner, lambda v: v.sum(), x)
        return f
    for k in (2.0, -1.0):
        three_ways(prog, (np.arange(4.0), k))


def test_scan_errors():
    xs = np.ones((3, 2))
    with pytest.raises(ValueError, match="no values to scan over and `length` not provided"):
        cr.scan(lambda c, x: (c, x), 1.0, None)
    with pytest.raises(ValueError, match="`length` argument of 4 which disagrees with leading axis sizes"):
        cr.scan(lambda c, x: (c, x), 1.0, xs, length=4)
    with pytest.raises(ValueError, match="different leading axis sizes: 3, 2"):
        cr.scan(lambda c, x: (c, x), 1.0, (xs, np.ones(2)))
    with pytest.raises(ValueError, match="no leading axis"):
        cr.scan(lambda c, x: (c, x), 1.0, np.float64(2.0))
    with pytest.raises(TypeError, match="must return a pair"):
        cr.scan(lambda c, x: c, 1.0, xs)
    with pytest.raises(TypeError, match=r"scan body function f must return the carry with the type it was given: "
                                        r"the input carry c has type float64\[\] but f returns float32\[\]"):
        cr.scan(lambda c, x: (c.astype(np.float32), x), 1.0, xs)
    with pytest.raises(TypeError, match="scan body function f must return the carry in the structure it was"):
        cr.scan(lambda c, x: ((c, c), x), 1.0, xs)


def test_python_scalar_outputs_are_weakly_typed():
    # chainrule's Python scalars take the dtype expected where they are used (JAX x64 would reject
    # these programs: its Python scalars are 64-bit there), so the oracle is the explicit program
    x = np.array([1.0, 2.0, 3.0], np.float32)

    def f(v):
        a = cr.cond(v.sum() > 0, lambda u: (u.sum(), 0), lambda u: (0.0, np.int32(3)), v)
        b = cr.scan(lambda c, u: (0.0, u * c), np.float32(1.0), v)
        w = cr.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, 2.0), (np.int32(0), np.float32(1.0)))
        return a, b, w

    want = ((np.float32(6.0), np.int32(0)), (np.float32(0.0), np.array([1.0, 0.0, 0.0], np.float32)),
            (np.int32(3), np.float32(2.0)))
    for got in (f(x), cr.jit(f)(x)):
        for g, w in zip(cr.tree.flatten(got)[0], cr.tree.flatten(want)[0]):
            assert np.asarray(g).dtype == np.asarray(w).dtype
            np.testing.assert_array_equal(g, w)
