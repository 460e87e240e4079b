"""docs/disclosure-control.md shows the current schema and every setting with its default."""

from __future__ import annotations

from pathlib import Path

from jdl.core.config import DisclosureSettings
from jdl.disclosure import describe_schema
from jdl.disclosure._describe import BEGIN, END

DOC = Path(__file__).parents[2] / "docs" / "disclosure-control.md"


def test_docs_show_the_current_schema():
    text = DOC.read_text()
    section = text[text.index(BEGIN): text.index(END) + len(END)]
    assert section == describe_schema(), "Regenerate with jdl.disclosure.describe_schema()"


def test_docs_list_every_setting_with_its_default():
    text = DOC.read_text()
    for name, field in DisclosureSettings.model_fields.items():
        default = field.default
        shown = f'"{default}"' if isinstance(default, str) else str(default).lower()
        assert f"| `{name}` | `{shown}` |" in text, name
