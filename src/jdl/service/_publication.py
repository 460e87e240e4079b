"""Publication: an approved report enters the public catalogue once its embargo date passes.

The reviewer sets the embargo date when approving (by default ``publication_embargo_days``
after approval), which gives the organisation time to read its report before it is public. The
due step hands the *released* results and report to :func:`jdl.catalogue.publish` (stored by
:func:`jdl.service._catalogue.store_publication`) — never
anything from ``internal/`` — and records when and under which catalogue id it was published.
Idle workers run it at most once a minute; ``jdl admin publish-due`` runs it by hand.
"""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jdl.core.config import Settings
from jdl.service._models import (
    AuditEntry,
    Organisation,
    Submission,
    SubmissionEvent,
    SubmissionState,
    utcnow,
)
from jdl.service._storage import job_dir

log = logging.getLogger(__name__)


def default_embargo(settings: Settings, today: date | None = None) -> date:
    """The embargo date a reviewer is offered: the organisation's time with its report."""
    return (today or utcnow().date()) + timedelta(days=settings.service.publication_embargo_days)


def publish_due(sessions: sessionmaker[Session], settings: Settings,
                today: date | None = None) -> list[int]:
    """Publish every approved submission whose embargo has passed; their ids."""
    today = today or utcnow().date()
    published = []
    with sessions() as db:
        due = db.scalars(select(Submission).where(
            Submission.state == SubmissionState.approved.value,
            Submission.embargo_until.is_not(None),
            Submission.embargo_until <= today).order_by(Submission.id)).all()
        for submission in due:
            if _publish(db, settings, submission):
                published.append(submission.id)
    return published


def _publish(db: Session, settings: Settings, submission: Submission) -> bool:
    """Publish one submission; a refusal by the catalogue is audited with its reason, takes the
    submission off the schedule (it stays approved) and does not stop the others."""
    from jdl.catalogue import CatalogueError, ReportToPublish
    from jdl.service._catalogue import store_publication
    from jdl.service._guard import GUARD_LOCK, differencing_hold, lock_guard

    folder = _released_folder(db, settings, submission)
    if folder is None:
        log.warning("submission %s is approved but has no released outputs", submission.id)
        return False
    with GUARD_LOCK:  # again before publication, against everything approved or published
        lock_guard(db)
        # withdrawn by its organisation since the list was read: never published
        db.refresh(submission, with_for_update=_row_lock(db))
        if submission.state != SubmissionState.approved.value:
            db.rollback()
            return False
        reason = differencing_hold(db, settings, submission, released_only=True)
    if reason:
        submission.hold_reason, submission.embargo_until = reason, None
        db.add(AuditEntry(action="submission.publish", outcome="denied",
                          submission_id=submission.id, detail="differencing guard"))
        db.commit()
        log.warning("submission %s not published: differencing guard", submission.id)
        return False
    report = ReportToPublish(
        submission_id=submission.id,
        organisation=db.get(Organisation, submission.organisation_id).name,
        programme=dict(submission.programme),
        results=json.loads((folder / "results.json").read_text()),
        pdf_path=folder / "report.pdf",
        approved_at=_approved_at(db, submission),
        published_at=utcnow(),
    )
    from jdl.service._catalogue_models import PublicationRequest

    asked = db.get(PublicationRequest, submission.id)
    try:
        publication_id = store_publication(
            db, report, Path(settings.service.storage_dir), settings,
            response=asked.response if asked else None,
            supersedes_id=asked.supersedes_id if asked else None)
    except CatalogueError as exc:
        # unscheduled, so it is not retried every minute; a reviewer sets a new date once fixed
        db.rollback()
        log.warning("submission %s not published: the catalogue refused it", submission.id)
        submission.embargo_until = None
        db.add(AuditEntry(action="submission.publish", outcome="denied",
                          submission_id=submission.id, detail=exc.message[:500]))
        db.commit()
        return False
    submission.publication_id, submission.published_at = publication_id, report.published_at
    submission.state, submission.updated_at = SubmissionState.published.value, utcnow()
    db.add(SubmissionEvent(submission_id=submission.id, state=SubmissionState.published.value))
    from jdl.service._mail import MailEvent, notify

    notify(db, settings, MailEvent.published, submission)
    db.add(AuditEntry(action="submission.publish", outcome="allowed",
                      submission_id=submission.id,
                      detail=f"catalogue publication {publication_id}"))
    db.commit()
    return True


#: States in which the organisation may still set what its catalogue entry says (everything
#: before publication that is not a final answer).
OPEN_STATES = frozenset({SubmissionState.queued, SubmissionState.running, SubmissionState.held,
                         SubmissionState.awaiting_review, SubmissionState.failed,
                         SubmissionState.sent_back, SubmissionState.approved})


class EntryClosed(Exception):
    """The request's catalogue entry can no longer be changed (HTTP 409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EntryProblem(ValueError):
    """What the organisation asked of its catalogue entry cannot be done (HTTP 422): each
    problem shown beside its field (``problems``: field -> message)."""

    def __init__(self, field: str, message: str, **more: str) -> None:
        super().__init__(" ".join([message, *more.values()]))
        self.field, self.message = field, message
        self.problems = {field: message, **more}


def save_catalogue_request(db: Session, settings: Settings, submission: Submission,
                           user_id: int, *, response: str | None,
                           supersedes: str | int | None) -> Any:
    """The organisation's right of reply and the earlier report its new one replaces (issue
    20), checked and stored until publication copies them into the catalogue (caller commits).

    * The response can be given once the report is approved (the organisation has read it)
      and until it is published: at most ``MAX_RESPONSE`` characters, control characters
      removed, and refused if it gives a number of people the lab's rules would not publish
      (:func:`jdl.catalogue._register.clean_response`, against the report's released results).
    * A replacement must be of the organisation's own standing published report, and its
      upload must hold the same number of accepted rows as the replaced report's, or at least
      ``differencing_min`` more or fewer: two published reports on groups differing by a few
      people would give those people's results by subtraction. This is decided on the rows
      the organisation itself sent, so refusing says nothing it does not know; the lab's
      differencing guard still compares the analysed groups before approval and publication.
    """
    from jdl.service._catalogue_models import PublicationRequest

    if SubmissionState(submission.state) not in OPEN_STATES:
        raise EntryClosed("The catalogue entry of a request that is "
                             f"{submission.state.replace('_', ' ')} cannot be changed.")
    row = db.get(PublicationRequest, submission.id) or PublicationRequest(
        submission_id=submission.id)
    problems: dict[str, str] = {}
    try:  # both fields are checked, so the form answers every problem at once
        supersedes_id = _checked_supersedes(db, settings, submission, supersedes)
    except EntryProblem as exc:
        problems.update(exc.problems)
    try:
        cleaned = _checked_response(db, settings, submission, response)
    except EntryProblem as exc:
        problems.update(exc.problems)
    if problems:
        first, *rest = problems.items()
        raise EntryProblem(first[0], first[1], **dict(rest))
    row.response, row.supersedes_id = cleaned, supersedes_id
    row.updated_by, row.updated_at = user_id, utcnow()
    db.add(row)
    db.add(AuditEntry(action="submission.catalogue_entry", outcome="allowed", user_id=user_id,
                      submission_id=submission.id,
                      detail=(f"response {len(cleaned or '')} characters; replaces "
                              f"{supersedes_id if supersedes_id is not None else 'nothing'}")))
    return row


def _checked_supersedes(db: Session, settings: Settings, submission: Submission,
                        supersedes: str | int | None) -> int | None:
    from jdl.catalogue import CatalogueError
    from jdl.service._catalogue import check_supersedes

    supersedes_id = _supersedes_id(supersedes)
    if supersedes_id is not None:
        organisation = db.get(Organisation, submission.organisation_id).name
        try:
            old = check_supersedes(db, supersedes_id, organisation)
        except CatalogueError as exc:
            raise EntryProblem("supersedes", exc.message) from None
        _check_replacement_size(db, settings, submission, old)
    return supersedes_id


def _checked_response(db: Session, settings: Settings, submission: Submission,
                      response: str | None) -> str | None:
    from jdl.catalogue._register import ResponseProblem, clean_response

    text = str(response or "").strip()
    if not text:
        return None
    if submission.state != SubmissionState.approved.value:
        raise EntryProblem("response", "You can add your response once the lab has "
                                       "approved the report and you have read it.")
    folder = _released_folder(db, settings, submission)
    results = json.loads((folder / "results.json").read_text()) if folder else None
    try:
        return clean_response(text, results, settings.disclosure)
    except ResponseProblem as exc:
        raise EntryProblem("response", exc.message) from None


def _supersedes_id(value: str | int | None) -> int | None:
    raw = str(value if value is not None else "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise EntryProblem("supersedes", "Choose one of your published reports from the list.")
    return int(raw)


def _check_replacement_size(db: Session, settings: Settings, submission: Submission,
                            old: Any) -> None:
    """The replacement's accepted rows against the replaced report's (see
    :func:`save_catalogue_request`)."""
    minimum = settings.disclosure.differencing_min
    before = db.get(Submission, old.submission_id) if old.submission_id else None
    if before is None or before.organisation_id != submission.organisation_id:
        # the account's organisation decides, not a name that may differ only in case
        raise EntryProblem("supersedes", f"Report {old.id} was not published from one of your "
                                         "uploads, so a new upload cannot replace it.")
    now = int(((submission.validation or {}).get("counts") or {}).get("accepted") or 0)
    then = int(((before.validation or {}).get("counts") or {}).get("accepted") or 0)
    change = now - then
    if 0 < abs(change) < minimum:
        more = f"{change} more" if change > 0 else f"{-change} fewer"
        raise EntryProblem(
            "supersedes",
            f"This upload has {more} accepted row{'s' if abs(change) != 1 else ''} than the "
            f"one report {old.id} was made from. A report that replaces an earlier one must "
            f"be on the same people, or on at least {minimum} more or fewer: comparing two "
            "published reports on groups that differ by a few people would reveal those "
            "people's results, so the lab cannot publish both. Upload again when you have "
            f"worked with at least {minimum - abs(change) if change > 0 else minimum} more "
            "people, or publish this report on its own (choose no report to replace).")


def _released_folder(db: Session, settings: Settings, submission: Submission) -> Path | None:
    job = submission.latest_done_job
    if job is None:
        return None
    folder = job_dir(Path(settings.service.storage_dir), submission.id, job.id)
    ok = (folder / "results.json").is_file() and (folder / "report.pdf").is_file()
    return folder if ok else None


def _approved_at(db: Session, submission: Submission):
    return db.scalar(select(SubmissionEvent.at).where(
        SubmissionEvent.submission_id == submission.id,
        SubmissionEvent.state == SubmissionState.approved.value)
        .order_by(SubmissionEvent.id.desc()).limit(1))


def _row_lock(db: Session) -> bool | None:
    """Lock the submission's row while publishing (PostgreSQL; SQLite serialises writers),
    so a withdrawal at the same moment waits and then finds it published."""
    return True if db.get_bind().dialect.name == "postgresql" else None
