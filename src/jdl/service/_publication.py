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
    try:
        publication_id = store_publication(db, report, Path(settings.service.storage_dir),
                                           settings)
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
