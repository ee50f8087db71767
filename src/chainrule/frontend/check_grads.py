"""`check_grads`: derivatives against central finite differences, like jax.test_util.check_grads."""

from __future__ import annotations

import numpy as np

from . import pytree
from .core import canonical_array
from .errors import api_boundary


def _flat_float(args):
    leaves, tree = pytree.flatten(tuple(args))
    return [canonical_array(x) for x in leaves], tree


def _default_eps(dtype):
    return 1e-3 if np.dtype(dtype) == np.float32 else 1e-6


def _tol(dtype, order):
    base = 2e-2 if np.dtype(dtype) == np.float32 else 1e-5
    return base * (10 ** (order - 1))


def _inner(a_leaves, b_leaves) -> float:
    return float(sum(np.sum(np.asarray(a, np.float64) * np.asarray(b, np.float64)) for a, b in zip(a_leaves, b_leaves)))


def _numeric_directional(f, leaves, tree, direction, eps):
    plus = [x + eps * d if x.dtype.kind == "f" else x for x, d in zip(leaves, direction)]
    minus = [x - eps * d if x.dtype.kind == "f" else x for x, d in zip(leaves, direction)]
    fp = pytree.flatten(f(*pytree.unflatten(tree, plus)))[0]
    fm = pytree.flatten(f(*pytree.unflatten(tree, minus)))[0]
    return [(np.asarray(p, np.float64) - np.asarray(m, np.float64)) / (2 * eps) for p, m in zip(fp, fm)]


@api_boundary
def check_grads(fun, args, order=1, modes=("fwd", "rev"), atol=None, rtol=None, eps=None, seed=0):
    """Raise AssertionError unless fun's JVP/VJP match finite differences up to `order`."""
    from .transforms import jvp, vjp
    if isinstance(modes, str):
        modes = (modes,)
    for m in modes:
        if m not in ("fwd", "rev"):
            raise ValueError(f"check_grads: unknown mode {m!r}; expected 'fwd' and/or 'rev'")
    leaves, tree = _flat_float(args)
    floats = [x for x in leaves if x.dtype.kind == "f"]
    if not floats:
        raise TypeError("check_grads needs at least one float argument")
    dt = np.result_type(*[x.dtype for x in floats])
    eps = eps or _default_eps(dt)
    tol = _tol(dt, order)
    atol = tol if atol is None else atol
    rtol = tol if rtol is None else rtol
    rng = np.random.default_rng(seed)
    direction = [rng.standard_normal(x.shape).astype(x.dtype) if x.dtype.kind == "f" else np.zeros_like(x)
                 for x in leaves]
    args_t = pytree.unflatten(tree, leaves)
    numeric = _numeric_directional(fun, leaves, tree, direction, eps)

    def close(a, b, what):
        a = np.asarray(a, np.float64)
        b = np.asarray(b, np.float64)
        if not np.allclose(a, b, atol=atol, rtol=rtol, equal_nan=True):
            err = np.max(np.abs(a - b)) if a.size else 0.0
            raise AssertionError(
                f"check_grads ({what}, order {order}): derivative does not match finite differences "
                f"(max abs error {err:.3g}, atol {atol:g}, rtol {rtol:g}, eps {eps:g})\n"
                f"  autodiff: {np.array2string(a.ravel()[:8], precision=6)}\n"
                f"  numeric:  {np.array2string(b.ravel()[:8], precision=6)}")

    if "fwd" in modes:
        tan = pytree.unflatten(tree, direction)
        _, t_out = jvp(fun, tuple(args_t), tuple(tan))
        for a, b in zip(pytree.flatten(t_out)[0], numeric):
            close(a, b, "forward mode")
    if "rev" in modes:
        out, vf = vjp(fun, *args_t)
        out_leaves, out_tree = pytree.flatten(out)
        ct = [rng.standard_normal(np.shape(o)).astype(np.asarray(o).dtype) if np.asarray(o).dtype.kind == "f"
              else np.zeros_like(np.asarray(o)) for o in out_leaves]
        cts = vf(pytree.unflatten(out_tree, ct))
        lhs = _inner(pytree.flatten(cts)[0], direction)
        rhs = _inner(ct, numeric)
        close(lhs, rhs, "reverse mode")
    if order > 1:
        def deriv(*a):
            _, t_out = jvp(fun, tuple(a), tuple(pytree.unflatten(tree, direction)))
            return t_out
        check_grads(deriv, args, order - 1, modes, atol, rtol, eps, seed + 1)
