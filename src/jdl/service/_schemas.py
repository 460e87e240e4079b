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
    reason: str | None = None  # the lab's reason for sending back or declining


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    state: str
    stage: str | None
    attempts: int
    resumed_from: str | None = None  # a retry reused this completed stage's saved output
    error: str | None
    requested_by: int | None  # None: someone at the lab (an organisation's view)
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
    approved_by: int | None  # None in an organisation's view: a lab reviewer
    purged_at: UTCDateTime | None
    embargo_until: date | None = None  # enters the public catalogue on this day
    published_at: UTCDateTime | None = None
    publication_id: int | None = None  # its page: /catalogue/reports/{publication_id}
    created_at: UTCDateTime
    updated_at: UTCDateTime
    events: list[EventOut]
    jobs: list[JobOut]


#: What an organisation reads for a job that did not finish normally: the wording is the
#: lab's, never an exception's message (which may name a lab setting, a column or a count).
ORGANISATION_JOB_ERROR = "The evaluation could not be completed; the lab has been told."


def submission_for(submission: Any, *, lab_view: bool, own_user_ids: set[int]) -> SubmissionOut:
    """``submission`` as its viewer may see it.

    The lab sees everything. An organisation sees its own accounts' ids, but not the ids of
    the lab staff who re-ran, approved or published its request (lab-internal), and a failed
    job's cause only in the lab's fixed wording: an error message is written for the analyst
    and may quote a lab setting or a count. A decline keeps its wording, which holds only the
    lab's published minimum (:class:`jdl.evaluation.CouldNotBeAnswered`), once a reviewer has
    confirmed it; before that it reads like any finished run awaiting review (whether a
    request is answered can turn on one person, so a decline is reviewed and guarded like a
    report)."""
    out = SubmissionOut.model_validate(submission)
    if lab_view:
        return out
    confirmed = out.state == "not_answerable"
    jobs = [job.model_copy(update={
        "requested_by": job.requested_by if job.requested_by in own_user_ids else None,
        "error": (job.error if (job.state == "declined" and confirmed) or job.error is None
                  or job.state == "cancelled"  # the lab's fixed wording: withdrawn
                  else ORGANISATION_JOB_ERROR)}) for job in out.jobs]
    # a decline not yet confirmed by a reviewer reads like any finished run under review
    jobs = [job.model_copy(update={"state": "done", "stage": "report", "error": None})
            if job.state == "declined" and not confirmed else job for job in jobs]
    events = [event.model_copy(update={
        "user_id": event.user_id if event.user_id in own_user_ids else None})
        for event in out.events]
    return out.model_copy(update={
        "jobs": jobs, "events": events,
        "approved_by": out.approved_by if out.approved_by in own_user_ids else None})


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


class ReasonIn(BaseModel):
    """The lab's reason for sending a request back or declining it, shown to the
    organisation as written (required; checked and trimmed by the service, at most
    :data:`jdl.service._review.MAX_REASON` characters)."""

    model_config = ConfigDict(extra="forbid")

    # required in practice (an empty or blank reason is a 422 naming it), but optional in the
    # schema so that a wrong role or another organisation's number is answered 403/404 before
    # the body is judged, as on every other route
    reason: str = Field("", max_length=20_000, description=(
        "Required: what the organisation should know, at most 2,000 characters after control "
        "characters are removed; shown to the organisation as written."))


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
