"""The catalogue's tables, on the web app's one metadata: what it shows, copied at publication,
never read from a job.

A publication keeps the released results and a copy of the report PDF, so withdrawing files
from the service (retention, re-runs) cannot change what the public saw. The filter columns
(sector, region, year, size, headline result) are copies of values in ``results`` so the list
page filters in SQL. The summary of findings is stored as computed at the last publication.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text
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
    # the public register (issue 20, migration 0013): the organisation's right of reply, as
    # given before publication (checked, escaped by the pages); the earlier report of the same
    # organisation this one replaces ("This report replaces the one of <date>"; the earlier one
    # stays, marked "Replaced by"); and a withdrawal after publication (kept, marked, counted)
    response: Mapped[str | None] = mapped_column(Text, nullable=True)
    supersedes_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(nullable=True)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None


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


class PublicationRequest(Base):
    """What the organisation asks of its report's catalogue entry before it is published
    (issue 20): its response to the analysis (right of reply) and which of its own published
    reports the new one replaces. One row per submission; copied into the publication when it
    is published and never changed after."""

    __tablename__ = "catalogue_requests"

    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), primary_key=True)
    response: Mapped[str | None] = mapped_column(Text, nullable=True)
    supersedes_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
