"""Max ulp error of chainrule.numpy functions on each backend over dense grids (needs mpmath).

    PYTHONPATH=src python tools/ulp_special.py [erfc,cosh,...] [reference,llvm,jax]

float64 is checked against mpmath at 200 bits, float32 against the same rounded
from float64. XLA's CPU code flushes subnormal results to zero, so the jax
backend's maximum is also reported over normal results only.
"""

from __future__ import annotations

import sys

import mpmath
import numpy as np

import chainrule as cr
import chainrule.numpy as cnp


def _grid_erfc(dt):
    if dt == np.float64:
        return np.concatenate([np.linspace(-6, 6, 6001), np.linspace(6, 27.3, 4001), np.geomspace(1e-300, 0.5, 500),
                               *(np.linspace(c - 0.05, c + 0.05, 501) for c in (0.5, 1.0, 2.0, 3.5)),
                               np.linspace(26, 27.5, 1001)])
    return np.concatenate([np.linspace(-4.5, 10.1, 400001), np.geomspace(1e-38, 0.5, 1000)])


def _grid_sym(lim64, lim32):
    def g(dt):
        lim = lim64 if dt == np.float64 else lim32
        h = np.geomspace(1e-6, lim, 20001)
        return np.concatenate([-h, h, np.linspace(-3, 3, 2001)])
    return g


def _grid_arccosh(dt):
    big = np.finfo(dt).max
    return np.concatenate([1 + np.geomspace(1e-15 if dt == np.float64 else 1e-7, 1, 5001), np.geomspace(2, big, 20001)])


FUNCTIONS = {  # name -> (chainrule function, mpmath function, grid(dtype))
    "erfc": (cnp.special.erfc, mpmath.erfc, _grid_erfc),
    "cosh": (cnp.cosh, mpmath.cosh, _grid_sym(710.4, 89.4)),
    "sinh": (cnp.sinh, mpmath.sinh, _grid_sym(710.4, 89.4)),
    "arccosh": (cnp.arccosh, mpmath.acosh, _grid_arccosh),
    "arcsinh": (cnp.arcsinh, mpmath.asinh, _grid_sym(1e308, 3e38)),
    "arctanh": (cnp.arctanh, mpmath.atanh, lambda dt: np.concatenate([np.linspace(-1, 1, 40001)[1:-1],
                                                                        1 - np.geomspace(1e-16 if dt == np.float64 else 1e-7, 0.5, 2001)])),
    "logit": (cnp.special.logit, lambda v: mpmath.log(v / (1 - v)),
              lambda dt: np.concatenate([np.linspace(0, 1, 40001)[1:-1], np.geomspace(1e-30, 0.5, 2001),
                                         0.5 + np.geomspace(1e-15 if dt == np.float64 else 1e-7, 0.25, 2001)])),
    "cbrt": (cnp.cbrt, lambda v: mpmath.sign(v) * mpmath.cbrt(abs(v)), lambda dt: np.concatenate([np.geomspace(np.finfo(dt).smallest_subnormal, np.finfo(dt).max, 40001),
                                                                 -np.geomspace(1e-3, 1e3, 2001)])),
}


def ulp_errors(got, want, dt):
    want = np.asarray(want, np.float64)
    got = np.asarray(got, np.float64)
    spacing = np.spacing(np.abs(want).astype(dt)).astype(np.float64)
    with np.errstate(invalid="ignore"):
        err = np.abs(got - want) / spacing
    return np.where((got == want) | (np.isnan(got) & np.isnan(want)), 0.0, err)


def main():
    names = sys.argv[1].split(",") if len(sys.argv) > 1 else list(FUNCTIONS)
    bks = sys.argv[2].split(",") if len(sys.argv) > 2 else ["reference", "llvm", "jax"]
    mpmath.mp.prec = 200
    for name in names:
        fn, ref, grid = FUNCTIONS[name]
        for dt in (np.float64, np.float32):
            x = np.unique(grid(dt).astype(dt))
            want = np.array([float(ref(mpmath.mpf(float(v)))) for v in x])
            for b in bks:
                got = np.asarray(cr.jit(fn, backend=b)(x))
                err = ulp_errors(got, want, dt)
                normal = np.abs(want) >= np.finfo(dt).tiny
                i = int(np.argmax(err))
                print(f"{name:8s} {b:9s} {dt.__name__}: max {err.max():.2f} ulp at x={x[i]!r} "
                      f"(normal results: {err[normal].max():.2f}), mean {err.mean():.3f}, {len(x)} points")


if __name__ == "__main__":
    main()
