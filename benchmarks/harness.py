"""Timing and reporting shared by every benchmark: medians, ratios to JAX, one table.

A workload is a function `run(h)` that times entries with `h.time(...)`;
`python -m benchmarks` runs them all and prints one table (and JSON with
--json). Results of every entry are checked against a reference result.
"""

from __future__ import annotations

import gc
import json
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class Row:
    workload: str
    system: str
    median_s: float
    runs: int
    note: str = ""
    ratio_to_jax: float | None = None


@dataclass
class Harness:
    """Collects timings; `python -m benchmarks --rounds N` runs every workload N times, and each
    row is the median over all rounds, so chainrule, JAX and NumPy are sampled alternately and a
    change of machine load during the run touches every system alike."""
    quick: bool = False
    rows: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    samples: dict = field(default_factory=dict)  # (workload, system) -> [seconds], first-seen order
    notes: dict = field(default_factory=dict)

    def time(self, workload: str, system: str, fn, *, repeat: int | None = None, min_time: float = 0.2,
             warmup: int = 1, note: str = "") -> float:
        """Median wall time of fn() over repeated runs (after warm-up calls), added to the row's samples."""
        for _ in range(warmup):
            fn()
        times = []
        budget = min_time * (0.25 if self.quick else 1.0)
        start = time.perf_counter()
        gc.disable()
        try:
            while True:
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
                if repeat is not None and len(times) >= repeat:
                    break
                if repeat is None and len(times) >= 3 and time.perf_counter() - start > budget:
                    break
                if len(times) >= 10000:
                    break
        finally:
            gc.enable()
        self._add(workload, system, times, note)
        return statistics.median(times)

    def record(self, workload: str, system: str, seconds: float, note: str = ""):
        self._add(workload, system, [seconds], note)

    def _add(self, workload, system, values, note):
        self.samples.setdefault((workload, system), []).extend(values)
        self.notes[workload, system] = note

    def check(self, workload: str, system: str, got, want, rtol=1e-4, atol=1e-6):
        """Results must agree with the reference; a disagreement is reported, not hidden."""
        g = [np.asarray(x) for x in (got if isinstance(got, (list, tuple)) else [got])]
        w = [np.asarray(x) for x in (want if isinstance(want, (list, tuple)) else [want])]
        ok = len(g) == len(w) and all(a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=atol)
                                      for a, b in zip(g, w))
        msg = f"{workload}: {system} disagrees with the reference result"
        if not ok and msg not in self.failures:
            self.failures.append(msg)
        return ok

    def finish(self):
        self.rows = []
        for (w, sy), values in self.samples.items():
            finite = [v for v in values if v == v]
            med = statistics.median(finite) if finite else float("nan")
            self.rows.append(Row(w, sy, med, len(values), self.notes[w, sy]))
        jax_times = {r.workload: r.median_s for r in self.rows if r.system == "jax"}
        for r in self.rows:
            j = jax_times.get(r.workload)
            r.ratio_to_jax = (r.median_s / j) if j else None

    def table(self) -> str:
        self.finish()
        lines = [f"{'workload':<44} {'system':<18} {'median':>12} {'vs jax':>8}  note", "-" * 100]
        for r in self.grouped_rows():
            ratio = f"{r.ratio_to_jax:.2f}" if r.ratio_to_jax is not None else ""
            lines.append(f"{r.workload:<44} {r.system:<18} {_fmt(r.median_s):>12} {ratio:>8}  {r.note}")
        if self.failures:
            lines.append("")
            lines.extend("MISMATCH " + f for f in self.failures)
        return "\n".join(lines)

    def grouped_rows(self) -> list:
        """Rows of one workload together (in order of first appearance), whichever system ran first."""
        order = {}
        for r in self.rows:
            order.setdefault(r.workload, len(order))
        return sorted(self.rows, key=lambda r: order[r.workload])

    def to_json(self) -> dict:
        self.finish()
        return {"machine": machine(), "rows": [asdict(r) for r in self.grouped_rows()], "failures": self.failures}

    def write_json(self, path):
        with open(path, "w") as f:
            json.dump(self.to_json(), f, indent=2)


def _fmt(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def machine() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(), "processor": platform.processor()}
    try:
        import llvmlite.binding as llvm
        info["cpu"] = llvm.get_host_cpu_name()
    except Exception:
        pass
    try:
        import os
        info["cores"] = os.cpu_count()
    except Exception:
        pass
    return info
