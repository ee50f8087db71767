"""Generate docs/ir.md, the IR reference, from the op registry and every rule table.

`python -m chainrule.tools.irdoc > docs/ir.md`; tests/test_docs_ir.py fails
when the checked-in file is stale, so the reference never drifts from the code.
"""

from __future__ import annotations

import sys

from ..ir import REGISTRY
from ..ir.ops import REQUIRED


def _tables():
    """Each rule table: column name -> (ops covered, ops declared unsupported or zero-derivative)."""
    from ..backends.reference import RULES
    from ..passes.autodiff import JVP_RULES, NON_DIFFERENTIABLE, TRANSPOSE_RULES
    from ..passes.autodiff.trace import EXPANSIONS
    cols = {"reference": (set(RULES), {})}
    cols["JVP"] = (set(JVP_RULES) | set(EXPANSIONS), dict(NON_DIFFERENTIABLE))
    cols["transpose"] = (set(TRANSPOSE_RULES), {})
    try:
        from ..passes.batching.table import BATCH_RULES
        cols["batching"] = (set(BATCH_RULES), {})
    except ImportError:
        pass
    try:
        from ..backends import llvm
        cols["llvm"] = (set(llvm.lowering_table()), dict(llvm.UNSUPPORTED))
    except ImportError:
        pass
    try:
        from ..backends.jax.table import LOWERINGS, UNSUPPORTED
        from ..backends.jax import interpreter  # noqa: F401  (fills the table)
        cols["jax"] = (set(LOWERINGS), dict(UNSUPPORTED))
    except ImportError:
        pass
    return cols


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
        for col, (covered, declared) in cols.items():
            if name in covered:
                marks.append("yes")
            elif name in declared:
                marks.append("zero" if col == "JVP" else "no")
            else:
                marks.append("-")
        out.append(f"| `{name}` | {op.category} | {n} | {regions} | " + " | ".join(marks) + " |")
    out += ["", "## Ops", ""]
    for name in sorted(REGISTRY):
        op = REGISTRY[name]
        out.append(f"### `{name}`")
        out.append("")
        traits = [t for t, on in (("elementwise", op.elementwise), ("commutative", op.commutative)) if on]
        out.append(f"Category: {op.category}" + (f" ({', '.join(traits)})" if traits else "") + ".")
        if op.attrs:
            out.append("Attributes: " + "; ".join(_attr_text(k, s) for k, s in op.attrs.items()) + ".")
        if op.doc:
            out.append("")
            out.append(op.doc)
        reasons = [f"{col}: {declared[name]}" for col, (covered, declared) in cols.items()
                   if name not in covered and name in declared and isinstance(declared[name], str)]
        if reasons:
            out.append("")
            out.extend(f"- {r}" for r in reasons)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def main():
    sys.stdout.write(generate())


if __name__ == "__main__":
    main()
