"""Publishing a report into the catalogue: checking it, copying its PDF, deriving its findings.

Pure logic, no database: :func:`publish` accepts only released results (they must pass
:func:`jdl.disclosure.assert_released`), copies the report PDF into catalogue storage and returns
a :class:`Publishable` — every column of the public listing, typed. The web app
(:mod:`jdl.service._catalogue`) stores it and keeps the summary equal to the stored
publications with :func:`classify`, :func:`fingerprint` and :func:`compute_summary`, which take
anything shaped like a publication (:class:`PublishedLike`), a stored row or a record.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from jdl import __version__
from jdl.catalogue._findings import RESULT_LABELS, finding_for, headline_findings, rules_of
from jdl.catalogue._summary import INTERVENTIONS, SECTORS, Record, label, summarise
from jdl.core.config import Settings
from jdl.core.errors import JDLError


class CatalogueError(JDLError):
    """A report cannot be published as given (reason in the message)."""


@dataclass(frozen=True)
class ReportToPublish:
    """One approved report whose embargo has passed (or a synthetic demonstration report)."""

    submission_id: int | None  # None for demo seeds
    organisation: str  # organisation name as shown publicly (from its account, never a form)
    programme: dict  # intake's Programme.model_dump(mode="json")
    results: dict  # the RELEASED (disclosure-controlled) results.json content
    pdf_path: Path  # the released report.pdf (copied into catalogue storage)
    approved_at: datetime | None
    published_at: datetime


@dataclass(frozen=True)
class Classification:
    """A publication's findings under the current significance rule, and the columns the list
    filters on that follow from them."""

    findings: list[dict[str, Any]]  # one per headline measure (Finding.as_dict())
    rules: dict[str, float]
    headline_result: str  # decrease / increase / inconclusive / not_reported
    treatment_n: int | None  # as released


@dataclass(frozen=True)
class Publishable:
    """A checked report, its PDF already in catalogue storage: what the web app stores."""

    source_key: str
    submission_id: int | None
    synthetic: bool
    organisation: str
    programme_name: str
    sector: str
    intervention_type: str
    region: str
    setting: str
    delivery_start: date | None
    delivery_end: date | None
    year: int  # year of publication
    programme: dict
    results: dict
    pdf_file: str  # under <storage>/catalogue/
    pdf_sha256: str
    approved_at: datetime | None
    published_at: datetime
    classification: Classification

    def columns(self) -> dict[str, Any]:
        """Every stored column, the classification's flattened in."""
        from dataclasses import asdict, fields

        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "classification"}
        return {**out, **asdict(self.classification)}


class PublishedLike(Protocol):
    """What the summary and the export read of a publication (a stored row has these)."""

    id: int
    synthetic: bool
    organisation: str
    programme_name: str
    sector: str
    intervention_type: str
    treatment_n: int | None
    findings: list


def source_key(report: ReportToPublish, key: str | None = None) -> str:
    """The publication's identity: publishing the same thing twice finds the first one."""
    if key:
        return key
    if report.submission_id is not None:
        return f"submission:{report.submission_id}"
    name = str(report.programme.get("programme_name") or "").strip().lower()
    return f"synthetic:{report.organisation.strip().lower()}:{name}"


def publish(report: ReportToPublish, storage_dir: Path, settings: Settings, *,
            synthetic: bool | None = None, key: str | None = None) -> Publishable:
    """Check the report, copy its PDF under <storage_dir>/catalogue/ and return what to store.

    ``synthetic`` marks demonstration data (default: when there is no submission id); ``key``
    names a publication without a submission (default: from the programme's name).
    """
    _check_releasable(report, settings)
    the_key = source_key(report, key)
    pdf_name, digest = _copy_pdf(report.pdf_path, Path(storage_dir) / "catalogue", the_key)
    results = json.loads(json.dumps(report.results))
    prog = report.programme
    return Publishable(
        source_key=the_key, submission_id=report.submission_id,
        synthetic=report.submission_id is None if synthetic is None else synthetic,
        organisation=report.organisation.strip(),
        programme_name=str(prog.get("programme_name") or "").strip(),
        sector=str(prog.get("sector")), intervention_type=str(prog.get("intervention_type")),
        region=str(prog.get("region") or ""), setting=str(prog.get("setting") or ""),
        delivery_start=_date(prog.get("delivery_start")),
        delivery_end=_date(prog.get("delivery_end")),
        year=_aware(report.published_at).year, programme=dict(prog), results=results,
        pdf_file=pdf_name, pdf_sha256=digest, approved_at=report.approved_at,
        published_at=_aware(report.published_at), classification=classify(results, settings))


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
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)  # in the service's private storage
    os.chmod(folder, 0o700)
    digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()
    name = f"{hashlib.sha256(key.encode()).hexdigest()[:16]}-{digest[:12]}.pdf"
    target = folder / name
    if not target.exists():
        tmp = target.with_suffix(".part")
        shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o600)
        tmp.replace(target)
    return name, digest


def classify(results: dict[str, Any], settings: Settings) -> Classification:
    """(Re)derive the findings and the filter columns from released results."""
    findings = [f.as_dict() for f in headline_findings(results, settings.inference)]
    head = finding_for(findings, settings.catalogue.headline_measure)
    rate = (results.get("measures") or {}).get(settings.catalogue.headline_measure) or {}
    n = rate.get("treatment_n", results.get("treatment_n"))
    return Classification(
        findings=findings, rules=rules_of(settings.inference),
        headline_result=head["result"] if head else "not_reported",
        treatment_n=int(n) if isinstance(n, int | float) and not isinstance(n, bool) else None)


# bumped when the stored summary's shape changes (2: funnel points carry their result category;
# 3: a programme published again counts once; 4: the register's forest plot and pooled
# summaries, withdrawn and replaced reports left out), so summaries stored before are recomputed
SUMMARY_FORMAT = 4


def fingerprint(ids: Sequence[int], settings: Settings) -> str:
    """Changes when a publication is added or removed, or the rules or summary settings change."""
    # the software version too: a new release may draw the charts differently
    state = {"ids": sorted(ids), "version": __version__, "format": SUMMARY_FORMAT,
             "rules": rules_of(settings.inference),
             "catalogue": settings.catalogue.model_dump()}
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


def records(pubs: Sequence[PublishedLike], measure: str) -> list[Record]:
    """The summary's view of publications: their ``measure`` finding."""
    out = []
    for p in pubs:
        f = finding_for(p.findings, measure) or {}
        out.append(Record(id=p.id, sector=p.sector, intervention_type=p.intervention_type,
                          result=f.get("result", "not_reported"), treatment_n=p.treatment_n,
                          ci_low=f.get("ci_low"), ci_high=f.get("ci_high"), unit=f.get("unit")))
    return out


def compute_summary(pubs: Sequence[PublishedLike], settings: Settings) -> dict[str, Any]:
    measure = settings.catalogue.headline_measure
    labels = [f.get("label") for p in pubs for f in p.findings if f.get("measure") == measure]
    summary = summarise(records(pubs, measure), measure=measure,
                        measure_label=labels[0] if labels else measure.replace("_", " "),
                        large_cohort=settings.catalogue.large_cohort)
    summary["rules"] = rules_of(settings.inference)
    summary["synthetic"] = sum(1 for p in pubs if p.synthetic)
    summary.update(forest_summary(pubs, measure))
    return summary


def forest_summary(pubs: Sequence[PublishedLike], measure: str) -> dict[str, Any]:
    """The register's forest plot data and the pooled summaries per intervention type
    (:mod:`jdl.catalogue._register`), from the released headline effects."""
    from jdl.catalogue._register import MIN_POOLED, effects_of, forest_groups, pooled_by_type

    effects, missing = effects_of(pubs, measure)
    rate = any(e.unit == "proportion" for e in effects)
    return {"forest": {"groups": forest_groups(effects), "excluded": missing,
                       "unit": "percentage points" if rate else "",
                       "scale": 100.0 if rate else 1.0},
            "pooled": {"minimum": MIN_POOLED, "types": pooled_by_type(effects)}}


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
        **_forest_chart(summary, what),
    }


def _forest_chart(summary: dict[str, Any], what: str) -> dict[str, str]:
    from jdl.catalogue._charts import describe_forest, forest

    data = summary.get("forest")
    if not data or not data["groups"]:
        return {}
    pooled = (summary.get("pooled") or {}).get("types") or []
    return {"forest": forest(
        data["groups"], pooled, unit=data["unit"], scale=data["scale"], chart_id="chart-forest",
        title=f"Every published estimate ({what}) with its 95% confidence interval, grouped "
              "by type of intervention",
        desc=describe_forest(data["groups"], pooled, data["unit"], data["scale"]))}


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
