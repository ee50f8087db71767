"""The .crx container: a zip whose every byte is checked before anything is used.

Layout: `manifest.json` plus the members it lists, each with its sha256 and
size. The zip comment carries a magic line and the sha256 of manifest.json
itself, so an altered manifest is caught too:

    chainrule-artifact format=1 manifest-sha256=<hex>

`read_verified` checks, in this order, that the file is a zip, that the
comment names this format and version, that the manifest matches its hash,
that the members present are exactly those listed (none missing, none extra,
no duplicates, no unsafe names), and that every member matches its sha256
and size; only then does it return the bytes. Checksums catch corruption and
accidental mix-ups, not a deliberate forgery: see docs/artifact.md.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile

from . import signing
from .errors import ArtifactError

FORMAT_NAME = "chainrule-artifact"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_COMMENT = re.compile(rb"^chainrule-artifact format=(\d+) manifest-sha256=([0-9a-f]{64})"
                      rb"(?: signature-ed25519=([A-Za-z0-9+/=]{1,200}) key-id=([0-9a-f]{16}))?$")
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # reproducible archives: identical inputs give identical bytes


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack(manifest: dict, members: dict[str, bytes], signing_key=None) -> bytes:
    """The archive bytes: the members, their checksums written into the manifest, the manifest last.

    signing_key: an Ed25519 private key (see signing.py) whose signature of the manifest goes into
    the zip comment."""
    manifest = dict(manifest)
    manifest["members"] = {name: {"sha256": sha256(data), "size": len(data)} for name, data in sorted(members.items())}
    mbytes = json.dumps(manifest, indent=1, sort_keys=True).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in [(MANIFEST, mbytes)] + sorted(members.items()):
            info = zipfile.ZipInfo(name, _FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
        signature = "" if signing_key is None else signing.sign(mbytes, signing_key)
        zf.comment = f"{FORMAT_NAME} format={FORMAT_VERSION} manifest-sha256={sha256(mbytes)}{signature}".encode()
    return buf.getvalue()


def _safe_name(name: str) -> bool:
    return bool(name) and not name.startswith("/") and "\\" not in name and \
        all(part not in ("", ".", "..") for part in name.split("/"))


def signer(source) -> str | None:
    """The key id in the zip comment of a verified artifact at `source` (a path or bytes), or None
    when it is unsigned; the signature itself is checked by read_verified(trusted_keys=...)."""
    with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source) as zf:
        m = _COMMENT.match(zf.comment or b"")
    return m.group(4).decode() if m and m.group(4) else None


def read_verified(source, trusted_keys=None) -> tuple[dict, dict[str, bytes]]:
    """(manifest, member bytes) of the artifact at `source` (a path or bytes), all checks passed.

    trusted_keys: Ed25519 public keys (see signing.py); when given, the manifest must carry a
    signature by one of them, checked before any other member is read."""
    where = "<bytes>" if isinstance(source, (bytes, bytearray)) else str(source)
    keys = None if trusted_keys is None else signing.public_keys(trusted_keys)  # bad keys: the caller's error
    try:
        if isinstance(source, (bytes, bytearray)):
            raw = bytes(source)
        else:
            with open(source, "rb") as f:
                raw = f.read()
    except OSError as e:
        raise ArtifactError(f"cannot read artifact {where}: {e.strerror or e}") from None
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, ValueError, EOFError) as e:
        raise ArtifactError(f"{where} is not a chainrule artifact: not a complete zip archive ({e}); "
                            "the file may be truncated or of another kind") from None
    with zf:
        m = _COMMENT.match(zf.comment or b"")
        if m is None:
            raise ArtifactError(f"{where} is not a chainrule artifact: its zip comment does not name the "
                                f"{FORMAT_NAME} format")
        version = int(m.group(1))
        if version != FORMAT_VERSION:
            newer = " (written by a newer chainrule: upgrade to load it)" if version > FORMAT_VERSION else ""
            raise ArtifactError(f"{where} has artifact format version {version}; this chainrule reads "
                                f"version {FORMAT_VERSION}{newer}")
        names = [i.filename for i in zf.infolist()]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ArtifactError(f"{where}: member(s) {', '.join(dup)} appear more than once")
        bad = [n for n in names if not _safe_name(n)]
        if bad:
            raise ArtifactError(f"{where}: unsafe member name(s) {', '.join(map(repr, bad))}")
        if MANIFEST not in names:
            raise ArtifactError(f"{where}: {MANIFEST} is missing")
        data = {}
        try:
            for n in [MANIFEST] + [n for n in names if n != MANIFEST]:
                data[n] = zf.read(n)
                if n == MANIFEST:
                    if sha256(data[n]) != m.group(2).decode():
                        raise ArtifactError(f"{where}: {MANIFEST} does not match its checksum "
                                            "(it was altered or damaged)")
                    if keys is not None:
                        signing.verify(where, data[n], m.group(3) and m.group(3).decode(),
                                       m.group(4) and m.group(4).decode(), keys)
        except ArtifactError:
            raise
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as e:
            raise ArtifactError(f"{where}: cannot read member {n}: {e} (the file is damaged)") from None
    mbytes = data.pop(MANIFEST)
    try:
        manifest = json.loads(mbytes)
    except ValueError as e:
        raise ArtifactError(f"{where}: {MANIFEST} is not valid JSON: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME \
            or manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{where}: {MANIFEST} does not describe a {FORMAT_NAME} of format version "
                            f"{FORMAT_VERSION}")
    listed = manifest.get("members")
    if not isinstance(listed, dict):
        raise ArtifactError(f"{where}: {MANIFEST} lists no members")
    missing = sorted(set(listed) - set(data))
    extra = sorted(set(data) - set(listed))
    if missing:
        raise ArtifactError(f"{where}: member(s) {', '.join(missing)} listed in the manifest are missing")
    if extra:
        raise ArtifactError(f"{where}: member(s) {', '.join(extra)} are not listed in the manifest")
    for name, blob in data.items():
        want = listed[name]
        if not isinstance(want, dict) or want.get("size") != len(blob) or want.get("sha256") != sha256(blob):
            raise ArtifactError(f"{where}: member {name} does not match its checksum in the manifest "
                                "(it was altered, swapped or damaged)")
    return manifest, data
