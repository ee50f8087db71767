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
