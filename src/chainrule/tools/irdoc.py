"""Generate docs/ir.md, the IR reference, from the op registry and every rule table.

`python -m chainrule.tools.irdoc > docs/ir.md`; tests/test_docs_ir.py fails
when the checked-in file is stale, so the reference never drifts from the code.
"""

from __future__ import annotations

import sys

from ..ir import REGISTRY
from ..ir.ops import REQUIRED
from ..passes.autodiff import EXPANSIONS
from .tables import all_tables


def _tables():
    """Every rule table that covers ops, by its column name (see tools/tables.py)."""
    return {_column(t): t for t in _package_tables() if t.covers is not None}


def _package_tables():
    """The package's tables (a test process also holds the tests' own, named "tests: ...")."""
    return [t for t in all_tables() if not t.name.startswith("tests:")]


def _column(table) -> str:
    return {"reference evaluation": "reference", "autodiff JVP": "JVP", "autodiff transpose": "transpose",
            "batching (vmap)": "batching", "llvm lowering": "llvm", "jax lowering": "jax",
            "fuzz generator": "fuzz"}.get(table.name, table.name)


def _attr_text(spec_name, spec):
    kind = spec.kind if spec.kind != "enum" else "|".join(spec.choices)
    if spec.default is REQUIRED:
        return f"`{spec_name}`: {kind}"
    d = spec.default
    d = getattr(d, "short", d)
    return f"`{spec_name}`: {kind} = `{list(d) if isinstance(d, tuple) else d}`"


def generate() -> str:
    cols = _tables()
    out = ["# The IR reference", "",
           "Generated from the op registry by `python -m chainrule.tools.irdoc > docs/ir.md`;",
           "a test fails when this file is stale. Each op is defined once in `src/chainrule/ir/`",
           "(its operands, attributes and type rule); the columns say which rule tables cover it:",
           "`yes` has a rule, `zero` has a zero derivative by definition, `no` is declared unsupported",
           "(with its reason in the table), `-` is not needed (e.g. non-linear ops have no transpose).", "",
           "| op | category | operands | regions | " + " | ".join(cols) + " |",
           "|---|---|---|---|" + "---|" * len(cols)]
    for name in sorted(REGISTRY):
        op = REGISTRY[name]
        n = "variadic" if op.num_operands is None else str(op.num_operands)
        regions = "any" if op.num_regions is None else str(op.num_regions)
        marks = []
        for col, table in cols.items():
            if name in table or (col == "JVP" and name in EXPANSIONS):
                marks.append("yes")
            elif name in table.exemptions:
                marks.append("zero" if col == "JVP" else "no")
            else:
                marks.append("-")
        out.append(f"| `{name}` | {op.category} | {n} | {regions} | " + " | ".join(marks) + " |")
    out += ["", "## Rule tables", "",
            "Every per-op table is a `chainrule.ir.RuleTable`: it refuses a name that is not an op and a",
            "second rule for one op, and `tests/test_registry.py` fails for any op a table must cover and",
            "has neither a rule nor an exemption for. Exemptions, with their reasons:", ""]
    for t in _package_tables():
        what = "partial: no op is required" if t.covers is None else (
            "must cover every op" if t.required() == sorted(REGISTRY) else
            f"must cover {len(t.required())} of the {len(REGISTRY)} ops")
        out.append(f"- **{t.name}** ({len(t)} rules; {what})" + (":" if t.exemptions else ""))
        out.extend(f"  - `{op}`: {why}" for op, why in sorted(t.exemptions.items()))
    out += ["", "## Ops", ""]
    for name in sorted(REGISTRY):
        op = REGISTRY[name]
        out.append(f"### `{name}`")
        out.append("")
        traits = [t if v is True else f"{t}={list(v) if isinstance(v, tuple) else v}"
                  for t, v in op.traits().items()]
        out.append(f"Category: {op.category}" + (f" (traits: {', '.join(traits)})" if traits else "") + ".")
        if op.attrs:
            out.append("Attributes: " + "; ".join(_attr_text(k, s) for k, s in op.attrs.items()) + ".")
        if op.doc:
            out.append("")
            out.append(op.doc)
        reasons = [f"{col}: {table.exemptions[name]}" for col, table in cols.items() if name in table.exemptions]
        if reasons:
            out.append("")
            out.extend(f"- {r}" for r in reasons)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def main():
    sys.stdout.write(generate())


if __name__ == "__main__":
    main()
