"""Hostile artifacts: consistent checksums (what an attacker writes) but lying contents.

Each case crafts an artifact with `container.pack`, which recomputes every
checksum, so the lie reaches the checks behind them: the manifest's schema,
the payloads' signatures against the manifest's, bounded inflation, member
counts, non-regular files. Every one must give one ArtifactError (or a CLI
exit 1 with one line), quickly and in little memory, with nothing run.
"""

import io
import json
import os
import threading
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import chainrule as cr
from chainrule.artifact import ArtifactError, container
from chainrule.artifact.container import MANIFEST, pack
from chainrule.cli import main

X = np.array([1.5, -2.0])


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    c = cr.jit(lambda v: v * 2.0).lower(X).compile()
    path = tmp_path_factory.mktemp("good") / "good.crx"
    cr.export(c, path, payloads=["native", "stablehlo"])
    return path.read_bytes()


def unpack(raw):
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(members.pop(MANIFEST))
    return manifest, members


def edit(raw, fn):
    manifest, members = unpack(raw)
    fn(manifest, members)
    return pack(manifest, members)


def _write(tmp_path, raw, name="bad.crx"):
    p = tmp_path / name
    p.write_bytes(raw)
    return p


def _refused(path, match, payload=None):
    with pytest.raises(ArtifactError, match=match):
        cr.load(path, payload=payload)


def _cli_one_line(argv, capsys, match):
    assert main(argv) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and lines[0].startswith(f"chainrule {argv[0]}: error: "), err
    assert match in lines[0], lines[0]


# --- 1: payloads must implement the manifest's signature --------------------------------------------

BIG = "func @f(%arg0: f64[512]) -> (f64[512]) {\n  %0 = negate %arg0 : f64[512]\n  return %0\n}\n"
TWO = "func @f(%arg0: f64[2]) -> (f64[2], f64[2]) {\n  %0 = negate %arg0 : f64[2]\n  return %0, %0\n}\n"


@pytest.mark.parametrize("text, match", [(BIG, r"inputs \(float64\[512\]\)"), (TWO, r"outputs \(float64\[2\], float64")])
def test_a_graph_of_other_shapes_is_refused(tmp_path, good, opened, capsys, text, match):
    p = _write(tmp_path, edit(good, lambda m, mem: mem.__setitem__("graph.crir", text.encode())))
    for payload in (None, "graph", "native"):
        _refused(p, match, payload)
    assert opened == []
    _cli_one_line(["run", str(p), "--payload", "graph"], capsys, "manifest's signature")
    _cli_one_line(["show", str(p)], capsys, "manifest's signature")


def test_the_automatic_graph_fallback_checks_the_graph_too(tmp_path, good, opened):
    def foreign(m, mem):
        m["payloads"]["native"]["os"] = "plan9"
        del m["payloads"]["stablehlo"]
        mem["graph.crir"] = BIG.encode()
    _refused(_write(tmp_path, edit(good, foreign)), "manifest's signature")


def test_a_stablehlo_payload_of_other_shapes_is_refused(tmp_path, good):
    pytest.importorskip("jax")
    other = cr.jit(lambda v: v * 2.0).lower(np.zeros(512)).compile()
    cr.export(other, tmp_path / "other.crx", payloads=["stablehlo"])
    blob = unpack((tmp_path / "other.crx").read_bytes())[1]["stablehlo.bin"]
    p = _write(tmp_path, edit(good, lambda m, mem: mem.__setitem__("stablehlo.bin", blob)))
    _refused(p, r"StableHLO payload has inputs \(float64\[512\]\)", "stablehlo")


def test_the_c_header_and_the_library_workspace_must_match(tmp_path, good, opened):
    def header(m, mem):
        name = m["payloads"]["native"]["header"]
        up = m["payloads"]["native"]["symbol"].upper()
        mem[name] = mem[name].replace(f"#define {up}_NUM_INPUTS 1".encode(), f"#define {up}_NUM_INPUTS 3".encode())
    _refused(_write(tmp_path, edit(good, header)), "C header")
    assert opened == []

    def arena(m, mem):
        m["payloads"]["native"]["arena_size"] = 4096
    _refused(_write(tmp_path, edit(good, arena)), "workspace of 0 bytes")


def test_tree_leaf_counts_must_match_the_signature(tmp_path, good):
    def two_leaves(m, mem):
        m["signature"]["out_tree"] = {"kind": "tuple", "children": [{"kind": "leaf"}, {"kind": "leaf"}]}
    _refused(_write(tmp_path, edit(good, two_leaves)), "out_tree has 2 leaves but the signature has 1 outputs")


def test_show_says_what_will_run_and_that_the_graph_was_checked(tmp_path, good, capsys):
    p = _write(tmp_path, good, "ok.crx")
    assert main(["show", str(p), "--no-ir"]) == 0
    text = capsys.readouterr().out
    assert "checked   the graph's signature equals the manifest's: (float64[2]) -> (float64[2])" in text
    assert "runs here native" in text
    foreign = _write(tmp_path, edit(good, lambda m, mem: m["payloads"]["native"].__setitem__("os", "plan9")))
    assert main(["show", str(foreign), "--no-ir"]) == 0
    assert "runs here stablehlo (the native library cannot run here: it was built for plan9" in capsys.readouterr().out


# --- 2: bounded inflation and reads --------------------------------------------------------------

def _bomb(good, inflated: int) -> bytes:
    """The good artifact plus a member of `inflated` zero bytes that the manifest says is 10 bytes."""
    manifest, members = unpack(pack(*_with(good, "pad.bin", b"0123456789")))
    mbytes = json.dumps(manifest, indent=1, sort_keys=True).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, mbytes)
        for n, d in members.items():
            if n != "pad.bin":
                zf.writestr(n, d)
        with zf.open("pad.bin", "w", force_zip64=True) as f:
            block = bytes(1 << 20)
            for _ in range(inflated >> 20):
                f.write(block)
        zf.comment = f"chainrule-artifact format=1 manifest-sha256={container.sha256(mbytes)}".encode()
    return buf.getvalue()


def _with(raw, name, data):
    manifest, members = unpack(raw)
    members[name] = data
    return manifest, members


def test_a_zip_bomb_is_refused_without_inflating_it(tmp_path, good):
    p = _write(tmp_path, _bomb(good, 256 << 20))
    tracemalloc.start()
    t = time.perf_counter()
    try:
        _refused(p, "pad.bin does not match its checksum in the manifest: the zip says 268435456 bytes")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t < 15 and peak < 32 << 20  # a sanity bound: inflating it took 18 s and 4 GB


def test_the_total_size_is_capped(tmp_path, good, monkeypatch):
    monkeypatch.setattr(container, "MAX_TOTAL_SIZE", 1000)
    _refused(_write(tmp_path, good), "add up to")


def test_the_file_size_is_capped(tmp_path, good, monkeypatch):
    monkeypatch.setattr(container, "MAX_FILE_SIZE", 1000)
    _refused(_write(tmp_path, good), "at most 1000")


def test_devices_and_fifos_are_refused_at_once(tmp_path, capsys):
    if os.path.exists("/dev/zero"):
        _refused("/dev/zero", "not a regular file")
        _cli_one_line(["show", "/dev/zero"], capsys, "not a regular file")
    _refused(tmp_path, "not a regular file|Is a directory")
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.crx"
        os.mkfifo(fifo)
        errors = []
        t = threading.Thread(target=lambda: errors.append(pytest.raises(ArtifactError, cr.load, fifo)), daemon=True)
        t.start()
        t.join(5)
        assert not t.is_alive(), "loading a FIFO hung"
        assert "not a regular file" in str(errors[0].value)


# --- 3: member counts ----------------------------------------------------------------------------

def test_many_members_are_refused_quickly(tmp_path, good):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(40_000):
            zf.writestr(f"m{i}", b"")
        zf.comment = b"chainrule-artifact format=1 manifest-sha256=" + b"0" * 64
    p = _write(tmp_path, buf.getvalue())
    t = time.perf_counter()
    _refused(p, "40000 members; an artifact has at most")
    assert time.perf_counter() - t < 20  # a sanity bound: the quadratic check took 54-86 s


# --- 10: malformed manifests give one ArtifactError naming the field -------------------------------

def _deep(n):
    t = {"kind": "leaf"}
    for _ in range(n):
        t = {"kind": "tuple", "children": [t]}
    return t


def _set(path, value):
    def fn(m, mem):
        *head, last = path
        d = m
        for k in head:
            d = d[k]
        if value is KeyError:
            del d[last]
        else:
            d[last] = value
    return fn


NATIVE = ("payloads", "native")
MANIFEST_EDITS = [
    (_set(("signature",), KeyError), "has no 'signature'"),
    (_set(NATIVE + ("symbol",), KeyError), "has no 'symbol'"),
    (_set(NATIVE + ("triple",), KeyError), "has no 'triple'"),
    (_set(("signature", "inputs", 0, "name"), KeyError), r"signature.inputs\[0\] has no 'name'"),
    (_set(("payloads",), [{"member": "graph.crir"}]), "payloads must be an object"),
    (_set(NATIVE + ("runtime_slots",), 5), "runtime_slots must be a list"),
    (_set(NATIVE + ("symbol",), "../../tmp/evil"), "symbol must be a C identifier"),
    (_set(NATIVE + ("arena_size",), -1), "arena_size must be an integer"),
    (_set(NATIVE + ("arena_size",), True), "arena_size must be an integer"),
    (_set(NATIVE + ("cpu_flags",), "avx2"), "cpu_flags must be a list"),
    (_set(("signature", "inputs", 0, "dtype"), "float8"), "dtype must be one of"),
    (_set(("signature", "inputs", 0, "shape"), [-2]), r"shape\[0\] must be an integer"),
    (_set(("signature", "inputs", 0, "shape"), [2 ** 30, 2 ** 30]), "more than"),
    (_set(("signature", "in_tree"), _deep(400)), "in_tree is nested deeper than 100 levels"),
    (_set(("signature", "outputs"), None), "signature.outputs must be a list"),
    (_set(("payloads", "graph", "member"), "nope.crir"), "is not a member"),
    (_set(("payloads", "graph"), KeyError), "no graph payload"),
    (_set(("name",), "a\nb"), "control characters"),
    (_set(("signature", "out_tree"), {"kind": "namedtuple", "name": "P", "fields": ["class"],
                                      "children": [{"kind": "leaf"}]}), "bad namedtuple"),
    (lambda m, mem: mem.__setitem__("graph.crir", b"func @f(\xff\xfe"), "graph.crir is not UTF-8"),
    (lambda m, mem: mem.__setitem__("graph.crir", b"func @f(%x: f64[2]) -> (f64[2]) {\n  %0 = " + b"(" * 5000),
     "graph.crir is not a valid graph"),
]


@pytest.mark.parametrize("k", range(len(MANIFEST_EDITS)))
def test_malformed_manifests_give_one_artifact_error(tmp_path, good, opened, capsys, k):
    fn, match = MANIFEST_EDITS[k]
    p = _write(tmp_path, edit(good, fn))
    if "valid graph" in match:  # a sound header, a broken body: found when the graph is parsed, not before
        with pytest.raises(ArtifactError, match=match):
            cr.load(p).graph
        opened.clear()
    else:
        _refused(p, match, None)
    _refused(p, match, "graph")
    assert opened == []
    for argv in (["show", str(p)], ["run", str(p)], ["graph", str(p)]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_a_pytree_nested_3000_deep_is_refused(tmp_path, good, capsys):
    """Written as text: Python's own JSON encoder cannot nest that deep."""
    manifest, members = unpack(good)
    manifest["signature"]["in_tree"] = "DEEP"
    raw = pack(manifest, members)
    manifest = json.loads(unpack(raw)[0] and zipfile.ZipFile(io.BytesIO(raw)).read(MANIFEST))
    deep = '{"kind": "tuple", "children": [' * 3000 + '{"kind": "leaf"}' + "]}" * 3000
    mbytes = json.dumps(manifest, sort_keys=True).replace('"DEEP"', deep).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(MANIFEST, mbytes)
        for n, d in members.items():
            zf.writestr(n, d)
        zf.comment = f"chainrule-artifact format=1 manifest-sha256={container.sha256(mbytes)}".encode()
    p = _write(tmp_path, buf.getvalue())
    _refused(p, "in_tree is nested deeper than 100 levels|not valid JSON")
    _cli_one_line(["show", str(p)], capsys, "manifest.json is not valid JSON")


@pytest.mark.parametrize("how", ["flip", "truncate"])
def test_damaged_stablehlo_bytes_give_an_artifact_error(tmp_path, good, how):
    pytest.importorskip("jax")

    def damage(m, mem):
        b = bytearray(mem["stablehlo.bin"])
        if how == "flip":
            for i in range(0, len(b), 7):
                b[i] ^= 0x5A
        else:
            del b[len(b) // 3:]
        mem["stablehlo.bin"] = bytes(b)
    _refused(_write(tmp_path, edit(good, damage)), "StableHLO", "stablehlo")


def test_opt_on_a_non_utf8_file_is_one_line(tmp_path, capsys):
    p = tmp_path / "bad.crir"
    p.write_bytes(b"func @f(\xff\xfe")
    _cli_one_line(["opt", str(p)], capsys, "is not UTF-8 text")
