"""FFT workloads: complex64/complex128 FFT of 2^20 points and 2-D FFT of 1000 x 1000 against numpy.fft
and jax.jit(jnp.fft.fft / fft2) (registered into workloads.WORKLOADS)."""

from __future__ import annotations

import numpy as np

import chainrule as cr
import chainrule.numpy as cnp

from .workloads import _backends, _jax, _x64, workload


@workload("fft")
def fft(h):
    rng = np.random.default_rng(0)
    n = 2 ** 16 if h.quick else 2 ** 20
    side = 250 if h.quick else 1000
    cases = [(f"fft {{}} 2^{int(np.log2(n))}", (n,), "fft"), (f"fft2 {{}} {side}x{side}", (side, side), "fft2")]
    for dt in (np.complex64, np.complex128):
        for label, shape, fn in cases:
            name = label.format(np.dtype(dt).name)
            x = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)
            np_fn = getattr(np.fft, fn)
            want = np_fn(x)
            tol = 1e-4 if dt == np.complex64 else 1e-10
            atol = tol * float(np.abs(want).max())
            for b in _backends(h):
                f = cr.jit(getattr(cnp.fft, fn), backend=b)
                h.check(name, f"chainrule-{b}", f(x), want, rtol=tol, atol=atol)
                h.time(name, f"chainrule-{b}", lambda: f(x))
            jax = _jax()
            if jax is not None:
                import jax.numpy as jnp
                with _x64(jax, dt == np.complex128):
                    jf = jax.jit(getattr(jnp.fft, fn))
                    xj = jax.device_put(x)
                    h.check(name, "jax", jf(xj), want, rtol=tol, atol=atol)
                    h.time(name, "jax", lambda: jax.block_until_ready(jf(xj)))
            h.time(name, "numpy", lambda: np_fn(x))
