"""Derivatives through cond, switch, while_loop, fori_loop and scan, against JAX and finite differences.

Reverse mode through cond/case/scan is linearize + transpose of the control
flow ops themselves (no unrolling); forward mode through while_loop works and
reverse mode through it fails with JAX's advice.
"""

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.passes.autodiff.control_flow_rules import ReverseModeWhileError
from chainrule.testing import assert_roundtrip

jax = pytest.importorskip("jax")
jnp = jax.numpy
lax = jax.lax


pytestmark = pytest.mark.usefixtures("jax_x64")


def close(got, want, rtol=1e-10, atol=1e-12):
    gl = cr.tree.flatten(got)[0]
    wl = jax.tree_util.tree_leaves(want)
    assert len(gl) == len(wl)
    for g, w in zip(gl, wl):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=rtol, atol=atol)


def ops_in(g):
    return {n.op.name for n in g.walk()}


def both_grads(prog, args, argnums=0, jit=True):
    """cr.grad (eager, and jitted) of prog(cnp, cr) against jax.grad of prog(jnp, lax)."""
    want = jax.jit(jax.grad(prog(jnp, lax), argnums=argnums))(*args)  # jitted: one XLA compile
    f = cr.grad(prog(cnp, cr), argnums=argnums)
    close(f(*args), want)
    if jit:
        close(cr.jit(f)(*args), want)
    return want


# --- cond and switch ------------------------------------------------------------------------

def cond_loss(ns, L):
    def f(x, y):
        out = L.cond(ns.sum(x) > 0,
                     lambda a, b: {"u": ns.sin(a) * b, "k": np.int32(1), "v": a * a},
                     lambda a, b: {"u": a / b, "k": np.int32(2), "v": ns.exp(b)},
                     x, y)
        return ns.sum(out["u"] * out["v"]) + out["k"].astype(np.float64)
    return f


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_grad_through_cond_with_pytree_and_integer_outputs(sign):
    x, y = sign * np.array([0.5, 1.5, 0.25]), np.array([1.2, 0.7, 2.0])
    both_grads(cond_loss, (x, y), argnums=(0, 1))
    g = cr.trace(cr.grad(cond_loss(cnp, cr), argnums=(0, 1)), x, y)
    assert_roundtrip(g)
    assert "cond" in ops_in(g)


@pytest.mark.parametrize("i", [-1, 0, 1, 2, 5])
def test_grad_through_switch(i):
    def prog(ns, L):
        def f(x, w):
            br = [lambda a, b: ns.sum(ns.sin(a) * b), lambda a, b: ns.sum(a * a) * b[0],
                  lambda a, b: ns.sum(ns.tanh(a + b))]
            return L.switch(i, br, x, w)
        return f
    both_grads(prog, (np.array([0.5, -1.0]), np.array([2.0, 3.0])), argnums=(0, 1))


def test_grad_through_cond_whose_branch_captures_an_outer_argument():
    def prog(ns, L):
        def f(x, w):
            return L.cond(x > 1.0, lambda a: a * ns.sin(w), lambda a: a * a * w, x)
        return f
    for x in (0.5, 2.0):
        both_grads(prog, (x, 0.3), argnums=(0, 1))


@pytest.mark.parametrize("x", [0.4, 1.7])
def test_second_order_through_cond_and_switch(x):
    def prog(ns, L):
        def f(x):
            y = L.cond(x > 1.0, lambda a: ns.sin(a) * a, lambda a: a ** 3, x)
            return L.switch(np.int32(1), [lambda a: a, lambda a: ns.exp(a) * y], x)
        return f
    want = jax.jit(jax.grad(jax.grad(prog(jnp, lax))))(x)
    close(cr.grad(cr.grad(prog(cnp, cr)))(x), want)
    close(cr.jvp(cr.grad(prog(cnp, cr)), (x,), (1.0,))[1], want)


def test_jvp_through_cond_and_switch_like_jax():
    def prog(ns, L):
        def f(x, i):
            y = L.cond(x[0] > 0, lambda a: ns.sin(a), lambda a: a * 3.0, x)
            return L.switch(i, [lambda a: a * y, lambda a: ns.cos(a) + y], x)
        return f
    x, t = np.array([0.3, -0.6]), np.array([1.0, 0.5])
    for i in (0, 1):
        got = cr.jvp(lambda v: prog(cnp, cr)(v, np.int32(i)), (x,), (t,))
        want = jax.jvp(lambda v: prog(jnp, lax)(v, jnp.int32(i)), (x,), (t,))
        close(got, want)


# --- scan and fori_loop ---------------------------------------------------------------------

def rnn_loss(ns, L, reverse=False):
    def f(h0, w, xs):
        def step(c, x):
            h = ns.tanh(c["h"] * w + x) + 0.1 * c["n"].astype(np.float64)
            return {"h": h, "n": c["n"] + 1}, ns.sin(h) * x
        c, ys = L.scan(step, {"h": h0, "n": np.int32(0)}, xs, reverse=reverse)
        return ns.sum(c["h"] ** 2) + ns.sum(ys)
    return f


@pytest.mark.parametrize("reverse", [False, True])
def test_grad_through_scan_wrt_init_const_and_xs(reverse):
    args = (np.array([0.1, -0.4]), 0.9, np.linspace(-1.0, 1.0, 10).reshape(5, 2))
    both_grads(lambda ns, L: rnn_loss(ns, L, reverse), args, argnums=(0, 1, 2))
    g = cr.trace(cr.grad(rnn_loss(cnp, cr, reverse), argnums=(0, 1, 2)), *args)
    assert_roundtrip(g)
    scans = [n for n in g.nodes if n.op.name == "scan"]
    assert len(scans) == 2  # the primal scan (with residuals) and the transposed one: nothing unrolled
    assert {n.attrs["reverse"] for n in scans} == {True, False}


def test_second_order_through_scan():
    def prog(ns, L):
        def f(w):
            xs = np.linspace(0.1, 1.0, 6)
            c, ys = L.scan(lambda c, x: (ns.sin(c * w + x), c * x * w), 0.3, xs)
            return c + ns.sum(ys) * w
        return f
    for w in (0.7, -1.3):
        want = jax.jit(jax.grad(jax.grad(prog(jnp, lax))))(w)
        close(cr.grad(cr.grad(prog(cnp, cr)))(w), want)
        close(cr.jit(cr.grad(cr.grad(prog(cnp, cr))))(w), want)
    x = np.array([0.3, -0.2, 0.5])

    def vec(ns, L):
        def f(v):
            return L.scan(lambda c, a: (c * ns.cos(v) + 1.0, None), v, None, length=3)[0].sum()
        return f
    close(cr.hessian(vec(cnp, cr))(x), jax.jit(jax.hessian(vec(jnp, lax)))(x))


def test_grad_through_fori_loop_with_static_bounds():
    def prog(ns, L):
        def f(x, w):
            return ns.sum(L.fori_loop(1, 5, lambda i, c: ns.sin(c) * w + i * c, x))
        return f
    both_grads(prog, (np.array([0.2, 0.9]), 1.1), argnums=(0, 1))


def test_scan_body_closing_over_the_differentiated_value():
    # the scan body closes over w (a const of the scan); grad is taken with respect to w
    def prog(ns, L):
        def f(w):
            xs = np.arange(4.0)
            return L.scan(lambda c, x: (c + ns.sin(w * x + c), None), 0.0, xs)[0]
        return f
    both_grads(prog, (0.6,))

    # and from an enclosing jit: the body captures a value of the outer trace
    def outer(ns, L, grad):
        def f(v, s):
            return grad(lambda w: L.scan(lambda c, x: (c * s + w * x, None), 1.0, v)[0])(s * 2.0)
        return f
    v = np.array([0.5, -1.0, 2.0])
    close(cr.jit(outer(cnp, cr, cr.grad))(v, 0.8), jax.jit(outer(jnp, lax, jax.grad))(v, 0.8))


def test_vjp_and_jacobians_of_a_scan_with_two_outputs():
    def prog(ns, L):
        def f(x):
            return L.scan(lambda c, a: (c * a + ns.sin(c), c * 2.0), x[0], x[1:])
        return f
    x = np.array([0.3, 1.5, -0.5, 0.8])
    close(cr.jacrev(prog(cnp, cr))(x), jax.jit(jax.jacrev(prog(jnp, lax)))(x))
    close(cr.jacfwd(prog(cnp, cr))(x), jax.jit(jax.jacfwd(prog(jnp, lax)))(x))
    out, vf = cr.vjp(prog(cnp, cr), x)
    ct = (np.float64(0.7), np.array([1.0, -2.0, 0.5]))
    jout, jvf = jax.vjp(prog(jnp, lax), x)
    close(out, jout)
    close(vf(ct), jvf(ct))


def test_jvp_through_scan_like_jax():
    args = (np.array([0.1, -0.4]), 0.9, np.linspace(-1.0, 1.0, 10).reshape(5, 2))
    tans = (np.array([1.0, 0.5]), 0.3, np.ones((5, 2)))
    close(cr.jvp(rnn_loss(cnp, cr), args, tans), jax.jvp(rnn_loss(jnp, lax), args, tans))


@pytest.mark.parametrize("fun", ["scan", "cond", "switch"])
def test_check_grads_against_finite_differences(fun):
    progs = {
        "scan": lambda x: cr.scan(lambda c, a: (c * cnp.cos(a) + a * c, cnp.sin(c)), x[0], x[1:])[1],
        "cond": lambda x: cr.cond(x[0] > 0, lambda a: cnp.sin(a) * a[1], lambda a: a ** 2, x),
        "switch": lambda x: cr.switch(np.int32(1), [lambda a: a, lambda a: cnp.exp(a) * a[0]], x),
    }
    cr.check_grads(progs[fun], (np.array([0.4, -0.3, 1.2, 0.7]),), order=2)


# --- while_loop ------------------------------------------------------------------------------

def while_prog(ns, L):
    def f(x, w):
        def body(c):
            i, v = c
            return i + 1, ns.sin(v) * w + v * 0.5
        return L.while_loop(lambda c: c[0] < 4, body, (np.int32(0), x))[1]
    return f


def test_jvp_through_while_loop_like_jax():
    args, tans = (np.array([0.3, -1.0]), 0.7), (np.array([1.0, 2.0]), -0.5)
    close(cr.jvp(while_prog(cnp, cr), args, tans), jax.jvp(while_prog(jnp, lax), args, tans))
    close(cr.jit(lambda *a: cr.jvp(while_prog(cnp, cr), a, tans))(*args), jax.jvp(while_prog(jnp, lax), args, tans))
    close(cr.jacfwd(while_prog(cnp, cr))(*args), jax.jit(jax.jacfwd(while_prog(jnp, lax)))(*args))


def test_reverse_mode_through_while_loop_fails_with_advice():
    loss = lambda x, w: cnp.sum(while_prog(cnp, cr)(x, w))  # noqa: E731
    with pytest.raises(ReverseModeWhileError, match="Reverse-mode differentiation does not work.*cr.scan"):
        cr.grad(loss)(np.array([0.3, -1.0]), 0.7)
    with pytest.raises(ValueError, match="fori_loop with static Python int"):
        cr.jit(lambda n, x: cr.grad(lambda v: cr.fori_loop(0, n, lambda i, c: c * v, v))(x))(np.int32(3), 0.5)
    # a gradient that does not flow through the loop is fine
    f = lambda x, w: cnp.sum(x * w) + cr.while_loop(lambda c: c < 3.0, lambda c: c + 1.0, w)  # noqa: E731
    close(cr.grad(f)(np.array([0.3, -1.0]), 0.7), np.array([0.7, 0.7]))


# --- nesting and edge cases ------------------------------------------------------------------

def nested_prog(ns, L):
    def f(w, xs):
        def outer(c, row):
            ci, _ = L.scan(lambda d, a: (ns.sin(d * w + a + c), None), c, row)
            d = L.cond(ci > 0.5, lambda u: u * w, lambda u: u - w, ci)
            return d, d * row.sum()
        c, ys = L.scan(outer, 0.2, xs)
        return c + ys.sum()
    return f


def test_nested_scan_and_cond_first_and_second_order():
    xs = np.linspace(-1, 1, 12).reshape(4, 3)
    both_grads(nested_prog, (0.8, xs), argnums=(0, 1), jit=False)
    close(cr.grad(cr.grad(nested_prog(cnp, cr)))(0.8, xs), jax.jit(jax.grad(jax.grad(nested_prog(jnp, lax))))(0.8, xs))


def test_scan_with_integer_xs_and_of_length_zero():
    def prog(ns, L):
        def f(w, xs, ks):
            c, ys = L.scan(lambda c, a: (c * w + a[0] * a[1].astype(w.dtype), ns.sin(c) * a[1]), w, (xs, ks))
            return c + ys.sum()
        return f
    both_grads(prog, (0.7, np.linspace(0, 1, 4), np.arange(4, dtype=np.int32)), argnums=(0, 1), jit=False)
    both_grads(prog, (0.7, np.zeros(0), np.zeros(0, np.int32)), argnums=(0, 1), jit=False)


def test_forward_mode_twice_through_a_while_inside_a_scan():
    def prog(ns, L):
        def f(w):
            def body(c, x):
                c2 = L.while_loop(lambda s: s[0] < 3, lambda s: (s[0] + 1, ns.sin(s[1]) * w), (0, c))[1]
                return c2 + x, c2
            return L.scan(body, w, np.arange(3.0))[1].sum()
        return f
    d2 = lambda jvp, f: lambda w: jvp(lambda v: jvp(f, (v,), (1.0,))[1], (w,), (1.0,))  # noqa: E731
    close(d2(cr.jvp, prog(cnp, cr))(0.8), d2(jax.jvp, prog(jnp, lax))(0.8))


def test_symbolic_gradients_of_placeholders_through_scan_and_cond():
    x = cr.placeholder((), "float64", name="x")
    w = cr.placeholder((3,), "float64", name="w")
    c, ys = cr.scan(lambda c, a: (cnp.tanh(c * a + x), c * a), x, w)
    y = cr.cond(c > 0, lambda u: u * u, lambda u: -u, c) + cnp.sum(ys)
    f = cr.function([x, w], [y, *cr.gradients(y, [x, w])])

    def jf(x, w):
        c, ys = lax.scan(lambda c, a: (jnp.tanh(c * a + x), c * a), x, w)
        return lax.cond(c > 0, lambda u: u * u, lambda u: -u, c) + jnp.sum(ys)
    for xv in (0.4, -2.0):
        wv = np.array([0.5, -1.0, 2.0])
        got = f(xv, wv)
        close(got[0], jax.jit(jf)(xv, wv))
        close(got[1:], jax.jit(jax.grad(jf, argnums=(0, 1)))(xv, wv))


def test_forward_mode_is_one_joint_scan_and_reverse_mode_two_scans():
    from chainrule.passes.autodiff import jvp_graph, vjp_graph
    g = cr.trace(lambda c, xs: cr.scan(lambda c, x: (cnp.sin(c) * x, c * x), c, xs), 0.5, np.arange(4.0))
    fwd = [n for n in jvp_graph(g).nodes if n.op.name == "scan"]
    assert len(fwd) == 1 and fwd[0].attrs["num_carry"] == 2  # carry and its tangent, nothing stacked
    rev = [n for n in vjp_graph(g).nodes if n.op.name == "scan"]
    assert len(rev) == 2 and len(rev[0].results) == 3  # carry, ys and the stacked carry-ins
    assert [n.attrs["reverse"] for n in rev] == [False, True]
    assert_roundtrip(jvp_graph(g))
    assert_roundtrip(vjp_graph(g))


@pytest.mark.parametrize("k", [1.3, -0.7])
def test_grad_of_a_cond_whose_branch_holds_a_scan(k):
    # the tangent branch holds a forward-mode (joint) scan that the transpose linearizes again
    def prog(ns, L):
        def f(x, k):
            def inner(v):
                return L.scan(lambda c, a: (ns.sin(c * a * k) + c, c), 0.5, v)[0]
            return L.cond(k > 0, inner, lambda v: (v * k * v).sum(), x)
        return f
    args = (np.array([0.3, 0.6, 0.9, 1.2]), k)
    both_grads(prog, args, argnums=(0, 1), jit=False)
    close(cr.grad(cr.grad(prog(cnp, cr), argnums=1), argnums=1)(*args),
          jax.jit(jax.grad(jax.grad(prog(jnp, lax), argnums=1), argnums=1))(*args))


def test_only_carries_that_can_get_a_tangent_carry_one():
    from chainrule.passes.autodiff import jvp_graph

    # (a, b, n): a depends on x; b starts constant but the body mixes a into it (after one
    # iteration: JAX's fixpoint); n only counts. Only a and b carry tangents.
    def prog(ns, L):
        def f(x):
            def body(c, _):
                a, b, n = c
                return (ns.sin(a), b * 0.5 + a, n + 1.0), n
            return L.scan(body, (x, 0.0, 0.0), None, length=4)
        return f
    g = cr.trace(prog(cnp, cr), 0.3)
    (node,) = [n for n in jvp_graph(g).nodes if n.op.name == "scan"]
    assert node.attrs["num_carry"] == 3 + 2
    close(cr.jvp(prog(cnp, cr), (0.3,), (1.0,)), jax.jvp(prog(jnp, lax), (0.3,), (1.0,)))
    close(cr.jacrev(lambda x: prog(cnp, cr)(x)[0])(0.3), jax.jacrev(lambda x: prog(jnp, lax)(x)[0])(0.3))
