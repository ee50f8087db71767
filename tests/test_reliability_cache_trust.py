"""The llvm disk cache runs only code this user's own processes put there, and a cache that
cannot be written only costs the cache.

Planting: a library swapped in (with its plain sha256 recomputed, or with another entry's
checksum file), a symlink in place of an entry or of the `llvm/` directory, a directory
writable by group or others or owned by someone else: each is refused, the function is
compiled privately and gives the right answer, with at most one warning. What runs is the
bytes that were checked, loaded from memory, not the file (which could be swapped after the
check). A full disk while writing the cache falls back to private linking; a full temporary
directory, where even that fails, gives an error that says so.
"""

import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from chainrule import fileio
from chainrule.backends import llvm
from chainrule.backends.llvm import cache as llcache
from chainrule.backends.llvm import cachedir
from chainrule.ir import GraphBuilder, TensorType

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def graph(scale=2.0, name="f"):
    b = GraphBuilder(name)
    x = b.param(TensorType((16,), "float32"), "x")
    s = b.op("broadcast_in_dim", b.constant(np.float32(scale)), shape=(16,), broadcast_dimensions=())
    return b.build([b.op("add", x, s)])


X = np.zeros(16, np.float32)


@pytest.fixture
def root(tmp_path, monkeypatch):
    """An empty cache root (not yet made), with the memory cache and the warn-once state reset."""
    r = tmp_path / "cache"
    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(r))
    monkeypatch.setattr(llcache, "_warned", set(), raising=False)
    llcache.clear_memory()
    yield r
    llcache.clear_memory()


def entry(root, g):
    """(so, json) paths of `g`'s entry."""
    key = llvm.compile(g).cache_key
    return root / "llvm" / f"{key}.so", root / "llvm" / f"{key}.json"


def compile_fresh(g, expect_warnings=0):
    """Compile `g` with the memory cache cleared; check the count of cache warnings."""
    llcache.clear_memory()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        exe = llvm.compile(g)
    got = [str(m.message) for m in w if "compile cache" in str(m.message)]
    assert len(got) == expect_warnings, got
    return exe


# --- planted code ------------------------------------------------------------------------------

_CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import chainrule as cr
    f = {"add": lambda x: x + 1.0, "zero": lambda x: x * 0.0}[sys.argv[1]]
    print(cr.jit(f)(np.zeros(3)).tolist())
""")


def _jit_in_child(which, root):
    env = dict(os.environ, CHAINRULE_CACHE_DIR=str(root),
               PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", _CHILD, which], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("how", ["sha256 recomputed", "the other entry's json too"])
def test_a_swapped_library_is_refused_in_a_fresh_process(root, how):
    """The reproduction: `jit(lambda x: x + 1.0)(zeros(3))` gave zeros after its library was swapped."""
    d = root / "llvm"
    assert _jit_in_child("add", root) == [1.0, 1.0, 1.0]
    add = {n[:-3] for n in os.listdir(d) if n.endswith(".so")}
    assert _jit_in_child("zero", root) == [0.0, 0.0, 0.0]
    (zero,) = {n[:-3] for n in os.listdir(d) if n.endswith(".so")} - add
    for key in add:
        evil = (d / f"{zero}.so").read_bytes()
        (d / f"{key}.so").write_bytes(evil)
        if how == "sha256 recomputed":
            meta = json.loads((d / f"{key}.json").read_text())
            meta["sha256"] = hashlib.sha256(evil).hexdigest()
            (d / f"{key}.json").write_text(json.dumps(meta))
        else:
            shutil.copyfile(d / f"{zero}.json", d / f"{key}.json")
    assert _jit_in_child("add", root) == [1.0, 1.0, 1.0]
    for key in add:  # rebuilt and stored again
        assert (d / f"{key}.so").read_bytes() != (d / f"{zero}.so").read_bytes()


def test_a_symlinked_entry_is_not_followed(root, tmp_path):
    g = graph()
    so, _ = entry(root, g)
    elsewhere = tmp_path / "elsewhere.so"
    os.replace(so, elsewhere)
    os.symlink(elsewhere, so)  # the very bytes that were cached, but through a link
    before = elsewhere.read_bytes()
    exe = compile_fresh(g)
    assert exe.stats["source"] == "compiled"
    assert not os.path.islink(so) and elsewhere.read_bytes() == before  # replaced the link, not its target
    np.testing.assert_array_equal(exe(X)[0], X + 2)


def test_a_symlinked_llvm_directory_is_refused(root, tmp_path):
    g = graph()
    entry(root, g)
    planted = tmp_path / "planted"
    os.replace(root / "llvm", planted)  # valid entries, but reached through a symlink
    os.symlink(planted, root / "llvm")
    before = sorted(os.listdir(planted))
    exe = compile_fresh(g, expect_warnings=1)
    assert exe.stats["source"] == "compiled" and exe.library_path is None
    assert compile_fresh(graph(3.0)).stats["source"] == "compiled"  # one warning, no more
    assert sorted(os.listdir(planted)) == before
    np.testing.assert_array_equal(exe(X)[0], X + 2)


@pytest.mark.parametrize("where", ["root", "llvm"])
@pytest.mark.parametrize("mode", [0o770, 0o703], ids=["group-writable", "others-writable"])
def test_a_directory_writable_by_group_or_others_is_refused(root, where, mode):
    g = graph()
    entry(root, g)
    d = root if where == "root" else root / "llvm"
    os.chmod(d, mode)
    before = sorted(os.listdir(root / "llvm"))
    exe = compile_fresh(g, expect_warnings=1)
    assert exe.stats["source"] == "compiled" and exe.library_path is None
    e2 = compile_fresh(graph(3.0))  # a miss: nothing written either, and no second warning
    assert e2.stats["source"] == "compiled" and e2.library_path is None
    assert sorted(os.listdir(root / "llvm")) == before
    np.testing.assert_array_equal(exe(X)[0], X + 2)
    np.testing.assert_array_equal(e2(X)[0], X + 3)


def test_a_directory_owned_by_another_user_is_refused(root, monkeypatch):
    g = graph()
    entry(root, g)
    if os.geteuid() == 0:
        os.chown(root / "llvm", 12345, -1)
    else:  # pretend to be someone else
        me = os.geteuid()
        monkeypatch.setattr(cachedir, "_euid", lambda: me + 1)
    exe = compile_fresh(g, expect_warnings=1)
    assert exe.stats["source"] == "compiled" and exe.library_path is None
    np.testing.assert_array_equal(exe(X)[0], X + 2)


def test_new_directories_are_private_and_the_key_is_0600(root):
    entry(root, graph())
    assert os.stat(root).st_mode & 0o777 == 0o700
    assert os.stat(root / "llvm").st_mode & 0o777 == 0o700
    assert os.stat(root / "llvm" / cachedir.KEY_NAME).st_mode & 0o777 == 0o600


def test_a_key_readable_by_others_is_refused(root):
    g = graph()
    entry(root, g)
    os.chmod(root / "llvm" / cachedir.KEY_NAME, 0o644)
    exe = compile_fresh(g, expect_warnings=1)
    assert exe.stats["source"] == "compiled" and exe.library_path is None


def _mapped_files():
    with open("/proc/self/maps") as f:
        return {line.split(None, 5)[5].strip() for line in f if len(line.split(None, 5)) == 6}


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs /proc")
def test_the_library_runs_from_the_checked_bytes_not_from_the_file(root, monkeypatch):
    """A swap between the check and the load changes nothing: the checked bytes are what is loaded."""
    g, evil = graph(2.0, "victim"), graph(5.0, "victim")
    so, _ = entry(root, g)
    evil_so, _ = entry(root, evil)
    real = cachedir.authentic

    def check_then_swap(*args):
        ok = real(*args)
        shutil.copyfile(evil_so, so)  # the attacker wins the race right after the check
        return ok
    monkeypatch.setattr(cachedir, "authentic", check_then_swap)
    exe = compile_fresh(g)
    assert exe.stats["source"] == "disk"
    np.testing.assert_array_equal(exe(X)[0], X + 2)
    assert str(so) not in _mapped_files()


# --- a full disk --------------------------------------------------------------------------------

def test_a_full_cache_disk_only_costs_the_cache(root, monkeypatch):
    """Writing the cache fails with ENOSPC (the library, the checksum file, or the linker's output
    when it links in the cache directory): the function still compiles and runs, warned once."""
    real_run = subprocess.run

    def full_run(cmd, *a, **k):  # a linker writing into the cache directory finds the disk full
        if any(str(root) in str(c) for c in cmd):
            return subprocess.CompletedProcess(cmd, 1, "", "ld: final link failed: No space left on device")
        return real_run(cmd, *a, **k)

    def full_write(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(subprocess, "run", full_run)
    monkeypatch.setattr(fileio, "write_all", full_write)
    exe = compile_fresh(graph(), expect_warnings=1)
    assert exe.stats["source"] == "compiled" and exe.library_path is None
    np.testing.assert_array_equal(exe(X)[0], X + 2)
    assert compile_fresh(graph(3.0)).stats["source"] == "compiled"  # warned once only
    assert [n for n in os.listdir(root / "llvm") if n.endswith((".so", ".json")) or n.startswith(".")] == []


_FULL_TMP = textwrap.dedent("""
    import resource, signal
    import numpy as np
    import chainrule as cr
    f = cr.jit(lambda x: x + 1.0)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    try:
        f(np.zeros(3))
    except RuntimeError as e:
        print("RuntimeError:", e)
""")


def test_a_full_temporary_directory_gives_a_clear_error(tmp_path):
    """Even private linking cannot write its files (RLIMIT_FSIZE, in a child): the error says why."""
    env = dict(os.environ, CHAINRULE_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", _FULL_TMP], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("RuntimeError: linking the compiled module failed"), out.stdout
    assert "File too large" in out.stdout and "TMPDIR" in out.stdout, out.stdout


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_libraries_loaded_from_memory_keep_their_own_code_and_hold_no_descriptor(root):
    """dlopen hands back an already loaded library for a path string it has seen: each load from
    memory must spell its /proc/self/fd path anew (the fd number is reused once closed)."""
    fds = len(os.listdir("/proc/self/fd"))
    for i in range(12):
        scale = float(i % 3)
        exe = llvm.compile(graph(scale, name=f"g{i}"), cache=False)
        np.testing.assert_array_equal(exe(X)[0], X + scale)
    assert len(os.listdir("/proc/self/fd")) <= fds


def test_without_memfd_the_bytes_load_from_a_private_temporary_that_is_removed(root, tmp_path, monkeypatch):
    import tempfile

    from chainrule.backends.llvm import loadlib
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    monkeypatch.setattr(loadlib, "_from_memfd", lambda data, name: None)
    g = graph()
    entry(root, g)
    exe = compile_fresh(g)
    assert exe.stats["source"] == "disk"
    np.testing.assert_array_equal(exe(X)[0], X + 2)
    assert os.listdir(private_tmp) == []
