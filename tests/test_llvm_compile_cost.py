"""What the llvm backend does to keep LLVM's compile time down, and that results stay right:
identical kernels are emitted once, single-call kernels are `alwaysinline`, small loop nests
carry the no-vectorize loop hint while the plan's GEMM work leaves budget for them, and `ld`
reads libm only when the object calls it."""

import re

import numpy as np
import pytest

from chainrule.backends.llvm import codegen, emitter, llvm_ir
from chainrule.backends.llvm.plan import make_plan
from chainrule.ir import GraphBuilder, TensorType
from chainrule.passes.testing import mlp_loss_graph

from test_llvm_util import run_both


pytestmark = pytest.mark.usefixtures("private_llvm_cache")  # compiles land in a fresh cache


def _definitions(text):
    """{kernel name: its define line} of the module text."""
    return {m.group(1): m.group(0) for m in re.finditer(r'define internal \S+ @"(k\d+_\w+)".*', text)}


def _calls(text, name):
    return len(re.findall(rf'call \S+ @"{name}"\(', text))


def _two_layer_graph(n=24):
    """tanh(tanh(x @ w0 + b0) @ w1 + b1) with equal shapes: the two bias+tanh loops are identical."""
    b = GraphBuilder("two_layers")
    x = b.param(TensorType((n, n), "float64"), "x")
    h = x
    for i in range(2):
        w = b.param(TensorType((n, n), "float64"), f"w{i}")
        c = b.param(TensorType((n,), "float64"), f"b{i}")
        z = b.op("dot_general", h, w, lhs_contracting=(1,), rhs_contracting=(0,))
        h = b.op("tanh", b.op("add", z, b.op("broadcast_in_dim", c, shape=(n, n), broadcast_dimensions=(1,))))
    return b.build([h])


def test_identical_kernels_are_emitted_once_and_called_twice():
    g = _two_layer_graph()
    text = llvm_ir(g)
    loops = {k: v for k, v in _definitions(text).items() if k.endswith("_loop")}
    assert len(loops) == 1, f"expected one shared bias+tanh loop kernel, got {sorted(loops)}"
    (name, define), = loops.items()
    assert _calls(text, name) == 2
    assert "noinline" in define and "alwaysinline" not in define
    n = g.params[0].type.shape[0]
    rng = np.random.default_rng(0)
    args = [rng.standard_normal((n, n)) if len(p.type.shape) == 2 else rng.standard_normal(n) for p in g.params]
    got, want = run_both(g, args)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12)


def test_kernels_that_differ_are_not_merged():
    """Same structure, different constant: two kernels (the text comparison sees the constant)."""
    b = GraphBuilder("consts")
    x = b.param(TensorType((64,), "float32"), "x")
    w = b.param(TensorType((64, 64), "float32"), "w")
    def scale(v, c):
        return b.op("multiply", v, b.op("broadcast_in_dim", b.constant(np.float32(c)), shape=(64,),
                                        broadcast_dimensions=()))

    y1 = b.op("tanh", scale(x, 2.0))
    y2 = b.op("dot_general", y1, w, lhs_contracting=(0,), rhs_contracting=(0,))
    y3 = b.op("tanh", scale(y2, 3.0))
    g = b.build([y3])
    text = llvm_ir(g)
    loops = [k for k in _definitions(text) if k.endswith("_loop")]
    assert len(loops) == 2
    assert all(_calls(text, k) == 1 for k in loops)
    rng = np.random.default_rng(1)
    args = [rng.standard_normal(64).astype(np.float32), rng.standard_normal((64, 64)).astype(np.float32)]
    got, want = run_both(g, args)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=1e-4)


def test_kernels_called_once_are_always_inlined_and_shared_ones_never():
    g = _two_layer_graph()
    text = llvm_ir(g)
    defs = _definitions(text)
    assert sorted(_calls(text, k) for k in defs) == [2, 2]  # the two GEMMs and the two loops
    assert all("noinline" in d and "alwaysinline" not in d for d in defs.values())
    b = GraphBuilder("three")
    x = b.param(TensorType((20, 30), "float32"), "x")
    w = b.param(TensorType((30, 40), "float32"), "w")
    y = b.op("tanh", b.op("dot_general", b.op("exponential", x), w, lhs_contracting=(1,), rhs_contracting=(0,)))
    text = llvm_ir(b.build([y]))
    defs = _definitions(text)
    assert len(defs) == 3
    for name, define in defs.items():
        assert _calls(text, name) == 1 and "alwaysinline" in define, define


def _small_and_large(small, large, gemm=512):
    """tanh of a small array, exp of a large one, and (gemm > 0) a gemm^3 GEMM that pays for scalar loops."""
    b = GraphBuilder("sizes")
    xs = b.param(TensorType(small, "float32"), "xs")
    xl = b.param(TensorType(large, "float32"), "xl")
    outs = [b.op("tanh", xs), b.op("exponential", xl)]
    if gemm:
        m = b.param(TensorType((gemm, gemm), "float32"), "m")
        outs.append(b.op("dot_general", m, m, lhs_contracting=(1,), rhs_contracting=(0,)))
    return b.build(outs)


def _loop_bodies(text):
    defs = {k: v for k, v in _definitions(text).items() if k.endswith("_loop")}
    return [text[text.index(d):text.index("\n}", text.index(d))] for d in defs.values()]


@pytest.mark.parametrize("small,large", [((100,), (1 << 16,)), ((30, 100), (64, 100))])
def test_only_small_loop_nests_carry_the_no_vectorize_hint(small, large):
    assert np.prod(small) < emitter.SMALL_LOOP_ELEMENTS <= np.prod(large)
    g = _small_and_large(small, large)
    text = llvm_ir(g)
    bodies = _loop_bodies(text)
    assert len(bodies) == 2
    hinted = [body for body in bodies if "!llvm.loop" in body]
    assert len(hinted) == 1
    body = hinted[0]
    assert re.search(rf'icmp ult i64 %"\.\d+", {np.prod(small)}\n  br i1 .*, !llvm\.loop !\d+\n', body), \
        "the hinted back edge is the small loop's (its flat trip count)"
    md = re.search(r"!llvm\.loop (!\d+)", body).group(1)
    node = re.search(rf"^{md} = !{{ {md}, (!\d+) }}$", text, re.M)
    assert node, "the loop id refers to itself first"
    assert re.search(rf'^{node.group(1)} = !{{ !"llvm.loop.vectorize.enable", i1 0 }}$', text, re.M)
    rng = np.random.default_rng(2)
    args = [rng.standard_normal(small).astype(np.float32), rng.standard_normal(large).astype(np.float32),
            rng.standard_normal((512, 512)).astype(np.float32)]
    got, want = run_both(g, args)
    for a, w in zip(got, want):
        np.testing.assert_allclose(a, w, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("gemm", [0, 8])
def test_without_gemm_work_to_hide_them_small_loops_are_vectorized(gemm):
    """No GEMM (or a tiny one): small loops may dominate the run time, so none is left scalar."""
    text = llvm_ir(_small_and_large((100,), (1 << 16,), gemm=gemm))
    assert all("!llvm.loop" not in d for d in _loop_bodies(text))


def test_the_scalar_budget_is_a_share_of_the_gemm_work():
    """256^3 / 512 = 32768 instructions: the 100-element tanh loop (~6,000) is left scalar, a
    3000-element one (~180,000) is vectorized."""
    plan = make_plan(_small_and_large((100,), (1 << 16,)))
    assert emitter.scalar_budget(plan) == 512 ** 3 // emitter.SCALAR_SHARE

    def hinted(small):
        return [d for d in _loop_bodies(llvm_ir(_small_and_large(small, (1 << 16,), gemm=256))) if "!llvm.loop" in d]
    assert len(hinted((100,))) == 1
    assert hinted((3000,)) == []


def test_loops_inside_control_flow_regions_are_always_vectorized():
    """A scan body runs once per step: its small loops get no budget (not even from a GEMM of
    its own), the top level's do."""
    b = GraphBuilder("scan_gemm")
    m = b.param(TensorType((512, 512), "float32"), "m")
    h0 = b.param(TensorType((100,), "float32"), "h0")
    xs = b.param(TensorType((5, 100), "float32"), "xs")
    rb = GraphBuilder("body")  # parameters: consts, carries, slices; results: carries, stacked
    mi = rb.param(TensorType((512, 512), "float32"), "mi")
    h, xi = rb.param(TensorType((100,), "float32"), "h"), rb.param(TensorType((100,), "float32"), "xi")
    h2 = rb.op("tanh", rb.op("add", h, xi))
    mm = rb.op("reduce", rb.op("dot_general", mi, mi, lhs_contracting=(1,), rhs_contracting=(0,)),
               kind="sum", dimensions=(0, 1))
    body = rb.build([h2, h2, mm])
    hT, hs, ms = b.emit("scan", [m, h0, xs], {"num_consts": 1, "num_carry": 1, "length": 5}, (body,)).results
    g = b.build([b.op("dot_general", m, m, lhs_contracting=(1,), rhs_contracting=(0,)), hs, ms,
                 b.op("exponential", h0)])
    text = llvm_ir(g)
    hinted = [d for d in _loop_bodies(text) if "!llvm.loop" in d]
    assert len(hinted) == 1 and re.match(r'define internal void @"k\d+_loop"', hinted[0])
    region_loops = [d for d in _loop_bodies(text) if re.match(r'define internal void @"k\d+_scan_', d)]
    assert region_loops and all("!llvm.loop" not in d for d in region_loops)
    rng = np.random.default_rng(4)
    args = [rng.standard_normal((512, 512)).astype(np.float32) / 20, rng.standard_normal(100).astype(np.float32),
            rng.standard_normal((5, 100)).astype(np.float32)]
    got, want = run_both(g, args)
    for a, w in zip(got, want):
        np.testing.assert_allclose(a, w, rtol=1e-4, atol=1e-3)


def test_mlp_value_and_grad_matches_reference_with_shared_kernels():
    autodiff = pytest.importorskip("chainrule.passes.autodiff")
    from chainrule.passes import optimize
    sizes = (12, 16, 16, 5)
    g = optimize(autodiff.vjp_graph(mlp_loss_graph(8, sizes, "float64", mean=False), seed_ones=True), opt_level=2)
    text = llvm_ir(g)
    assert any(_calls(text, k) == 2 for k in _definitions(text)), "expected a kernel shared by the two layers"
    rng = np.random.default_rng(0)
    args = []
    for i in range(3):
        args += [rng.standard_normal((sizes[i], sizes[i + 1])) / 3, rng.standard_normal(sizes[i + 1]) / 3]
    args += [rng.standard_normal((8, 12)), np.eye(5)[rng.integers(0, 5, 8)]]
    got, want = run_both(g, args)
    for k, (a, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a, w, rtol=1e-12, atol=1e-12, err_msg=f"result {k}")


def test_module_text_reuses_kernel_texts_faithfully():
    """The module text built from the kernels' kept texts equals llvmlite's own printing."""
    g = _two_layer_graph()
    mb = codegen.ModuleBuilder(make_plan(g), "m")
    text = mb.build()
    assert text == mb._fill_blobs(str(mb.module))


def _object(g):
    from chainrule.backends.llvm.target import compile_ir
    return compile_ir(llvm_ir(g), 2)


def test_libm_is_linked_only_when_the_object_calls_it():
    from chainrule.backends.llvm import cache
    b = GraphBuilder("rem")
    x = b.param(TensorType((5000,), "float64"), "x")
    y = b.param(TensorType((5000,), "float64"), "y")
    rem = b.build([b.op("remainder", x, y)])  # frem: a call to fmod
    names = cache.undefined_symbols(_object(rem))
    assert "fmod" in names and cache.link_libraries(_object(rem)) == ["-lm"]
    tanh = _small_and_large((100,), (1 << 16,), gemm=0)
    assert cache.link_libraries(_object(tanh)) == []
    assert cache.undefined_symbols(b"not an object") is None and cache.link_libraries(b"not an object") == ["-lm"]
    rng = np.random.default_rng(3)
    args = [rng.standard_normal(5000) * 10, rng.standard_normal(5000) + 3]
    got, want = run_both(rem, args)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12)
