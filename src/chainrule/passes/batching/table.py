"""`BATCH_RULES`: one batching rule per op, keyed by op name.

`BATCH_RULES[op](ctx, node, args) -> list of (value, bdim)`, one pair per
result of `node`. `ctx` is the `BatchContext`, `node` the original
(unbatched) node, for its attributes and types, and `args` its operands as
`(value, bdim)` pairs in the new graph. The driver calls a rule only when at
least one operand is batched; nodes whose operands are all unbatched are
copied unchanged (they compute the same value for every batch element).
"""

from __future__ import annotations

from ...ir import RuleTable

BATCH_RULES = RuleTable("batching (vmap)")
batching_rule = BATCH_RULES.register
