"""The .crx container: a zip whose every byte is checked before anything is used.

Layout: `manifest.json` plus the members it lists, each with its sha256 and
size. The zip comment carries a magic line and the sha256 of manifest.json
itself, so an altered manifest is caught too:

    chainrule-artifact format=1 manifest-sha256=<hex>[ signature-ed25519=<base64> key-id=<hex16>]

(the signature, optional, is signing.py's). `read_verified` checks, in this order, that the file is a regular file of
bounded size, that it is a zip of a bounded number of members, that the
comment names this format and version, that the manifest matches its hash
(and, given trusted keys, its signature) and its schema (schema.py), that the members present are exactly those
listed (none missing, none extra, no duplicates, no unsafe names), that
their declared sizes agree with the zip's and stay under MAX_TOTAL_SIZE, and
that every member, inflated no further than its declared size (so a zip
bomb costs nothing), matches its sha256; only then does it return the bytes. Checksums catch corruption and
accidental mix-ups, not a deliberate forgery: see docs/artifact.md.
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import os
import re
import stat
import zipfile
import zlib

from . import schema, signing
from .errors import ArtifactError

FORMAT_NAME = "chainrule-artifact"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_COMMENT = re.compile(rb"^chainrule-artifact format=(\d+) manifest-sha256=([0-9a-f]{64})"
                      rb"(?: signature-ed25519=([A-Za-z0-9+/=]{1,200}) key-id=([0-9a-f]{16}))?$")
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # reproducible archives: identical inputs give identical bytes
MAX_TOTAL_SIZE = 1 << 30     # bytes all members may inflate to together
MAX_FILE_SIZE = 1 << 30      # bytes of the archive file itself
MAX_MANIFEST_SIZE = 16 << 20
_CHUNK = 1 << 20


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack(manifest: dict, members: dict[str, bytes], signing_key=None) -> bytes:
    """The archive bytes: the members, their checksums written into the manifest, the manifest last."""
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


def _read_file(path, where) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_SIZE bytes.

    Opened non-blocking so a FIFO cannot hang the open, then fstat'ed: devices
    (/dev/zero), FIFOs, sockets and directories are refused before any read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise ArtifactError(f"cannot read artifact {where}: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ArtifactError(f"cannot read artifact {where}: not a regular file")
        if st.st_size > MAX_FILE_SIZE:
            raise ArtifactError(f"{where} is {st.st_size} bytes; an artifact has at most {MAX_FILE_SIZE}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(st.st_size + 1)  # a buffer of the file's size, not of the cap
    except OSError as e:
        raise ArtifactError(f"cannot read artifact {where}: {e.strerror or e}") from None
    finally:
        os.close(fd)
    if len(raw) > st.st_size:
        raise ArtifactError(f"{where} grew while it was read")
    return raw


def _inflate(zf, info, size, where) -> bytes:
    """The member's bytes, inflating at most `size` + 1 bytes: a zip bomb stops at its declared size."""
    if info.file_size != size:
        raise ArtifactError(f"{where}: member {info.filename} does not match its checksum in the manifest: the zip "
                            f"says {info.file_size} bytes, the manifest {size} (it was altered, swapped or damaged)")
    try:
        with zf.open(info) as f:
            chunks, got = [], 0
            while got <= size:
                chunk = f.read(min(_CHUNK, size + 1 - got))
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError,
            zlib.error) as e:
        raise ArtifactError(f"{where}: cannot read member {info.filename}: {e} (the file is damaged)") from None
    if got != size:
        raise ArtifactError(f"{where}: member {info.filename} does not inflate to its declared {size} bytes "
                            "(it was altered or damaged)")
    return b"".join(chunks)


def _manifest(zf, info, comment, where, keys) -> dict:
    """The manifest, checked against the hash in the zip comment, its signature when `keys` (trusted
    public keys) are given, then parsed and validated against the schema."""
    if info.file_size > MAX_MANIFEST_SIZE:
        raise ArtifactError(f"{where}: {MANIFEST} is {info.file_size} bytes; at most {MAX_MANIFEST_SIZE} allowed")
    mbytes = _inflate(zf, info, info.file_size, where)
    if sha256(mbytes) != comment.group(2).decode():
        raise ArtifactError(f"{where}: {MANIFEST} does not match its checksum (it was altered or damaged)")
    if keys is not None:
        signature, signer = (comment.group(k) and comment.group(k).decode() for k in (3, 4))
        signing.verify(where, mbytes, signature, signer, keys)
    try:
        manifest = json.loads(mbytes)
    except (ValueError, RecursionError) as e:
        raise ArtifactError(f"{where}: {MANIFEST} is not valid JSON: {str(e)[:200]}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME \
            or manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{where}: {MANIFEST} does not describe a {FORMAT_NAME} of format version "
                            f"{FORMAT_VERSION}")
    try:
        return schema.validate(manifest)
    except ArtifactError as e:
        raise ArtifactError(f"{where}: {e}") from None


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
    if isinstance(source, (bytes, bytearray)):
        raw = bytes(source)
        if len(raw) > MAX_FILE_SIZE:
            raise ArtifactError(f"{where} is {len(raw)} bytes; an artifact has at most {MAX_FILE_SIZE}")
    else:
        raw = _read_file(source, where)
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, NotImplementedError) as e:
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
        infos = zf.infolist()
        if len(infos) > schema.MAX_MEMBERS + 1:
            raise ArtifactError(f"{where}: the zip holds {len(infos)} members; an artifact has at most "
                                f"{schema.MAX_MEMBERS + 1}")
        counts = collections.Counter(i.filename for i in infos)
        dup = sorted(n for n, k in counts.items() if k > 1)
        if dup:
            raise ArtifactError(f"{where}: member(s) {', '.join(dup)} appear more than once")
        bad = [n for n in counts if n != MANIFEST and not schema.member_name_ok(n)]
        if bad:
            raise ArtifactError(f"{where}: unsafe member name(s) {', '.join(repr(n)[:80] for n in bad[:5])}")
        by_name = {i.filename: i for i in infos}
        if MANIFEST not in by_name:
            raise ArtifactError(f"{where}: {MANIFEST} is missing")
        manifest = _manifest(zf, by_name.pop(MANIFEST), m, where, keys)
        listed = manifest["members"]
        missing = sorted(set(listed) - set(by_name))
        extra = sorted(set(by_name) - set(listed))
        if missing:
            raise ArtifactError(f"{where}: member(s) {', '.join(missing)} listed in the manifest are missing")
        if extra:
            raise ArtifactError(f"{where}: member(s) {', '.join(extra)} are not listed in the manifest")
        total = sum(want["size"] for want in listed.values())
        if total > MAX_TOTAL_SIZE:
            raise ArtifactError(f"{where}: the members add up to {total} bytes; an artifact holds at most "
                                f"{MAX_TOTAL_SIZE}")
        data = {}
        for name, info in by_name.items():
            want = listed[name]
            blob = _inflate(zf, info, want["size"], where)
            if sha256(blob) != want["sha256"]:
                raise ArtifactError(f"{where}: member {name} does not match its checksum in the manifest "
                                    "(it was altered, swapped or damaged)")
            data[name] = blob
    return manifest, data
