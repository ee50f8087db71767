"""The op registry against the tables keyed by op name, and the table check itself."""

import pytest

from chainrule.backends.reference import RULES
from chainrule.ir import REGISTRY
from chainrule.testing import assert_table_complete, missing_from_table


def test_reference_backend_has_a_rule_for_every_op():
    assert_table_complete(RULES, "reference RULES")


def test_every_op_is_registered_under_its_own_name():
    for name, op in REGISTRY.items():
        assert op.name == name
        assert callable(op.infer), name


def test_missing_op_is_reported_by_name():
    table = {k: v for k, v in RULES.items() if k not in ("tanh", "gather")}
    with pytest.raises(AssertionError, match=r"lacks 2 op\(s\): gather, tanh"):
        assert_table_complete(table, "T")
    assert missing_from_table(table) == ["gather", "tanh"]


def test_exemption_with_reason_is_accepted():
    table = {k: v for k, v in RULES.items() if k != "erf"}
    assert_table_complete(table, "T", exempt={"erf": "no erf in this backend yet"})


def test_exemption_without_reason_fails():
    table = {k: v for k, v in RULES.items() if k != "erf"}
    with pytest.raises(AssertionError, match="gives no reason"):
        assert_table_complete(table, "T", exempt={"erf": " "})


def test_stale_exemptions_fail():
    with pytest.raises(AssertionError, match="drop the exemption"):
        assert_table_complete(RULES, "T", exempt={"add": "not really missing"})
    with pytest.raises(AssertionError, match="not registered"):
        assert_table_complete(RULES, "T", exempt={"no_such_op": "gone"})


def test_entries_for_unregistered_ops_fail():
    with pytest.raises(AssertionError, match="unregistered op"):
        assert_table_complete(dict(RULES, frobnicate=None), "T")


def test_table_may_be_a_set_of_names():
    assert_table_complete(set(REGISTRY), "names")
    with pytest.raises(AssertionError):
        assert_table_complete(set(REGISTRY) - {"add"}, "names")


# --- RuleTable: one checked type for every per-op table ---------------------------------------------

def test_every_rule_table_covers_what_it_must():
    """Every table of the package has a rule or an exemption (with its reason) for each op it must
    cover; the failure names every table and the ops it lacks."""
    import op_tables  # noqa: F401  (the tests' own per-op tables)
    from chainrule.tools.tables import all_tables
    tables = all_tables()
    assert len(tables) >= 15, [t.name for t in tables]
    assert any(t.name.startswith("tests:") for t in tables)
    gaps = [f"{t.name} lacks {', '.join(t.missing())}" for t in tables if t.missing()]
    assert not gaps, "rule tables lack ops (add a rule, or exempt each with a reason):\n  " + "\n  ".join(gaps)
    for t in tables:
        assert set(t) <= set(REGISTRY) and set(t.exemptions) <= set(REGISTRY), t.name
        assert not set(t) & set(t.exemptions), t.name


def test_rule_table_refuses_unknown_ops_duplicates_and_empty_reasons():
    from chainrule.ir import RuleTable
    t = RuleTable("test table", covers=None)
    try:
        t["add"] = 1
        with pytest.raises(KeyError, match="'frobnicate' is not a registered op"):
            t["frobnicate"] = 1
        with pytest.raises(ValueError, match="already has a rule"):
            t["add"] = 2
        with pytest.raises(ValueError, match="already has a rule"):
            t.register("add")(lambda: None)
        with pytest.raises(ValueError, match="no reason"):
            t.exempt("tanh", " ")
        with pytest.raises(ValueError, match="cannot be exempted"):
            t.exempt("add", "because")
        t.exempt("tanh", "not in this table yet")
        with pytest.raises(ValueError, match="exempted"):
            t["tanh"] = 1
        assert t["add"] == 1 and t.exemptions == {"tanh": "not in this table yet"}
    finally:
        RuleTable.ALL.remove(t)


def test_a_table_covering_by_trait_names_its_gaps():
    from chainrule.ir import RuleTable
    t = RuleTable("linear-only test table", covers=lambda op: bool(op.linear))
    try:
        t["add"] = 1
        assert "subtract" in t.missing() and "add" not in t.missing() and "tanh" not in t.missing()
    finally:
        RuleTable.ALL.remove(t)


def test_sets_of_op_names_are_checked_at_definition():
    from chainrule.ir import op_names, ops_with
    assert op_names("add", "tanh") == {"add", "tanh"}
    with pytest.raises(KeyError, match="rng_bit_generator"):
        op_names("add", "rng_bit_generator")
    assert ops_with("call_like") == {"fusion", "remat", "custom_jvp_call", "custom_vjp_call"}


def test_traits_are_declared_with_the_op():
    assert REGISTRY["multiply"].linear == (0, 1) and REGISTRY["multiply"].commutative
    assert REGISTRY["tanh"].inexact and not REGISTRY["sqrt"].inexact
    assert REGISTRY["floor"].discontinuous and not REGISTRY["constant"].fold
    assert all(op.cse for op in REGISTRY.values())  # no op with effects or randomness yet
