"""The first call (trace + compile + one run, empty compile cache) of a model's value_and_grad step,
timed in a fresh process for chainrule-llvm and jax.jit: one row, shared by the CNN and transformer
workloads. The model's module names its data function and its `chainrule_loss` / `jax_loss`."""

import tempfile

_CHAINRULE = """
import sys, time
sys.path.insert(0, {root!r})
from benchmarks.{module} import {data} as data, chainrule_loss
import chainrule as cr
import chainrule.backends.llvm  # the backend's import, like jaxlib's in `import jax`, is not timed
params, x, y = data()
f = cr.jit(cr.value_and_grad(chainrule_loss), backend="llvm")
t1 = time.perf_counter()
f(params, x, y)
print(time.perf_counter() - t1)
"""

_JAX = """
import sys, time
sys.path.insert(0, {root!r})
from benchmarks.{module} import {data} as data, jax_loss
import jax
params, x, y = data()
jf = jax.jit(jax.value_and_grad(jax_loss))
t1 = time.perf_counter()
jax.block_until_ready(jf(params, x, y))
print(time.perf_counter() - t1)
"""


def first_call_row(h, backends, jax, run_child, name: str, module: str, data: str):
    fmt = {"module": module, "data": data}
    if "llvm" in backends:
        with tempfile.TemporaryDirectory() as d:
            h.record(name, "chainrule-llvm", run_child(_CHAINRULE, {"CHAINRULE_CACHE_DIR": d, "_fmt": fmt}))
    if jax is not None:
        h.record(name, "jax", run_child(_JAX, {"_fmt": fmt}))
