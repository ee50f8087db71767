"""cr.checkpoint (the `remat` op): values, gradients against the plain function and jax.checkpoint,
what the policies make the reverse graph store, the text form, and the IR's type rule."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.ir import GraphBuilder, IRTypeError, TensorType, parse, verify
from chainrule.passes.autodiff import vjp_graph
from chainrule.testing import assert_roundtrip

jax = pytest.importorskip("jax")
jnp = jax.numpy

F64 = "float64"


pytestmark = pytest.mark.usefixtures("jax_x64")


# --- functions, written once for chainrule.numpy and jax.numpy ------------------------------------

def mlp(m, ckpt):
    """Two checkpointed tanh layers; the loss sums squares."""
    layer = ckpt(lambda w, x: m.tanh(x @ w) * m.cos(x @ w))
    return lambda w1, w2, x: m.sum(layer(w2, layer(w1, x)) ** 2)


def multi(m, ckpt):
    """A checkpointed function with a tuple argument, two outputs and a captured value."""
    def outer(a, b):
        c = m.sin(a)

        @ckpt
        def f(pair, s):
            p, q = pair
            u = m.exp(p * q) * c   # c is captured from the enclosing trace
            return u + s, m.sum(m.tanh(u) * q)

        y, z = f((a, b), 0.5)
        return m.sum(y * y) + z * z
    return outer


def chain(m, ckpt, n=6):
    """Checkpoints inside checkpoints."""
    def f(x):
        for _ in range(n // 2):
            x = ckpt(lambda v: ckpt(lambda u: m.sin(u) * 1.5)(v) + m.tanh(v))(x)
        return m.sum(x ** 3)
    return f


def _args(rng, *shapes):
    return [rng.standard_normal(s) * 0.7 for s in shapes]


POLICIES = [None, "nothing_saveable", "dots_saveable", "dots_with_no_batch_dims_saveable", "everything_saveable"]


def _jax_policy(p):
    return None if p is None else getattr(jax.checkpoint_policies, p)


def _cr_ckpt(policy):
    return lambda f: cr.checkpoint(f, policy=policy)


def _jax_ckpt(policy):
    return lambda f: jax.checkpoint(f, policy=_jax_policy(policy))


# --- values and gradients ---------------------------------------------------------------------

def test_value_is_the_functions_eagerly_and_under_jit(rng):
    w1, w2, x = _args(rng, (4, 5), (5, 5), (3, 4))
    plain = mlp(cnp, lambda f: f)(w1, w2, x)
    np.testing.assert_allclose(mlp(cnp, cr.checkpoint)(w1, w2, x), plain, rtol=1e-14)
    np.testing.assert_allclose(cr.jit(mlp(cnp, cr.checkpoint))(w1, w2, x), plain, rtol=1e-14)


@pytest.mark.parametrize("policy", POLICIES)
def test_mlp_gradients_match_plain_and_jax_checkpoint(rng, policy):
    w1, w2, x = _args(rng, (4, 5), (5, 5), (3, 4))
    got = cr.jit(cr.grad(mlp(cnp, _cr_ckpt(policy)), argnums=(0, 1, 2)))(w1, w2, x)
    plain = cr.grad(mlp(cnp, lambda f: f), argnums=(0, 1, 2))(w1, w2, x)
    want = jax.jit(jax.grad(mlp(jnp, _jax_ckpt(policy)), argnums=(0, 1, 2)))(w1, w2, x)
    for g, p, w in zip(got, plain, want):
        np.testing.assert_allclose(g, p, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("policy", [None, "dots_saveable"])
def test_pytrees_outputs_and_captures_match_jax(rng, policy):
    a, b = _args(rng, (2, 3), (2, 3))
    got = cr.grad(multi(cnp, _cr_ckpt(policy)), argnums=(0, 1))(a, b)
    want = jax.jit(jax.grad(multi(jnp, _jax_ckpt(policy)), argnums=(0, 1)))(a, b)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13)


def test_nested_checkpoints_match_jax_to_second_order(rng):
    (x,) = _args(rng, (4,))
    np.testing.assert_allclose(cr.grad(chain(cnp, cr.checkpoint))(x), jax.jit(jax.grad(chain(jnp, jax.checkpoint)))(x),
                               rtol=1e-12)
    np.testing.assert_allclose(cr.hessian(chain(cnp, cr.checkpoint))(x),
                               jax.jit(jax.hessian(chain(jnp, jax.checkpoint)))(x), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("policy", [None, "dots_saveable"])
def test_grad_of_grad_matches_jax(rng, policy):
    w1, w2, x = _args(rng, (3, 3), (3, 3), (2, 3))

    def gsq(m, grad, ckpt):
        f = mlp(m, ckpt)
        return lambda w1: m.sum(grad(f)(w1, w2, x) ** 2)

    got = cr.grad(gsq(cnp, cr.grad, _cr_ckpt(policy)))(w1)
    want = jax.jit(jax.grad(gsq(jnp, jax.grad, _jax_ckpt(policy))))(w1)
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)


def test_forward_mode_and_jacobians_match_jax(rng):
    w1, w2, x = _args(rng, (3, 3), (3, 3), (2, 3))
    f_cr, f_jax = mlp(cnp, cr.checkpoint), mlp(jnp, jax.checkpoint)
    t = rng.standard_normal((3, 3))
    got = cr.jvp(lambda w: f_cr(w, w2, x), (w1,), (t,))
    want = jax.jit(lambda w, t: jax.jvp(lambda u: f_jax(u, w2, x), (w,), (t,)))(w1, t)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
    np.testing.assert_allclose(cr.jacfwd(f_cr, argnums=2)(w1, w2, x), jax.jit(jax.jacfwd(f_jax, argnums=2))(w1, w2, x),
                               rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(cr.hessian(f_cr, argnums=2)(w1, w2, x),
                               jax.jit(jax.hessian(f_jax, argnums=2))(w1, w2, x),
                               rtol=1e-11, atol=1e-12)


def test_vmap_of_grad_through_checkpoint_matches_jax(rng):
    w1, w2 = _args(rng, (3, 3), (3, 3))
    xs = rng.standard_normal((4, 2, 3))
    got = cr.vmap(cr.grad(mlp(cnp, cr.checkpoint)), in_axes=(None, None, 0))(w1, w2, xs)
    want = jax.jit(jax.vmap(jax.grad(mlp(jnp, jax.checkpoint)), in_axes=(None, None, 0)))(w1, w2, xs)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


# --- composition with scan ------------------------------------------------------------------

def rnn(m, scan, ckpt, chunk=None):
    """An RNN loss; with `chunk`, an outer scan over chunks whose body is a checkpointed inner scan."""
    def cell(carry, x):
        h, acc = carry
        h = m.tanh(h @ W + x)
        return (h, acc + m.sum(h * h)), m.sum(h)

    def loss(w, xs):
        nonlocal W
        W = w
        h0 = m.zeros((xs.shape[-2], w.shape[0])) + 0.0 * m.sum(w)
        if chunk is None:
            (h, acc), ys = scan(ckpt(cell), (h0, m.sum(h0)), xs)
            return acc + m.sum(ys * ys)
        inner = ckpt(lambda c, xc: scan(cell, c, xc))
        (h, acc), ys = scan(inner, (h0, m.sum(h0)), xs.reshape((-1, chunk) + xs.shape[1:]))
        return acc + m.sum(ys * ys)

    W = None
    return loss


@pytest.mark.parametrize("chunk", [None, 4])
def test_checkpointed_scan_body_and_chunked_scan_match_plain_and_jax(rng, chunk):
    w = rng.standard_normal((3, 3)) * 0.5
    xs = rng.standard_normal((12, 2, 3)) * 0.3
    got = cr.jit(cr.grad(rnn(cnp, cr.scan, cr.checkpoint, chunk), argnums=(0, 1)))(w, xs)
    plain = cr.grad(rnn(cnp, cr.scan, lambda f: f), argnums=(0, 1))(w, xs)
    want = jax.jit(jax.grad(rnn(jnp, jax.lax.scan, jax.checkpoint, chunk), argnums=(0, 1)))(w, xs)
    for g, p, j in zip(got, plain, want):
        np.testing.assert_allclose(g, p, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(g, j, rtol=1e-12, atol=1e-13)


def test_second_order_through_a_checkpointed_scan_matches_jax(rng):
    w = rng.standard_normal((2, 2)) * 0.5
    xs = rng.standard_normal((6, 1, 2)) * 0.3
    v = rng.standard_normal((2, 2))

    def hvp(m, scan, ckpt, grad, jvp):
        f = rnn(m, scan, ckpt, chunk=3)
        return lambda w, xs, v: jvp(lambda u: grad(f)(u, xs), (w,), (v,))[1]

    def gsq(m, scan, ckpt, grad):
        f = rnn(m, scan, ckpt, chunk=3)
        return grad(lambda u, xs: m.sum(grad(f)(u, xs) ** 2))

    got = hvp(cnp, cr.scan, cr.checkpoint, cr.grad, cr.jvp)(w, xs, v)
    want = jax.jit(hvp(jnp, jax.lax.scan, jax.checkpoint, jax.grad, jax.jvp))(w, xs, v)
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)
    got = gsq(cnp, cr.scan, cr.checkpoint, cr.grad)(w, xs)
    want = jax.jit(gsq(jnp, jax.lax.scan, jax.checkpoint, jax.grad))(w, xs)
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)


# --- what the reverse graph stores --------------------------------------------------------------

def stored(graph):
    """The values computed forward and read by the backward part of `vjp_graph(graph)` (cotangent
    params given): the residuals. Parameters are inputs, not stored intermediates, and are left out."""
    vg = vjp_graph(graph)
    cts = {id(p) for p in vg.params[len(graph.params):]}
    backward = set()
    for node in vg.nodes:
        if any(id(v) in cts or id(v.node) in backward for v in node.operands):
            backward.add(id(node))
    out = {}
    for node in vg.nodes:
        if id(node) in backward:
            for v in node.operands:
                if v.node is not None and id(v.node) not in backward:
                    out[id(v)] = v
    return vg, list(out.values())


def _layer_graph(policy, batch_dims=False):
    b = GraphBuilder("f")
    x = b.param(TensorType((2, 4, 5) if batch_dims else (4, 5), F64), "x")
    w = b.param(TensorType((2, 5, 6) if batch_dims else (5, 6), F64), "w")
    body = GraphBuilder("layer")
    bx, bw = body.param(x.type), body.param(w.type)
    dims = dict(lhs_batch=(0,), rhs_batch=(0,), lhs_contracting=(2,), rhs_contracting=(1,)) if batch_dims else \
        dict(lhs_contracting=(1,), rhs_contracting=(0,))
    d = body.op("dot_general", bx, bw, **dims)
    y = body.op("sine", body.op("tanh", d))
    region = body.build([y])
    if policy is None:
        outs = [b.op("sine", b.op("tanh", b.op("dot_general", x, w, **dims)))]
    else:
        outs = b.emit("remat", [x, w], {"policy": policy}, (region,)).results
    return b.build(list(outs))


def test_policies_change_what_the_reverse_graph_stores():
    _, plain = stored(_layer_graph(None))
    _, nothing = stored(_layer_graph("nothing_saveable"))
    _, dots = stored(_layer_graph("dots_saveable"))
    _, everything = stored(_layer_graph("everything_saveable"))
    # plain stores the tanh (and cos/1-tanh^2 products) of the layer; checkpointed stores nothing but its inputs
    assert len(plain) >= 1 and nothing == []
    assert [v.node.op.name for v in dots] == ["remat"] and dots[0].type == TensorType((4, 6), F64)
    assert len(everything) == len(plain)
    _, no_batch = stored(_layer_graph("dots_with_no_batch_dims_saveable"))
    assert [v.type for v in no_batch] == [TensorType((4, 6), F64)]
    _, batched = stored(_layer_graph("dots_with_no_batch_dims_saveable", batch_dims=True))
    _, batched_dots = stored(_layer_graph("dots_saveable", batch_dims=True))
    assert batched == [] and [v.type for v in batched_dots] == [TensorType((2, 4, 6), F64)]


def test_dots_saveable_saves_only_the_dots_the_backward_pass_reads():
    # d(sum(sin(x) @ w)) never reads the product itself: nothing is saved (as in JAX's partial eval)
    b = GraphBuilder("f")
    x, w = b.param(TensorType((4, 5), F64), "x"), b.param(TensorType((5, 6), F64), "w")
    body = GraphBuilder("linear")
    bx, bw = body.param(x.type), body.param(w.type)
    d = body.op("dot_general", body.op("sine", bx), bw, lhs_contracting=(1,), rhs_contracting=(0,))
    d2 = body.op("dot_general", bx, bw, lhs_contracting=(1,), rhs_contracting=(0,))
    region = body.build([body.op("reduce", body.op("add", d, body.op("tanh", d2)), kind="sum", dimensions=(0, 1))])
    g = b.build(list(b.emit("remat", [x, w], {"policy": "dots_saveable"}, (region,)).results))
    _, saved = stored(g)
    assert [v.type for v in saved] == [TensorType((4, 6), F64)]  # only d2, which tanh' reads
    (fwd,) = [n for n in vjp_graph(g).nodes if n.op.name == "remat" and len(n.operands) == 2]
    assert fwd.regions[0].results[1].node.operands[0].node is None  # the saved dot is d2 = x @ w


@pytest.mark.parametrize("policy,recomputed_dots", [("nothing_saveable", 1), ("dots_saveable", 0)])
def test_backward_region_recomputes_what_is_not_saved(policy, recomputed_dots):
    vg, _ = stored(_layer_graph(policy))
    rem = [n for n in vg.nodes if n.op.name == "remat"]
    assert len(rem) == 2  # the primal call and the backward one
    forward, backward = rem
    assert forward.attrs["policy"] == backward.attrs["policy"] == policy
    names = [n.op.name for n in backward.regions[0].nodes]
    assert "tanh" in names  # the intermediate is recomputed, not stored
    # the two transposed contractions, plus the forward dot when it was not saved
    assert names.count("dot_general") == 2 + recomputed_dots
    verify(vg)
    assert_roundtrip(vg)


def test_optimizing_keeps_the_recomputation_in_its_region():
    from chainrule.passes import optimize
    g = cr.jit(cr.grad(mlp(cnp, cr.checkpoint), argnums=(0, 1))).lower(
        *(cr.Spec(s, F64) for s in ((4, 5), (5, 5), (3, 4)))).graph
    for opt in (0, 2):
        og = optimize(g, opt_level=opt)
        top = [n.op.name for n in og.nodes]
        inner = [n.op.name for n in og.walk()]
        # CSE sees no value across a region boundary: the forward tanh is only ever computed inside remats
        assert "tanh" not in top and "tanh" in inner, top


# --- IR: type rule, text form -------------------------------------------------------------------

def _sine_region(t):
    b = GraphBuilder("body")
    b.build([b.op("sine", b.param(t))])
    return b.build([b.nodes[-1].results[0]])


def test_type_rule_names_what_is_wrong():
    t = TensorType((2,), F64)
    b = GraphBuilder("g")
    x = b.param(t)
    with pytest.raises(IRTypeError, match="checkpointed function parameters"):
        b.emit("remat", [x, x], {}, (_sine_region(t),))
    with pytest.raises(IRTypeError, match="num_tangents=2"):
        b.emit("remat", [x], {"num_tangents": 2}, (_sine_region(t),))
    with pytest.raises(IRTypeError, match="policy"):
        b.emit("remat", [x], {"policy": "dots"}, (_sine_region(t),))


def test_text_form_round_trips_with_policy_and_num_tangents():
    t = TensorType((2,), F64)
    b = GraphBuilder("g")
    x = b.param(t, "x")
    y = b.emit("remat", [x], {"policy": "dots_saveable"}, (_sine_region(t),)).results[0]
    g = b.build([y])
    text = assert_roundtrip(g)
    assert "remat %x {policy=dots_saveable}" in text
    for gg in (vjp_graph(g, seed_ones=True), vjp_graph(parse(text))):
        assert_roundtrip(gg)
    from chainrule.passes.autodiff import jvp_graph
    jt = assert_roundtrip(jvp_graph(g))
    assert "num_tangents=1" in jt


# --- frontend ----------------------------------------------------------------------------------

def test_policy_forms_and_errors(rng):
    w1, w2, x = _args(rng, (3, 3), (3, 3), (2, 3))
    by_name = cr.grad(mlp(cnp, _cr_ckpt("dots_saveable")))(w1, w2, x)
    by_obj = cr.grad(mlp(cnp, _cr_ckpt(cr.checkpoint_policies.dots_saveable)))(w1, w2, x)
    np.testing.assert_array_equal(by_name, by_obj)
    assert cr.remat is cr.checkpoint
    g = cr.trace(mlp(cnp, _cr_ckpt(cr.checkpoint_policies.checkpoint_dots)), *(cr.Spec(s, F64) for s in
                                                                               ((3, 3), (3, 3), (2, 3))))
    assert {n.attrs["policy"] for n in g.nodes if n.op.name == "remat"} == {"dots_saveable"}
    with pytest.raises(ValueError, match="unknown policy 'dots'"):
        cr.checkpoint(np.sin, policy="dots")
    with pytest.raises(NotImplementedError, match="custom policy functions"):
        cr.checkpoint(np.sin, policy=lambda prim, *a, **k: True)


def test_decorator_static_argnums_and_python_scalars(rng):
    (x,) = _args(rng, (3,))

    @cr.checkpoint(static_argnums=(1,))
    def f(v, power, scale):
        return cnp.sum(cnp.sin(v) ** power) * scale

    g = cr.grad(lambda v: f(v, 3, 2.0))(x)
    np.testing.assert_allclose(g, 3 * np.sin(x) ** 2 * np.cos(x) * 2.0, rtol=1e-13)
    graph = cr.trace(lambda v: f(v, 3, 2.0), cr.Spec((3,), "float32"))
    (node,) = [n for n in graph.nodes if n.op.name == "remat"]
    assert len(node.operands) == 1 and graph.results[0].dtype.name == "float32"  # 2.0 stayed weakly typed

    @cr.checkpoint
    def h(v, *, k):
        return v * k

    np.testing.assert_allclose(cr.grad(lambda v: cnp.sum(h(v, k=x)))(x), x)
