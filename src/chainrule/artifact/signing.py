"""Ed25519 signatures over an artifact's manifest: who made it, not only that it is intact.

The manifest holds the sha256 and size of every other member, so signing
the manifest's bytes signs the whole artifact. The signature lives in the
zip comment beside the manifest's hash, where it can be checked before any
member is opened:

    chainrule-artifact format=1 manifest-sha256=<hex> signature-ed25519=<base64> key-id=<hex16>

The signed message is a fixed domain prefix followed by the manifest bytes,
so a signature made for anything else never verifies here. Keys are the
`cryptography` package's Ed25519 keys (an optional dependency: install
`chainrule[sign]`), in PEM files as `chainrule keygen` writes them, as PEM
bytes, or as key objects. A signature proves origin for the manifest only:
that the payloads inside implement the signature it lists is still checked
on load (loader.py).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from .errors import ArtifactError

DOMAIN = b"chainrule-artifact-signature-v1\0"
_MAX_KEY_FILE = 64 * 1024


def _crypto():
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as e:
        raise ImportError("signed artifacts need the `cryptography` package: pip install 'chainrule[sign]' "
                          f"({e})") from None
    return serialization, ed25519


def _key_bytes(key, what: str) -> bytes | None:
    """PEM bytes of `key` when it is a path or PEM text/bytes; None for a key object."""
    if isinstance(key, (bytes, bytearray)):
        return bytes(key)
    if isinstance(key, str) and key.lstrip().startswith("-----BEGIN"):
        return key.encode()
    if isinstance(key, (str, os.PathLike)):
        try:
            with open(key, "rb") as f:
                data = f.read(_MAX_KEY_FILE + 1)
        except OSError as e:
            raise ValueError(f"cannot read the {what} {os.fspath(key)}: {e.strerror or e}") from None
        if len(data) > _MAX_KEY_FILE:
            raise ValueError(f"the {what} {os.fspath(key)} is not a key file (over {_MAX_KEY_FILE} bytes)")
        return data
    return None


def private_key(key):
    """An Ed25519 private key from a key object, PEM bytes/text or the path of a PEM file."""
    serialization, ed25519 = _crypto()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    data = _key_bytes(key, "signing key")
    if data is None:
        raise TypeError(f"signing_key must be an Ed25519 private key, PEM bytes or a path, got {type(key).__name__}")
    try:
        obj = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise ValueError(f"the signing key is not an unencrypted PEM private key: {e}") from None
    if not isinstance(obj, ed25519.Ed25519PrivateKey):
        raise ValueError(f"the signing key is a {type(obj).__name__}; artifacts are signed with Ed25519 keys "
                         "(make one with `chainrule keygen`)")
    return obj


def public_key(key):
    """An Ed25519 public key from a key object (public or private), PEM bytes/text or a PEM file's path."""
    serialization, ed25519 = _crypto()
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.public_key()
    data = _key_bytes(key, "trusted key")
    if data is None:
        raise TypeError(f"a trusted key must be an Ed25519 public key, PEM bytes or a path, got {type(key).__name__}")
    try:
        obj = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as e:
        raise ValueError(f"a trusted key is not a PEM public key: {e}") from None
    if not isinstance(obj, ed25519.Ed25519PublicKey):
        raise ValueError(f"a trusted key is a {type(obj).__name__}; artifacts are signed with Ed25519 keys")
    return obj


def key_id(pub) -> str:
    """16 hex digits naming a public key: the start of the sha256 of its raw 32 bytes."""
    serialization, _ = _crypto()
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(manifest_bytes: bytes, key) -> str:
    """The comment fields that sign `manifest_bytes` with `key`: ' signature-ed25519=... key-id=...'."""
    k = private_key(key)
    sig = k.sign(DOMAIN + manifest_bytes)
    return f" signature-ed25519={base64.b64encode(sig).decode()} key-id={key_id(k.public_key())}"


def public_keys(trusted_keys) -> list:
    """The Ed25519 public keys of `trusted_keys` (one key, or a list of them); ValueError when empty."""
    if isinstance(trusted_keys, (str, bytes, bytearray, os.PathLike)) or not hasattr(trusted_keys, "__iter__"):
        trusted_keys = [trusted_keys]
    keys = [public_key(k) for k in trusted_keys]
    if not keys:
        raise ValueError("trusted_keys is empty: pass at least one public key, or None to skip signature checks")
    return keys


def verify(where: str, manifest_bytes: bytes, signature: str | None, signer: str | None, keys: list) -> str:
    """The key id of the key in `keys` (from public_keys) that signed `manifest_bytes`; ArtifactError
    when none did."""
    if signature is None:
        raise ArtifactError(f"{where} is not signed, and trusted keys were given: refusing to open it")
    try:
        sig = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise ArtifactError(f"{where}: its signature is not valid base64") from None
    from cryptography.exceptions import InvalidSignature
    for pub in keys:
        try:
            pub.verify(sig, DOMAIN + manifest_bytes)
            return key_id(pub)
        except InvalidSignature:
            continue
    ids = ", ".join(key_id(p) for p in keys)
    raise ArtifactError(f"{where}: the signature (key id {signer or 'unknown'}) does not verify with any trusted "
                        f"key ({ids}): it was signed by another key, or the manifest was altered")


def generate(path) -> tuple[str, str]:
    """Write a new Ed25519 key pair: the private key to `path` (mode 0600, never overwritten) and the
    public key to `path`.pub. Returns (private path, public path)."""
    serialization, ed25519 = _crypto()
    key = ed25519.Ed25519PrivateKey.generate()
    priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    path = os.fspath(path)
    written = []
    try:
        for p, data, mode in ((path, priv, 0o600), (path + ".pub", pub, 0o644)):
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
            written.append(p)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
    except BaseException:
        for p in written:
            try:
                os.unlink(p)
            except OSError:
                pass
        raise
    return path, path + ".pub"
