"""The pass manager: registry, pipelines, opt levels, instrumentation, the rewrite driver."""

import io

import numpy as np
import pytest

from chainrule.backends.reference import evaluate
from chainrule.ir import Graph, GraphBuilder, Node, TensorType, VerifyError, parse
from chainrule.passes import (OPT_PIPELINES, PASSES, Instrumentation, PassContext, RuleRegistry, apply_rewrites,
                              optimize, parse_pipeline, register_pass)
from chainrule.passes.rewrite import RewriteLoopError
from chainrule.passes.simplify import SIMPLIFY

TEXT = """func @f(%x: f32[4]) -> (f32[4]) {
  %0 = constant {value=dense<f32[], [1.0]>} : f32[]
  %1 = broadcast_in_dim %0 {shape=[4], broadcast_dimensions=[]} : f32[4]
  %2 = multiply %x, %1 : f32[4]
  %3 = tanh %2 : f32[4]
  %4 = tanh %x : f32[4]
  %5 = add %3, %4 : f32[4]
  %6 = exponential %x : f32[4]
  return %5
}
"""


def test_input_graph_is_untouched_by_every_level():
    g = parse(TEXT)
    nodes = list(g.nodes)
    for level in OPT_PIPELINES:
        out = optimize(g, level)
        assert out is not g or level == 0
    assert str(g) == TEXT and all(a is b for a, b in zip(g.nodes, nodes))


def test_pipeline_strings_and_lists():
    assert [p.name for p in parse_pipeline("dce, fold,cse")] == ["dce", "fold", "cse"]
    assert [p.name for p in parse_pipeline(["simplify", PASSES["fuse"]])] == ["simplify", "fuse"]
    assert parse_pipeline("") == []
    with pytest.raises(ValueError, match="unknown pass 'fsue'; known passes: .*fuse"):
        parse_pipeline("dce,fsue")
    with pytest.raises(ValueError, match="empty pass name"):
        parse_pipeline("dce,,cse")
    with pytest.raises(ValueError, match="opt_level 7 is invalid"):
        optimize(parse(TEXT), 7)


def test_opt_levels_follow_their_pipelines():
    g = parse(TEXT)
    inst = Instrumentation()
    optimize(g, 2, instrumentation=inst)
    assert [t.name for t in inst.timings] == list(OPT_PIPELINES[2])
    assert OPT_PIPELINES[0] == () and "fuse" not in OPT_PIPELINES[1] and "fuse" in OPT_PIPELINES[3]
    out = optimize(g, 2)
    assert sum(n.op.name == "tanh" for n in out.walk()) == 1
    assert sum(n.op.name == "fusion" for n in out.nodes) == 1


def test_register_pass_and_callables_in_pipelines():
    calls = []

    def count(graph, ctx):
        calls.append((len(graph.nodes), ctx.opt_level, ctx.fast_math))
        return graph

    register_pass("test-count", count, description="counts nodes")
    try:
        assert PASSES["test-count"].description == "counts nodes"
        optimize(parse(TEXT), 3, passes="dce,test-count", fast_math=True)
        assert calls == [(6, 3, True)]
        with pytest.raises(ValueError, match="registered twice"):
            register_pass("test-count", count)
        with pytest.raises(ValueError, match="invalid"):
            register_pass("Bad Name", count)
        optimize(parse(TEXT), passes=[count])
        assert len(calls) == 2
    finally:
        del PASSES["test-count"]


def test_verify_after_each_pass_names_the_broken_pass():
    def broken(graph, ctx):
        # a node that uses a value defined nowhere in the graph
        b = GraphBuilder("other")
        stray = b.param(TensorType((4,), "float32"))
        bad = Node(graph.nodes[-1].op, [stray], graph.nodes[-1].attrs, [stray.type])
        return Graph(graph.name, graph.params, list(graph.nodes) + [bad], [bad.results[0]])

    with pytest.raises(VerifyError, match="after pass 'broken'"):
        optimize(parse(TEXT), passes=["dce", broken], instrumentation=Instrumentation(verify=True))
    # without verification the broken graph goes through (the instrumentation is what catches it)
    optimize(parse(TEXT), passes=[broken], instrumentation=Instrumentation(verify=False))


def test_print_after_all_to_a_folder(tmp_path):
    optimize(parse(TEXT), 2, instrumentation=Instrumentation(print_after_all=str(tmp_path)))
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["00-input.crir"] + [f"{i + 1:02d}-{n}.crir" for i, n in enumerate(OPT_PIPELINES[2])]
    assert (tmp_path / "00-input.crir").read_text() == TEXT
    last = (tmp_path / files[-1]).read_text()
    assert str(parse(last)) == last and "fusion" in last


def test_print_after_all_to_a_stream_and_time_passes():
    stream, table = io.StringIO(), io.StringIO()
    inst = Instrumentation(print_after_all=stream, time_passes=True, stream=table)
    optimize(parse(TEXT), passes="simplify,cse", instrumentation=inst)
    dumps = stream.getvalue()
    assert dumps.count("// ----- IR after") == 3 and "IR after simplify" in dumps
    lines = table.getvalue().splitlines()
    assert lines[0].split()[:2] == ["pass", "ms"] and lines[1].startswith("simplify") and lines[-1].startswith("total")
    assert all(t.seconds >= 0 for t in inst.timings)
    # simplify: x * 1 -> x and drops the dead exponential; cse: the two tanh(x) merge
    assert [(t.nodes_before, t.nodes_after) for t in inst.timings] == [(7, 3), (3, 2)]


def test_instrumentation_from_the_environment(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CHAINRULE_PRINT_AFTER_ALL", str(tmp_path))
    monkeypatch.setenv("CHAINRULE_TIME_PASSES", "1")
    monkeypatch.setenv("CHAINRULE_VERIFY", "0")
    inst = Instrumentation.from_env()
    assert inst.print_after_all == str(tmp_path) and inst.time_passes and not inst.verify
    optimize(parse(TEXT), passes="dce")
    assert (tmp_path / "01-dce.crir").exists()
    assert "total" in capsys.readouterr().err


def test_verify_env_is_on_in_tests():
    assert Instrumentation.from_env().verify


def test_rewrite_sets_combine_and_loops_are_caught():
    rule = RuleRegistry("loop")

    @rule("negate", formula="-x -> -(-(-x))")
    def grow(node, rw):
        return rw.op("negate", rw.op("negate", node.operands[0]))  # never reaches a fixed point

    g = parse("""func @f(%x: f32[2]) -> (f32[2]) {
  %0 = negate %x : f32[2]
  return %0
}
""")
    assert len(SIMPLIFY | rule.set) == len(SIMPLIFY) + 1
    assert len(SIMPLIFY | SIMPLIFY) == len(SIMPLIFY)
    with pytest.raises(RewriteLoopError, match="does not terminate"):
        apply_rewrites(g, rule.set)


def test_a_rule_returning_the_wrong_type_is_reported():
    rule = RuleRegistry("bad")

    @rule("tanh", formula="tanh(x) -> x > 0")
    def wrong(node, rw):
        return rw.op("compare", node.operands[0], node.operands[0], direction="GT")

    g = parse("""func @f(%x: f32[2]) -> (f32[2]) {
  %0 = tanh %x : f32[2]
  return %0
}
""")
    with pytest.raises(TypeError, match="rewrite wrong .* replaced tanh"):
        apply_rewrites(g, rule.set)


def test_rules_leave_fusion_regions_alone():
    # a fusion region obeys the loop-nest rules; x * 1 -> x would make its result a parameter
    g = parse("""func @f(%x: f32[4]) -> (f32[4]) {
  %0 = fusion %x : f32[4] regions {
    func @fused(%a: f32[4]) -> (f32[4]) {
      %0 = constant {value=dense<f32[], [1.0]>} : f32[]
      %1 = broadcast_in_dim %0 {shape=[4], broadcast_dimensions=[]} : f32[4]
      %2 = multiply %a, %1 : f32[4]
      return %2
    }
  }
  return %0
}
""")
    assert str(optimize(g, passes="simplify,fold,canonicalize")) == str(g)


def test_rules_run_to_a_fixed_point_inside_regions(monkeypatch):
    from chainrule.passes import rewrite
    monkeypatch.setattr(rewrite, "OPAQUE_REGIONS", frozenset())  # stand-in for a control-flow region
    g = parse("""func @f(%x: f32[4]) -> (f32[4]) {
  %0 = fusion %x : f32[4] regions {
    func @fused(%a: f32[4]) -> (f32[4]) {
      %0 = negate %a : f32[4]
      %1 = negate %0 : f32[4]
      %2 = negate %1 : f32[4]
      %3 = negate %2 : f32[4]
      %4 = tanh %3 : f32[4]
      return %4
    }
  }
  return %0
}
""")
    out = optimize(g, passes="simplify")
    (body,) = out.nodes[0].regions
    assert [n.op.name for n in body.nodes] == ["tanh"]
    x = np.array([-1.0, -0.0, 2.0, np.nan], np.float32)
    np.testing.assert_array_equal(evaluate(g, [x])[0], evaluate(out, [x])[0])


def test_pass_context_defaults():
    ctx = PassContext()
    assert ctx.opt_level == 2 and not ctx.fast_math and ctx.options == {}


def test_importing_the_passes_imports_no_backend():
    # DESIGN: a pass never imports a backend; fold reads the reference rules lazily, when it runs
    import subprocess
    import sys
    code = ("import sys, chainrule.passes; "
            "print(any(m.startswith('chainrule.backends.') for m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr
