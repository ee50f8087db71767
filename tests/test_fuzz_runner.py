"""The fuzz runner: comparison rules, shrinking, catching a broken backend, the CLI, and a
bounded run of the real thing (reference backend before and after every opt level)."""

import types

import numpy as np
import pytest

from chainrule.backends import available_backends, get_backend
from chainrule.fuzz import GenConfig
from chainrule.fuzz.__main__ import main
from chainrule.fuzz.compare import describe_difference
from chainrule.fuzz.runner import Checker, Target, default_opt_levels, fuzz, rebuild, shrink
from chainrule.ir import GraphBuilder, TensorType, verify
from chainrule.testing import assert_roundtrip

T = TensorType


# --- comparison -------------------------------------------------------------------------------

def test_exact_comparison():
    a = np.array([1.0, np.nan, -0.0, np.inf], np.float32)
    assert describe_difference(a, a.copy(), inexact=False) is None
    other_nan = a.copy()
    other_nan.view(np.uint32)[1] |= 1  # a different NaN payload is still NaN
    assert describe_difference(other_nan, a, inexact=False) is None
    assert "1 of 4" in describe_difference(np.array([1.0, np.nan, 0.0, np.inf], np.float32), a, inexact=False)
    assert describe_difference(np.array([1.0, np.nan, 0.0, np.inf], np.float32), a, False, zero_sign=False) is None
    assert describe_difference(np.nextafter(a, np.float32(2)), a, inexact=False).startswith("3 of 4")
    assert "dtype" in describe_difference(a.astype(np.float64), a, inexact=False)
    assert "shape" in describe_difference(a[:2], a, inexact=False)
    assert describe_difference(np.array([3, 4]), np.array([3, 5]), inexact=True).startswith("1 of 2")


def test_flushed_subnormals_compare_as_zeros_only_when_asked():
    from chainrule.fuzz.generator import flush_subnormals
    want = np.array([5.3e-39, -1e-45, 1.0], np.float32)
    got = np.array([0.0, -0.0, 1.0], np.float32)
    assert describe_difference(got, want, inexact=False) is not None
    assert describe_difference(flush_subnormals(got), flush_subnormals(want), inexact=False) is None
    assert describe_difference(np.array([0.0, 0.0, 1.0], np.float32), flush_subnormals(want), inexact=False)


def test_tolerant_comparison():
    want = np.array([1.0, 1e6, np.nan, -np.inf, 0.0])
    close = want * (1 + 1e-12)
    assert describe_difference(close, want, inexact=True) is None
    assert describe_difference(close, want, inexact=False) is not None
    off = want.copy()
    off[0] = 1.01  # beyond rtol * |want| + rtol * max|want| = 1e-9 + 1e-3
    assert "at [0]" in describe_difference(off, want, inexact=True)
    moved_nan = want.copy()
    moved_nan[2] = 0.0
    assert describe_difference(moved_nan, want, inexact=True) is not None
    flipped = want.copy()
    flipped[3] = np.inf
    assert describe_difference(flipped, want, inexact=True) is not None


# --- shrinking ----------------------------------------------------------------------------------

def chain():
    b = GraphBuilder("chain")
    x = b.param(T((3,), "float64"), "x")
    y = b.param(T((3,), "float64"), "y")
    a = b.op("add", x, y)
    n = b.op("negate", a)
    e = b.op("exponential", n)
    m = b.op("multiply", e, x)
    s = b.op("reduce", m, kind="sum", dimensions=(0,))
    return b.build([s, a]), [np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])]


def test_rebuild_cuts_values_into_parameters():
    g, ins = chain()
    neg = g.nodes[1].results[0]
    val = np.array([-1.5, -1.0, -5.0])
    g2, ins2 = rebuild(g, ins, {id(neg): val}, {})
    verify(g2)
    assert_roundtrip(g2)
    assert [n.op.name for n in g2.nodes] == ["add", "exponential", "multiply", "reduce"]
    assert len(g2.params) == 3 and ins2[2] is val


def test_shrink_finds_the_guilty_node():
    g, ins = chain()
    small, small_ins = shrink(g, ins, lambda g2, i2: any(n.op.name == "exponential" for n in g2.nodes))
    verify(small)
    assert [n.op.name for n in small.nodes] == ["exponential"]
    assert len(small.params) == 1 and len(small_ins) == 1
    # the new parameter carries the value the cut node had: negate(x + y)
    assert np.array_equal(small_ins[0], -(ins[0] + ins[1]))


def test_shrink_reaches_into_regions():
    t = T((3,), "float64")
    rb = GraphBuilder("body")
    a, c = rb.param(t, "a"), rb.param(t, "c")
    body = rb.build([rb.op("exponential", rb.op("negate", rb.op("add", a, c))), rb.op("tanh", c)])
    b = GraphBuilder("outer")
    x = b.param(t, "x")
    y = b.op("sine", x)
    node = b.emit("fusion", [x, y], {}, [body])
    g = b.build([node.results[0], b.op("abs", node.results[1])])
    ins = [np.array([1.0, 2.0, 3.0])]
    small, _ = shrink(g, ins, lambda g2, i2: any(n.op.name == "exponential" for n in g2.walk()))
    verify(small)
    assert_roundtrip(small)
    assert sorted(n.op.name for n in small.walk()) == ["exponential", "fusion"], str(small)


class NegateIsWrong:
    """A backend that computes negate(x) as x - 1 for floats: the fuzzer must catch it."""

    @staticmethod
    def compile(graph, **options):
        ref = get_backend("reference")
        from chainrule.backends.reference import rules
        real = rules.RULES["negate"]

        def wrong(args, attrs, out, regions):
            (x,) = args
            return (x - 1,) if x.dtype.kind == "f" else real(args, attrs, out, regions)

        exe = ref.compile(graph)

        def call(*args):
            with rules.RULES.replaced("negate", wrong):
                return exe(*args)
        return call


def test_fuzz_catches_and_shrinks_a_broken_backend():
    checker = Checker(backends=["reference"], opt_levels=(), modules={"broken": NegateIsWrong})
    cfg = GenConfig(max_nodes=6, ops=("negate", "add", "tanh", "reduce", "broadcast_in_dim", "slice"),
                    dtypes=("float32", "float64"))
    lines = []
    stats = fuzz(programs=40, seed=3, config=cfg, checker=checker, out=lines.append, max_reports=100)
    assert stats.mismatches > 0 and stats.crashes == 0
    f = stats.findings[0]
    assert f.target == Target("broken") and f.kind == "mismatch"
    names = [n.op.name for n in f.graph.walk()]
    assert "negate" in names and len(f.graph.nodes) <= 2, str(f.graph)
    assert "=== mismatch on broken" in lines[0] and "minimal graph" in lines[0]


class Raises:
    def __init__(self, exc):
        self.exc = exc

    def compile(self, graph, **options):
        raise self.exc


def test_unsupported_is_not_a_failure_but_a_crash_is():
    cfg = GenConfig(max_nodes=3)
    ok = Checker(backends=["reference"], opt_levels=(), modules={"partial": Raises(NotImplementedError("no"))})
    stats = fuzz(programs=5, config=cfg, checker=ok, out=None)
    assert stats.unsupported == 5 and stats.crashes == 0 and stats.mismatches == 0
    bad = Checker(backends=["reference"], opt_levels=(), modules={"buggy": Raises(ZeroDivisionError("boom"))})
    stats = fuzz(programs=3, config=cfg, checker=bad, out=None, do_shrink=False)
    assert stats.crashes == 3
    assert "buggy raised ZeroDivisionError: boom" in stats.findings[0].detail


def test_text_round_trip_is_checked(monkeypatch):
    from chainrule.fuzz import runner
    from chainrule.ir import printer
    real = printer.format_float
    monkeypatch.setattr(printer, "format_float", lambda x, dt=None: real(round(x, 1), dt))  # a lossy printer
    g = runner.rebuild(*chain(), {}, {})[0]
    b = GraphBuilder("c")
    c = b.constant(np.array([0.123, 2.0]))
    lossy = b.build([b.op("negate", c)])
    assert runner.text_failure(g) is None
    kind, detail = runner.text_failure(lossy)
    assert kind == "mismatch" and "changed in the text round trip" in detail


def test_fuzz_needs_a_bound():
    with pytest.raises(ValueError, match="time limit"):
        fuzz()


# --- the CLI and the bounded CI run ------------------------------------------------------------

def test_cli_prints_the_summary(capsys):
    assert main(["--minutes", "0.05", "--programs", "30", "--backends", "reference", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "programs: 30, mismatches: 0, crashes: 0" in out
    assert "backends: reference" in out


def test_cli_rejects_unknown_backends(capsys):
    with pytest.raises(SystemExit):
        main(["--backends", "tpu9000"])
    assert "unknown backend" in capsys.readouterr().err


def test_bounded_fuzz_run_reference_all_opt_levels():
    """~20 s: random graphs on the reference backend, unoptimized and at every opt level."""
    assert default_opt_levels(), "chainrule.passes.optimize should be importable"
    lines = []
    stats = fuzz(seconds=20, programs=2500, seed=0, backends=["reference"], out=lines.append)
    assert stats.programs >= 200, stats.summary()
    assert stats.mismatches == 0 and stats.crashes == 0, "\n\n".join(lines[:3])


@pytest.mark.slow
@pytest.mark.parametrize("backend", [b for b in ("llvm", "jax") if b in available_backends()])
def test_long_fuzz_run_other_backends(backend):
    lines = []
    stats = fuzz(seconds=120, seed=0, backends=[backend], out=lines.append)
    assert stats.mismatches == 0 and stats.crashes == 0, "\n\n".join(lines[:5])


def test_namespace_is_small():
    import chainrule.fuzz as f
    assert isinstance(f, types.ModuleType) and set(f.__all__) >= {"generate_graph", "random_inputs", "graphs"}
