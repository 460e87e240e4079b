"""The schema rendered as a Markdown table: ``docs/disclosure-control.md`` embeds this text and a
test keeps the two identical, so the documentation cannot drift from the code."""

from __future__ import annotations

from jdl.disclosure._schema import INDIVIDUAL_KEYS, SCHEMA

BEGIN = "<!-- BEGIN GENERATED: jdl.disclosure.describe_schema() -->"
END = "<!-- END GENERATED -->"


def describe_schema() -> str:
    """Markdown: every declared results path with its kind, then the per-person keys refused."""
    lines = [BEGIN, "", "| Path | Kind | Note |", "|---|---|---|"]
    lines += [f"| `{s.pattern}` | {s.kind.value} | {s.note} |" for s in SCHEMA]
    lines += ["", "Keys refused anywhere (per-person records): "
              + ", ".join(f"`{k}`" for k in sorted(INDIVIDUAL_KEYS)) + ".", "", END]
    return "\n".join(lines)
