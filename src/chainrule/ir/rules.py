"""`RuleTable`: the one type of every per-op table (evaluation, lowering, derivatives, batching, ...).

A rule table maps op names to rules. It refuses a name that is not a
registered op and a second rule for the same op, so a misspelt name or a
rule silently replaced by another fails at import. An op a table knowingly
lacks is *exempted* with its reason (`table.exempt("while", "why")`), and
the reason is printed in docs/ir.md's coverage table. `covers` says which
ops the table must have: every op (the default), those with a trait (the
transpose table covers the linear ops), or none (a partial table such as
the rewrite rules). `tests/test_registry.py` walks every table in
`RuleTable.ALL` against the registry.
"""

from __future__ import annotations

import contextlib
from typing import Callable

from .ops import REGISTRY, OpDef


class RuleTable(dict):
    """op name -> rule, checked on every insertion; see the module docstring."""

    ALL: list["RuleTable"] = []

    def __init__(self, name: str, covers: Callable[[OpDef], bool] | None = lambda op: True, doc: str = ""):
        super().__init__()
        self.name = name
        self.covers = covers
        self.doc = doc
        self.exemptions: dict[str, str] = {}
        RuleTable.ALL.append(self)

    def _check_name(self, op: str):
        if op not in REGISTRY:
            raise KeyError(f"{self.name}: {op!r} is not a registered op (see chainrule.ir.REGISTRY)")

    def __setitem__(self, op: str, rule):
        self._check_name(op)
        if op in self:
            raise ValueError(f"{self.name}: op {op!r} already has a rule; a second one would replace it silently")
        if op in self.exemptions:
            raise ValueError(f"{self.name}: op {op!r} is exempted ({self.exemptions[op]}); drop the exemption")
        super().__setitem__(op, rule)

    def update(self, *args, **kwargs):
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def setdefault(self, op, rule=None):
        if op not in self:
            self[op] = rule
        return self[op]

    def register(self, *ops: str):
        """Decorator: the function is the rule of each op in `ops`."""
        def deco(fn):
            for op in ops:
                self[op] = fn
            return fn
        return deco

    def exempt(self, op: str, reason: str):
        """Record that this table deliberately lacks `op`, and why."""
        self._check_name(op)
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError(f"{self.name}: the exemption of {op!r} gives no reason")
        if op in self:
            raise ValueError(f"{self.name}: {op!r} has a rule and cannot be exempted")
        if op in self.exemptions:
            raise ValueError(f"{self.name}: {op!r} is exempted twice")
        self.exemptions[op] = reason

    @contextlib.contextmanager
    def replaced(self, op: str, rule):
        """Use `rule` for `op` inside the `with` block (tests that break a rule on purpose)."""
        old = self[op]
        dict.__setitem__(self, op, rule)
        try:
            yield
        finally:
            dict.__setitem__(self, op, old)

    def required(self) -> list[str]:
        """The ops this table must have a rule or an exemption for."""
        if self.covers is None:
            return []
        return sorted(n for n, op in REGISTRY.items() if self.covers(op))

    def missing(self) -> list[str]:
        """Required ops with neither a rule nor an exemption."""
        return [n for n in self.required() if n not in self and n not in self.exemptions]

    def __repr__(self):
        return f"<RuleTable {self.name}: {len(self)} rules, {len(self.exemptions)} exemptions>"


def op_names(*names: str) -> frozenset:
    """A set of op names, every one registered (a set naming a non-op fails at import)."""
    bad = sorted(n for n in names if n not in REGISTRY)
    if bad:
        raise KeyError(f"not registered op(s): {', '.join(bad)}")
    return frozenset(names)


def ops_with(trait: str) -> frozenset:
    """The names of the registered ops whose OpDef has `trait` set (e.g. "call_like", "inexact")."""
    return frozenset(n for n, op in REGISTRY.items() if getattr(op, trait))
