"""Helpers that the test suites of every layer share.

Kept small and free of pytest so that library code (the fuzzer) may use them
too. Each helper raises `AssertionError` with a message that says what was
wrong and what was expected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["assert_roundtrip", "assert_table_complete", "missing_from_table"]


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
