"""`chainrule compile / run / show / graph` end to end, with their error paths.

Exit codes: 0 success, 1 user error (one line, no traceback), 2 bad usage.
Results are checked against NumPy on the same inputs.
"""

import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from chainrule.cli import main
from chainrule.ir import parse

MODEL = textwrap.dedent("""
    import chainrule.numpy as cnp

    def loss(w, x, y):
        return cnp.mean((cnp.tanh(x @ w) - y) ** 2)

    def broken(w):
        raise ValueError("this model is broken")

    NOT_A_FUNCTION = 3
""")


def _numpy_loss(w, x, y):
    t = np.tanh(x @ w)
    val = np.mean((t - y) ** 2)
    grad = x.T @ (2 * (t - y) / t.size * (1 - t * t))
    return val, grad


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    (d / "model.py").write_text(MODEL)
    rng = np.random.default_rng(0)
    w, x, y = (rng.standard_normal(s).astype(np.float32) for s in ((4, 3), (5, 4), (5, 3)))
    np.savez(d / "in.npz", arg0=w, arg1=x, arg2=y)
    art = d / "loss.crx"
    assert main(["compile", f"{d / 'model.py'}:loss", "--arg", "f32[4,3]", "--arg", "f32[5,4]", "--arg", "f32[5,3]",
                 "--value-and-grad", "--payloads", "native,graph", "-o", str(art)]) == 0
    return d, art, (w, x, y)


def _err(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_compile_then_run_to_an_npz(work, capsys):
    d, art, (w, x, y) = work
    out = d / "out.npz"
    assert main(["run", str(art), "--inputs", str(d / "in.npz"), "--output", str(out)]) == 0
    assert "payload: native" in capsys.readouterr().out
    r = np.load(out)
    val, grad = _numpy_loss(w, x, y)
    assert sorted(r.files) == ["out0", "out1"]
    np.testing.assert_allclose(r["out0"], val, rtol=1e-5)
    np.testing.assert_allclose(r["out1"], grad, rtol=1e-4, atol=1e-6)


def test_run_prints_results_and_accepts_parameter_names(work, tmp_path, capsys):
    d, art, (w, x, y) = work
    np.savez(tmp_path / "numpy_positional.npz", w, x, y)          # keys arr_0, arr_1, arr_2
    np.savez(tmp_path / "python_names.npz", y=y, w=w, x=x)         # loss(w, x, y)'s parameter names
    for inputs in (d / "in.npz", tmp_path / "numpy_positional.npz", tmp_path / "python_names.npz"):
        assert main(["run", str(art), "--inputs", str(inputs)]) == 0
        text = capsys.readouterr().out
        assert text.startswith("out0: f32[] =\n") and "out1: f32[4,3] =" in text
        assert abs(float(text.splitlines()[1]) - _numpy_loss(w, x, y)[0]) < 1e-5


def test_compile_with_grad_and_a_module_name(work, monkeypatch, capsys):
    d, _art, (w, x, y) = work
    monkeypatch.chdir(d)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert main(["compile", "model:loss", "--arg", "f32[4,3]", "--arg", "f32[5,4]", "--arg", "f32[5,3]", "--grad",
                 "--payloads", "native", "-O", "1", "-o", "g.crx"]) == 0
    assert "wrote g.crx" in capsys.readouterr().out
    assert main(["run", "g.crx", "--inputs", "in.npz", "-o", "g.npz"]) == 0
    np.testing.assert_allclose(np.load(d / "g.npz")["out0"], _numpy_loss(w, x, y)[1], rtol=1e-4, atol=1e-6)


def test_show_lists_signature_payloads_target_and_ir(work, capsys):
    _d, art, _ = work
    assert main(["show", str(art)]) == 0
    text = capsys.readouterr().out
    for want in ("function  @loss", "arg0   w ", "arg2   y ", "float32[4,3]", "out1   float32[4,3]", "native/", "runs on this host: yes",
                 "include/chainrule_loss.h", "graph.crir"):
        assert want in text, want
    ir_text = text[text.index("\ngraph\n") + len("\ngraph\n"):]
    parse(ir_text)  # the IR printed is the stored graph, parseable
    assert main(["show", str(art), "--manifest"]) == 0
    import json
    assert json.loads(capsys.readouterr().out)["format_version"] == 1


def test_graph_of_an_artifact_and_of_a_function(work, tmp_path, capsys):
    d, art, _ = work
    assert main(["graph", str(art)]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith('digraph "loss"') and "dot_general" in dot
    out = tmp_path / "f.dot"
    assert main(["graph", f"{d / 'model.py'}:loss", "--arg", "f32[4,3]", "--arg", "f32[5,4]", "--arg", "f32[5,3]",
                 "-O", "0", "--format", "dot", "-o", str(out)]) == 0
    assert "tanh" in out.read_text()
    crir = tmp_path / "g.crir"
    crir.write_text("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = negate %x : f32[3]\n  return %0\n}\n")
    assert main(["graph", str(crir)]) == 0
    assert "negate" in capsys.readouterr().out


def test_graph_svg_without_or_with_graphviz(work, tmp_path, capsys):
    _d, art, _ = work
    svg = tmp_path / "g.svg"
    rc = main(["graph", str(art), "--format", "svg", "-o", str(svg)])
    err = _err(capsys)
    if shutil.which("dot") is None:
        assert rc == 1  # no svg: a failure the caller (make, a script) must see
        assert not svg.exists() and (tmp_path / "g.dot").read_text().startswith("digraph")
        assert f"dot -Tsvg {tmp_path / 'g.dot'} -o {svg}" in err
    else:
        assert rc == 0
        assert svg.read_text().lstrip().startswith(("<?xml", "<svg"))


def test_graph_help_describes_grad_as_drawing(capsys):
    with pytest.raises(SystemExit):
        main(["graph", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "draw the gradient" in text and "export the gradient" not in text


@pytest.mark.parametrize("argv, message", [
    (["compile", "MODEL:nope", "--arg", "f32[2]", "-o", "x.crx"], "has no attribute 'nope'"),
    (["compile", "MODEL:NOT_A_FUNCTION", "-o", "x.crx"], "is not callable"),
    (["compile", "MODEL:loss", "--arg", "q32[2]", "-o", "x.crx"], "unknown dtype 'q32'"),
    (["compile", "MODEL:loss", "--arg", "f32(2)", "-o", "x.crx"], r"expected DTYPE\[DIMS\]"),
    (["compile", "MODEL:broken", "--arg", "f32[2]", "-o", "x.crx"], "ValueError: this model is broken"),
    (["compile", "MODEL:loss", "--arg", "f32[4,3]", "--arg", "f32[5,5]", "--arg", "f32[5,3]", "-o", "x.crx"],
     "tracing .* failed"),
    (["compile", "no_such_module_xyz:f", "-o", "x.crx"], "cannot import no_such_module_xyz"),
    (["compile", "MODEL:loss", "--arg", "f32[4,3]", "--arg", "f32[5,4]", "--arg", "f32[5,3]", "--cpu", "foo", "-o",
      "x.crx"], "cpu 'foo' is not supported"),
    (["compile", "missing.py:f", "-o", "x.crx"], "no such file"),
    (["compile", "justaname", "-o", "x.crx"], "expected MODULE:FUNCTION"),
    (["run", "ART"], "takes 3 input"),
    (["run", "ART", "--inputs", "BAD_NPZ"], "expects the keys arg0, arg1, arg2, arr_0, arr_1, arr_2 or w, x, y"),
    (["run", "ART", "--inputs", "WRONG_SHAPE_NPZ"], "expected shape"),
    (["run", "ART", "--inputs", "missing.npz"], "cannot read inputs"),
    (["run", "NOT_CRX", "--inputs", "IN"], "not a chainrule artifact"),
    (["run", "ART", "--payload", "stablehlo", "--inputs", "IN"], "no 'stablehlo' payload"),
    (["show", "NOT_CRX"], "not a chainrule artifact"),
    (["show", "missing.crx"], "cannot read artifact"),
    (["graph", "missing.crir"], "no such file"),
    (["graph", "BAD_CRIR"], r"bad.crir:2:8: unknown op .nope."),
    (["graph", "ART", "--format", "png"], "needs an output file"),
])
def test_user_errors_exit_1_with_one_line(work, tmp_path, capsys, monkeypatch, argv, message):
    d, art, (w, x, y) = work
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "bad.npz", a=w)
    np.savez(tmp_path / "wrong.npz", arg0=w, arg1=x[:2], arg2=y)
    (tmp_path / "not.crx").write_bytes(b"hello")
    (tmp_path / "bad.crir").write_text("func @f(%x: f32[3]) -> (f32[3]) {\n  %0 = nope %x\n}\n")
    subst = {"MODEL": str(d / "model.py"), "ART": str(art), "BAD_NPZ": "bad.npz", "WRONG_SHAPE_NPZ": "wrong.npz",
             "NOT_CRX": "not.crx", "IN": str(d / "in.npz"), "BAD_CRIR": "bad.crir"}
    argv = [subst[a.split(":")[0]] + a[len(a.split(":")[0]):] if a.split(":")[0] in subst else a for a in argv]
    assert main(argv) == 1
    err = _err(capsys)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"chainrule {argv[0]}: error: "), err
    import re
    assert re.search(message, lines[0]), lines[0]


@pytest.mark.parametrize("argv", [["compile"], ["run"], ["show"], ["graph"], ["compile", "m:f", "--grad",
                                  "--value-and-grad", "-o", "x"], ["graph", "x", "--format", "pdf"]])
def test_bad_usage_exits_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2


@pytest.mark.parametrize("cmd", ["compile", "run", "show", "graph"])
def test_help_has_an_example(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main([cmd, "--help"])
    assert e.value.code == 0
    assert "example" in capsys.readouterr().out


def test_the_installed_command_exits_1_without_a_traceback(tmp_path):
    exe = shutil.which("chainrule") or ""
    cmd = [exe] if exe else [sys.executable, "-c", "import sys; from chainrule.cli import main; sys.exit(main())"]
    (tmp_path / "x.crx").write_bytes(b"PK\x03\x04 truncated")
    p = subprocess.run(cmd + ["show", str(tmp_path / "x.crx")], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert p.stderr.startswith("chainrule show: error: ") and "not a chainrule artifact" in p.stderr
