"""Print the coefficient table `_ERFC_PIECES` of chainrule.frontend.numpy.special.erfc (needs mpmath).

erfcx(a) = exp(a^2) erfc(a) is interpolated at Chebyshev nodes, computed with
mpmath at 200 bits: on [lo, hi) as a polynomial in a - center, and on the tail
a >= lo as a * erfcx(a) = g(u), a polynomial in u = 1/a^2. The coefficients
are then rounded to each dtype. Usage: python tools/fit_erfc.py
"""

from __future__ import annotations

import mpmath
import numpy as np

mpmath.mp.prec = 200

# (pieces (lo, hi, degree), (tail lo, tail degree)) per dtype
CONFIG = {"float64": ([(0.5, 1.0, 15), (1.0, 2.0, 18), (2.0, 3.5, 20)], (3.5, 18)),
          "float32": ([(0.5, 1.0, 8), (1.0, 2.0, 10), (2.0, 3.5, 10)], (3.5, 8))}


def erfcx(v):
    v = mpmath.mpf(v)
    return mpmath.erfc(v) * mpmath.exp(v * v)


def _interpolate(f, lo, hi, n):
    """Monomial coefficients (low to high) in t of the degree-n interpolant of f at Chebyshev nodes of [lo, hi]."""
    c, h = (mpmath.mpf(lo) + hi) / 2, (mpmath.mpf(hi) - lo) / 2
    nodes = [c + h * mpmath.cos(mpmath.pi * (k + mpmath.mpf(0.5)) / (n + 1)) for k in range(n + 1)]
    v = mpmath.matrix([[(t - c) ** j for j in range(n + 1)] for t in nodes])
    return list(mpmath.lu_solve(v, mpmath.matrix([f(t) for t in nodes]))), c


def piece(lo, hi, n):
    coef, c = _interpolate(erfcx, lo, hi, n)
    return coef, c


def tail(lo, n):
    def g(u):
        if u == 0:
            return 1 / mpmath.sqrt(mpmath.pi)
        a = 1 / mpmath.sqrt(u)
        return a * erfcx(a)
    umax = 1 / mpmath.mpf(lo) ** 2
    coef, c = _interpolate(g, 0, umax, n)
    # re-expand around u = 0 (evaluated in u itself): p(u - c) -> q(u)
    q = [mpmath.mpf(0)] * (n + 1)
    for j, cj in enumerate(coef):
        for k in range(j + 1):
            q[k] += cj * mpmath.binomial(j, k) * (-c) ** (j - k)
    return q


def main():
    print("_ERFC_PIECES = {")
    for name, (pieces, (tlo, tn)) in CONFIG.items():
        dt = np.dtype(name).type

        def fmt(cs):
            return ", ".join(repr(float(dt(float(v)))) for v in cs)
        print(f'    "{name}": (')
        for lo, hi, n in pieces:
            cs, c = piece(lo, hi, n)
            print(f"        ({lo!r}, {hi!r}, {float(c)!r}, ({fmt(cs)})),")
        print(f"        ({tlo!r}, None, None, ({fmt(tail(tlo, tn))})),")
        print("    ),")
    print("}")


if __name__ == "__main__":
    main()
