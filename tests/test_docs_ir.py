"""docs/ir.md is generated from the registry and rule tables; it must not be stale."""

import pathlib

from chainrule.tools.irdoc import generate

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "ir.md"


def test_ir_reference_is_current():
    assert DOC.read_text() == generate(), (
        "docs/ir.md is stale: regenerate it with `python -m chainrule.tools.irdoc > docs/ir.md`")


def test_every_op_is_documented():
    from chainrule.ir import REGISTRY
    text = DOC.read_text()
    for name in REGISTRY:
        assert f"### `{name}`" in text
