"""The C example: export from Python, call from a fresh Python process and from C (when cc is present).

examples/export_and_c/export_and_c.py checks that the fresh process's results equal the
compiled function's bit for bit and that the C program's results match them.
"""

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "export_and_c", "export_and_c.py")


def test_export_load_in_a_fresh_process_and_call_from_c(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    p = subprocess.run([sys.executable, SCRIPT, "--out", str(tmp_path)], capture_output=True, text=True, env=env,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr[-3000:]
    assert "results identical to the compiled function" in p.stdout
    assert "llvmlite imported: False" in p.stdout
    if shutil.which("cc") and shutil.which("make"):
        assert "C: 4 outputs match Python" in p.stdout, p.stdout
        assert os.path.exists(tmp_path / "c" / "main")
    else:
        pytest.skip("no C compiler or make: the C half was not run")
