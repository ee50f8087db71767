"""Loading an artifact's native payload: no files left behind, no manifest string in a path,
one library per content.

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


def test_the_same_library_is_loaded_once(tmp_path, exported):
    p = _craft(tmp_path, exported["so"])
    f, g = cr.load(p), cr.load(p)
    assert f._runner.keepalive is g._runner.keepalive
    nfd = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    for _ in range(20):
        h = cr.load(p)
        np.testing.assert_allclose(h(X), _want(0.5), rtol=1e-6)
    if nfd is not None:
        assert len(os.listdir("/proc/self/fd")) <= nfd


def test_a_reused_descriptor_number_never_returns_the_old_library(tmp_path):
    """The memfd is closed after dlopen; the next memfd may get its number (and /proc path), which
    glibc would answer with the library already loaded under that name."""
    datas = []
    for k in (2.0, 3.0):
        m, members = read_verified(_export(str(tmp_path), k))
        nat = m["payloads"]["native"]
        datas.append((members[nat["member"]], nat["symbol"], k))
    for data, sym, k in datas:
        runner = native.NativeRunner({"kind": "shared-library", "symbol": sym, "runtime_slots": []}, data,
                                     [{"shape": [], "dtype": "float32"}])
        np.testing.assert_allclose(runner.run([X])[0], _want(k), rtol=1e-6)


def test_a_discarded_function_frees_its_runner(tmp_path, exported):
    """No reference cycle: the runner's arenas and runtime table go with the LoadedFunction (the
    library stays, shared)."""
    import weakref
    f = cr.load(_craft(tmp_path, exported["so"]))
    f(X)
    runner = weakref.ref(f._runner)
    del f
    assert runner() is None
