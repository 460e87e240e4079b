"""API response schemas, separate from the storage models so that password hashes, token
hashes and file paths never reach a response."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _as_utc(value: datetime) -> datetime:
    """Times are stored in UTC; SQLite returns them without a zone, so add it back."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UTCDateTime = Annotated[datetime, AfterValidator(_as_utc)]


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    state: str
    at: UTCDateTime
    user_id: int | None


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    state: str
    stage: str | None
    attempts: int
    resumed_from: str | None = None  # a retry reused this completed stage's saved output
    error: str | None
    requested_by: int
    created_at: UTCDateTime
    started_at: UTCDateTime | None
    finished_at: UTCDateTime | None


class SubmissionOut(BaseModel):
    """A submission as its organisation and the lab see it: no personal data."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    organisation_id: int
    submitted_by: int
    state: str
    programme: dict[str, Any]
    validation: dict[str, Any]
    approved_by: int | None
    purged_at: UTCDateTime | None
    embargo_until: date | None = None  # enters the public catalogue on this day
    published_at: UTCDateTime | None = None
    publication_id: int | None = None  # its page: /catalogue/reports/{publication_id}
    created_at: UTCDateTime
    updated_at: UTCDateTime
    events: list[EventOut]
    jobs: list[JobOut]


class SubmissionSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    organisation_id: int
    state: str
    created_at: UTCDateTime
    updated_at: UTCDateTime


class RerunIn(BaseModel):
    """An analyst's re-run: optional overrides of the lab settings, by section, e.g.
    ``{"matching": {"caliper": 0.1}}``."""

    model_config = ConfigDict(extra="forbid")

    settings: dict[str, dict[str, Any]] = Field(default_factory=dict)


class ApproveIn(BaseModel):
    """A reviewer's approval: optionally the day the report may enter the public catalogue
    (default: ``publication_embargo_days`` from today)."""

    model_config = ConfigDict(extra="forbid")

    embargo_until: date | None = None


class PublicationDateIn(BaseModel):
    """A new publication date for an approved report."""

    model_config = ConfigDict(extra="forbid")

    embargo_until: date


class ErrorOut(BaseModel):
    detail: str
    hint: str | None = None
    problems: list[str] = Field(default_factory=list)


class RequestErrorOut(BaseModel):
    """FastAPI's own 422 for a request it cannot parse: ``detail`` lists each problem."""

    detail: list[dict[str, Any]]
