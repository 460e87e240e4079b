"""Retention of personal data: uploads are deleted after the evaluation has used them.

The uploaded file holds the identifiers (names, dates of birth, PNC and prison numbers). Once a
submission's last completed run is older than ``upload_retention_days`` (and nothing is queued or
running for it), the file is deleted and ``purged_at`` set; the report, results and the
lab-internal link table (register ids, which the differencing guard needs) remain.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from jdl.core.config import Settings
from jdl.service._models import AuditEntry, Job, JobState, Submission, SubmissionState, utcnow
from jdl.service._schemas import _as_utc
from jdl.service._storage import submission_dir

BUSY = (SubmissionState.queued.value, SubmissionState.running.value)


def purge_expired(sessions: sessionmaker[Session], settings: Settings) -> int:
    """Delete the uploads whose retention has passed; returns how many were purged."""
    cutoff = utcnow() - timedelta(days=settings.service.upload_retention_days)
    storage = Path(settings.service.storage_dir)
    purged = 0
    with sessions() as db:
        last_done = (select(Job.submission_id, func.max(Job.finished_at).label("finished"))
                     .where(Job.state == JobState.done.value).group_by(Job.submission_id)
                     .subquery())
        rows = db.execute(select(Submission, last_done.c.finished)
                          .join(last_done, last_done.c.submission_id == Submission.id)
                          .where(Submission.purged_at.is_(None),
                                 Submission.state.not_in(BUSY))).all()
        for submission, finished in rows:
            if _as_utc(finished) > cutoff:
                continue
            (submission_dir(storage, submission.id) / submission.file_name).unlink(
                missing_ok=True)
            submission.purged_at = utcnow()
            db.add(AuditEntry(action="upload.purged", outcome="allowed",
                              submission_id=submission.id, detail="retention period ended"))
            purged += 1
        db.commit()
    return purged
