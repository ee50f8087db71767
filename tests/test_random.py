"""chainrule.random against the installed jax.random: the same key gives the same bits.

Samplers made only of integer ops and exact float scaling (bits, uniform, bernoulli, randint,
permutation, choice, split, fold_in, the uniform initializers) must equal JAX bit for bit; those that
pass a draw through a transcendental (normal, gumbel, exponential, gamma, ...) agree to a few ulps.
Every sampler also passes a statistical check on 10**5 draws, runs inside jit on every backend and
batches under vmap.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.random as cra

jax = pytest.importorskip("jax")
jr = jax.random
pytestmark = pytest.mark.usefixtures("jax_x64")

BACKENDS = [b for b in ("llvm", "jax", "reference") if b in cr.backends.available_backends()] \
    if hasattr(cr, "backends") else ["reference"]


def exact(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.dtype == b.dtype or (a.dtype.kind in "iu" and b.dtype.kind in "iu"), (a.dtype, b.dtype)
    np.testing.assert_array_equal(a, b)


def close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    f32 = a.dtype == np.float32
    np.testing.assert_allclose(a, b, rtol=2e-5 if f32 else 1e-12, atol=1e-6 if f32 else 1e-14)


@pytest.mark.parametrize("seed", [0, 1, 42, -1, -(2 ** 63), 2 ** 40 + 5, 2 ** 63 - 1, np.int32(-7), np.int64(123)])
def test_key_from_seed_as_jax_x64(seed):
    k = cra.PRNGKey(seed)
    exact(k, jr.PRNGKey(seed))
    assert np.asarray(k).shape == (2,)
    exact(cra.key_data(cra.key(seed)), jr.PRNGKey(seed))


def test_split_and_fold_in_as_jax():
    assert jax.config.jax_threefry_partitionable  # JAX's default since 0.5: the mode reproduced here
    k, ck = jr.PRNGKey(42), cra.PRNGKey(42)
    exact(cra.split(ck), jr.split(k))
    exact(cra.split(ck, 5), jr.split(k, 5))
    exact(cra.split(ck, (2, 3)), jr.split(k, (2, 3)))
    for d in (0, 7, 2 ** 32 - 1, -3):
        exact(cra.fold_in(ck, d), jr.fold_in(k, d & 0xFFFFFFFF))
    nested = cra.split(cra.fold_in(cra.split(ck)[1], 3), 4)[2]
    exact(nested, jr.split(jr.fold_in(jr.split(k)[1], 3), 4)[2])


@pytest.mark.parametrize("shape", [(), (2, 3, 4)])
def test_bits_and_uniform_bit_exact(shape):
    k, ck = jr.PRNGKey(7), cra.PRNGKey(7)
    exact(cra.bits(ck, shape, "uint32"), jr.bits(k, shape, dtype="uint32"))
    exact(cra.bits(ck, shape), jr.bits(k, shape))  # uint64, as JAX with x64
    exact(cra.bits(ck, shape, "uint8"), jr.bits(k, shape, dtype="uint8"))
    for dt in ("float32", "float64"):
        exact(cra.uniform(ck, shape, dt), jr.uniform(k, shape, dt))


def test_uniform_bounds_and_default_dtype():
    k, ck = jr.PRNGKey(1), cra.PRNGKey(1)
    # minval + u * (maxval - minval): XLA may fuse the multiply-add, so allow one rounding
    close(cra.uniform(ck, (50,), "float32", -2.0, 3.0), jr.uniform(k, (50,), "float32", -2.0, 3.0))
    u = cra.uniform(ck, (1000,), minval=np.full((1000,), 5.0), maxval=5.5)
    assert u.dtype == np.float64 and (u >= 5.0).all() and (u < 5.5).all()


def test_integer_samplers_bit_exact():
    k, ck = jr.PRNGKey(5), cra.PRNGKey(5)
    exact(cra.bernoulli(ck, 0.3, (64,)), jr.bernoulli(k, 0.3, (64,)))
    exact(cra.randint(ck, (3, 7), -1000, 123457, "int32"), jr.randint(k, (3, 7), -1000, 123457, "int32"))
    exact(cra.randint(ck, (64,), 0, 10, "int64"), jr.randint(k, (64,), 0, 10, "int64"))


@pytest.mark.slow
def test_integer_samplers_bit_exact_edges():
    k, ck = jr.PRNGKey(5), cra.PRNGKey(5)
    exact(cra.bernoulli(ck, np.array([0.1, 0.9], np.float32)), jr.bernoulli(k, np.array([0.1, 0.9], np.float32)))
    for dt in ("int32", "int64"):
        exact(cra.randint(ck, (64,), 0, 10, dt), jr.randint(k, (64,), 0, 10, dt))
        exact(cra.randint(ck, (3, 7), -1000, 123457, dt), jr.randint(k, (3, 7), -1000, 123457, dt))
        exact(cra.randint(ck, (8,), 5, 2, dt), jr.randint(k, (8,), 5, 2, dt))  # empty range gives minval
    exact(cra.randint(ck, (64,), -2 ** 31, 2 ** 31 - 1, "int32"), jr.randint(k, (64,), -2 ** 31, 2 ** 31 - 1, "int32"))
    exact(cra.randint(ck, (64,), 0, 2 ** 31, "int32"), jr.randint(k, (64,), 0, 2 ** 31, "int32"))  # maxval past int32
    exact(cra.randint(ck, (4,), np.array([0, 10, 20, 30]), 40), jr.randint(k, (4,), np.array([0, 10, 20, 30]), 40))
    exact(cra.randint(ck, (50,), -2 ** 62, 2 ** 62, "int64"), jr.randint(k, (50,), -2 ** 62, 2 ** 62, "int64"))
    for dt in ("int8", "uint8", "int16", "uint32", "uint64"):  # narrow ones are drawn at 32 bits, as JAX does
        info = np.iinfo(dt)
        exact(cra.randint(ck, (20,), 0, 10, dt), jr.randint(k, (20,), 0, 10, dt))
        hi = int(min(info.max, 2 ** 63 - 1))
        exact(cra.randint(ck, (20,), int(info.min), hi, dt), jr.randint(k, (20,), int(info.min), hi, dt))
    exact(cra.randint(ck, (20,), -5, 300, "int8"), jr.randint(k, (20,), -5, 300, "int8"))


def test_permutation_and_choice_bit_exact():
    k, ck = jr.PRNGKey(9), cra.PRNGKey(9)
    exact(cra.permutation(ck, 10), jr.permutation(k, 10))
    x = np.arange(12.0).reshape(3, 4)
    exact(cra.permutation(ck, x, axis=1), jr.permutation(k, x, axis=1))
    exact(cra.choice(ck, 10, (4,)), jr.choice(k, 10, (4,)))


@pytest.mark.slow
def test_permutation_and_choice_bit_exact_more():
    k, ck = jr.PRNGKey(9), cra.PRNGKey(9)
    exact(cra.permutation(ck, 2000), jr.permutation(k, 2000))  # two sort rounds
    x = np.arange(12.0).reshape(3, 4)
    exact(cra.permutation(ck, x), jr.permutation(k, x))
    exact(cra.permutation(ck, x, axis=1, independent=True), jr.permutation(k, x, axis=1, independent=True))
    exact(cra.choice(ck, x, (2,), replace=False, axis=1), jr.choice(k, x, (2,), replace=False, axis=1))
    p = np.array([0.1, 0.2, 0.3, 0.4])
    exact(cra.choice(ck, 4, (20,), p=p), jr.choice(k, 4, (20,), p=p))
    exact(cra.choice(ck, x, (2, 2)), jr.choice(k, x, (2, 2)))
    exact(cra.choice(ck, 4, (3,), replace=False, p=p), jr.choice(k, 4, (3,), replace=False, p=p))
    exact(cra.choice(ck, x, (2,), replace=False, p=p, axis=1), jr.choice(k, x, (2,), replace=False, p=p, axis=1))


def test_normal_and_categorical_close_to_jax():
    k, ck = jr.PRNGKey(11), cra.PRNGKey(11)
    close(cra.normal(ck, (200,), "float32"), jr.normal(k, (200,), "float32"))
    lg = np.log(np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]]))
    exact(cra.categorical(ck, lg), jr.categorical(k, lg))


@pytest.mark.slow
@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_transcendental_samplers_close_to_jax(dt):
    k, ck = jr.PRNGKey(11), cra.PRNGKey(11)
    close(cra.normal(ck, (200,), dt), jr.normal(k, (200,), dt))
    close(cra.gumbel(ck, (200,), dt), jr.gumbel(k, (200,), dt))
    close(cra.exponential(ck, (200,), dt), jr.exponential(k, (200,), dt))
    close(cra.laplace(ck, (200,), dt), jr.laplace(k, (200,), dt))
    close(cra.logistic(ck, (200,), dt), jr.logistic(k, (200,), dt))
    close(cra.truncated_normal(ck, -1.0, 2.0, (200,), dt), jr.truncated_normal(k, -1.0, 2.0, (200,), dt))
    lg = np.log(np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]], dt))
    exact(cra.categorical(ck, lg), jr.categorical(k, lg))
    exact(cra.categorical(ck, lg, axis=0, shape=(5, 3)), jr.categorical(k, lg, axis=0, shape=(5, 3)))


@pytest.mark.slow
@pytest.mark.parametrize("a", [0.3, 1.0, 4.0])
def test_gamma_follows_jax(a):
    """JAX's Marsaglia-Tsang loop and key schedule: the draws agree to rounding (not bit for bit)."""
    k, ck = jr.PRNGKey(3), cra.PRNGKey(3)
    g = cra.gamma(ck, a, (50,), "float64")
    np.testing.assert_allclose(g, jr.gamma(k, a, (50,), "float64"), rtol=1e-9)
    assert g.dtype == np.float64 and (g > 0).all()


N = 10 ** 5


def _moments(x, mean, var, what):
    x = np.asarray(x, np.float64)
    se_mean = np.sqrt(var / x.size)
    assert abs(x.mean() - mean) < 6 * se_mean + 1e-12, f"{what}: mean {x.mean()} vs {mean}"
    assert abs(x.var() / var - 1) < 0.05, f"{what}: variance {x.var()} vs {var}"


def test_statistics_of_10_5_draws():
    fns = {
        "uniform": (lambda k: cra.uniform(k, (N,), minval=-1.0, maxval=3.0), 1.0, 16 / 12),
        "normal": (lambda k: cra.normal(k, (N,)), 0.0, 1.0),
        "truncated_normal": (lambda k: cra.truncated_normal(k, -1.0, 1.0, (N,)), 0.0, 0.2911312),
        "bernoulli": (lambda k: cra.bernoulli(k, 0.3, (N,)).astype(np.float64), 0.3, 0.21),
        "randint": (lambda k: cra.randint(k, (N,), 0, 10), 4.5, 8.25),
        "gumbel": (lambda k: cra.gumbel(k, (N,)), 0.5772156649, np.pi ** 2 / 6),
        "exponential": (lambda k: cra.exponential(k, (N,)), 1.0, 1.0),
        "laplace": (lambda k: cra.laplace(k, (N,)), 0.0, 2.0),
        "logistic": (lambda k: cra.logistic(k, (N,)), 0.0, np.pi ** 2 / 3),
        "gamma": (cr.jit(lambda k: cra.gamma(k, 2.5, (N,))), 2.5, 2.5),  # a vmapped while loop: compiled
        "categorical": (lambda k: cra.categorical(k, np.log(np.array([0.2, 0.3, 0.5])), shape=(N,)), 1.3, 0.61),
        "choice_p": (lambda k: cra.choice(k, 3, (N,), p=np.array([0.2, 0.3, 0.5])), 1.3, 0.61),
    }
    key = cra.PRNGKey(2024)
    for i, (name, (fn, mean, var)) in enumerate(fns.items()):
        draws = fn(cra.fold_in(key, i))  # eager: NumPy-speed draws, no compile per sampler
        _moments(draws, mean, var, name)
    p = cra.permutation(key, 1000)
    assert sorted(np.asarray(p)) == list(range(1000))


@pytest.mark.parametrize("backend", BACKENDS)
def test_jit_on_every_backend_gives_the_same_bits(backend):
    k, ck = jr.PRNGKey(42), cra.PRNGKey(42)

    def f(key, seed):
        a, b = cra.split(key)
        return (cra.uniform(a, (300,)), cra.randint(b, (10,), 0, 7), cra.normal(key, (5,), "float32"),
                cra.PRNGKey(seed), cra.fold_in(key, seed))

    u, r, n, s, fo = cr.jit(f, backend=backend)(ck, np.int64(-5))
    a, b = jr.split(k)
    exact(u, jr.uniform(a, (300,)))
    exact(r, jr.randint(b, (10,), 0, 7))
    close(n, jr.normal(k, (5,), "float32"))
    exact(s, jr.PRNGKey(-5))
    exact(fo, jr.fold_in(k, np.uint32(2 ** 32 - 5)))


def test_vmap_over_keys_and_grad_around_draws():
    k, ck = jr.PRNGKey(4), cra.PRNGKey(4)
    v = cr.vmap(lambda kk: cra.uniform(kk, (4,)))(cra.split(ck, 3))
    exact(v, jax.vmap(lambda kk: jr.uniform(kk, (4,)))(jr.split(k, 3)))
    r = cr.jit(cr.vmap(lambda kk: cra.randint(kk, (4,), 0, 9)))(cra.split(ck, 3))
    exact(r, jax.vmap(lambda kk: jr.randint(kk, (4,), 0, 9))(jr.split(k, 3)))
    exact(cr.vmap(lambda d: cra.fold_in(ck, d))(np.arange(3)), jax.vmap(lambda d: jr.fold_in(k, d))(np.arange(3)))
    # reparameterised sampling differentiates through the parameters, not the bits
    g = cr.grad(lambda mu, s: (mu + s * cra.normal(ck, (100,))).sum(), argnums=(0, 1))(1.0, 2.0)
    np.testing.assert_allclose(g[0], 100.0)
    np.testing.assert_allclose(g[1], np.asarray(cra.normal(ck, (100,))).sum(), rtol=1e-12)
    gu = cr.grad(lambda hi: cra.uniform(ck, (10,), minval=0.0, maxval=hi).sum())(2.0)
    np.testing.assert_allclose(gu, np.asarray(cra.uniform(ck, (10,))).sum(), rtol=1e-12)


def test_bad_arguments_name_what_is_wrong():
    ck = cra.PRNGKey(0)
    with pytest.raises(TypeError, match="raw key"):
        cra.uniform(np.zeros(3, np.uint32), (2,))
    with pytest.raises(TypeError, match="scalar"):
        cra.PRNGKey(np.arange(2))
    with pytest.raises(TypeError, match="integer"):
        cra.PRNGKey(1.5)
    with pytest.raises(ValueError, match="float dtype"):
        cra.normal(ck, (2,), "int32")
    with pytest.raises(ValueError, match="non-negative"):
        cra.uniform(ck, (-1,))
    with pytest.raises(ValueError, match="population"):
        cra.choice(ck, 3, (5,), replace=False)
    with pytest.raises(TypeError, match="integer dtypes"):
        cra.randint(ck, (2,), 0, 3, "float32")
    with pytest.raises(ValueError, match="broadcast"):
        cra.uniform(ck, (3,), minval=np.zeros(4))


def test_numpy_random_on_a_traced_value_points_to_chainrule_random():
    for f in (lambda x: np.random.normal(x), lambda x: np.random.uniform(0.0, x, size=(3,)),
              lambda x: np.random.default_rng(0).normal(x)):
        with pytest.raises(TypeError, match="chainrule.random"):
            cr.jit(f)(np.float64(0.5))
