"""Complex values and fft in .crx artifacts: export, load (native, no recompilation) and the C header."""

import zipfile

import numpy as np

import chainrule as cr
import chainrule.numpy as cnp


def _signal(x, z):
    y = cnp.fft.rfft(x, n=12) * z + cnp.conj(z) / (1.0 + cnp.abs(z))
    return cnp.fft.irfft(y, n=12), cnp.fft.fft2(z.reshape(1, 7))


def test_complex_fft_artifact_round_trip_and_c_header(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(10)
    z = rng.standard_normal(7) + 1j * rng.standard_normal(7)
    c = cr.jit(_signal, backend="llvm").lower(x, z).compile()
    want = c(x, z)
    path = cr.export(c, tmp_path / "fft.crx", payloads=["native"])
    g = cr.load(path)
    got = g(x, z)
    for a, w in zip(got, want):
        assert a.dtype == w.dtype
        np.testing.assert_array_equal(a, w)
    ref = cr.jit(_signal, backend="reference")(x, z)
    for a, w in zip(got, ref):
        np.testing.assert_allclose(a, w, rtol=1e-12, atol=1e-12)
    assert "c128[7]" in g.as_text() and "fft_type=RFFT" in g.as_text()
    with zipfile.ZipFile(path) as zf:
        header = zf.read(g.manifest["payloads"]["native"]["header"]).decode()
    assert "CHAINRULE_COMPLEX128" in header and "double _Complex" in header
