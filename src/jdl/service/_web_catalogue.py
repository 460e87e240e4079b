"""The public catalogue pages (no sign-in): list with filters, report pages, summary, export.

Plain server-rendered HTML with GET-form filters, so everything works without JavaScript. The
pages read only the catalogue's own tables and files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import Select, func, or_, select

from jdl.catalogue._export import CAUTIONS, people_counts, rows, to_csv
from jdl.catalogue._findings import RESULT_LABELS, finding_for, rules_of
from jdl.catalogue._summary import CATEGORIES, INTERVENTIONS, SECTORS, label
from jdl.core.config import Settings
from jdl.report import ReportError, measure_sentences, registration_summary
from jdl.report._wording import benefit_sentences
from jdl.service._catalogue import (
    current_summary,
    register_counts,
    replaced_publications,
    superseded_by,
)
from jdl.service._catalogue_models import Publication
from jdl.service._deps import SessionDep, SettingsDep

router = APIRouter(include_in_schema=False)
_TEMPLATES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def _templates() -> Jinja2Templates:
    """The web app's templates (catalogue pages under ``catalogue/``), with the catalogue's
    filters."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True)
    env.filters.update(sector=lambda k: label(SECTORS, k),
                       intervention=lambda k: label(INTERVENTIONS, k),
                       result=lambda k: RESULT_LABELS.get(k, k), value=format_value,
                       diff=format_difference, ci=format_ci, pvalue=format_p,
                       unit=format_unit,
                       people=format_people)
    return Jinja2Templates(env=env)


@dataclass(frozen=True)
class Filters:
    """The list's filters, from GET parameters; every one optional."""

    q: str = ""
    sector: str = ""
    intervention_type: str = ""
    region: str = ""
    year: int | None = None
    result: str = ""
    min_size: int | None = None
    max_size: int | None = None

    def apply(self, query: Select) -> Select:
        if self.q:
            like = f"%{self.q.lower()}%"
            query = query.where(or_(func.lower(Publication.organisation).like(like),
                                    func.lower(Publication.programme_name).like(like)))
        for column, value in ((Publication.sector, self.sector),
                              (Publication.intervention_type, self.intervention_type),
                              (Publication.region, self.region),
                              (Publication.headline_result, self.result)):
            if value:
                query = query.where(column == value)
        if self.year is not None:
            query = query.where(Publication.year == self.year)
        if self.min_size is not None:
            query = query.where(Publication.treatment_n >= self.min_size)
        if self.max_size is not None:
            query = query.where(Publication.treatment_n <= self.max_size)
        return query

    @property
    def active(self) -> bool:
        return any(v not in ("", None) for v in vars(self).values())


def parse_filters(params: Any) -> tuple[Filters, list[dict[str, str]]]:
    """Filters from query parameters, and for each value that is not understood a message
    linked to its field (``{"text", "href"}``, the error summary's form)."""
    errors: list[dict[str, str]] = []

    def number(name: str, words: str, example: str = "500") -> int | None:
        raw = str(params.get(name) or "").strip().replace(",", "")
        if not raw:
            return None
        if not re.fullmatch(r"\d{1,9}", raw):
            errors.append({"text": f"{words} must be a whole number, like {example}.",
                           "href": f"#{name}"})
            return None
        return int(raw)

    result = str(params.get("result") or "").strip()
    if result and result not in RESULT_LABELS:
        errors.append({"text": "Choose a result from the list.", "href": "#result"})
        result = ""
    text = {k: str(params.get(k) or "").strip()[:100] for k in
            ("q", "sector", "intervention_type", "region")}
    return Filters(**text, year=number("year", "Year", "2025"), result=result,
                   min_size=number("min_size", "The smallest group size"),
                   max_size=number("max_size", "The largest group size")), errors


def _published(db: SessionDep, filters: Filters | None = None) -> list[Publication]:
    """The publications listed (each programme once: :func:`replaced_publications`)."""
    query = select(Publication).order_by(Publication.published_at.desc(), Publication.id.desc())
    replaced = replaced_publications(db)
    if replaced:
        query = query.where(Publication.id.not_in(list(replaced)))
    return list(db.scalars(filters.apply(query) if filters else query))


def _choices(db: SessionDep) -> dict[str, list[Any]]:
    """Filter options: the fixed lists, plus every region and year published so far."""
    def distinct(column: Any) -> list[Any]:
        return sorted(v for v in db.scalars(select(column).distinct()) if v not in (None, ""))

    return {"sectors": list(SECTORS), "intervention_types": list(INTERVENTIONS),
            "regions": distinct(Publication.region), "years": distinct(Publication.year)[::-1],
            "results": list(RESULT_LABELS)}


def _page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    from jdl.catalogue._charts import COLOURS

    return _templates().TemplateResponse(request, name, {"user": None, "cautions": CAUTIONS,
                                                      "result_colours": COLOURS,
                                                      **context}, status_code=status)


@router.get("/catalogue")
def catalogue(request: Request, db: SessionDep, settings: SettingsDep) -> Response:
    current_summary(db, settings)  # findings re-derived first if the rules have changed
    filters, errors = parse_filters(request.query_params)
    pubs = _published(db, filters)
    total = len(_published(db))
    measures = _measure_columns(pubs)
    return _page(request, "catalogue/list.html", 400 if errors else 200, errors=errors,
                 field_errors={e["href"][1:]: e["text"] for e in errors},
                 filters=filters, pubs=pubs, total=total, choices=_choices(db),
                 measures=measures, finding_for=finding_for,
                 headline=settings.catalogue.headline_measure,
                 query=request.url.query, any_synthetic=any(p.synthetic for p in pubs))


def _measure_columns(pubs: list[Publication]) -> list[tuple[str, str]]:
    """(measure, short label) for the list's result columns."""
    from jdl.catalogue._export import measures_in

    short = {"proven_reoffending_rate": "Re-offending rate",
             "reoffending_frequency": "Re-offences per person",
             "days_to_first_reoffence": "Days to first re-offence"}
    return [(m, short.get(m, m.replace("_", " ").capitalize())) for m in measures_in(pubs)]


def _publication(db: SessionDep, publication_id: str) -> Publication:
    """The publication, or 404 (also for an id that is not a number: a public page should not
    answer a mistyped address with a validation error)."""
    pub = (db.get(Publication, int(publication_id))
           if re.fullmatch(r"[0-9]{1,9}", publication_id) else None)
    if pub is None:
        raise HTTPException(404, "There is no published report with this number.")
    return pub


@router.get("/catalogue/reports/{publication_id}")
def report_page(publication_id: str, request: Request, db: SessionDep,
                settings: SettingsDep) -> Response:
    current_summary(db, settings)  # findings re-derived first if the rules have changed
    try:
        pub = _publication(db, publication_id)
    except HTTPException as exc:
        return _page(request, "error.html", 404, heading="Page not found", message=exc.detail)
    res = pub.results
    explicit = superseded_by(db).get(pub.id)
    return _page(request, "catalogue/report.html", pub=pub, res=res, people=people_counts(res),
                 replaced_by=replaced_publications(db).get(pub.id),
                 replaced_by_pub=db.get(Publication, explicit) if explicit else None,
                 supersedes=db.get(Publication, pub.supersedes_id) if pub.supersedes_id
                 else None,
                 measures=res.get("measures") or {}, findings=pub.findings,
                 sentences=_sentences(res), benefit=benefit_sentences(res.get("benefit")),
                 registration=_registration(res),
                 headline=settings.catalogue.headline_measure)


def _registration(results: dict[str, Any]) -> dict[str, Any]:
    """The organisation's registered plan as the report prints it (``present`` False without
    one, or for results the report cannot read)."""
    try:
        return registration_summary(results)
    except ReportError:
        return {"present": False}


def _sentences(results: dict[str, Any]) -> dict[str, list[Any]]:
    """The report's own words for each measure (empty for results it cannot read: the page
    then shows the released conclusion)."""
    try:
        return measure_sentences(results)
    except ReportError:
        return {}


@router.get("/catalogue/reports/{publication_id}/report.pdf")
def report_pdf(publication_id: str, db: SessionDep, settings: SettingsDep) -> Response:
    pub = _publication(db, publication_id)
    path = Path(settings.service.storage_dir) / "catalogue" / pub.pdf_file
    if not path.is_file():
        raise HTTPException(404, "The report file is missing; the lab has been told.")
    name = re.sub(r"[^A-Za-z0-9]+", "-", pub.programme_name).strip("-").lower() or "report"
    return FileResponse(path, media_type="application/pdf",
                        filename=f"jdl-report-{pub.id}-{name}.pdf")


@lru_cache(maxsize=32)
def _report_html(results_json: str, published: str, lab_name: str, contact: str,
                 smd_threshold: float) -> str:
    """The published report as one accessible HTML page, rendered from the released results
    the publication keeps (the same renderer and input as its PDF). Cached: the page is public
    and drawing its charts takes a second."""
    import json

    from jdl.report import render_html

    released = {**json.loads(results_json), "generated_at": published}
    return render_html(released, lab_name=lab_name, contact=contact,
                       smd_threshold=smd_threshold)


@router.get("/catalogue/reports/{publication_id}/report.html")
def report_html(publication_id: str, db: SessionDep, settings: SettingsDep) -> Response:
    """The full report as a web page beside its PDF (same access as the PDF: public once
    published). Dated by its publication, as the catalogue lists it."""
    import json

    from fastapi.responses import HTMLResponse

    pub = _publication(db, publication_id)
    results = pub.results or {}
    dated = results.get("generated_at") or pub.published_at.date().isoformat()
    page = _report_html(json.dumps(results, sort_keys=True), str(dated),
                        settings.report.lab_name, settings.report.contact,
                        float(settings.matching.smd_good))
    return HTMLResponse(page)


@router.get("/catalogue/summary")
def summary_page(request: Request, db: SessionDep, settings: SettingsDep) -> Response:
    from jdl.catalogue._register import OUTCOMES

    stored = current_summary(db, settings, charts=True)
    return _page(request, "catalogue/summary.html", summary=stored.summary, charts=stored.charts,
                 computed_at=stored.computed_at, categories=CATEGORIES,
                 register=register_counts(db), outcomes=OUTCOMES)


def _export_rows(request: Request, db: SessionDep, settings: Settings
                 ) -> tuple[list[str], list[dict[str, Any]]]:
    current_summary(db, settings)  # findings re-derived first if the rules have changed
    filters, errors = parse_filters(request.query_params)
    if errors:
        raise HTTPException(400, " ".join(e["text"] for e in errors))
    # absolute links only from the configured public address, never the request's Host header
    # (which a client chooses); without one, site-relative links
    return rows(_published(db, filters), settings.service.public_url or "")


@router.get("/catalogue/export.json")
def export_json(request: Request, db: SessionDep, settings: SettingsDep) -> Response:
    cols, data = _export_rows(request, db, settings)
    return JSONResponse({
        "title": "Justice Data Lab: published results",
        "cautions": list(CAUTIONS),
        "significance_rule": {**rules_of(settings.inference), "headline_measure":
                              settings.catalogue.headline_measure},
        "disclosure_control": "Values as released: numbers of people below the lab's threshold "
                              "are not shown (null) and others are rounded.",
        "register": _register_block(db),
        "columns": cols, "results": data})


def _register_block(db: SessionDep) -> dict[str, Any]:
    """The register's counts for the export, with what they count."""
    from jdl.catalogue._register import OUTCOMES

    return {**register_counts(db), "outcomes": OUTCOMES,
            "note": "Requests the lab has had, by outcome, for the whole lab (no breakdown, so "
                    "no organisation's unpublished request can be singled out), as at the end "
                    "of the last complete month. A report withdrawn after publication counts as "
                    "withdrawn; 'could not be answered' includes requests the lab declined."}


@router.get("/catalogue/register.csv")
def register_csv(db: SessionDep) -> Response:
    """The register's counts as a two-column CSV (outcome, requests)."""
    from jdl.catalogue._register import OUTCOMES

    counts = register_counts(db)
    lines = ["outcome,requests", *(f"{key},{counts[key]}" for key in OUTCOMES),
             f"all_requests,{counts['requests']}", f"as_at,{counts['as_at']}"]
    return Response("\r\n".join(lines) + "\r\n", media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             'attachment; filename="jdl-public-register.csv"'})


@router.get("/catalogue/export.csv")
def export_csv(request: Request, db: SessionDep, settings: SettingsDep) -> Response:
    cols, data = _export_rows(request, db, settings)
    return Response(to_csv(cols, data), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             'attachment; filename="jdl-published-results.csv"'})


def _scale(unit: str | None) -> Any:
    """The report's display scale for ``unit`` (:func:`jdl.report._wording.scale_for`): the
    catalogue shows every number as the PDF does, e.g. a rate of 0.72 as 72.0 per 100 people
    and 0.72 re-offences per person as 72.0 re-offences per 100 people."""
    from jdl.report._wording import scale_for

    return scale_for({"unit": unit})


def _shown(value: float, unit: str | None, signed: bool) -> str:
    """A number rounded exactly as the report rounds it, with a true minus sign."""
    from jdl.report._values import _number

    scale = _scale(unit)
    return _number(float(value) * scale.factor, scale.digits, signed).replace("-", "−")


def format_unit(unit: str | None) -> str:
    """The unit the catalogue's numbers are in, as the report's table heads it."""
    return _scale(unit).unit


def format_value(value: Any, unit: str | None) -> str:
    """A released group value as the report shows it (same scale and rounding)."""
    if value is None:
        return "[c]"
    return _shown(value, unit, signed=False)


def format_difference(value: Any, unit: str | None) -> str:
    if value is None:
        return "[c]"
    return _shown(value, unit, signed=True)


def format_ci(finding: dict[str, Any]) -> str:
    lo, hi, unit = finding.get("ci_low"), finding.get("ci_high"), finding.get("unit")
    if lo is None or hi is None:
        return "[c]"
    return f"{_shown(lo, unit, signed=True)} to {_shown(hi, unit, signed=True)}"


def format_p(value: Any) -> str:
    if value is None:
        return "[c]"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def format_people(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "[c]"  # suppressed (null) or absent
    return f"{int(value):,}"
