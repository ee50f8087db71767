"""Golden tests of the passes: IR text in, a pipeline, the expected IR text out.

Each file in tests/golden/passes/ holds cases separated by `// -----`. A case
is a `// RUN: <pipeline> [--fast-math] [-O N]` line, the input graph, and the
expected output as `// CHECK: ` lines (the whole printed graph, exactly; a
file is also valid input to the parser, since `//` starts a comment).

Besides the text, every case is run on the reference backend before and
after, on inputs full of NaN, inf and -0.0, and must agree bit for bit (NaN
equals NaN) - within a tolerance on finite inputs for fast-math cases - so a
golden file can never bless a wrong rewrite. Fusion nodes must be well formed.

To regenerate the CHECK lines after an intended change, run with
CHAINRULE_UPDATE_GOLDEN=1 and review the diff.
"""

import os
import re
from pathlib import Path

import numpy as np
import pytest

from chainrule.backends.reference import evaluate
from chainrule.ir import parse
from chainrule.passes import Instrumentation, check_fusion, optimize
from chainrule.fuzz.generator import random_inputs
from chainrule.passes.testing import ulp_close
from chainrule.testing import same_values

GOLDEN = Path(__file__).parent / "golden" / "passes"
SPLIT = "// -----"
UPDATE = os.environ.get("CHAINRULE_UPDATE_GOLDEN") == "1"


class Case:
    def __init__(self, path: Path, index: int, text: str):
        self.path, self.index = path, index
        lines = text.strip("\n").split("\n")
        runs = [ln for ln in lines if ln.startswith("// RUN:")]
        if len(runs) != 1:
            raise ValueError(f"{path.name} case {index}: expected one '// RUN:' line, got {len(runs)}")
        self.run = runs[0][len("// RUN:"):].strip()
        self.source = "\n".join(ln for ln in lines if not ln.lstrip().startswith("//")).strip() + "\n"
        self.comments = [ln for ln in lines if ln.startswith("//") and not ln.startswith("// CHECK")
                         and not ln.startswith("// RUN:")]
        self.expected = "\n".join(ln[len("// CHECK: "):] if ln.startswith("// CHECK: ") else ""
                                  for ln in lines if ln.startswith("// CHECK:")) + "\n"

    @property
    def id(self):
        return f"{self.path.stem}-{self.index}"

    def options(self):
        words = self.run.split()
        fast = "--fast-math" in words
        level = 2
        pipeline = None
        i = 0
        while i < len(words):
            w = words[i]
            if w == "-O":
                level = int(words[i + 1])
                i += 1
            elif re.fullmatch(r"-O\d", w):
                level = int(w[2:])
            elif w != "--fast-math":
                pipeline = w
            i += 1
        return pipeline, level, fast

    def render(self, output: str) -> str:
        head = [f"// RUN: {self.run}"] + self.comments
        checks = [f"// CHECK: {ln}" if ln else "// CHECK:" for ln in output.rstrip("\n").split("\n")]
        return "\n".join(head) + "\n" + self.source + "\n".join(checks) + "\n"


def load_cases():
    cases = []
    for path in sorted(GOLDEN.glob("*.crir")):
        parts = path.read_text().split(SPLIT + "\n")
        for i, part in enumerate(parts):
            if part.strip():
                cases.append(Case(path, i, part))
    return cases


CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_golden(case):
    graph = parse(case.source)
    pipeline, level, fast = case.options()
    out = optimize(graph, level, passes=pipeline, fast_math=fast, instrumentation=Instrumentation(verify=True))
    text = str(out)
    if UPDATE:
        _update(case, text)
    else:
        assert text == case.expected, f"{case.path.name} case {case.index} ({case.run}):\n{text}"
    assert str(parse(text)) == text
    for node in out.walk():
        if node.op.name == "fusion":
            check_fusion(node)
    _same_meaning(graph, out, fast)


def _same_meaning(graph, out, fast):
    # power rewrites are exact in IEEE but NumPy's power is not correctly rounded: allow 2 ulps
    near = any(n.op.name == "power" for n in graph.walk())
    rng = np.random.default_rng(0)
    for _ in range(3):
        args = random_inputs(graph, rng)
        if fast:
            args = [np.nan_to_num(a, nan=0.5, posinf=3.0, neginf=-3.0) if a.dtype.kind == "f" else a for a in args]
        with np.errstate(all="ignore"):
            want, got = evaluate(graph, args), evaluate(out, args)
        for w, g in zip(want, got):
            if fast and w.dtype.kind == "f":
                fin = np.isfinite(w)
                assert np.allclose(w[fin], g[fin], rtol=1e-5, atol=1e-6)
            elif near:
                assert ulp_close(w, g, 2), f"meaning changed:\n{graph}\n{out}\nargs={args}\nwant={w}\ngot={g}"
            else:
                assert same_values(w, g), f"meaning changed:\n{graph}\n{out}\nargs={args}\nwant={w}\ngot={g}"


def _update(case, text):
    path = case.path
    parts = path.read_text().split(SPLIT + "\n")
    parts[case.index] = case.render(text)
    path.write_text((SPLIT + "\n").join(p if p.endswith("\n") else p + "\n" for p in parts))


def test_golden_files_exist():
    assert len(CASES) >= 30
