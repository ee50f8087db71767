"""The tensor-parallel training step of tensor_parallel.py across two OS processes.

Each process owns 4 CPU devices; `jax.distributed.initialize` joins them
over 127.0.0.1 into one global mesh of 8 devices (2 x 4, data x model), and
CPU collectives go through JAX's gloo implementation. Both processes run the
same chainrule program (the `cr.shard_map` step, compiled by the jax
backend), as every multi-host JAX program does; the result is compared with
the same training on one device.

One command starts both processes on this machine (loopback, a free port),
waits for them (bounded) and compares:

    python examples/multi_process.py

On several hosts, run the same script on each with its own process id (the
coordinator is process 0's host and a port open between the hosts):

    python examples/multi_process.py --coordinator 10.0.0.1:1234 --process-id 0 --num-processes 2
    python examples/multi_process.py --coordinator 10.0.0.1:1234 --process-id 1 --num-processes 2

(`--local-devices 0` keeps the host's own devices, e.g. GPUs, instead of simulating 4 CPU devices.)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def worker(args) -> int:
    if args.local_devices:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   f" --xla_force_host_platform_device_count={args.local_devices}").strip()
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=args.coordinator, num_processes=args.num_processes,
                               process_id=args.process_id, initialization_timeout=args.timeout)
    try:
        from jax.sharding import AxisType
        sys.path.insert(0, HERE)
        import tensor_parallel as tp
        from chainrule.sharding import NamedSharding, P
        import chainrule as cr

        mesh = jax.make_mesh(tp.MESH_SHAPE, ("data", "model"), axis_types=(AxisType.Auto, AxisType.Auto))
        ins, _ = tp.shardings(mesh)
        rep = NamedSharding(mesh, P())
        # results replicated, so that every process can read them whole
        step = cr.jit(tp.sgd(tp.spmd_loss(mesh)), backend="jax", in_shardings=ins, out_shardings=(rep, (rep,) * 4))
        jins = [jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(*s)) for s in tp.PARAM_SPECS + tp.DATA_SPECS]

        def put(a, k):  # every process holds the whole array and hands JAX the blocks of its own devices
            return jax.make_array_from_callback(a.shape, jins[k], lambda idx: a[idx])

        params, batches = tp.data()
        losses, params = tp.train(step, params, batches, put=put)
        print(f"process {jax.process_index()}: {jax.local_device_count()} of {jax.device_count()} devices; "
              f"losses {[round(v, 6) for v in losses]}", flush=True)
        if args.out and jax.process_index() == 0:
            with open(args.out, "w") as f:
                json.dump({"losses": losses, "params": [p.tolist() for p in params],
                           "devices": jax.device_count(), "processes": jax.process_count()}, f)
    finally:
        jax.distributed.shutdown()
    return 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(args) -> int:
    """Start the processes on this machine, wait (bounded), always reap them, compare with one device."""
    import numpy as np
    sys.path.insert(0, HERE)
    import tensor_parallel as tp
    import chainrule as cr

    n = args.num_processes
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        coordinator = f"127.0.0.1:{free_port()}"
        cmd = [sys.executable, os.path.abspath(__file__), "--coordinator", coordinator, "--num-processes", str(n),
               "--local-devices", str(args.local_devices), "--timeout", str(args.timeout)]
        procs = [subprocess.Popen(cmd + ["--process-id", str(i)] + (["--out", out] if i == 0 else []),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(n)]
        deadline = time.monotonic() + args.timeout
        try:
            outputs = []
            for p in procs:
                left = max(deadline - time.monotonic(), 0.1)
                outputs.append(p.communicate(timeout=left)[0])
        except subprocess.TimeoutExpired:
            print(f"FAILED: the processes did not finish within {args.timeout} s")
            return 1
        finally:
            for p in procs:  # never leave one behind
                if p.poll() is None:
                    p.kill()
                p.wait()
        for i, (p, text) in enumerate(zip(procs, outputs)):
            lines = [ln for ln in text.splitlines() if not ln.startswith("[Gloo]")]
            print(f"--- process {i} (exit {p.returncode})\n" + "\n".join(lines[-20:]))
        if any(p.returncode for p in procs) or not os.path.exists(out):
            print("FAILED: a process failed")
            return 1
        with open(out) as f:
            got = json.load(f)
    params, batches = tp.data()
    base = tp.train(cr.jit(tp.sgd(tp.mlp_loss), backend="reference"), params, batches)
    mine = (got["losses"], [np.asarray(p, np.float32) for p in got["params"]])
    worst = tp.worst_difference(mine, base)
    same = worst < 1e-4
    print(f"{got['processes']} processes, {got['devices']} devices: loss {mine[0][0]:.5f} -> {mine[0][-1]:.5f}; "
          f"largest relative difference to one device {worst:.1e} ({'same' if same else 'DIFFERENT'})")
    print("OK" if same else "FAILED")
    return 0 if same else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--coordinator", help="host:port of process 0 (omit to start all processes here)")
    ap.add_argument("--process-id", type=int, default=None)
    ap.add_argument("--num-processes", type=int, default=2)
    ap.add_argument("--local-devices", type=int, default=4, help="CPU devices to simulate per process (0: the host's)")
    ap.add_argument("--timeout", type=int, default=120, help="seconds to wait for the processes")
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    import importlib.util
    if importlib.util.find_spec("jax") is None:  # not imported here: a worker sets its device count first
        sys.exit("this example needs JAX: pip install -e '.[jax]'")
    if args.coordinator is None:
        return launch(args)
    if args.process_id is None:
        ap.error("--coordinator needs --process-id")
    return worker(args)


if __name__ == "__main__":
    sys.exit(main())
