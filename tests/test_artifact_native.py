"""Loading an artifact's native payload: no files left behind, no manifest string in a path.

Bad artifacts are crafted the way an attacker would (container.pack recomputes the checksums).
"""

import os
import tempfile

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.artifact import ArtifactError, native
from chainrule.artifact.container import pack, read_verified

X = np.linspace(-1, 1, 8).astype(np.float32)


def _export(tmp, k: float, linker=True):
    c = cr.jit(lambda v: cnp.sum(cnp.tanh(v) * v) + k).lower(X).compile()
    path = os.path.join(tmp, f"f{k}{'' if linker else '-o'}.crx")
    if linker:
        cr.export(c, path, payloads=["native"])
    else:
        import chainrule.backends.llvm.export as nexp
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(nexp, "_linker_name", lambda: None)
            with pytest.warns(RuntimeWarning, match="no linker"):
                cr.export(c, path, payloads=["native"])
    return path


def _want(k):
    return np.sum(np.tanh(X) * X) + np.float32(k)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("native"))
    return {"so": read_verified(_export(d, 0.5)), "obj": read_verified(_export(d, 0.5, linker=False))}


def _craft(tmp_path, base, data=None, **native_fields):
    """An artifact like `base` with the native member's bytes and manifest fields replaced."""
    manifest, members = base
    manifest = dict(manifest, payloads=dict(manifest["payloads"]))
    nat = manifest["payloads"]["native"] = dict(manifest["payloads"]["native"], **native_fields)
    members = dict(members)
    if data is not None:
        members[nat["member"]] = data
    path = tmp_path / "crafted.crx"
    path.write_bytes(pack(manifest, members))
    return path


def test_without_memfd_no_temporary_file_remains(tmp_path, monkeypatch):
    path = _export(str(tmp_path), 1.25)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.delattr(os, "memfd_create")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setattr(native, "_libraries", {}, raising=False)  # a real dlopen, not a shared one
    f = cr.load(path)
    assert f.payload == "native"
    np.testing.assert_allclose(f(X), _want(1.25), rtol=1e-6)
    assert os.listdir(tmp) == []


def test_manifest_symbol_never_reaches_a_path(tmp_path, monkeypatch, exported):
    """An absolute path as `symbol` once made the loader write a file there (without memfd)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.delattr(os, "memfd_create")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setattr(native, "_libraries", {}, raising=False)
    for bad in (str(outside / "evil"), "../evil", "a b", "x" * 200, "", 7):
        p = _craft(tmp_path, exported["so"], symbol=bad)
        with pytest.raises(ArtifactError, match="not a C identifier"):
            cr.load(p, payload="native")
    assert os.listdir(outside) == [] and os.listdir(tmp) == []
