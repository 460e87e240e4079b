"""Publishing a report into the catalogue, and keeping the summary equal to the publications.

The service calls :func:`publish` for each approved submission whose embargo has passed; the
demo seed calls it for synthetic evaluations. It accepts only released results (they must pass
:func:`jdl.disclosure.assert_released`), copies the report PDF into catalogue storage, and
recomputes the summary in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from jdl import __version__
from jdl.catalogue._findings import RESULT_LABELS, finding_for, headline_findings, rules_of
from jdl.catalogue._models import CatalogueSummary, Publication
from jdl.catalogue._summary import INTERVENTIONS, SECTORS, Record, label, summarise
from jdl.core.config import Settings, default_settings
from jdl.core.errors import JDLError


class CatalogueError(JDLError):
    """A report cannot be published as given (reason in the message)."""


@dataclass(frozen=True)
class ReportToPublish:
    """One approved report whose embargo has passed (or a synthetic demonstration report)."""

    submission_id: int | None  # None for demo seeds
    organisation: str  # organisation name as shown publicly
    programme: dict  # intake's Programme.model_dump(mode="json")
    results: dict  # the RELEASED (disclosure-controlled) results.json content
    pdf_path: Path  # the released report.pdf (copied into catalogue storage)
    approved_at: datetime | None
    published_at: datetime


def publish(db: Session, report: ReportToPublish, storage_dir: Path, *,
            settings: Settings | None = None, synthetic: bool | None = None,
            key: str | None = None) -> int:
    """Store the publication (copy the PDF under <storage_dir>/catalogue/), recompute the summary,
    commit; return the publication id. Publishing the same submission twice is idempotent.

    ``synthetic`` marks demonstration data (default: when there is no submission id); ``key``
    names a publication without a submission (default: from the programme's name).
    """
    settings = settings or default_settings()
    source_key = key or _source_key(report)
    existing = db.scalar(select(Publication).where(Publication.source_key == source_key))
    if existing is not None:
        return existing.id
    _check_releasable(report, settings)
    pdf_name, digest = _copy_pdf(report.pdf_path, Path(storage_dir) / "catalogue", source_key)
    pub = Publication(
        source_key=source_key, submission_id=report.submission_id,
        synthetic=report.submission_id is None if synthetic is None else synthetic,
        organisation=report.organisation.strip(),
        programme_name=str(report.programme.get("programme_name") or "").strip(),
        sector=str(report.programme.get("sector")),
        intervention_type=str(report.programme.get("intervention_type")),
        region=str(report.programme.get("region") or ""),
        setting=str(report.programme.get("setting") or ""),
        delivery_start=_date(report.programme.get("delivery_start")),
        delivery_end=_date(report.programme.get("delivery_end")),
        year=_aware(report.published_at).year, programme=dict(report.programme),
        results=json.loads(json.dumps(report.results)), pdf_file=pdf_name, pdf_sha256=digest,
        approved_at=report.approved_at, published_at=_aware(report.published_at),
        headline_result="not_reported", findings=[], rules={})
    _classify(pub, settings)
    db.add(pub)
    db.flush()
    refresh_summary(db, settings)
    db.commit()
    return pub.id


def _source_key(report: ReportToPublish) -> str:
    if report.submission_id is not None:
        return f"submission:{report.submission_id}"
    name = str(report.programme.get("programme_name") or "").strip().lower()
    return f"synthetic:{report.organisation.strip().lower()}:{name}"


def _check_releasable(report: ReportToPublish, settings: Settings) -> None:
    """Only released results and a real PDF; every field the pages filter on present."""
    from jdl.disclosure import DisclosureError, assert_released

    try:
        assert_released(report.results, settings.disclosure)
    except DisclosureError as exc:
        raise CatalogueError("These results have not passed disclosure control; they cannot "
                             "be published.", problems=exc.problems,
                             hint="Publish the released results.json, never internal/.") from None
    missing = [k for k in ("programme_name", "sector", "intervention_type")
               if not report.programme.get(k)]
    if missing or not report.organisation.strip():
        raise CatalogueError("The programme information is incomplete for the catalogue.",
                             problems=[f"{k}: missing" for k in missing]
                             + ([] if report.organisation.strip() else ["organisation: empty"]))
    pdf = Path(report.pdf_path)
    if "internal" in pdf.parts:
        raise CatalogueError(f"{pdf} is in a lab-internal folder; publish the released report.")
    if not pdf.is_file() or pdf.read_bytes()[:5] != b"%PDF-":
        raise CatalogueError(f"There is no report PDF at {pdf}.",
                             hint="Publish the evaluation's released report.pdf.")


def _copy_pdf(source: Path, folder: Path, key: str) -> tuple[str, str]:
    """Copy the PDF under a name derived from the key; return (file name, SHA-256)."""
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()
    name = f"{hashlib.sha256(key.encode()).hexdigest()[:16]}-{digest[:12]}.pdf"
    target = folder / name
    if not target.exists():
        tmp = target.with_suffix(".part")
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    return name, digest


def _classify(pub: Publication, settings: Settings) -> None:
    """(Re)derive the findings and the filter columns from the stored results."""
    findings = headline_findings(pub.results, settings.inference)
    pub.findings = [f.as_dict() for f in findings]
    pub.rules = rules_of(settings.inference)
    head = finding_for(pub.findings, settings.catalogue.headline_measure)
    pub.headline_result = head["result"] if head else "not_reported"
    rate = (pub.results.get("measures") or {}).get(settings.catalogue.headline_measure) or {}
    n = rate.get("treatment_n", pub.results.get("treatment_n"))
    pub.treatment_n = int(n) if isinstance(n, int | float) and not isinstance(n, bool) else None


def fingerprint(db: Session, settings: Settings) -> str:
    """Changes when a publication is added or removed, or the rules or summary settings change."""
    ids = list(db.scalars(select(Publication.id).order_by(Publication.id)))
    # the software version too: a new release may draw the charts differently
    state = {"ids": ids, "version": __version__, "rules": rules_of(settings.inference),
             "catalogue": settings.catalogue.model_dump()}
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


def refresh_summary(db: Session, settings: Settings) -> CatalogueSummary:
    """Re-classify every publication under the current rules and store a new summary."""
    pubs = list(db.scalars(select(Publication).order_by(Publication.id)))
    for pub in pubs:
        if pub.rules != rules_of(settings.inference) or not pub.findings:
            _classify(pub, settings)
    db.flush()
    summary = compute_summary(pubs, settings)
    # charts are drawn when the summary page first asks (matplotlib is slow to publish with)
    row = CatalogueSummary(fingerprint=fingerprint(db, settings), summary=summary, charts={},
                           computed_at=datetime.now(UTC))
    db.add(row)
    db.flush()
    return row


def current_summary(db: Session, settings: Settings, *, charts: bool = False
                    ) -> CatalogueSummary:
    """The stored summary, recomputed first if it no longer matches the publications (and its
    charts drawn and stored, if asked for and not drawn yet)."""
    row = db.scalar(select(CatalogueSummary).order_by(CatalogueSummary.id.desc()).limit(1))
    if row is None or row.fingerprint != fingerprint(db, settings):
        row = refresh_summary(db, settings)
        db.commit()
    if charts and not row.charts:
        row.charts = render_charts(row.summary)
        db.commit()
    return row


def records(pubs: list[Publication], measure: str) -> list[Record]:
    """The summary's view of publications: their ``measure`` finding."""
    out = []
    for p in pubs:
        f = finding_for(p.findings, measure) or {}
        out.append(Record(id=p.id, sector=p.sector, intervention_type=p.intervention_type,
                          result=f.get("result", "not_reported"), treatment_n=p.treatment_n,
                          ci_low=f.get("ci_low"), ci_high=f.get("ci_high"), unit=f.get("unit")))
    return out


def compute_summary(pubs: list[Publication], settings: Settings) -> dict[str, Any]:
    measure = settings.catalogue.headline_measure
    labels = [f.get("label") for p in pubs for f in p.findings if f.get("measure") == measure]
    summary = summarise(records(pubs, measure), measure=measure,
                        measure_label=labels[0] if labels else measure.replace("_", " "),
                        large_cohort=settings.catalogue.large_cohort)
    summary["rules"] = rules_of(settings.inference)
    summary["synthetic"] = sum(1 for p in pubs if p.synthetic)
    return summary


def render_charts(summary: dict[str, Any]) -> dict[str, str]:
    from jdl.catalogue._charts import describe_bars, describe_funnel, funnel, stacked_bars

    what = summary["measure_label"].lower()
    return {
        "by_intervention": stacked_bars(
            summary["by_intervention"], chart_id="chart-intervention",
            title=f"Published results ({what}) by intervention type and significance",
            desc=describe_bars(summary["by_intervention"], "intervention type")),
        "by_sector": stacked_bars(
            summary["by_sector"], chart_id="chart-sector",
            title=f"Published results ({what}) by sector and significance",
            desc=describe_bars(summary["by_sector"], "sector")),
        "funnel": funnel(
            summary["funnel"]["points"], threshold=summary["by_size"]["threshold"],
            unit=summary["funnel"]["unit"], chart_id="chart-funnel",
            title=f"Width of the confidence interval ({what}) against treatment-group size",
            desc=describe_funnel(summary)),
    }


def sector_label(key: str) -> str:
    return label(SECTORS, key)


def intervention_label(key: str) -> str:
    return label(INTERVENTIONS, key)


def result_label(key: str) -> str:
    return RESULT_LABELS.get(key, key)


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
