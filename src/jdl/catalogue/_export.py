"""The open-data export: one row per published report, the same rows as JSON and as CSV.

Values are exactly as released (proportions as proportions, counts rounded and suppressed cells
empty); the result columns are the catalogue's finding per headline measure. Text cells that a
spreadsheet would run as a formula are neutralised in the CSV (intake's ``csv_safe``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jdl.catalogue._findings import finding_for

if TYPE_CHECKING:
    from jdl.catalogue._publish import PublishedLike

BASE_COLUMNS = (
    "publication_id", "report_url", "published_on", "synthetic", "organisation",
    "programme_name", "sector", "intervention_type", "region", "setting", "delivery_start",
    "delivery_end", "treatment_n", "comparison_n",
    # the public register (issue 20)
    "withdrawn_on", "withdrawn_reason", "replaces_publication_id", "organisation_response",
)
MEASURE_FIELDS = ("treatment", "comparison", "difference", "ci_low", "ci_high", "p_value",
                  "result")
CAUTIONS = (
    "Reports must not be compared with one another: each compares one programme's participants "
    "with people similar to them, and the programmes worked with different people.",
    "Do not rank organisations or programmes by these results (no league tables): a programme "
    "may not have been set up to change this measure, and an inconclusive result does not mean "
    "the programme has no effect.",
)


def people_counts(results: dict[str, Any]) -> dict[str, Any]:
    """Treatment and comparison group sizes and people submitted, as released (the top-level
    fields, or ``counts`` in results written before they existed)."""
    counts = results.get("counts") or {}
    return {k: results.get(k, counts.get(k))
            for k in ("treatment_n", "comparison_n", "submitted")}


def measures_in(pubs: Sequence[PublishedLike]) -> list[str]:
    """Every headline measure of the publications, in the order first seen."""
    seen: dict[str, None] = {}
    for p in pubs:
        for f in p.findings:
            seen.setdefault(f["measure"], None)
    return list(seen)


def columns(measures: Sequence[str]) -> list[str]:
    return [*BASE_COLUMNS, *(f"{m}__{f}" for m in measures for f in MEASURE_FIELDS)]


def rows(pubs: Sequence[Any], base_url: str) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows) for the export; ``pubs`` are stored publications (every column of
    :class:`~jdl.catalogue._publish.Publishable` and an ``id``)."""
    measures = measures_in(pubs)
    out = []
    for p in pubs:
        res = p.results
        row: dict[str, Any] = {
            "publication_id": p.id,
            "report_url": f"{base_url.rstrip('/')}/catalogue/reports/{p.id}",
            "published_on": p.published_at.date().isoformat(),
            "synthetic": p.synthetic,
            "organisation": p.organisation, "programme_name": p.programme_name,
            "sector": p.sector, "intervention_type": p.intervention_type, "region": p.region,
            "setting": p.setting,
            "delivery_start": p.delivery_start.isoformat() if p.delivery_start else None,
            "delivery_end": p.delivery_end.isoformat() if p.delivery_end else None,
            **{k: v for k, v in people_counts(res).items() if k != "submitted"},
            "withdrawn_on": (p.withdrawn_at.date().isoformat()
                             if getattr(p, "withdrawn_at", None) else None),
            "withdrawn_reason": getattr(p, "withdrawn_reason", None),
            "replaces_publication_id": getattr(p, "supersedes_id", None),
            "organisation_response": getattr(p, "response", None),
        }
        for m in measures:
            f = finding_for(p.findings, m) or {}
            for field in MEASURE_FIELDS:
                row[f"{m}__{field}"] = f.get(field)
        out.append(row)
    return columns(measures), out


def to_csv(cols: Sequence[str], data: Sequence[dict[str, Any]]) -> str:
    """CSV text; formula-like text cells prefixed with an apostrophe."""
    from jdl.intake import csv_safe

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(cols)
    for row in data:
        writer.writerow([_cell(csv_safe(row.get(c))) for c in cols])
    return buf.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
