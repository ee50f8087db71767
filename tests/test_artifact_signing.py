"""Signed artifacts: `export(signing_key=)`, `load(trusted_keys=)`, `chainrule keygen` and `--trusted-key`.

A signature covers the manifest (which holds every member's hash); with
trusted keys given, an unsigned, foreign-signed or altered artifact is
refused before any member but the manifest is read, and nothing runs.
"""

import io
import json
import os
import stat
import zipfile

import numpy as np
import pytest

pytest.importorskip("cryptography")

import chainrule as cr  # noqa: E402
import chainrule.numpy as cnp  # noqa: E402
from chainrule.artifact import ArtifactError, native  # noqa: E402
from chainrule.artifact.container import MANIFEST, pack, read_verified, sha256  # noqa: E402
from chainrule.artifact.signing import generate  # noqa: E402
from chainrule.cli import main  # noqa: E402

X = np.linspace(-1, 1, 8)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    return generate(d / "alice"), generate(d / "mallory")


@pytest.fixture(scope="module")
def compiled():
    return cr.jit(lambda v: cnp.sum(cnp.tanh(v) * v)).lower(X).compile()


@pytest.fixture(scope="module")
def signed(tmp_path_factory, keys, compiled):
    path = tmp_path_factory.mktemp("signed") / "f.crx"
    compiled.export(path, payloads=["native"], signing_key=keys[0][0])
    return path


@pytest.fixture
def opened(monkeypatch):
    """Records every member read after the manifest (none may be read when a signature fails)."""
    calls = []
    real = zipfile.ZipFile.read
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda self, n, *a: calls.append(n) or real(self, n, *a))
    return calls


def _expected():
    return np.sum(np.tanh(X) * X)


def test_signed_artifact_loads_with_its_key(signed, keys):
    alice = keys[0][1]
    for trusted in ([alice], alice, [keys[1][1], alice], [open(alice, "rb").read()]):
        f = cr.load(signed, trusted_keys=trusted)
        np.testing.assert_allclose(f(X), _expected(), rtol=1e-12)


def test_signed_artifact_loads_without_trusted_keys(signed):
    np.testing.assert_allclose(cr.load(signed)(X), _expected(), rtol=1e-12)


def test_the_private_key_file_is_private(keys):
    priv, pub = keys[0]
    assert stat.S_IMODE(os.stat(priv).st_mode) == 0o600
    assert open(pub).read().startswith("-----BEGIN PUBLIC KEY-----")


def test_another_key_is_refused_before_any_member_is_read(signed, keys, opened):
    with pytest.raises(ArtifactError, match="does not verify with any trusted key"):
        cr.load(signed, trusted_keys=[keys[1][1]])
    assert [n for n in opened if n != MANIFEST] == []


def test_unsigned_artifact_is_refused_when_keys_are_given(tmp_path, keys, compiled, opened):
    path = tmp_path / "u.crx"
    compiled.export(path, payloads=["native"])
    with pytest.raises(ArtifactError, match="is not signed"):
        cr.load(path, trusted_keys=[keys[0][1]])
    assert [n for n in opened if n != MANIFEST] == []


def _repack(raw, edit_manifest, comment=None):
    """The archive with the manifest edited and its hash in the comment recomputed, signature kept."""
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        entries = [(i.filename, zf.read(i.filename)) for i in zf.infolist()]
        old_comment = zf.comment
    out = []
    for name, data in entries:
        if name == MANIFEST:
            m = json.loads(data)
            edit_manifest(m)
            new = json.dumps(m, indent=1, sort_keys=True).encode()
            old_hash = old_comment.split(b"manifest-sha256=")[1][:64]
            old_comment = old_comment.replace(old_hash, sha256(new).encode())
            data = new
        out.append((name, data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in out:
            zf.writestr(name, data)
        zf.comment = comment if comment is not None else old_comment
    return buf.getvalue()


def test_a_manifest_altered_after_signing_is_refused(signed, keys, tmp_path):
    def edit(m):
        m["signature"]["inputs"][0]["shape"] = [512]
    bad = tmp_path / "bad.crx"
    bad.write_bytes(_repack(signed.read_bytes(), edit))
    with pytest.raises(ArtifactError, match="does not verify"):
        cr.load(bad, trusted_keys=[keys[0][1]])


def test_a_signature_copied_onto_another_artifact_is_refused(signed, keys, compiled, tmp_path):
    with zipfile.ZipFile(signed) as zf:
        sig_fields = zf.comment.split(b" signature-ed25519=")[1]
    other = tmp_path / "other.crx"
    cr.jit(lambda v: v * 2.0).lower(X).compile().export(other, payloads=["native"])
    raw = other.read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        comment = zf.comment + b" signature-ed25519=" + sig_fields
    bad = tmp_path / "bad.crx"
    bad.write_bytes(_repack(raw, lambda m: None, comment))
    with pytest.raises(ArtifactError, match="does not verify"):
        cr.load(bad, trusted_keys=[keys[0][1]])


def test_a_signature_that_is_not_base64_is_refused(signed, keys, tmp_path):
    raw = signed.read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        head, tail = zf.comment.split(b" signature-ed25519=")
        comment = head + b" signature-ed25519=====" + tail[tail.index(b" key-id="):]
    bad = tmp_path / "bad.crx"
    bad.write_bytes(_repack(raw, lambda m: None, comment))
    with pytest.raises(ArtifactError):
        cr.load(bad, trusted_keys=[keys[0][1]])


def test_pack_signs_what_read_verified_checks(keys, signed):
    manifest, members = read_verified(signed.read_bytes())
    raw = pack(manifest, members, keys[1][0])  # the same content, signed by the other key
    assert read_verified(raw, trusted_keys=[keys[1][1]])[1] == members
    with pytest.raises(ArtifactError):
        read_verified(raw, trusted_keys=[keys[0][1]])


def test_bad_keys_are_the_callers_error(signed, keys, tmp_path, compiled):
    with pytest.raises(ValueError, match="empty"):
        cr.load(signed, trusted_keys=[])
    with pytest.raises(ValueError, match="not a PEM public key"):
        cr.load(signed, trusted_keys=[b"not a key"])
    with pytest.raises(ValueError, match="cannot read"):
        cr.load(signed, trusted_keys=[tmp_path / "missing.pub"])
    with pytest.raises(ValueError, match="PEM private key"):
        compiled.export(tmp_path / "x.crx", signing_key=keys[0][1])  # a public key cannot sign
    assert not (tmp_path / "x.crx").exists()


def test_keygen_never_overwrites(tmp_path):
    generate(tmp_path / "k")
    with pytest.raises(FileExistsError):
        generate(tmp_path / "k")


def test_cli_keygen_compile_run_show(tmp_path, capsys):
    model = tmp_path / "model.py"
    model.write_text("import chainrule.numpy as cnp\ndef f(x):\n    return cnp.sum(x * x)\n")
    assert main(["keygen", "-o", str(tmp_path / "k")]) == 0
    assert main(["keygen", "-o", str(tmp_path / "other")]) == 0
    assert main(["keygen", "-o", str(tmp_path / "k")]) == 1  # exists: one line, exit 1
    art = tmp_path / "f.crx"
    assert main(["compile", f"{model}:f", "--arg", "f64[3]", "--signing-key", str(tmp_path / "k"),
                 "--payloads", "native,graph", "-o", str(art)]) == 0
    np.savez(tmp_path / "in.npz", arg0=np.array([1.0, 2.0, 3.0]))
    capsys.readouterr()
    assert main(["run", str(art), "--inputs", str(tmp_path / "in.npz"), "--trusted-key", str(tmp_path / "k.pub")]) == 0
    assert "14." in capsys.readouterr().out
    assert main(["show", str(art), "--no-ir", "--trusted-key", str(tmp_path / "k.pub")]) == 0
    assert "verified with a trusted key" in capsys.readouterr().out
    assert main(["run", str(art), "--inputs", str(tmp_path / "in.npz"),
                 "--trusted-key", str(tmp_path / "other.pub")]) == 1
    err = capsys.readouterr().err
    assert "does not verify with any trusted key" in err and len(err.strip().splitlines()) == 1
    assert main(["show", str(art), "--trusted-key", str(tmp_path / "other.pub")]) == 1
