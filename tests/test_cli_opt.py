"""`chainrule opt`: like mlir-opt. Exit codes 0 ok, 1 user error (one line, no traceback), 2 bad usage."""

import subprocess
import sys

import numpy as np
import pytest

from chainrule.backends.reference import evaluate
from chainrule.cli import COMMANDS, main
from chainrule.ir import parse

SRC = """func @f(%x: f32[8]) -> (f32[]) {
  %0 = constant {value=dense<f32[], [1.0]>} : f32[]
  %1 = broadcast_in_dim %0 {shape=[8], broadcast_dimensions=[]} : f32[8]
  %2 = multiply %x, %1 : f32[8]
  %3 = tanh %2 : f32[8]
  %4 = exponential %3 : f32[8]
  %5 = reduce %4 {kind=sum, dimensions=[0]} : f32[]
  return %5
}
"""


@pytest.fixture
def src(tmp_path):
    p = tmp_path / "f.crir"
    p.write_text(SRC)
    return p


def test_opt_runs_a_pipeline_and_prints_the_result(src, capsys):
    assert main(["opt", str(src), "--passes", "fold,simplify,fuse"]) == 0
    out = capsys.readouterr().out
    g = parse(out)
    assert [n.op.name for n in g.nodes] == ["fusion"]
    x = np.linspace(-1, 1, 8, dtype=np.float32)
    assert evaluate(g, [x])[0] == evaluate(parse(SRC), [x])[0]


def test_opt_levels_and_output_file(src, tmp_path, capsys):
    assert main(["opt", str(src), "-O", "0"]) == 0
    assert capsys.readouterr().out == SRC
    assert main(["opt", str(src), "-O1"]) == 0
    assert "multiply" not in capsys.readouterr().out
    out = tmp_path / "out.crir"
    assert main(["opt", str(src), "-o", str(out)]) == 0
    assert "fusion" in out.read_text() and capsys.readouterr().out == ""


def test_opt_reads_stdin(monkeypatch, capsys):
    import io
    monkeypatch.setattr(sys, "stdin", io.StringIO(SRC))
    assert main(["opt", "-", "--passes", "dce"]) == 0
    assert capsys.readouterr().out == SRC


def test_print_after_all_and_time_passes(src, tmp_path, capsys):
    assert main(["opt", str(src), "--passes", "simplify,cse", "--print-after-all", "--time-passes"]) == 0
    err = capsys.readouterr().err
    assert "// ----- IR after simplify -----" in err and "// ----- IR after cse -----" in err
    assert "total" in err
    d = tmp_path / "dumps"
    assert main(["opt", str(src), "-O2", "--print-after-all", str(d)]) == 0
    assert (d / "00-input.crir").read_text() == SRC and len(list(d.iterdir())) == 7


@pytest.mark.parametrize("argv, message", [
    (["opt", "{src}", "--passes", "fold,nope"], "unknown pass 'nope'"),
    (["opt", "{missing}"], "cannot read"),
    (["opt", "{bad}"], ":2:8: unknown op 'frobnicate'"),
])
def test_user_errors_exit_1_with_one_line(argv, message, src, tmp_path, capsys):
    bad = tmp_path / "bad.crir"
    bad.write_text("func @f(%x: f32[2]) -> (f32[2]) {\n  %0 = frobnicate %x : f32[2]\n  return %0\n}\n")
    argv = [a.format(src=src, missing=tmp_path / "missing.crir", bad=bad) for a in argv]
    assert main(argv) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule opt: error: ") and message in lines[0]
    assert "Traceback" not in captured.err and captured.out == ""


@pytest.mark.parametrize("argv", [["opt"], ["opt", "x", "-O", "9"], ["frobnicate"], ["opt", "x", "--bogus"]])
def test_bad_usage_exits_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "opt" in capsys.readouterr().err


def test_help_everywhere(capsys):
    for argv in (["--help"], ["opt", "--help"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0
    out = capsys.readouterr().out
    assert "fuse" in out and "-O2" in out and "opt" in COMMANDS


def test_console_entry_point_in_a_fresh_process(src):
    r = subprocess.run([sys.executable, "-m", "chainrule.cli", "opt", str(src), "--passes", "nope"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "chainrule.cli", "opt", str(src)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and "fusion" in r.stdout


def test_fast_math_flag(tmp_path, capsys):
    p = tmp_path / "fm.crir"
    p.write_text("""func @f(%x: f32[2]) -> (f32[2]) {
  %0 = constant {value=dense<f32[2], [0.0, 0.0]>} : f32[2]
  %1 = multiply %x, %0 : f32[2]
  return %1
}
""")
    assert main(["opt", str(p), "--passes", "simplify"]) == 0
    assert "multiply" in capsys.readouterr().out          # x * 0 -> 0 is wrong for inf and nan
    assert main(["opt", str(p), "--passes", "simplify", "--fast-math", "--no-verify"]) == 0
    assert "multiply" not in capsys.readouterr().out
