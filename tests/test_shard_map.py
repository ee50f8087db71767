"""shard_map and the collectives on the reference backend's simulated mesh (the oracle of their
semantics): values against NumPy written per device, derivatives against the same computation
written without shard_map and against finite differences; vmap with axis_name against jax.vmap."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule import sharding as sh
from chainrule.sharding import P

MESH = sh.make_mesh((2, 4), ("data", "model"))
RNG = np.random.default_rng(1)
X = RNG.normal(size=(8, 8))


def _blocks(x, rows=2, cols=4):
    """Device (i, j)'s block of x split as P("data", "model")."""
    r, c = x.shape[0] // rows, x.shape[1] // cols
    return {(i, j): x[i * r:(i + 1) * r, j * c:(j + 1) * c] for i in range(rows) for j in range(cols)}


def _ref(fn, in_specs=P("data", "model"), out_specs=P("data", "model"), x=X):
    return cr.jit(sh.shard_map(fn, mesh=MESH, in_specs=in_specs, out_specs=out_specs), backend="reference")(x)


def test_psum_pmax_pmin_and_axis_index_per_device():
    b = _blocks(X)
    got = _ref(lambda v: sh.psum(v, "model"))
    want = np.block([[sum(b[i, k] for k in range(4))] * 4 for i in range(2)])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    got = _ref(lambda v: sh.pmax(v, "data") - sh.pmin(v, "data"))
    want = np.block([[np.maximum(b[0, j], b[1, j]) - np.minimum(b[0, j], b[1, j]) for j in range(4)]] * 2)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    got = _ref(lambda v: v * 0 + sh.axis_index(("data", "model")))
    want = np.block([[np.full((4, 2), 4 * i + j) for j in range(4)] for i in range(2)])
    np.testing.assert_array_equal(got, want)


def test_gathers_scatters_and_permutations_per_device():
    b = _blocks(X)
    got = _ref(lambda v: sh.all_gather(v, "model", axis=1, tiled=True), out_specs=P("data"))
    np.testing.assert_array_equal(got, X)
    got = _ref(lambda v: sh.all_gather(v, "model"), out_specs=P(None, "data"))  # stacked: [4, rows, cols]
    np.testing.assert_array_equal(got, np.concatenate([np.stack([b[i, j] for j in range(4)]) for i in range(2)], 1))
    # reduce-scatter: the sum over "model" of the [4, 8] row blocks, device j keeping columns 2j:2j+2
    got = _ref(lambda v: sh.psum_scatter(v, "model", scatter_dimension=1, tiled=True), in_specs=P("data"))
    rows = [X[i * 4:(i + 1) * 4] * 4 for i in range(2)]  # every "model" device holds the same rows
    np.testing.assert_allclose(got, np.concatenate(rows), rtol=1e-12)
    got = _ref(lambda v: sh.ppermute(v, "model", [(0, 1), (1, 2), (2, 3)]))
    want = np.block([[np.zeros((4, 2))] + [b[i, j - 1] for j in range(1, 4)] for i in range(2)])
    np.testing.assert_array_equal(got, want)
    # all_to_all: device j cuts its [4, 8] rows into 4 column blocks and sends block k to device k
    got = _ref(lambda v: sh.all_to_all(v, "model", 1, 0, tiled=True), in_specs=P("data"), out_specs=P("data", "model"))
    for i in range(2):
        for k in range(4):
            blk = got[i * 16:(i + 1) * 16, k * 2:(k + 1) * 2]
            np.testing.assert_array_equal(blk, np.concatenate([X[i * 4:(i + 1) * 4, k * 2:(k + 1) * 2]] * 4))


def test_replicated_results_and_closed_over_values():
    y = RNG.normal(size=(4,))

    def f(v):  # y is captured from the enclosing trace: an extra, replicated operand
        return sh.psum(cnp.sum(v, axis=0) * y[0], ("data", "model"))
    got = cr.jit(lambda v: sh.shard_map(f, mesh=MESH, in_specs=P("data", "model"), out_specs=P("model"))(v),
                 backend="reference")(X)
    col = sum(X[i * 4:(i + 1) * 4].sum(0) for i in range(2)) * y[0]
    np.testing.assert_allclose(got, np.tile(col.reshape(4, 2).sum(0), 4), rtol=1e-12)


# --- derivatives: shard_map'ped code against the same math on one device --------------------------------

def _tp_loss(w1, w2, x):
    def local(w1, w2, x):
        h = cnp.tanh(x @ w1)
        y = sh.psum(h @ w2, "model")
        return sh.pmean(cnp.mean(y ** 2), "data")
    return sh.shard_map(local, mesh=MESH, in_specs=(P(None, "model"), P("model"), P("data")), out_specs=P())(w1, w2, x)


def _plain_loss(w1, w2, x):
    return cnp.mean((cnp.tanh(x @ w1) @ w2) ** 2)


ARGS = (RNG.normal(size=(3, 8)), RNG.normal(size=(8, 2)), RNG.normal(size=(4, 3)))


def test_grad_of_shard_map_equals_grad_on_one_device():
    got = cr.jit(cr.value_and_grad(_tp_loss, argnums=(0, 1, 2)), backend="reference")(*ARGS)
    want = cr.jit(cr.value_and_grad(_plain_loss, argnums=(0, 1, 2)), backend="reference")(*ARGS)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    for a, b in zip(got[1], want[1]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_jvp_and_finite_differences_of_shard_map():
    cr.check_grads(lambda a, b: _tp_loss(a, b, ARGS[2]), ARGS[:2], order=1, modes=("fwd", "rev"))
    t = tuple(RNG.normal(size=a.shape) for a in ARGS)
    got = cr.jit(lambda *a: cr.jvp(_tp_loss, a[:3], a[3:]), backend="reference")(*ARGS, *t)
    want = cr.jit(lambda *a: cr.jvp(_plain_loss, a[:3], a[3:]), backend="reference")(*ARGS, *t)
    np.testing.assert_allclose(got, want, rtol=1e-10)


@pytest.mark.parametrize("name,fn,ins,outs", [
    ("all_gather", lambda v: sh.all_gather(v, "model", axis=1, tiled=True), P("data", "model"), P("data")),
    ("psum_scatter", lambda v: sh.psum_scatter(v, "model", scatter_dimension=1, tiled=True), P("data"),
     P("data", "model")),
    ("all_to_all", lambda v: sh.all_to_all(v, "model", 1, 0, tiled=True), P("data"), P("data", "model")),
    ("ppermute", lambda v: sh.ppermute(v, "model", [(0, 1), (1, 2), (2, 3), (3, 0)]), P("data", "model"),
     P("data", "model")),
])
def test_transposes_of_collectives_against_finite_differences(name, fn, ins, outs):
    sm = sh.shard_map(lambda v: cnp.sin(fn(v)), mesh=MESH, in_specs=ins, out_specs=outs)
    c = RNG.normal(size=cr.jit(sm, backend="reference")(X).shape)
    cr.check_grads(lambda v: cnp.sum(sm(v) * c), (X,), order=1, modes=("rev",))


# --- vmap with axis_name, against jax.vmap ----------------------------------------------------------------

def _jax_pair():
    jax = pytest.importorskip("jax")
    return jax, jax.lax


@pytest.mark.parametrize("case", ["psum", "pmean", "pmax", "all_gather", "all_gather_tiled", "axis_index",
                                  "psum_scatter", "ppermute", "grad"])
def test_vmap_axis_name_matches_jax(case):
    jax, lax = _jax_pair()
    x = RNG.normal(size=(4, 6))
    perm = [(0, 2), (2, 1), (1, 3), (3, 0)]
    ours, theirs = {
        "psum": (lambda v: v * sh.psum(v, "b"), lambda v: v * lax.psum(v, "b")),
        "pmean": (lambda v: v - sh.pmean(v, "b"), lambda v: v - lax.pmean(v, "b")),
        "pmax": (lambda v: sh.pmax(v, "b") + sh.pmin(v, "b"), lambda v: lax.pmax(v, "b") + lax.pmin(v, "b")),
        "all_gather": (lambda v: sh.all_gather(v, "b", axis=1), lambda v: lax.all_gather(v, "b", axis=1)),
        "all_gather_tiled": (lambda v: sh.all_gather(v, "b", tiled=True), lambda v: lax.all_gather(v, "b", tiled=True)),
        "axis_index": (lambda v: v * sh.axis_index("b"), lambda v: v * lax.axis_index("b")),
        "psum_scatter": (lambda v: sh.psum_scatter(v[:4], "b"),
                         lambda v: lax.psum_scatter(v[:4].reshape(4), "b")),
        "ppermute": (lambda v: sh.ppermute(v, "b", perm), lambda v: lax.ppermute(v, "b", perm)),
        "grad": (cr.grad(lambda v: cnp.sum((v - sh.pmean(v, "b")) ** 2)),
                 jax.grad(lambda v: ((v - lax.pmean(v, "b")) ** 2).sum())),
    }[case]
    with jax.enable_x64(True):
        want = np.asarray(jax.vmap(theirs, axis_name="b")(x))
    for backend in ("reference", "llvm"):
        if backend in cr.backends.available_backends():
            got = cr.jit(cr.vmap(ours, axis_name="b"), backend=backend)(x)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=backend)


def test_vmap_of_a_shard_map_maps_over_a_new_unsplit_dimension():
    def f(v):
        return sh.all_gather(sh.psum(v, "data"), "model", axis=1, tiled=True)
    sm = sh.shard_map(f, mesh=MESH, in_specs=P("data", "model"), out_specs=P())
    xs = RNG.normal(size=(3, 8, 8))
    got = cr.jit(cr.vmap(sm), backend="reference")(xs)
    want = np.stack([cr.jit(sm, backend="reference")(x) for x in xs])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    g = cr.trace(cr.vmap(sm), xs)
    (node,) = [n for n in g.walk() if n.op.name == "shard_map"]
    assert node.attrs["in_specs"] == ((None, "data", "model"),) and node.attrs["out_specs"] == ((None,),)


def test_second_derivative_through_shard_map():
    f = lambda w: _tp_loss(w, ARGS[1], ARGS[2])  # noqa: E731
    plain = lambda w: _plain_loss(w, ARGS[1], ARGS[2])  # noqa: E731
    v = RNG.normal(size=ARGS[0].shape)
    hv = cr.jit(lambda w: cr.jvp(cr.grad(f), (w,), (v,))[1], backend="reference")(ARGS[0])
    want = cr.jit(lambda w: cr.jvp(cr.grad(plain), (w,), (v,))[1], backend="reference")(ARGS[0])
    np.testing.assert_allclose(hv, want, rtol=1e-9, atol=1e-12)
