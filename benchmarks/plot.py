"""Draw each system's time relative to JAX (matplotlib, optional)."""

from __future__ import annotations


def plot(h, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install matplotlib") from None
    h.finish()
    rows = [r for r in h.rows if r.ratio_to_jax is not None and r.system != "jax"]
    labels = [f"{r.workload}\n{r.system}" for r in rows]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1))
    ax.barh(range(len(rows)), [r.ratio_to_jax for r in rows])
    ax.axvline(1.0, color="k", lw=1)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.set_xlabel("time relative to jax.jit (lower is faster)")
    ax.set_xscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
