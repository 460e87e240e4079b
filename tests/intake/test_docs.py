"""The documentation is generated from the same definitions as the code."""

from __future__ import annotations

from pathlib import Path

from jdl.intake import RULES, template_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "submission-template.md"


def test_docs_tables_match_the_code():
    text = DOC.read_text(encoding="utf-8")
    columns, rules = template_markdown().split("\n\n", 1)
    assert columns in text, "regenerate the column table with jdl.intake.template_markdown()"
    assert rules in text, "regenerate the problem table with jdl.intake.template_markdown()"


def test_every_rule_has_a_fix_and_known_placeholders():
    for rule in RULES.values():
        assert rule.fix and rule.message
        rule.message.format(column="c", value="v", detail="d")
        rule.fix.format(column="c")
