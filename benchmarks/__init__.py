"""chainrule's benchmarks: chainrule (every backend), jax.jit on CPU and NumPy on the same workloads."""
