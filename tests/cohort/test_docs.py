"""The definitions section of docs/cohort-and-outcomes.md is generated from the code."""

from __future__ import annotations

from pathlib import Path

from jdl.cohort import describe_definitions
from jdl.cohort._describe import BEGIN, END

DOC = Path(__file__).parents[2] / "docs" / "cohort-and-outcomes.md"


def test_docs_show_the_current_definitions():
    text = DOC.read_text()
    section = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert section == describe_definitions(), (
        "Regenerate the section with jdl.cohort.describe_definitions() (`jdl cohort definitions`)"
    )
