"""cr.vmap against jax.vmap on the same functions, its compositions and its errors."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.frontend.core import bind
from chainrule.testing import assert_roundtrip

jax = pytest.importorskip("jax")
jnp = jax.numpy


pytestmark = pytest.mark.usefixtures("jax_x64")


def jjv(*a, **k):
    """jax.vmap, jitted: JAX's eager op-by-op dispatch would dominate the test time."""
    return jax.jit(jax.vmap(*a, **k))


def jjit(transform):
    return lambda *a, **k: jax.jit(transform(*a, **k))


def close(got, want, rtol=1e-12, atol=1e-12):
    got_l, got_t = cr.tree.flatten(got)
    want_l, want_t = jax.tree_util.tree_flatten(want)
    assert len(got_l) == len(want_l), (got_t, want_t)
    for g, w in zip(got_l, want_l):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def poly(x):
    return x ** 4 + 3 * x ** 2 + 2 * x


def test_seed_per_element_gradient():
    xs = np.array([1.0, 2.0, 3.0])
    got = cr.vmap(cr.grad(poly))(xs)
    want = jjv(jax.grad(poly))(xs)
    np.testing.assert_array_equal(got, [12.0, 46.0, 128.0])
    np.testing.assert_array_equal(got, np.asarray(want))


# --- the same functions in chainrule.numpy and jax.numpy -----------------------------------

def pair(body):
    """body(np_module) -> function; returns the chainrule and jax versions."""
    return body(cnp), body(jnp)


FUNCS = {
    "elementwise": (lambda m: lambda x, y: m.tanh(x) * m.exp(-y * y) + 0.5 * x, [(4, 3), (4, 3)]),
    "matvec": (lambda m: lambda w, x: m.tanh(w @ x), [(5, 3), (3,)]),
    "reduce_softmax": (lambda m: lambda x: m.exp(x - m.max(x)) / m.sum(m.exp(x - m.max(x))), [(6,)]),
    "outer_transpose": (lambda m: lambda a, b: m.transpose(m.outer(a, b)).reshape(-1), [(3,), (4,)]),
    "slicing": (lambda m: lambda x: m.concatenate([x[1:3], x[::-1][:2] * 2.0, x[-1:]]), [(5,)]),
    "where_argmax": (lambda m: lambda x: m.where(x > 0, x, 0.1 * x)[m.argmax(x)], [(6,)]),
    "mean_var": (lambda m: lambda x: (m.mean(x, axis=0), m.var(x, axis=1)), [(3, 4)]),
    "broadcast_add": (lambda m: lambda x, b: x + b[:, None], [(3, 4), (3,)]),
    "cumsum_pad": (lambda m: lambda x: m.pad(m.cumsum(x), (1, 2)), [(4,)]),
}


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("axes", ["all0", "first_only", "last"])
def test_against_jax_vmap(name, axes):
    body, shapes = FUNCS[name]
    cf, jf = pair(body)
    rng = np.random.default_rng(1)
    n = len(shapes)
    if axes == "all0":
        in_axes = 0
    elif axes == "first_only":
        in_axes = (0,) + (None,) * (n - 1)
    else:
        in_axes = (-1,) * n
    args = []
    for k, s in enumerate(shapes):
        ax = in_axes if isinstance(in_axes, int) else in_axes[k]
        shape = list(s)
        if ax is not None:
            shape.insert(len(shape) + 1 + ax if ax < 0 else ax, 2)
        args.append(rng.standard_normal(shape))
    close(cr.vmap(cf, in_axes)(*args), jjv(jf, in_axes)(*args))
    close(cr.jit(cr.vmap(cf, in_axes))(*args), jjv(jf, in_axes)(*args))


def test_dynamic_indexing_per_element():
    # per-element index into a shared table and into a per-element array (gather / dynamic_slice)
    table = np.arange(20.0).reshape(5, 4)
    idx = np.array([3, 1, 4, 0], dtype=np.int32)
    cf = lambda t, i: cnp.take(t, i, axis=0) * 2.0  # noqa: E731
    jf = lambda t, i: jnp.take(t, i, axis=0, mode="clip") * 2.0  # noqa: E731
    close(cr.vmap(cf, (None, 0))(table, idx), jjv(jf, (None, 0))(table, idx))
    xs = np.arange(24.0).reshape(4, 6)
    starts = np.array([0, 2, 5, 1], dtype=np.int32)  # 5 is clamped to 3 (jax wraps negative starts first, the IR clamps them)
    cd = lambda x, s: bind("dynamic_slice", x, s, slice_sizes=(3,))  # noqa: E731
    jd = lambda x, s: jax.lax.dynamic_slice(x, (s,), (3,))  # noqa: E731
    close(cr.vmap(cd)(xs, starts), jjv(jd)(xs, starts))
    cu = lambda x, s: bind("dynamic_update_slice", x, np.ones(2), s)  # noqa: E731
    ju = lambda x, s: jax.lax.dynamic_update_slice(x, jnp.ones(2), (s,))  # noqa: E731
    close(cr.vmap(cu)(xs, starts), jjv(ju)(xs, starts))


def test_at_set_and_add_per_element():
    xs = np.zeros((3, 5))
    idx = np.array([[0, 2], [4, 4], [1, 1]], dtype=np.int32)
    vals = np.arange(6.0).reshape(3, 2)
    cf = lambda x, i, v: x.at[i].add(v)  # noqa: E731
    jf = lambda x, i, v: jnp.asarray(x).at[i].add(v)  # noqa: E731
    close(cr.vmap(cf)(xs, idx, vals), jjv(jf)(xs, idx, vals))
    close(cr.vmap(cf, (None, 0, 0))(xs[0], idx, vals), jjv(jf, (None, 0, 0))(xs[0], idx, vals))


# --- per-example gradients -----------------------------------------------------------

def mlp_loss(m, lse):
    def loss(params, x, y):
        h = m.tanh(x @ params["w1"] + params["b1"])
        logits = h @ params["w2"] + params["b2"]
        logp = logits - lse(logits)
        return -m.sum(logp * y)
    return loss


def test_per_example_gradients_match_jax():
    rng = np.random.default_rng(0)
    params = {"w1": rng.standard_normal((5, 8)) * 0.5, "b1": rng.standard_normal(8) * 0.1,
              "w2": rng.standard_normal((8, 3)) * 0.5, "b2": np.zeros(3)}
    x = rng.standard_normal((4, 5))
    y = np.eye(3)[rng.integers(0, 3, 4)]
    closs = mlp_loss(cnp, lambda z: cnp.special.logsumexp(z))
    jloss = mlp_loss(jnp, lambda z: jax.scipy.special.logsumexp(z))
    got = cr.vmap(cr.grad(closs), in_axes=(None, 0, 0))(params, x, y)
    want = jjv(jax.grad(jloss), in_axes=(None, 0, 0))(params, x, y)
    close(got, want)
    assert got["w1"].shape == (4, 5, 8)
    close(cr.jit(cr.vmap(cr.grad(closs), in_axes=(None, 0, 0)))(params, x, y), want)


# --- composition -----------------------------------------------------------------------

def test_vmap_of_vmap_and_axes():
    a = np.random.default_rng(2).standard_normal((2, 3, 4))
    b = np.random.default_rng(3).standard_normal((4, 2))
    cf = lambda u, v: cnp.sum(u * v)  # noqa: E731
    jf = lambda u, v: jnp.sum(u * v)  # noqa: E731
    got = cr.vmap(cr.vmap(cf, in_axes=(0, None)), in_axes=(0, 1))(a, b)
    want = jjv(jax.vmap(jf, in_axes=(0, None)), in_axes=(0, 1))(a, b)
    close(got, want)
    b2 = np.random.default_rng(4).standard_normal((4, 3, 2))
    close(cr.vmap(cr.vmap(cf, in_axes=(1, 0)), in_axes=(2, 0), out_axes=1)(a, b2),
          jjv(jax.vmap(jf, in_axes=(1, 0)), in_axes=(2, 0), out_axes=1)(a, b2))


def test_grad_through_vmap_and_jvp_of_vmap():
    x = np.array([0.3, -1.2, 2.0])
    w = np.array([[1.0, 2.0], [0.5, -1.0], [0.0, 3.0]])

    def cf(x, w):
        return cnp.sum(cr.vmap(lambda xi, wi: cnp.sin(xi) * cnp.sum(wi ** 2))(x, w))

    def jf(x, w):
        return jnp.sum(jax.vmap(lambda xi, wi: jnp.sin(xi) * jnp.sum(wi ** 2))(x, w))

    close(cr.grad(cf, argnums=(0, 1))(x, w), jjit(jax.grad)(jf, argnums=(0, 1))(x, w))
    close(cr.jit(cr.grad(cf))(x, w), jjit(jax.grad)(jf)(x, w))
    close(cr.grad(cr.grad(lambda s: cf(x * s, w)))(1.5), jjit(jax.grad)(jax.grad(lambda s: jf(x * s, w)))(1.5))
    tx = np.ones(3)
    close(cr.jvp(cr.vmap(poly), (x,), (tx,)), jax.jvp(jax.vmap(poly), (x,), (tx,)))
    # vmap of jvp: one tangent per element
    got = cr.vmap(lambda p, t: cr.jvp(poly, (p,), (t,)))(x, x * 2)
    want = jjv(lambda p, t: jax.jvp(poly, (p,), (t,)))(x, x * 2)
    close(got, want)
    # vmap of a hessian-vector style nesting
    close(cr.vmap(cr.grad(cr.grad(poly)))(x), jjv(jax.grad(jax.grad(poly)))(x))


def test_captured_outer_values_are_unbatched():
    x = np.array([1.0, 2.0, 3.0])

    def cf(s):
        return cr.vmap(lambda xi: xi * s + s ** 2)(x)

    def jf(s):
        return jax.vmap(lambda xi: xi * s + s ** 2)(x)

    close(cr.jit(cf)(2.0), jf(2.0))
    close(cr.grad(lambda s: cnp.sum(cf(s)))(2.0), jjit(jax.grad)(lambda s: jnp.sum(jf(s)))(2.0))


def test_pytrees_kwargs_out_axes():
    rng = np.random.default_rng(5)
    tree = {"a": rng.standard_normal((3, 2)), "b": (rng.standard_normal((2, 3)), rng.standard_normal(4))}
    in_axes = ({"a": 0, "b": (1, None)},)

    def body(m):
        return lambda t: {"s": t["a"] * t["b"][0], "n": m.sum(t["b"][1]) + 0 * t["a"][0]}
    cf, jf = pair(body)
    close(cr.vmap(cf, in_axes, out_axes={"s": 1, "n": 0})(tree),
          jjv(jf, in_axes, out_axes={"s": 1, "n": 0})(tree))
    # out_axes None for an output that does not depend on the mapped axis
    got = cr.vmap(lambda u, v: (u * 2.0, v + 1.0), in_axes=(0, None), out_axes=(0, None))(tree["a"], tree["b"][1])
    want = jjv(lambda u, v: (u * 2.0, v + 1.0), in_axes=(0, None), out_axes=(0, None))(tree["a"], tree["b"][1])
    close(got, want)
    # keyword arguments are mapped over axis 0, as in JAX
    close(cr.vmap(lambda u, v: u - v)(tree["a"], v=tree["a"] * 3), jjv(lambda u, v: u - v)(tree["a"], v=tree["a"] * 3))
    # negative in_axes and a list at the top
    close(cr.vmap(lambda u: u * 2.0, in_axes=[-1])(tree["a"]), jjv(lambda u: u * 2.0, in_axes=[-1])(tree["a"]))
    # unmapped results are broadcast
    close(cr.vmap(lambda u: 1.5)(tree["a"]), jjv(lambda u: 1.5)(tree["a"]))
    # nothing mapped, but an axis_size
    close(cr.vmap(lambda u: u + 1.0, in_axes=None, axis_size=2)(tree["b"][1]),
          jjv(lambda u: u + 1.0, in_axes=None, axis_size=2)(tree["b"][1]))


def test_custom_jvp_rule_survives_vmap():
    @cr.custom_jvp
    def f(x):
        return cnp.sin(x)

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), 10.0 * t  # a deliberately different derivative, to see it used

    xs = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(cr.vmap(f)(xs), np.sin(xs), rtol=1e-15)
    np.testing.assert_allclose(cr.vmap(cr.grad(f))(xs), [10.0] * 3)
    np.testing.assert_allclose(cr.grad(lambda v: cnp.sum(cr.vmap(f)(v)))(xs), [10.0] * 3)


# --- text form ------------------------------------------------------------------------

def test_batched_graphs_round_trip():
    closs = mlp_loss(cnp, lambda z: cnp.special.logsumexp(z))
    params = {"w1": cr.Spec((5, 8), "float64"), "b1": cr.Spec((8,), "float64"),
              "w2": cr.Spec((8, 3), "float64"), "b2": cr.Spec((3,), "float64")}
    lowered = cr.jit(cr.vmap(cr.grad(closs), in_axes=(None, 0, 0))).lower(
        params, cr.Spec((4, 5), "float64"), cr.Spec((4, 3), "float64"))
    text = assert_roundtrip(lowered.graph)
    assert "f64[4,5,8]" in text
    g = cr.trace(cr.vmap(lambda x, i: bind("dynamic_slice", x, i, slice_sizes=(2,))), cr.Spec((3, 5), "float32"),
                 cr.Spec((3,), "int32"))
    assert "gather" in assert_roundtrip(g)


# --- errors ------------------------------------------------------------------------------

def test_errors_are_worded_as_in_jax():
    f = lambda x, y: x + y  # noqa: E731
    with pytest.raises(ValueError, match=r"inconsistent sizes for array axes to be mapped:\n  \* one axis had size 3: "
                                         r"axis 0 of argument x of type f64\[3\];\n  \* one axis had size 4"):
        cr.vmap(f)(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match=r"len\(in_axes\)=3, len\(args\)=2"):
        cr.vmap(f, in_axes=(0, 0, 0))(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="map its argument along axis 2, which implies that its rank should be at "
                                         r"least 3, but is only 2 \(its shape is \(3, 3\)\)"):
        cr.vmap(f, in_axes=(2, 0))(np.ones((3, 3)), np.ones(3))
    with pytest.raises(ValueError, match="at least one non-None value in in_axes"):
        cr.vmap(f, in_axes=None)(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="tree prefix of the corresponding value"):
        cr.vmap(lambda t: t["a"], in_axes=({"b": 0},))({"a": np.ones(3)})
    with pytest.raises(TypeError, match="must be an int, None, or"):
        cr.vmap(f, in_axes=(0, "x"))
    with pytest.raises(TypeError, match="a tuple of entries corresponding to the positional arguments"):
        cr.vmap(f, in_axes={"x": 0})
    with pytest.raises(ValueError, match="mapped output but out_axes is None"):
        cr.vmap(lambda x: x * 2.0, out_axes=None)(np.ones(3))
    with pytest.raises(ValueError, match="at least one argument"):
        cr.vmap(lambda: 1.0)()


def test_control_flow_under_vmap_matches_jax():
    xs = np.array([0.5, -1.0, 2.0, 3.5])
    ns = np.array([0, 3, 1, 5], dtype=np.int32)

    def c_cond(x):
        return cr.cond(x > 0, lambda v: v * v, lambda v: -v, x)

    def j_cond(x):
        return jax.lax.cond(x > 0, lambda v: v * v, lambda v: -v, x)

    close(cr.vmap(c_cond)(xs), jjv(j_cond)(xs))

    def c_while(x, n):
        return cr.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 0.5 + 1.0), (0, x))[1]

    def j_while(x, n):
        return jax.lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 0.5 + 1.0), (0, x))[1]

    close(cr.vmap(c_while)(xs, ns), jjv(j_while)(xs, ns))  # a trip count per element
    close(cr.vmap(c_while, (0, None))(xs, np.int32(3)), jjv(j_while, (0, None))(xs, np.int32(3)))

    def c_scan(w, seq):
        return cr.scan(lambda h, x: (cnp.tanh(h * w + x), h * 2.0), np.float64(0.0), seq)

    def j_scan(w, seq):
        return jax.lax.scan(lambda h, x: (jnp.tanh(h * w + x), h * 2.0), np.float64(0.0), seq)

    seq = np.linspace(-1, 1, 12).reshape(4, 3)
    close(cr.vmap(c_scan, (0, 1))(xs[:3], seq), jjv(j_scan, (0, 1))(xs[:3], seq))
    close(cr.vmap(c_scan, (0, None))(xs, seq[:, 0]), jjv(j_scan, (0, None))(xs, seq[:, 0]))
    # per-example gradients through a scan
    loss_c = lambda w, s: cnp.sum(c_scan(w, s)[1])  # noqa: E731
    loss_j = lambda w, s: jnp.sum(j_scan(w, s)[1])  # noqa: E731
    close(cr.vmap(cr.grad(loss_c), (0, 1))(xs[:3], seq), jjv(jax.grad(loss_j), (0, 1))(xs[:3], seq))


def test_custom_vjp_rule_survives_vmap():
    @cr.custom_vjp
    def f(x):
        return cnp.sin(x)

    def f_fwd(x):
        return cnp.sin(x), x

    def f_bwd(x, ct):
        return (ct * 7.0 + 0.0 * x,)  # a deliberately different derivative, to see it used

    f.defvjp(f_fwd, f_bwd)
    xs = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(cr.vmap(f)(xs), np.sin(xs), rtol=1e-15)
    np.testing.assert_allclose(cr.vmap(cr.grad(f))(xs), [7.0] * 3)
    np.testing.assert_allclose(cr.grad(lambda v: cnp.sum(cr.vmap(f)(v)))(xs), [7.0] * 3)
    np.testing.assert_allclose(cr.jit(cr.grad(lambda v: cnp.sum(cr.vmap(f)(v * v))))(xs), 14.0 * xs)


def test_traced_vmap_keeps_constants_symbolic():
    # inside a trace, a constant the rules broadcast along the batch stays a scalar + broadcast_in_dim,
    # never a dense batch-sized literal in the graph
    g = cr.trace(cr.vmap(lambda x: x * 2.0 + cnp.arange(3.0)), cr.Spec((128, 3), "float64"))
    consts = [n.results[0].type for n in g.nodes if n.op.name == "constant"]
    assert consts and all(128 not in t.shape for t in consts), consts
    np.testing.assert_array_equal(cr.jit(g)(np.ones((128, 3)))[0], np.ones((128, 3)) * 2 + np.arange(3.0))


def test_unmapped_python_scalars_stay_weakly_typed():
    x32 = np.ones(3, np.float32)
    for s in (2.0, 3, True):
        got = cr.vmap(lambda x, s: x * s, in_axes=(0, None))(x32, s)
        want = jax.vmap(lambda x, s: x * s, in_axes=(0, None))(x32, s)
        assert got.dtype == want.dtype == np.float32
        np.testing.assert_array_equal(got, want)
    got = cr.vmap(lambda s, i: i + s, in_axes=(None, 0))(2, np.arange(3, dtype=np.int32))
    assert got.dtype == np.int32


def test_vmap_of_jit_and_deep_nesting():
    x = np.arange(6.0).reshape(2, 3)
    close(cr.vmap(cr.jit(lambda v: cnp.sin(v) * 2.0))(x), jjv(jax.jit(lambda v: jnp.sin(v) * 2.0))(x))
    close(cr.vmap(cr.vmap(cr.grad(lambda v: v ** 3)))(x), jjv(jax.vmap(jax.grad(lambda v: v ** 3)))(x))
    close(cr.jit(cr.vmap(cr.vmap(cr.grad(lambda v: v ** 3)), in_axes=1))(x),
          jjv(jax.vmap(jax.grad(lambda v: v ** 3)), in_axes=1)(x))
