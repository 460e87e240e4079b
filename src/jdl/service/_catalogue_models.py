"""The catalogue's tables, on the web app's one metadata: what it shows, copied at publication,
never read from a job.

A publication keeps the released results and a copy of the report PDF, so withdrawing files
from the service (retention, re-runs) cannot change what the public saw. The filter columns
(sector, region, year, size, headline result) are copies of values in ``results`` so the list
page filters in SQL. The summary of findings is stored as computed at the last publication.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from jdl.service._models import Base, utcnow


class Publication(Base):
    """One published report."""

    __tablename__ = "catalogue_publications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "submission:<id>" for the service, "synthetic:<programme>" for demo seeds: publishing the
    # same thing twice finds this row instead of adding another.
    source_key: Mapped[str] = mapped_column(String(200), unique=True)
    submission_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    organisation: Mapped[str] = mapped_column(String(200), index=True)
    programme_name: Mapped[str] = mapped_column(String(200))
    sector: Mapped[str] = mapped_column(String(40), index=True)
    intervention_type: Mapped[str] = mapped_column(String(40), index=True)
    region: Mapped[str] = mapped_column(String(60), index=True)
    setting: Mapped[str] = mapped_column(String(20))
    delivery_start: Mapped[date | None] = mapped_column(Date, nullable=True)
    delivery_end: Mapped[date | None] = mapped_column(Date, nullable=True)
    year: Mapped[int] = mapped_column(Integer, index=True)  # year of publication
    treatment_n: Mapped[int | None] = mapped_column(Integer, nullable=True)  # as released
    # the headline measure's result under the rules in `rules`: decrease / increase /
    # inconclusive / not_reported
    headline_result: Mapped[str] = mapped_column(String(20), index=True)
    findings: Mapped[list] = mapped_column(JSON)  # one entry per headline measure
    rules: Mapped[dict] = mapped_column(JSON)  # the significance rule the findings used
    programme: Mapped[dict] = mapped_column(JSON)
    results: Mapped[dict] = mapped_column(JSON)  # the released results.json, as published
    pdf_file: Mapped[str] = mapped_column(String(200))  # under <storage>/catalogue/
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column(nullable=True)
    published_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CatalogueSummary(Base):
    """The summary of findings to date, recomputed at each publication (newest row wins)."""

    __tablename__ = "catalogue_summaries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # which publications and rules it was computed from: a page that finds these changed
    # recomputes it, so the summary always equals the publications
    fingerprint: Mapped[str] = mapped_column(String(64))
    summary: Mapped[dict] = mapped_column(JSON)
    charts: Mapped[dict] = mapped_column(JSON)  # chart name -> accessible inline SVG
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
