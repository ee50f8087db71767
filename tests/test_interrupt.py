"""Ctrl-C (SIGINT) during a native call on the llvm backend: a non-terminating while_loop or a very long
scan stops, the call raises KeyboardInterrupt, and the process keeps working (backends/interrupt.py).

Each case runs in a child process: it compiles first, prints READY just before the endless call, and
the parent sends SIGINT ~0.3 s later. The child reports how long the KeyboardInterrupt took (the
latency printed in the test output; asserted only against a generous bound) and then checks that a
normal call still returns the right answer.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the SIGINT handler is Linux-only")

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")

PRELUDE = textwrap.dedent("""
    import json, signal, sys, threading, time
    import numpy as np
    import chainrule as cr

    def endless(x):  # grows to inf and stays there: inf > 0 for ever; the optimizer cannot drop it
        return cr.while_loop(lambda c: c[1] > 0, lambda c: (c[0] + 1, c[1] * np.float32(1.0000001)),
                             (0, x))

    def bounded(x):
        return cr.while_loop(lambda c: c[0] < 10, lambda c: (c[0] + 1, c[1] * 2.0), (0, x))

    def long_scan(x):  # 1e9 steps, nothing stacked: minutes
        return cr.scan(lambda c, _: (c * np.float32(1.0000001) + np.float32(1e-7), None), x,
                       None, length=10 ** 9)[0]

    def on_sigint(sig, frame):  # a program's own handler that raises
        raise KeyboardInterrupt
""")


def _child(body: str, env_extra=None, timeout=60):
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env_extra or {}))
    code = PRELUDE + textwrap.dedent(body)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env)
    return p


def _interrupt_when_ready(p, delay=0.3, timeout=120):
    """Wait for READY on the child's stdout, then SIGINT it after `delay`; returns (stdout, stderr, rc)."""
    line = p.stdout.readline()
    assert line.strip() == "READY", (line, p.stderr.read() if p.poll() is not None else "")
    time.sleep(delay)
    sent = time.perf_counter()
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        pytest.fail(f"the child did not stop after SIGINT: {err[-2000:]}")
    return out, err, p.returncode, time.perf_counter() - sent


def _report(out):
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert rows, out
    return rows[-1]


JIT_CASE = """
    fn = cr.jit({fn}, backend="llvm").lower(np.float32(1.0)).compile()
    ok = cr.jit(bounded, backend="llvm")
    want = ok(np.float32(1.0))
    print("READY", flush=True)
    t0 = time.perf_counter()
    try:
        fn(np.float32(1.0))
        res = {{"stopped": False}}
    except KeyboardInterrupt:
        res = {{"stopped": True, "seconds": time.perf_counter() - t0}}
    got = ok(np.float32(1.0))
    res["after"] = [int(got[0]), float(got[1])]
    res["want"] = [int(want[0]), float(want[1])]
    from chainrule.backends import interrupt
    res["flag"], res["active"] = interrupt.flag_value(), interrupt.active_calls()
    print(json.dumps(res), flush=True)
"""


@pytest.mark.parametrize("fn", ["endless", "long_scan"])
def test_sigint_stops_a_native_loop_and_the_next_call_works(fn):
    p = _child(JIT_CASE.format(fn=fn))
    out, err, rc, waited = _interrupt_when_ready(p)
    assert rc == 0, err[-3000:]
    r = _report(out)
    assert r["stopped"], r
    assert r["after"] == r["want"] == [10, 1024.0]
    assert r["flag"] == 0 and r["active"] == 0  # the last call out cleared the flag
    assert waited < 5.0
    print(f"{fn}: KeyboardInterrupt {waited * 1e3:.1f} ms after SIGINT (parent's clock, incl. process exit)")


def test_latency_measured_in_the_child():
    """The child interrupts itself from a thread (os.kill) and times SIGINT -> KeyboardInterrupt caught."""
    p = _child("""
        import os
        fn = cr.jit(endless, backend="llvm").lower(np.float32(1.0)).compile()
        ms = []
        for _ in range(5):
            box = {}
            def kick():
                time.sleep(0.2)
                box["t"] = time.perf_counter()
                os.kill(os.getpid(), signal.SIGINT)
            threading.Thread(target=kick).start()
            try:
                fn(np.float32(1.0))
            except KeyboardInterrupt:
                ms.append((time.perf_counter() - box["t"]) * 1e3)
        print(json.dumps({"ms": ms}), flush=True)
    """)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err[-3000:]
    ms = _report(out)["ms"]
    assert len(ms) == 5 and max(ms) < 5000
    print(f"SIGINT -> KeyboardInterrupt: {', '.join(f'{m:.2f}' for m in ms)} ms")


def test_a_python_sigint_handler_that_does_not_raise_still_ends_the_call():
    """The program's handler runs (it does not raise); the call has no results, so KeyboardInterrupt."""
    p = _child("""
        fn = cr.jit(endless, backend="llvm").lower(np.float32(1.0)).compile()
        seen = []
        signal.signal(signal.SIGINT, lambda s, f: seen.append(s))
        print("READY", flush=True)
        try:
            fn(np.float32(1.0))
            res = {"stopped": False}
        except KeyboardInterrupt:
            res = {"stopped": True}
        res["seen"] = seen
        print(json.dumps(res), flush=True)
    """)
    out, err, rc, _ = _interrupt_when_ready(p)
    assert rc == 0, err[-3000:]
    r = _report(out)
    assert r == {"stopped": True, "seen": [int(signal.SIGINT)]}


def test_a_sigint_in_python_code_does_not_stop_the_next_native_call():
    """The flag is set only while a polling native call runs: Ctrl-C in Python code leaves it 0."""
    p = _child("""
        ok = cr.jit(bounded, backend="llvm")
        ok(np.float32(1.0))
        from chainrule.backends import interrupt
        assert interrupt.installed()
        print("READY", flush=True)
        try:
            time.sleep(30)
        except KeyboardInterrupt:
            pass
        got = ok(np.float32(1.0))
        print(json.dumps({"flag": interrupt.flag_value(), "got": [int(got[0]), float(got[1])]}), flush=True)
    """)
    out, err, rc, _ = _interrupt_when_ready(p, delay=0.1)
    assert rc == 0, err[-3000:]
    assert _report(out) == {"flag": 0, "got": [10, 1024.0]}


def test_sigint_stops_loops_in_other_threads_too():
    """The flag is process-wide: a worker thread's endless call raises KeyboardInterrupt as well, and
    the main thread's Python handler still gets the signal."""
    p = _child("""
        fn = cr.jit(endless, backend="llvm").lower(np.float32(1.0)).compile()
        ok = cr.jit(bounded, backend="llvm")
        box = {}
        def work():
            try:
                fn(np.float32(1.0))
                box["w"] = "finished"
            except KeyboardInterrupt:
                box["w"] = "interrupted"
        t = threading.Thread(target=work)
        t.start()
        time.sleep(0.2)
        print("READY", flush=True)
        try:
            fn(np.float32(1.0))
            box["main"] = "finished"
        except KeyboardInterrupt:
            box["main"] = "interrupted"
        t.join(30)
        got = ok(np.float32(1.0))
        box["got"] = [int(got[0]), float(got[1])]
        print(json.dumps(box), flush=True)
    """)
    out, err, rc, _ = _interrupt_when_ready(p)
    assert rc == 0, err[-3000:]
    assert _report(out) == {"w": "interrupted", "main": "interrupted", "got": [10, 1024.0]}


def test_handler_rearmed_after_the_program_replaces_sigint():
    """signal.signal replaces the native handler; the next polling call installs it again."""
    p = _child("""
        fn = cr.jit(endless, backend="llvm").lower(np.float32(1.0)).compile()
        from chainrule.backends import interrupt
        before = interrupt.installed()
        signal.signal(signal.SIGINT, on_sigint)
        replaced = interrupt.installed()
        print("READY", flush=True)
        try:
            fn(np.float32(1.0))
            res = {"stopped": False}
        except KeyboardInterrupt:
            res = {"stopped": True}
        res.update(before=before, replaced=replaced, after=interrupt.installed())
        print(json.dumps(res), flush=True)
    """)
    out, err, rc, _ = _interrupt_when_ready(p)
    assert rc == 0, err[-3000:]
    assert _report(out) == {"stopped": True, "before": True, "replaced": False, "after": True}


RUN_CLI = """
import sys
from chainrule.artifact import native
call = native.NativeRunner.run
def run(self, args):  # READY once the artifact is loaded, just before the native call
    print("READY", flush=True)
    return call(self, args)
native.NativeRunner.run = run
from chainrule.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_chainrule_run_exits_130_on_an_endless_artifact(tmp_path):
    art = tmp_path / "endless.crx"
    flat = tmp_path / "flat.crx"
    inputs = tmp_path / "in.npz"
    np.savez(inputs, arg0=np.float32(1.0))
    build = _child(f"""
        cr.export(cr.jit(endless, backend="llvm").lower(np.float32(1.0)).compile(), {str(art)!r}, payloads=["native"])
        cr.export(cr.jit(lambda x: x * 2, backend="llvm").lower(np.float32(1.0)).compile(), {str(flat)!r},
                  payloads=["native"])
        print(json.dumps([cr.load(p).manifest["payloads"]["native"]["runtime_slots"] for p in ({str(art)!r},
                                                                                              {str(flat)!r})]))
    """)
    out, err = build.communicate(timeout=300)
    assert build.returncode == 0, err[-3000:]
    loops, flat_slots = _report(out) if out.startswith("{") else json.loads(out.strip().splitlines()[-1])
    assert "interrupt" in loops and "interrupt" not in flat_slots  # only a library with loops polls the flag
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.Popen([sys.executable, "-c", RUN_CLI, "run", str(art), "--inputs", str(inputs)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    out, err, rc, waited = _interrupt_when_ready(p)
    assert rc == 130, (out, err)
    assert "chainrule run: interrupted" in err and "Traceback" not in err
    assert waited < 5.0


def test_only_modules_with_loops_poll_the_flag():
    import chainrule as cr
    from chainrule.backends.llvm.codegen import build_module, has_loops
    from chainrule.backends.llvm.plan import make_plan

    def text(f):
        plan = make_plan(cr.jit(f, backend="llvm").lower(np.float32(1.0)).compile().graph)
        return has_loops(plan), build_module(plan)

    loops, ir = text(lambda x: cr.while_loop(lambda c: c < 10, lambda c: c + 1, x))
    assert loops and "load atomic" in ir and "atomicrmw add" in ir
    flat, ir = text(lambda x: cr.cond(x > 0, lambda v: v * 2, lambda v: v - 1, x))
    assert not flat and "atomic" not in ir and "chainrule_no_interrupt" not in ir
