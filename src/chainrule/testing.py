"""Helpers that the test suites of every layer share.

Kept small and free of pytest so that library code (the fuzzer) may use them
too. Each helper raises `AssertionError` with a message that says what was
wrong and what was expected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import ml_dtypes
import numpy as np

__all__ = ["assert_roundtrip", "assert_same", "assert_table_complete", "bits_equal", "missing_from_table",
           "op_graph", "run_op", "same_values", "wrap_int"]


def missing_from_table(table: Mapping | Iterable, exempt: Mapping[str, str] | None = None,
                       ops: Iterable[str] | None = None) -> list[str]:
    """Op names of the registry (or `ops`) that `table` lacks and `exempt` does not excuse."""
    from .ir import REGISTRY

    names = sorted(REGISTRY) if ops is None else sorted(ops)
    exempt = exempt or {}
    keys = set(table.keys() if isinstance(table, Mapping) else table)
    return [n for n in names if n not in keys and n not in exempt]


def assert_table_complete(table: Mapping | Iterable, name: str, exempt: Mapping[str, str] | None = None,
                          ops: Iterable[str] | None = None) -> None:
    """Fail unless `table` has an entry for every registered op.

    `table` is a mapping keyed by op name (or any iterable of op names), `name`
    says which table it is in the message. An op may be left out only when
    `exempt` names it with a reason (`{"while": "loops are lowered by scan"}`).
    Exemptions must be real: an empty reason, or an exemption for an op that
    is not registered or that the table does have, fails too, so the list
    cannot go stale silently.
    """
    from .ir import REGISTRY

    exempt = dict(exempt or {})
    keys = set(table.keys() if isinstance(table, Mapping) else table)
    problems = []
    for op, reason in exempt.items():
        if not isinstance(reason, str) or not reason.strip():
            problems.append(f"exemption of {op!r} gives no reason (expected a non-empty string)")
        if op not in REGISTRY:
            problems.append(f"exemption of {op!r} names an op that is not registered")
        elif op in keys:
            problems.append(f"{op!r} is exempted but {name} has it: drop the exemption")
    missing = missing_from_table(keys, exempt, ops)
    if missing:
        problems.append(
            f"{name} lacks {len(missing)} op(s): {', '.join(missing)} "
            "(add a rule, or exempt each with a reason)")
    unknown = sorted(k for k in keys if isinstance(k, str) and k not in REGISTRY)
    if unknown:
        problems.append(f"{name} has entries for unregistered op(s): {', '.join(unknown)}")
    if problems:
        raise AssertionError(f"{name} is incomplete:\n  " + "\n  ".join(problems))


def assert_roundtrip(graph) -> str:
    """Check that the text form of `graph` parses back to the same text; return the text.

    Also checks the parsed graph passes the verifier and has the same
    parameter and result types, so a printer that drops information fails
    even when the reprint happens to agree with itself.
    """
    from .ir import parse, verify

    text = str(graph)
    try:
        back = parse(text)
    except Exception as e:  # pragma: no cover - the message is the point
        raise AssertionError(f"the text form of @{graph.name} does not parse: {e}\n{text}") from e
    verify(back)
    again = str(back)
    if again != text:
        raise AssertionError(f"text form does not round-trip:\n--- printed\n{text}--- reprinted\n{again}")
    if back.param_types != graph.param_types or back.result_types != graph.result_types:
        raise AssertionError(
            f"round trip changed the signature: {graph.param_types} -> {graph.result_types} became "
            f"{back.param_types} -> {back.result_types}")
    if graph.num_nodes() != back.num_nodes():
        raise AssertionError(f"round trip changed the node count: {graph.num_nodes()} -> {back.num_nodes()}")
    return text


def op_graph(op: str, operand_types, attrs=None, regions=(), name: str | None = None):
    """A graph holding one `op` node applied to parameters of `operand_types`, returning all its results."""
    from .ir import GraphBuilder, TensorType

    b = GraphBuilder(name or op.replace(".", "_"))
    params = [b.param(t if isinstance(t, TensorType) else TensorType(*t), f"x{i}") for i, t in enumerate(operand_types)]
    node = b.emit(op, params, attrs or {}, regions)
    return b.build(list(node.results))


def run_op(op: str, *arrays, backend: str = "reference", roundtrip: bool = True, **attrs):
    """Apply `op` to NumPy arrays through a one-node graph on `backend`; return its results as a list.

    The graph's text form is round-tripped first (`assert_roundtrip`), so
    every op test also tests the printer and parser on that op.
    """
    from .backends import compile
    from .ir import TensorType

    arrays = [np.asarray(a) for a in arrays]
    g = op_graph(op, [TensorType(a.shape, a.dtype) for a in arrays], attrs)
    if roundtrip:
        assert_roundtrip(g)
    return compile(g, backend=backend)(*arrays)


def bits_equal(a: np.ndarray, b: np.ndarray, zero_sign: bool = True) -> np.ndarray:
    """Elementwise: the same bits, every NaN counted equal to every NaN (payloads and signs may
    differ); `zero_sign=False` also counts 0.0 equal to -0.0. Non-float arrays compare with `==`.
    `a` and `b` have the same dtype and shape. Complex numbers compare part by part."""
    if a.dtype.kind == "c":
        return bits_equal(np.real(a), np.real(b), zero_sign) & bits_equal(np.imag(a), np.imag(b), zero_sign)
    if a.dtype.kind != "f" and a.dtype.name != "bfloat16":
        return a == b
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    bits = f"u{a.itemsize}"
    same = a.view(bits) == b.view(bits)
    if not zero_sign:
        same |= (a == 0) & (b == 0)
    return (nan_a & nan_b) | (~nan_a & ~nan_b & same)


def same_values(a, b) -> bool:
    """Same dtype, shape and bits, except that any NaN equals any NaN (the passes' notion of
    "computes the same")."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return bool(np.all(bits_equal(a, b)))


def assert_same(got, want, rtol: float = 0.0, atol: float = 0.0, what: str = "result") -> None:
    """Check dtype, shape and values of `got` against the oracle `want`.

    With `rtol == atol == 0` the comparison is bit-exact (NaN matches NaN,
    -0.0 does not match 0.0). With a tolerance, NaN and infinities must still
    sit at the same positions, and the finite values agree within
    `atol + rtol * |want|`.
    """
    got = np.asarray(got)
    want = np.asarray(want)
    if got.dtype != want.dtype:
        raise AssertionError(f"{what}: dtype {got.dtype}, expected {want.dtype}")
    if got.shape != want.shape:
        raise AssertionError(f"{what}: shape {got.shape}, expected {want.shape}")
    if got.size == 0:
        return
    if (want.dtype.kind not in "fc" and want.dtype.name != "bfloat16") or (rtol == 0 and atol == 0):
        bad = ~bits_equal(got, want)
    else:
        fin = np.isfinite(want)
        bad = ~fin & ~bits_equal(got, want)
        with np.errstate(all="ignore"):
            wide = np.complex128 if want.dtype.kind == "c" else np.float64
            g64, w64 = got.astype(wide), want.astype(wide)
            close = np.abs(g64 - w64) <= atol + rtol * np.abs(w64)
        bad |= fin & ~close
    if np.any(bad):
        idx = np.argwhere(bad) if got.ndim else [()]
        first = [tuple(int(i) for i in ix) for ix in idx[:5]]
        detail = ", ".join(f"at {ix}: got {got[ix]!r}, expected {want[ix]!r}" for ix in first)
        tol = f" (rtol={rtol}, atol={atol})" if rtol or atol else " (bit-exact)"
        raise AssertionError(f"{what}: {int(np.sum(bad))} of {got.size} elements differ{tol}; {detail}")


def edge_values(dt) -> np.ndarray:
    """The values most likely to expose a wrong rule for dtype `dt`: zeros of both signs,
    NaN, infinities, the extremes, subnormals, halves (rounding) and the integer limits."""
    dt = np.dtype(getattr(dt, "np", dt))
    if dt == np.bool_:
        return np.array([False, True])
    if dt.kind == "i":
        info = np.iinfo(dt)
        return np.array([0, 1, -1, 2, -2, 3, -7, 31, 100 % info.max, info.min, info.max, info.min + 1, info.max - 1],
                        dtype=dt)
    if dt.kind == "u":
        info = np.iinfo(dt)
        top = 1 << (info.bits - 1)
        return np.array([0, 1, 2, 3, 7, 31, 100, top - 1, top, top + 1, info.max, info.max - 1], dtype=dt)
    info = ml_dtypes.finfo(dt)
    with np.errstate(over="ignore"):
        return np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.0, 1e-3, -7.25, 100.0,
                     np.nan, np.inf, -np.inf, info.max, -info.max, info.tiny, info.smallest_subnormal,
                         -info.smallest_subnormal, 2.0 ** 31, -2.0 ** 31, 2.0 ** 63]).astype(dt)


def sample_array(rng: np.random.Generator, shape, dt, edge_fraction: float = 0.3, low=-10, high=10) -> np.ndarray:
    """A random array of `shape` and `dt`, about `edge_fraction` of it drawn from `edge_values`."""
    dt = np.dtype(getattr(dt, "np", dt))
    shape = tuple(shape)
    if dt == np.bool_:
        return np.asarray(rng.random(shape) < 0.5)
    if dt.kind == "u":
        base = rng.integers(max(low, 0), max(high, 1), size=shape, endpoint=True).astype(dt)
    elif dt.kind == "i":
        base = rng.integers(max(low, np.iinfo(dt).min), min(high, np.iinfo(dt).max), size=shape,
                            endpoint=True).astype(dt)
    else:
        base = rng.uniform(low, high, size=shape).astype(dt)
    edges = edge_values(dt)
    pick = rng.random(shape) < edge_fraction
    return np.where(pick, edges[rng.integers(0, len(edges), size=shape)], base).astype(dt)


def wrap_int(v: int, dt) -> int:
    """A Python integer wrapped to the two's-complement range of integer dtype `dt` (XLA's overflow)."""
    bits = np.dtype(getattr(dt, "np", dt)).itemsize * 8
    return ((int(v) + (1 << (bits - 1))) % (1 << bits)) - (1 << (bits - 1))
