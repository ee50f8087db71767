"""A damaged, altered or foreign artifact is rejected before any of it is used.

Each case builds a bad file from a good one and checks that `cr.load` raises
ArtifactError and that no native library was opened (nothing ran).
"""

import io
import json
import zipfile

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.artifact import ArtifactError
from chainrule.artifact.container import MANIFEST, sha256


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    x = np.linspace(-1, 1, 8).astype(np.float32)
    c = cr.jit(lambda v: cnp.sum(cnp.tanh(v) * v)).lower(x).compile()
    path = tmp_path_factory.mktemp("good") / "good.crx"
    cr.export(c, path, payloads=["native"])
    return path.read_bytes()


def _members(raw):
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        return [(i.filename, zf.read(i.filename)) for i in zf.infolist()], zf.comment


def _zip(entries, comment):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries:
            zf.writestr(name, data)
        zf.comment = comment
    return buf.getvalue()


def _reject(tmp_path, raw, opened, match):
    p = tmp_path / "bad.crx"
    p.write_bytes(raw)
    with pytest.raises(ArtifactError, match=match):
        cr.load(p)
    assert opened == []


def test_the_good_file_loads(tmp_path, good, opened):
    p = tmp_path / "ok.crx"
    p.write_bytes(good)
    g = cr.load(p)
    x = np.linspace(-1, 1, 8).astype(np.float32)
    np.testing.assert_allclose(g(x), np.sum(np.tanh(x) * x), rtol=1e-5)
    assert len(opened) == 1  # the recorder sees a real load


def _names(good):
    return [n for n, _ in _members(good)[0]]


@pytest.mark.parametrize("which", ["manifest.json", "graph.crir", "native", "include"])
def test_every_altered_member_is_rejected(tmp_path, good, opened, which):
    entries, comment = _members(good)
    (k,) = [i for i, (n, _) in enumerate(entries) if n.startswith(which)]
    name, data = entries[k]
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0x01
    entries[k] = (name, bytes(flipped))
    _reject(tmp_path, _zip(entries, comment), opened, "checksum")


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9, 0.99])
def test_truncated_files_are_rejected(tmp_path, good, opened, cut):
    _reject(tmp_path, good[: int(len(good) * cut)], opened, "not a complete zip|not a chainrule artifact")


def test_swapped_members_are_rejected(tmp_path, good, opened):
    entries, comment = _members(good)
    names = [n for n, _ in entries]
    i, j = names.index("graph.crir"), next(k for k, n in enumerate(names) if n.startswith("native/"))
    entries[i], entries[j] = (entries[i][0], entries[j][1]), (entries[j][0], entries[i][1])
    _reject(tmp_path, _zip(entries, comment), opened, "does not match its checksum")


def test_missing_member_is_rejected(tmp_path, good, opened):
    entries, comment = _members(good)
    entries = [e for e in entries if not e[0].startswith("native/")]
    _reject(tmp_path, _zip(entries, comment), opened, "missing")


def test_missing_manifest_is_rejected(tmp_path, good, opened):
    entries, comment = _members(good)
    _reject(tmp_path, _zip([e for e in entries if e[0] != MANIFEST], comment), opened, "manifest.json is missing")


def test_extra_member_is_rejected(tmp_path, good, opened):
    entries, comment = _members(good)
    _reject(tmp_path, _zip(entries + [("native/evil.so", b"\x7fELF")], comment), opened, "not listed")


def test_duplicate_member_is_rejected(tmp_path, good, opened):
    entries, comment = _members(good)
    dup = next(e for e in entries if e[0] == "graph.crir")
    with pytest.warns(UserWarning):  # zipfile warns about the duplicate name
        raw = _zip(entries + [dup], comment)
    _reject(tmp_path, raw, opened, "more than once")


def test_wrong_format_version_is_rejected(tmp_path, good, opened):
    entries, comment = _members(good)
    _reject(tmp_path, _zip(entries, comment.replace(b"format=1", b"format=7")), opened,
            "format version 7.*newer chainrule")


def test_manifest_with_another_format_version_is_rejected(tmp_path, good, opened):
    """A manifest that disagrees with the comment, consistently re-hashed, is still refused."""
    entries, comment = _members(good)
    k = [n for n, _ in entries].index(MANIFEST)
    m = json.loads(entries[k][1])
    m["format_version"] = 2
    mbytes = json.dumps(m).encode()
    entries[k] = (MANIFEST, mbytes)
    new_comment = comment[: comment.index(b"manifest-sha256=")] + b"manifest-sha256=" + sha256(mbytes).encode()
    _reject(tmp_path, _zip(entries, new_comment), opened, "format version 1")


def test_foreign_files_are_rejected(tmp_path, good, opened):
    _reject(tmp_path, b"\x7fELF" + bytes(200), opened, "not a chainrule artifact")
    _reject(tmp_path, _zip([("hello.txt", b"hi")], b""), opened, "zip comment")
    entries, _ = _members(good)
    _reject(tmp_path, _zip(entries, b""), opened, "zip comment")
    _reject(tmp_path, b"", opened, "not a chainrule artifact")


def test_unsafe_member_names_are_rejected(tmp_path, good, opened):
    entries, comment = _members(good)
    _reject(tmp_path, _zip(entries + [("../escape.so", b"x")], comment), opened, "unsafe member")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ArtifactError, match="cannot read artifact"):
        cr.load(tmp_path / "nope.crx")


def test_loading_never_unpickles(tmp_path, good, monkeypatch):
    import pickle

    def refuse(*a, **k):
        raise AssertionError("the loader unpickled something")
    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    p = tmp_path / "ok.crx"
    p.write_bytes(good)
    g = cr.load(p)
    assert np.isfinite(g(np.zeros(8, np.float32)))
