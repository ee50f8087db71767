"""Mutated artifacts: hypothesis damages a real export, a child process loads and runs each one.

Mutations: bytes of the file flipped, cut, inserted or deleted; zip members
dropped, duplicated, reordered, renamed or swapped (checksums left as they
are: the checksums must catch all of these); and, with checksums recomputed
by `container.pack` (what an attacker does), manifest fields rewritten with
wrong types or values, members' bytes damaged, graph.crir replaced by other
shapes or by broken text. Each artifact gets `cr.load` plus one call with
correctly shaped inputs, and `chainrule show` and `chainrule run` (the CLI's
`main`, in the same child). Accepted: success, ArtifactError (calls: a
TypeError/ValueError refusing the arguments), exit 1 with one line. Refused:
a signal, a hang (5 s per artifact), max RSS growing by 200 MB, a traceback,
a file written outside the child's temp dir, or (checksums not recomputed) a
successful load that computes something else.

Mutations that change the native library or its manifest entry with
recomputed checksums load with payload="graph": a rewritten native library
is machine code and may legitimately crash (signing is the defence there).

Many artifacts run per child (one JSON line per artifact, written before and
after it, so a crash names its artifact). The CI test runs a few hundred;
the slow one 10,000 (`pytest -m slow tests/test_artifact_mutation.py`).
"""

import io
import json
import os
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.artifact.container import MANIFEST, pack, sha256

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
X = np.linspace(-1, 1, 8).astype(np.float32)
PER_ARTIFACT_S = 5.0
MAX_RSS_GROWTH_KB = 200 * 1024

CHILD = r'''
import contextlib, io, json, resource, sys, time, traceback, warnings
import numpy as np
import chainrule as cr
from chainrule.artifact import ArtifactError
from chainrule.cli import main

jobs, inputs, out = json.load(open(sys.argv[1])), sys.argv[2], open(sys.argv[3], "w", buffering=1)
x = np.load(inputs)["arg0"]
warnings.simplefilter("ignore")

def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

def cli(argv):
    err, so = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(so):
            code = main(argv)
    except BaseException:
        return "cli %s raised: %s" % (argv[0], traceback.format_exc()[-1500:])
    lines = err.getvalue().strip().splitlines()
    if code == 0:
        return None
    if code != 1 or len(lines) != 1 or not lines[0].startswith("chainrule %s: error: " % argv[0]):
        return "cli %s exit %s: %r" % (argv[0], code, err.getvalue()[-1500:])
    return None

# warm up on the good artifact so imports and first compiles do not count as growth
cr.load(jobs[0]["path"])(x)
cli(["show", jobs[0]["path"]])
for i, job in enumerate(jobs):
    out.write(json.dumps({"start": i}) + "\n")
    before, t = rss(), time.perf_counter()
    res = {"i": i, "outcome": "ok", "bad": []}
    try:
        g = cr.load(job["path"], payload=job["payload"])
    except ArtifactError as e:
        res["outcome"] = "refused"
        res["msg"] = str(e)[-300:]
    except BaseException:
        res["bad"].append("load raised: " + traceback.format_exc()[-1500:])
    else:
        try:
            y = g(x)
            if job["same"] and not np.array_equal(np.asarray(y), np.asarray(job["want"], np.float32)):
                res["bad"].append("a load passed its checksums but computed %r" % (y,))
        except (TypeError, ValueError) as e:
            res["outcome"] = "call refused"
        except BaseException:
            res["bad"].append("call raised: " + traceback.format_exc()[-1500:])
    extra = ["--payload", job["payload"]] if job["payload"] else []
    for argv in (["show", job["path"], "--no-ir"], ["run", job["path"], "--inputs", inputs] + extra):
        why = cli(argv)
        if why:
            res["bad"].append(why)
    res["s"] = time.perf_counter() - t
    res["rss_kb"] = rss() - before
    out.write(json.dumps(res) + "\n")
'''


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    c = cr.jit(lambda v: cnp.sum(cnp.tanh(v) * v)).lower(X).compile()
    path = tmp_path_factory.mktemp("base") / "base.crx"
    cr.export(c, path)
    raw = path.read_bytes()
    return raw, float(cr.load(path)(X))


# --- mutations ---------------------------------------------------------------------------------------

def _unpack(raw):
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        entries = [(i.filename, zf.read(i.filename)) for i in zf.infolist()]
        return entries, zf.comment


def _zip(entries, comment):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
        zf.comment = comment
    return buf.getvalue()


def _paths(obj, prefix=()):
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:3]):
            out += _paths(v, prefix + (i,))
    return out


BIG = "func @f(%arg0: f32[512]) -> (f32[]) {\n  %0 = reduce %arg0 {kind=sum, dimensions=[0]} : f32[]\n  return %0\n}\n"
GRAPHS = [BIG, BIG.replace("f32", "f64"), "func @f(%arg0: f32[8]) -> (f32[], f32[]) {\n  %0 = reduce %arg0 "
          "{kind=sum, dimensions=[0]} : f32[]\n  return %0, %0\n}\n", "", "\xff", "func @f(" + "(" * 3000,
          "func @f(%arg0: f32[8]) -> (f32[]) {\n" + "  %0 = fusion %arg0 : f32[] regions {\n" * 400]
JUNK = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.sampled_from([0, -1, 1, 2 ** 31, 2 ** 63]),
                 st.floats(), st.text(max_size=12), st.lists(st.integers(-3, 600), max_size=4),
                 st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
                 st.sampled_from(["../../x", "float16", "float64", "int32", "leaf", "tuple", "dict", "graph.crir",
                                  "stablehlo.bin", "manifest.json", "native/x86_64-linux.so", "object", "sgemm",
                                  [], {}, {"kind": "leaf"}, [[], []], ["sgemm", "sgemm"], "a" * 5000, "x\ny"]))
RAW = st.tuples(st.sampled_from(["flip", "cut", "insert", "delete"]), st.floats(0, 1), st.binary(min_size=1,
                max_size=8), st.integers(1, 64))
ZIPPED = st.tuples(st.sampled_from(["drop", "dup", "reorder", "rename", "swap", "extra", "comment"]),
                   st.integers(0, 10), st.integers(0, 10), st.sampled_from(["x", "../a", "graph.crir", "", "a/b"]))
FIELD = st.tuples(st.sampled_from(["set", "delete", "add"]), st.integers(0, 10 ** 6), JUNK)
MEMBER = st.tuples(st.sampled_from(["graph.crir", "stablehlo.bin", "include", "native"]), RAW)
GRAPH = st.one_of(st.sampled_from(GRAPHS), st.tuples(st.floats(0, 1), st.sampled_from(list("()[]{}%@:,=-0189\n #f"))))
MUTATION = st.one_of(st.tuples(st.just("raw"), RAW), st.tuples(st.just("zip"), ZIPPED),
                     st.tuples(st.just("field"), FIELD), st.tuples(st.just("member"), MEMBER),
                     st.tuples(st.just("graph"), GRAPH))


def _bytes_op(data, op):
    kind, frac, blob, n = op
    k = min(int(frac * len(data)), max(len(data) - 1, 0))
    if kind == "flip":
        return data[:k] + bytes([data[k] ^ (blob[0] or 1)]) + data[k + 1:] if data else blob
    if kind == "cut":
        return data[:k]
    if kind == "insert":
        return data[:k] + blob * n + data[k:]
    return data[:k] + data[k + n:]


def mutate(raw, mutation):
    """(bytes, payload to force, checksums recomputed?) of one mutation of `raw`."""
    kind, op = mutation
    if kind == "raw":
        return _bytes_op(raw, op), None, False
    entries, comment = _unpack(raw)
    if kind == "zip":
        what, i, j, name = op
        i, j = i % len(entries), j % len(entries)
        if what == "drop":
            del entries[i]
        elif what == "dup":
            entries.append(entries[i])
        elif what == "reorder":
            entries = entries[i:] + entries[:i]
        elif what == "rename":
            entries[i] = (name or "y", entries[i][1])
        elif what == "swap":
            entries[i], entries[j] = (entries[i][0], entries[j][1]), (entries[j][0], entries[i][1])
        elif what == "extra":
            entries.append((f"extra{i}", b"x" * j))
        else:
            comment = comment[: 20 + i] + comment[21 + i:]
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns of duplicate names
            return _zip(entries, comment), None, False
    members = dict(entries)
    manifest = json.loads(members.pop(MANIFEST))
    payload = None
    if kind == "field":
        how, k, value = op
        paths = [p for p in _paths(manifest) if p[0] not in ("members", "format", "format_version")]
        path = paths[k % len(paths)]
        node = manifest
        for key in path[:-1]:
            node = node[key]
        if how == "set":
            node[path[-1]] = value
        elif how == "delete":
            node.pop(path[-1])  # a dict's key or a list's index
        elif isinstance(node, dict):
            node["extra"] = value
        if path[:2] == ("payloads", "native"):
            payload = "graph"
    elif kind == "member":
        which, bop = op
        name = next(n for n in members if n.startswith(which))
        members[name] = _bytes_op(members[name], bop)
        if which == "native":
            payload = "graph"
    else:
        text = members["graph.crir"].decode()
        if isinstance(op, str):
            text = op
        else:
            k = int(op[0] * len(text))
            text = text[:k] + op[1] + text[k + 1:]
        members["graph.crir"] = text.encode("utf-8", "surrogateescape") if text != "\xff" else b"\xff\xfe"
    try:
        return pack(manifest, members), payload, True
    except (TypeError, ValueError, RecursionError):  # JSON cannot hold it: keep the pack-free mutation
        return raw, payload, True


# --- running a batch in a child -------------------------------------------------------------------------

def _snapshot(d):
    return {os.path.join(r, f) for r, _, fs in os.walk(d) for f in fs}


def _untracked():
    """New files in the checkout (not ignored ones: the child writes no bytecode, see run_batch)."""
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "--others", "--exclude-standard"], capture_output=True,
                         text=True).stdout
    return set(out.splitlines())


def run_batch(raw, want, mutations, work):
    """Run every mutation in one child; returns (results, failures) with failures naming their mutation."""
    os.makedirs(work / "tmp", exist_ok=True)
    (work / "base.crx").write_bytes(raw)
    np.savez(work / "in.npz", arg0=X)
    jobs = [{"path": str(work / "base.crx"), "payload": None, "same": True, "want": want}]
    for k, m in enumerate(mutations):
        data, payload, recomputed = mutate(raw, m)
        p = work / f"m{k}.crx"
        p.write_bytes(data)
        jobs.append({"path": str(p), "payload": payload, "same": not recomputed, "want": want})
    (work / "jobs.json").write_text(json.dumps(jobs))
    (work / "child.py").write_text(CHILD)
    before = _snapshot(work)
    repo_before = _untracked()
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src"), "TMPDIR": str(work / "tmp"),
           "CHAINRULE_CACHE_DIR": str(work / "cache"), "JAX_PLATFORMS": "cpu", "PYTHONDONTWRITEBYTECODE": "1"}
    out = work / "results.jsonl"
    try:
        proc = subprocess.run([sys.executable, str(work / "child.py"), str(work / "jobs.json"), str(work / "in.npz"),
                               str(out)], cwd=work / "tmp", env=env, capture_output=True, text=True,
                              timeout=30 + PER_ARTIFACT_S * len(jobs))
        rc, err = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired:
        rc, err = "timeout", ""
    lines = [json.loads(s) for s in out.read_text().splitlines()] if out.exists() else []
    results = [r for r in lines if "outcome" in r]
    failures = []
    for r in results:
        m = mutations[r["i"] - 1] if r["i"] else "the unmutated artifact"
        if r["bad"]:
            failures.append((m, r["bad"]))
        if r["s"] > PER_ARTIFACT_S:
            failures.append((m, f"took {r['s']:.1f} s"))
        if r["rss_kb"] > MAX_RSS_GROWTH_KB:
            failures.append((m, f"max RSS grew by {r['rss_kb'] // 1024} MB"))
    if rc != 0 or len(results) != len(jobs):
        started = [r["start"] for r in lines if "start" in r]
        culprit = mutations[started[-1] - 1] if started and started[-1] else None
        failures.append((culprit, f"the child ended with {rc} after {len(results)} of {len(jobs)}: {err[-2000:]}"))
    new = {f for f in _snapshot(work) - before if not f.startswith((str(work / "cache"), str(out)))}
    if new:
        failures.append((None, f"files written: {sorted(new)[:5]}"))
    if _untracked() - repo_before:
        failures.append((None, f"files appeared in the repository: {sorted(_untracked() - repo_before)[:5]}"))
    for r in results:
        r["mutation"] = mutations[r["i"] - 1] if r["i"] else None
    return results, failures


BATCH = 60
_SETTINGS = dict(deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
                 suppress_health_check=list(HealthCheck))


@settings(max_examples=4, **_SETTINGS)
@example(mutations=[("field", ("set", k, v)) for k in range(0, 70, 2) for v in (None, "x")])
@given(mutations=st.lists(MUTATION, min_size=BATCH, max_size=BATCH))
def test_mutated_artifacts_fail_cleanly(base, tmp_path_factory, mutations):
    raw, want = base
    results, failures = run_batch(raw, want, mutations, tmp_path_factory.mktemp("mut"))
    assert not failures, failures[:3]


SLOW_BATCH = 100


@pytest.mark.slow
@settings(max_examples=100, **_SETTINGS)
@given(mutations=st.lists(MUTATION, min_size=SLOW_BATCH, max_size=SLOW_BATCH))
def test_ten_thousand_mutated_artifacts(base, tmp_path_factory, mutations):
    """100 children of 100 artifacts; the figures go to stdout (`pytest -s -m slow`)."""
    raw, want = base
    t = time.perf_counter()
    results, failures = run_batch(raw, want, mutations, tmp_path_factory.mktemp("slow"))
    counts = {}
    for r in results[1:]:
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    print(f"SLOW-BATCH {len(results) - 1} {time.perf_counter() - t:.1f}s {json.dumps(counts)} failures="
          f"{len(failures)} slowest={max(r['s'] for r in results):.2f}s "
          f"rss_growth_mb={max(r['rss_kb'] for r in results[1:]) // 1024}", flush=True)
    assert not failures, failures[:3]
