"""Loading an artifact's native payload: no files left behind, no manifest string in a path,
one library per content, and a malformed payload is an ArtifactError, never a crash.

Bad artifacts are crafted the way an attacker would (container.pack recomputes the checksums);
malformed payloads are each loaded in a child process, so a segfault or an LLVM abort shows as
a failed test instead of a dead pytest worker.
"""

import os
import re
import struct
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.artifact import ArtifactError, native
from chainrule.artifact.container import pack, read_verified

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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
        with pytest.raises(ArtifactError, match="C identifier"):  # the manifest schema refuses it first
            cr.load(p, payload="native")
        with pytest.raises(ArtifactError, match="not a C identifier"):  # and the native loader on its own
            native.open_library(exported["so"], bad)
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


def _sections(obj):
    shoff, = struct.unpack_from("<Q", obj, 0x28)
    shnum, = struct.unpack_from("<H", obj, 0x3C)
    return [(shoff + 64 * k, struct.unpack_from("<IIQQQQIIQQ", obj, shoff + 64 * k)) for k in range(shnum)]


def _bad_relocation(obj, field, value):
    """The first RELA entry with its r_offset (field 0) or r_info type (field 8) replaced."""
    out = bytearray(obj)
    sec = [s for _, s in _sections(obj) if s[1] == 4][0]
    struct.pack_into("<Q" if field == 0 else "<I", out, sec[4] + field, value)
    return bytes(out)


def _other_machine(obj):
    out = bytearray(obj)
    mine, = struct.unpack_from("<H", obj, 18)
    struct.pack_into("<H", out, 18, 183 if mine == 62 else 62)
    return bytes(out)


def _section_past_end(obj):
    out = bytearray(obj)
    at, sec = [(at, s) for at, s in _sections(obj) if s[1] == 1 and s[5]][0]
    struct.pack_into("<Q", out, at + 24, len(obj) - 8)  # sh_offset of the first PROGBITS section
    return bytes(out)


def _renamed_import(obj):
    assert obj.count(b"\0malloc\0") == 1
    return obj.replace(b"\0malloc\0", b"\0mallox\0")


def _so(ex):
    m, members = ex["so"]
    return members[m["payloads"]["native"]["member"]]


def _obj(ex):
    m, members = ex["obj"]
    return members[m["payloads"]["native"]["member"]]


CASES = {
    "object: garbage bytes": ("obj", lambda ex: bytes(range(256)) * 64, {}, "not an ELF file"),
    "object: truncated": ("obj", lambda ex: _obj(ex)[: len(_obj(ex)) // 2], {}, "past the end"),
    "object: a shared library": ("obj", _so, {}, "expected a relocatable object"),
    "object: unknown relocation type": ("obj", lambda ex: _bad_relocation(_obj(ex), 8, 99), {}, "relocation type 99"),
    "object: relocation outside its section": ("obj", lambda ex: _bad_relocation(_obj(ex), 0, 1 << 40), {},
                                               "outside its"),
    "object: another machine": ("obj", lambda ex: _other_machine(_obj(ex)), {}, "ELF machine"),
    "object: section past the end": ("obj", lambda ex: _section_past_end(_obj(ex)), {}, "past the end"),
    "object: undefined function": ("obj", lambda ex: _renamed_import(_obj(ex)), {}, "calls mallox"),
    "object: no entry point": ("obj", None, {"symbol": "chainrule_other"}, "does not define the function"),
    "library: garbage bytes": ("so", lambda ex: b"\x7fELF" + bytes(range(256)) * 8, {}, "not 64-bit|ELF type"),
    "library: object code": ("so", _obj, {}, "expected a shared library"),
    "library: another machine": ("so", lambda ex: _other_machine(_so(ex)), {}, "ELF machine"),
}

_CHILD = textwrap.dedent("""
    import sys
    import chainrule as cr
    from chainrule.artifact import ArtifactError
    try:
        cr.load(sys.argv[1], payload="native")
    except ArtifactError as e:
        print("ArtifactError:", e)
    else:
        print("loaded")
""")


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_payload_is_an_error_not_a_crash(tmp_path, exported, case):
    base, make, fields, match = CASES[case]
    data = make(exported) if make else None
    path = _craft(tmp_path, exported[base], data, **fields)
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, f"the loading process died ({out.returncode}): {out.stderr[-2000:]}"
    assert out.stdout.startswith("ArtifactError:"), out.stdout
    assert re.search(match, out.stdout), out.stdout


def test_the_checked_object_payload_still_loads(tmp_path, exported):
    f = cr.load(_craft(tmp_path, exported["obj"]), payload="native")
    np.testing.assert_allclose(f(X), _want(0.5), rtol=1e-6)


def test_hosts_without_elf_skip_the_library_check_and_refuse_object_code(monkeypatch, exported):
    """macOS loads Mach-O: its libraries are not ELF-checked, and object code (checked only as ELF)
    is refused, so loading falls back instead of handing RuntimeDyld an unchecked object."""
    from chainrule.artifact import elf
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not elf.host_uses_elf() and elf.host_machine() is None
    with pytest.raises(ArtifactError, match="only on x86-64 and aarch64 ELF hosts"):
        elf.check_object(_obj(exported), "chainrule_x", elf.host_machine())


def test_the_object_checker_raises_only_artifact_errors(exported):
    """Random byte changes in an object: the checker accepts or raises ArtifactError, nothing else
    (an IndexError or struct.error would mean it read past what it had checked)."""
    from chainrule.artifact import elf
    obj = _obj(exported)
    symbol = exported["obj"][0]["payloads"]["native"]["symbol"]
    machine = elf.host_machine()
    if machine is None:
        pytest.skip("object code is checked on x86-64 and aarch64 ELF hosts only")
    header_end = struct.unpack_from("<Q", obj, 0x28)[0]
    rng = np.random.default_rng(0)
    for _ in range(400):
        out = bytearray(obj)
        for _ in range(int(rng.integers(1, 4))):
            # bias half of the changes into the ELF and section headers, where they matter most
            at = int(rng.integers(0, 64)) if rng.random() < 0.25 else int(rng.integers(header_end, len(obj))) \
                if rng.random() < 0.5 else int(rng.integers(0, len(obj)))
            out[at] = int(rng.integers(0, 256))
        try:
            elf.check_object(bytes(out), symbol, machine)
        except ArtifactError:
            pass
