"""The new real dtypes through `.crx` artifacts: export, load (llvm and jax payloads), the C header
(float16/bfloat16 as uint16_t bits) and a C program calling the native library, and the CLI's
`--arg f16[3]`.

Oracle: the compiled function itself, bit for bit (the same machine code runs everywhere), and
NumPy on the same inputs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

import ml_dtypes
import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BF16 = ml_dtypes.bfloat16


def model(a, b, c, d, e, g, h, k):
    return (a * 2 + 1, b * b, c + 250, d - 100, (e >> 3) | (e << 29), g * 3, h * h, k ^ 0xFFFF,
            cnp.sum(a.astype(cnp.float32)), b.astype(cnp.float16))


def inputs():
    return (np.array([0.5, -1.25, 3.0, 65504.0, 1e-4], np.float16), np.array([1.5, -2.0, 3.25, 1e30, 7.0], BF16),
            np.array([1, 5, 6, 200, 255], np.uint8), np.array([-100, 27, 28, 127, -28], np.int8),
            np.array([1, 8, 2**31 + 9, 2**32 - 1, 12345], np.uint32), np.array([2**63 + 5, 7], np.uint64),
            np.array([-181, 182, 300], np.int16), np.array([0, 1, 65535], np.uint16))


def _numpy(a, b, c, d, e, g, h, k):
    with np.errstate(over="ignore"):
        return ((a * np.float16(2) + np.float16(1)), (b.astype(np.float32) ** 2).astype(BF16), c + np.uint8(250),
                d - np.int8(100), (e >> np.uint32(3)) | (e << np.uint32(29)), g * np.uint64(3), h * h,
                k ^ np.uint16(0xFFFF), np.sum(a.astype(np.float32)), b.astype(np.float32).astype(np.float16))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    c = cr.jit(model, backend="llvm").lower(*inputs()).compile()
    path = tmp_path_factory.mktemp("dtypes") / "model.crx"
    c.export(path)
    return c, path


def test_compiled_matches_numpy(exported):
    c, _ = exported
    for got, want in zip(c(*inputs()), _numpy(*inputs())):
        assert np.asarray(got).dtype == np.asarray(want).dtype
        np.testing.assert_array_equal(np.asarray(got).astype(np.float64), np.asarray(want).astype(np.float64))


def test_load_round_trips_bit_for_bit(exported):
    c, path = exported
    f = cr.load(path)
    for got, want in zip(f(*inputs()), c(*inputs())):
        assert got.dtype == want.dtype and got.tobytes() == np.asarray(want).tobytes()
    with pytest.raises(TypeError, match="float16"):
        f(*(inputs()[0].astype(np.float32),) + inputs()[1:])


def test_jax_payload_round_trips(tmp_path):
    pytest.importorskip("jax")
    c = cr.jit(model, backend="jax").lower(*inputs()).compile()
    path = tmp_path / "model_jax.crx"
    c.export(path)
    f = cr.load(path)
    for got, want in zip(f(*inputs()), c(*inputs())):
        assert np.asarray(got).dtype == np.asarray(want).dtype
        assert np.asarray(got).tobytes() == np.asarray(want).tobytes()


C_MAIN = r"""
#include <stdio.h>
#include <stdlib.h>
#include "chainrule_model.h"

int main(int argc, char **argv) {
    FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
    const void *ins[CHAINRULE_MODEL_NUM_INPUTS];
    void *outs[CHAINRULE_MODEL_NUM_OUTPUTS];
    for (int i = 0; i < CHAINRULE_MODEL_NUM_INPUTS; i++) {
        void *p = malloc(chainrule_model_inputs[i].nbytes + 1);
        if (fread(p, 1, chainrule_model_inputs[i].nbytes, in) != chainrule_model_inputs[i].nbytes) return 2;
        ins[i] = p;
    }
    for (int j = 0; j < CHAINRULE_MODEL_NUM_OUTPUTS; j++) outs[j] = malloc(chainrule_model_outputs[j].nbytes + 1);
    /* float16 and bfloat16 travel as their 16 bits */
    const uint16_t *half_in = (const uint16_t *)ins[0];
    if (chainrule_model_inputs[0].dtype != CHAINRULE_FLOAT16 || half_in[0] != 0x3800) return 3;
    if (chainrule_model_inputs[1].dtype != CHAINRULE_BFLOAT16 || chainrule_model_inputs[2].dtype != CHAINRULE_UINT8) return 4;
    if (chainrule_model(ins, outs) != 0) return 5;
    for (int j = 0; j < CHAINRULE_MODEL_NUM_OUTPUTS; j++) fwrite(outs[j], 1, chainrule_model_outputs[j].nbytes, out);
    fclose(out);
    return 0;
}
"""


def test_c_header_and_a_c_program(exported, tmp_path):
    c, path = exported
    with zipfile.ZipFile(path) as z:
        header = z.read("include/chainrule_model.h").decode()
        lib = next(n for n in z.namelist() if n.startswith("native/") and n.endswith(".so"))
        (tmp_path / "libchainrule_model.so").write_bytes(z.read(lib))
    assert "uint16_t (the bits of an IEEE binary16)" in header
    assert "uint16_t (the bits of a bfloat16" in header
    assert "CHAINRULE_UINT64 = 10" in header and "uint64_t" in header
    cc = shutil.which(os.environ.get("CC", "cc"))
    if cc is None:
        pytest.skip("no C compiler")
    (tmp_path / "chainrule_model.h").write_text(header)
    (tmp_path / "main.c").write_text(C_MAIN)
    subprocess.run([cc, "-O1", "-std=c99", "-Wall", "-Werror", "-I", str(tmp_path), "-o", str(tmp_path / "main"),
                    str(tmp_path / "main.c"), "-L", str(tmp_path), "-lchainrule_model", f"-Wl,-rpath,{tmp_path}",
                    "-lm"], check=True, capture_output=True)
    (tmp_path / "in.bin").write_bytes(b"".join(np.ascontiguousarray(a).tobytes() for a in inputs()))
    subprocess.run([str(tmp_path / "main"), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], check=True,
                   timeout=60)
    want = b"".join(np.asarray(r).tobytes() for r in c(*inputs()))
    assert (tmp_path / "out.bin").read_bytes() == want


def test_cli_compile_takes_the_new_dtypes(tmp_path):
    src = tmp_path / "fns.py"
    src.write_text("def f(x, n):\n    return x * 2, n >> 1\n")
    out = tmp_path / "f.crx"
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    p = subprocess.run([sys.executable, "-m", "chainrule.cli", "compile", f"{src}:f", "--arg", "f16[3]",
                        "--arg", "u32[2]", "-o", str(out)], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    f = cr.load(out)
    a, n = f(np.array([1.5, -2, 65504], np.float16), np.array([7, 2**32 - 1], np.uint32))
    assert a.dtype == np.float16 and n.dtype == np.uint32
    np.testing.assert_array_equal(a, np.array([3, -4, np.inf], np.float16))
    np.testing.assert_array_equal(n, [3, 2**31 - 1])
