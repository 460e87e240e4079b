"""The summary of findings to date (the seed paper's Figures 1-3), from stored publications.

Counts of results by intervention type and by sector (significant decrease, significant increase,
not significant), and the "funnel": the width of the confidence interval of the headline measure
against the matched treatment-group size, with the share of significant results above and at or
below a size threshold. Pure functions of plain records, so a test can check every count against
hand-built publications.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

SECTORS: dict[str, str] = {
    "voluntary_community": "Voluntary and community",
    "public": "Public",
    "private": "Private",
    "education": "Education",
}
INTERVENTIONS: dict[str, str] = {
    "employment": "Employment", "accommodation": "Accommodation", "education": "Education",
    "mentoring": "Mentoring", "health": "Health", "substance_misuse": "Substance misuse",
    "restorative_justice": "Restorative justice", "family": "Family", "youth": "Youth",
    "other": "Other",
}
CATEGORIES: dict[str, str] = {
    "decrease": "Significant decrease",
    "increase": "Significant increase",
    "not_significant": "Not significant",
}


@dataclass(frozen=True)
class Record:
    """What the summary needs of one publication (its headline measure's finding)."""

    id: int
    sector: str
    intervention_type: str
    result: str  # decrease / increase / inconclusive / not_reported
    treatment_n: int | None
    ci_low: float | None
    ci_high: float | None
    unit: str | None = None


def label(mapping: Mapping[str, str], key: str) -> str:
    return mapping.get(key, key.replace("_", " ").capitalize())


def category(result: str) -> str:
    """decrease / increase stay; inconclusive and not reported are "not significant"."""
    return result if result in ("decrease", "increase") else "not_significant"


def summarise(records: Iterable[Record], *, measure: str, measure_label: str,
              large_cohort: int) -> dict[str, Any]:
    """The whole summary as plain JSON-able data (stored, rendered and exported as is)."""
    recs = sorted(records, key=lambda r: r.id)
    cats = [category(r.result) for r in recs]
    by_type = _crosstab([r.intervention_type for r in recs], cats, order=None,
                        labels=INTERVENTIONS)
    by_sector = _crosstab([r.sector for r in recs], cats, order=list(SECTORS), labels=SECTORS)
    return {
        "measure": measure,
        "measure_label": measure_label,
        "publications": len(recs),
        "totals": {c: cats.count(c) for c in CATEGORIES},
        "by_intervention": by_type,
        "by_sector": by_sector,
        "funnel": _funnel(recs),
        "by_size": _by_size(recs, large_cohort),
    }


def _crosstab(keys: list[str], cats: list[str], order: list[str] | None,
              labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per key (given order first, then by number of reports, most first)."""
    counts: dict[str, dict[str, int]] = {k: dict.fromkeys(CATEGORIES, 0) for k in order or []}
    for key, cat in zip(keys, cats, strict=True):
        counts.setdefault(key, dict.fromkeys(CATEGORIES, 0))[cat] += 1
    fixed = [k for k in order or [] if k in counts]
    rest = sorted((k for k in counts if k not in fixed),
                  key=lambda k: (-sum(counts[k].values()), label(labels, k)))
    return [{"key": k, "label": label(labels, k), **counts[k], "total": sum(counts[k].values())}
            for k in fixed + rest]


def _funnel(recs: list[Record]) -> dict[str, Any]:
    """Confidence-interval width (percentage points for a rate) against treatment-group size."""
    points, excluded = [], 0
    for r in recs:
        if r.treatment_n is None or r.ci_low is None or r.ci_high is None:
            excluded += 1
            continue
        scale = 100.0 if r.unit == "proportion" else 1.0
        points.append({"id": r.id, "sector": r.sector, "sector_label": label(SECTORS, r.sector),
                       "treatment_n": r.treatment_n,
                       "ci_width": round((r.ci_high - r.ci_low) * scale, 2),
                       "significant": category(r.result) != "not_significant",
                       "category": category(r.result)})
    unit = "percentage points" if any(r.unit == "proportion" for r in recs) else ""
    return {"points": points, "excluded": excluded, "unit": unit}


def _by_size(recs: list[Record], threshold: int) -> dict[str, Any]:
    """Share of significant results with more than ``threshold`` people, and with at most."""
    known = [r for r in recs if r.treatment_n is not None]
    n = np.array([r.treatment_n for r in known], dtype=float)
    sig = np.array([category(r.result) != "not_significant" for r in known], dtype=bool)
    large = n > threshold

    def group(mask: np.ndarray) -> dict[str, Any]:
        reports, significant = int(mask.sum()), int((sig & mask).sum())
        return {"reports": reports, "significant": significant,
                "share": round(significant / reports, 4) if reports else None}

    return {"threshold": threshold, "large": group(large), "small": group(~large),
            "unknown": len(recs) - len(known)}
