"""Generate docs/ir.md, the IR reference, from the op registry and every rule table.

`python -m chainrule.tools.irdoc > docs/ir.md`; tests/test_docs_ir.py fails
when the checked-in file is stale, so the reference never drifts from the code.
"""

from __future__ import annotations

import sys

from ..ir import ALL_DTYPES, REGISTRY, IRError, TensorType
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


# Attributes (and operand types) the dtype probe uses for ops whose type rule needs them; `d` is the probed dtype.
_PROBES = {
    "convert": lambda d: [((d,), {"dtype": "float32"})],
    "compare": lambda d: [((d, d), {"direction": "EQ"})],
    "select": lambda d: [(("bool", d, d), {})],
    "argmax": lambda d: [((d,), {"dimension": 0})],
    "argmin": lambda d: [((d,), {"dimension": 0})],
    "dot_general": lambda d: [((d, d), {"lhs_contracting": (0,), "rhs_contracting": (0,)})],
    "iota": lambda d: [((), {"shape": (2,), "dtype": d})],
}


def _accepts(name, d, probe=None) -> bool:
    op = REGISTRY[name]
    cases = probe(d) if probe else [((d,) * (op.num_operands or 1), {})]
    for dts, attrs in cases:
        try:
            op.result_types(tuple(TensorType((2,), x) for x in dts), op.normalize_attrs(attrs))
        except (IRError, TypeError, ValueError, KeyError):
            return False
    return True


def accepted_dtypes(name) -> str:
    """The operand dtypes an op's type rule accepts, as docs/ir.md lists them ('' where not probed)."""
    op = REGISTRY[name]
    if name == "reduce":
        parts = []
        for kinds in (("sum", "prod"), ("max", "min"), ("and", "or")):
            ok = [d.short for d in ALL_DTYPES
                  if _accepts(name, d, lambda d, k=kinds[0]: [((d,), {"kind": k, "dimensions": (0,)})])]
            parts.append(f"{'/'.join(kinds)}: {', '.join(ok)}")
        return "; ".join(parts)
    if name == "bitcast_convert":
        return "bool to bool; any integer or float to one of the same width"
    probe = _PROBES.get(name)
    if probe is None and (op.num_regions != 0 or op.num_operands is None or
                          any(s.default is REQUIRED for s in op.attrs.values())):
        return "" if op.num_regions != 0 else "every dtype (carried through)"
    ok = [d.short for d in ALL_DTYPES if _accepts(name, d, probe)]
    if name == "dot_general":
        return ", ".join(ok) + " (the result: `preferred_element_type`, of the operands' kind and at least their width)"
    return ", ".join(ok)


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
        dts = accepted_dtypes(name)
        if dts:
            out.append("Dtypes: " + dts + ".")
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
