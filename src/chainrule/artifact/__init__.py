"""Compiled artifacts (.crx): `export(compiled, path)` and `load(path)`.

An artifact is a zip of a manifest, the optimised graph's text form, a
native shared library for the exporting host with a C header, and
serialized StableHLO (see docs/artifact.md for the format and what loading
one trusts). Loading checks every checksum first and never unpickles; the
native path needs neither llvmlite nor jax.
"""

from .errors import ArtifactError
from .loader import ArtifactFallbackWarning, LoadedFunction, load


def export(compiled, path, **options):
    """Write `compiled` to `path` as a .crx artifact (see writer.export)."""
    from .writer import export as _export
    return _export(compiled, path, **options)


__all__ = ["ArtifactError", "ArtifactFallbackWarning", "LoadedFunction", "export", "load"]
