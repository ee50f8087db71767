"""`cr.export` writes its file safely: never through a planted name, nothing left on failure.

The file is written to a fresh, exclusively created temporary in the target's directory and
moved into place; a symlink planted where the old code put its temporary (`<path>.tmp-<pid>`)
is not followed, and a write that fails (a full disk, a file-size limit) leaves the directory as
it was: the old artifact intact and no temporary behind.
"""

import errno
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule import fileio

pytestmark = pytest.mark.usefixtures("private_llvm_cache")


@pytest.fixture(scope="module")
def compiled():
    x = np.linspace(-1, 1, 8).astype(np.float32)
    return cr.jit(lambda v: cnp.sum(cnp.tanh(v) * v)).lower(x).compile()


def test_a_symlink_at_the_old_temporary_name_is_not_written_through(tmp_path, compiled):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    path = tmp_path / "f.crx"
    os.symlink(victim, f"{path}.tmp-{os.getpid()}")
    cr.export(compiled, path, payloads=[])
    assert victim.read_text() == "precious"
    assert not os.path.islink(path) and path.read_bytes()[:2] == b"PK"  # the artifact itself, a zip


def test_the_file_mode_follows_the_umask_like_open(tmp_path, compiled):
    old = os.umask(0o027)
    try:
        path = cr.export(compiled, tmp_path / "m.crx", payloads=[])
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o640


@pytest.mark.parametrize("exc", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, compiled, monkeypatch, exc):
    path = tmp_path / "f.crx"
    path.write_bytes(b"old artifact")

    def full(fd, data):
        os.write(fd, bytes(data[:100]))
        raise exc
    monkeypatch.setattr(fileio, "write_all", full)
    with pytest.raises(type(exc)):
        cr.export(compiled, path, payloads=[])
    assert os.listdir(tmp_path) == ["f.crx"] and path.read_bytes() == b"old artifact"


_CHILD = textwrap.dedent("""
    import os, resource, signal, sys
    import numpy as np
    import chainrule as cr, chainrule.numpy as cnp
    x = np.linspace(-1, 1, 8).astype(np.float32)
    c = cr.jit(lambda v: cnp.sum(cnp.tanh(v) * v)).lower(x).compile()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (200, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    try:
        cr.export(c, sys.argv[1], payloads=[])
    except OSError as e:
        print("errno", e.errno)
""")


def test_a_file_size_limit_leaves_no_temporary(tmp_path):
    """A real short write (RLIMIT_FSIZE, in a child process) rather than an injected one."""
    path = tmp_path / "f.crx"
    path.write_bytes(b"old artifact")
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["errno", str(errno.EFBIG)]
    assert os.listdir(tmp_path) == ["f.crx"] and path.read_bytes() == b"old artifact"
