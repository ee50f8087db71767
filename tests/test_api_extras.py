"""eval_shape, make_jaxpr, linearize, jacobian, block_until_ready, device_put, config, debug.print."""

import re

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp

jax = pytest.importorskip("jax")
jnp = jax.numpy

pytestmark = pytest.mark.usefixtures("jax_x64")


def test_eval_shape_like_jax():
    f = lambda x, y: {"a": x @ y, "b": cnp.sum(x, axis=0)}  # noqa: E731
    jf = lambda x, y: {"a": x @ y, "b": jnp.sum(x, axis=0)}  # noqa: E731
    args = (jax.ShapeDtypeStruct((2, 3), np.float32), jax.ShapeDtypeStruct((3, 4), np.float32))
    got, want = cr.eval_shape(f, *args), jax.eval_shape(jf, *args)
    for k in ("a", "b"):
        assert got[k].shape == want[k].shape and got[k].dtype.np == want[k].dtype
    assert cr.eval_shape(f, cr.Spec((2, 3), "float64"), np.ones((3, 1)))["a"] == cr.Spec((2, 1), "float64")


def test_make_jaxpr_prints_the_graph():
    g = cr.make_jaxpr(lambda x, n: x ** n, static_argnums=1)(np.ones(2), 3)
    assert isinstance(g, cr.Graph)
    assert str(g) == str(cr.trace(lambda x: x ** 3, np.ones(2)))


def test_linearize_like_jax():
    f = lambda x: cnp.sin(x) * x  # noqa: E731
    x, t = np.array([0.5, 1.0]), np.array([1.0, -2.0])
    y, f_jvp = cr.linearize(f, x)
    jy, jf_jvp = jax.linearize(lambda x: jnp.sin(x) * x, x)
    np.testing.assert_allclose(y, jy, rtol=1e-12)
    np.testing.assert_allclose(f_jvp(t), jf_jvp(t), rtol=1e-12)
    np.testing.assert_allclose(cr.jit(lambda x, t: cr.linearize(f, x)[1](t))(x, t), jf_jvp(t), rtol=1e-12)


def test_jacobian_is_jacrev():
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(cr.jacobian(lambda x: x[:2] * x[1:])(x), jax.jacobian(lambda x: x[:2] * x[1:])(x))


def test_block_until_ready_and_device_put():
    tree = {"a": np.ones(2), "b": [np.float16(1)]}
    assert cr.block_until_ready(tree) is tree
    put = cr.device_put(tree)
    assert put["b"][0].dtype == np.float16 and isinstance(put["a"], np.ndarray)  # a chainrule dtype: kept
    on = cr.device_put(np.ones(3), "cpu")
    assert isinstance(on, jax.Array) and on.dtype == np.float64
    assert cr.block_until_ready(on) is on


@pytest.fixture
def float32_default():
    cr.config.update("default_dtype", "float32")
    yield
    cr.config.update("jax_enable_x64", True)


def test_default_dtype_float32(float32_default):
    assert cr.config.default_dtype == "float32"
    assert cr.jit(lambda x: x * 2)(1.0).dtype == np.float32
    assert cnp.zeros(3).dtype == cnp.ones((2,)).dtype == cnp.eye(2).dtype == np.float32
    assert cnp.sin(1).dtype == cnp.mean(np.arange(3)).dtype == np.float32
    assert cr.grad(lambda x: x ** 2)(3.0).dtype == np.float32
    assert cr.jit(lambda: cnp.zeros(2))().dtype == np.float32
    assert cnp.zeros_like(np.ones(2)).dtype == np.float64  # arrays keep their dtype
    assert cr.jit(lambda x: x + 1.0)(np.ones(2)).dtype == np.float64


def test_jax_enable_x64_false_like_jax(float32_default):
    cr.config.update("jax_enable_x64", False)
    assert not cr.config.jax_enable_x64
    assert cr.jit(lambda x: x * 2)(1).dtype == np.int32
    assert cnp.arange(3).dtype == np.int32 and cnp.arange(3.0).dtype == np.float32
    cr.config.update("jax_enable_x64", True)
    assert cr.jit(lambda x: x * 2)(1.0).dtype == np.float64 and cnp.zeros(2).dtype == np.float64
    with pytest.raises(KeyError, match="unknown config option"):
        cr.config.update("jax_platform_name", "cpu")
    with pytest.raises(ValueError, match="float32"):
        cr.config.update("default_dtype", "int32")


@pytest.mark.parametrize("backend", ["llvm", "reference", "jax"])
def test_debug_print_inside_jit_prints_run_time_values(backend, capsys):
    def f(x, n):
        y = cnp.sin(x)
        cr.debug.print("y = {y}, n = {}", n, y=y)
        return y * 2
    g = cr.jit(f, backend=backend)
    for v in (0.5, 1.0):
        out = g(np.array([v, 0.0]), 3)
        np.testing.assert_allclose(out, [2 * np.sin(v), 0.0])
        assert capsys.readouterr().out == f"y = {np.array([np.sin(v), 0.0])}, n = 3\n"
    assert g.trace_count == 1  # printed on every call, traced once


def test_debug_print_eager_and_in_grad(capsys):
    cr.debug.print("x = {}", np.arange(2))
    assert capsys.readouterr().out == "x = [0 1]\n"
    loss = lambda x: (cr.debug.print("loss input {x}", x=x), cnp.sum(x ** 2))[1]  # noqa: E731
    np.testing.assert_allclose(cr.grad(loss)(np.array([1.0, 2.0])), [2.0, 4.0])
    assert capsys.readouterr().out == "loss input [1. 2.]\n"
    np.testing.assert_allclose(cr.jit(cr.grad(loss))(np.array([3.0, 4.0])), [6.0, 8.0])
    assert capsys.readouterr().out == "loss input [3. 4.]\n"


def test_debug_print_in_vmap_prints_each_element(capsys):
    f = lambda x: (cr.debug.print("v {} {}", x, cnp.sum(x)), x * 2)[1]  # noqa: E731
    xs = np.arange(6.0).reshape(2, 3)
    for g in (cr.vmap(f), cr.jit(cr.vmap(f)), cr.vmap(cr.jit(f))):
        np.testing.assert_allclose(g(xs), 2 * xs)
        assert capsys.readouterr().out == "v [0. 1. 2.] 3.0\nv [3. 4. 5.] 12.0\n"
    np.testing.assert_allclose(cr.vmap(cr.grad(lambda x: (cr.debug.print("g {}", x), x * x)[1]))(xs[0]), 2 * xs[0])
    assert capsys.readouterr().out == "g 0.0\ng 1.0\ng 2.0\n"


def test_debug_print_in_jvp_and_vjp(capsys):
    f = lambda x: (cr.debug.print("p {}", x), cnp.sin(x))[1]  # noqa: E731
    np.testing.assert_allclose(cr.jit(lambda x: cr.jvp(f, (x,), (1.0,))[1])(2.0), np.cos(2.0))
    _, vf = cr.vjp(f, 3.0)
    np.testing.assert_allclose(vf(1.0)[0], np.cos(3.0))
    assert capsys.readouterr().out == "p 2.0\np 3.0\n"


def test_debug_print_in_a_scan_body_warns_and_prints_types(capsys):
    body = lambda c, x: (cr.debug.print("c {}", c), (c + x, c))[1]  # noqa: E731
    with pytest.warns(UserWarning, match="traced types once at trace time"):
        cr.jit(lambda xs: cr.scan(body, 0.0, xs))(np.ones(3))
    assert re.fullmatch(r"c <traced f64\[\]>\n", capsys.readouterr().out)


def test_compiled_with_debug_print_is_not_exported(tmp_path):
    c = cr.jit(lambda x: (cr.debug.print("{}", x), x + 1)[1]).lower(np.ones(2)).compile()
    with pytest.raises(ValueError, match="debug.print"):
        c.export(str(tmp_path / "f.crx"))


def test_config_change_retraces_jitted_functions(float32_default):
    cr.config.update("jax_enable_x64", True)
    f = cr.jit(lambda x: x + cnp.zeros(2))
    assert f(1.0).dtype == np.float64
    cr.config.update("default_dtype", "float32")
    assert f(1.0).dtype == np.float32 and f.trace_count == 2
