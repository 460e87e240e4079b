"""Hand-built released results with a known headline finding, and a publishing helper.

Each is the raw example (``tests/fixtures/raw_results_example.json``) with the re-offending
rate's numbers replaced, then put through the real disclosure stage, so the catalogue sees
exactly what an evaluation would release.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jdl.catalogue import ReportToPublish
from jdl.service._catalogue import store_publication

RAW = Path(__file__).parents[1] / "fixtures" / "raw_results_example.json"
PDF = b"%PDF-1.4\n% a stand-in report\n%%EOF\n"


def released(n: int = 400, rate_t: float = 0.30, diff: float = -0.08, half_width: float = 0.05,
             p: float = 0.01, significant: bool | None = None,
             data_version: str = "extract-3f2a9c1d0b7e", **programme: Any) -> dict:
    """Released results whose re-offending rate has these numbers (significance from p), from
    national records loaded from real extracts unless ``data_version`` is the generator's
    (``synth-…``: a report on synthetic records, which the catalogue marks synthetic)."""
    from jdl.disclosure import release

    raw = json.loads(RAW.read_text())
    raw["programme"].update(programme)
    raw["data_version"] = data_version
    m = raw["measures"]["proven_reoffending_rate"]
    events = round(rate_t * n)
    m.update(treatment=events / n, comparison=events / n - diff, difference=diff,
             ci_low=diff - half_width, ci_high=diff + half_width, p_value=p,
             significant=(p <= 0.05) if significant is None else significant,
             treatment_n=n, comparison_n=n, treatment_events=events,
             comparison_events=round((events / n - diff) * n))
    for k in ("treatment_n", "comparison_n"):
        raw["counts"][k] = raw[k] = n  # and the top-level copy results.json carries
    for other in ("reoffending_frequency", "days_to_first_reoffence"):
        raw["measures"][other].update(treatment_n=n if other != "days_to_first_reoffence"
                                      else events, comparison_n=n)
    return release(copy.deepcopy(raw)).results


def publish_one(db, storage: Path, results: dict, *, settings, organisation: str | None = None,
                submission_id: int | None = None, when: datetime | None = None,
                pdf: bytes = PDF, **kw: Any) -> int:
    """Publish ``results`` with a stand-in PDF written next to the storage folder."""
    programme = dict(results["programme"])
    org = organisation or programme["organisation"]
    pdf_dir = storage.parent / "released" / f"{org}-{programme['programme_name']}"
    pdf_dir.mkdir(parents=True, exist_ok=True)
    (pdf_dir / "report.pdf").write_bytes(pdf)
    report = ReportToPublish(submission_id=submission_id, organisation=org, programme=programme,
                             results=results, pdf_path=pdf_dir / "report.pdf", approved_at=None,
                             published_at=when or datetime(2026, 11, 1, tzinfo=UTC))
    return store_publication(db, report, storage, settings, **kw)
