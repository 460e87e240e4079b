"""The review's answers and the organisation's withdrawal (issue 21), one function per change.

A reviewer approves (``_api_submissions.approve``), **sends back** a request to its organisation
with a reason (:func:`send_back`: something to correct; the organisation uploads again, or an
analyst re-runs this one), or **declines** it with a reason (:func:`decline`: no report). The
organisation may **withdraw** its request any time before publication (:func:`withdraw`): a
queued or running evaluation is cancelled (the worker stops at its next stage and deletes what
it wrote), and its data is deleted now rather than at the end of the retention period
(:func:`delete_withdrawn_data`). The row stays, with its state and history, so the public
register can count withdrawn requests.

Every change goes through :func:`move`, which checks it against
:data:`jdl.service._models.TRANSITIONS` and records it (``_jobs.set_state``): one place for
anything that must happen on every change (a notification, say).

A reason is the lab's free text, shown to the organisation as written (escaped by the page):
at most :data:`MAX_REASON` characters, control characters removed.
"""

from __future__ import annotations

import shutil
import unicodedata
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from jdl.core.config import Settings
from jdl.service._models import (
    TRANSITIONS,
    Job,
    JobState,
    Submission,
    SubmissionState,
    utcnow,
)
from jdl.service._storage import submission_dir

MAX_REASON = 2000
#: What a withdrawn request keeps when the organisation had its results (approved, then
#: withdrawn before publication): the sealed register ids the differencing guard compares,
#: as retention keeps them after an upload is purged. Nothing of the upload, no report.
GUARD_FILES = ("links.csv", "matched.csv")


class ReviewConflict(Exception):
    """The change is not possible in the submission's current state (HTTP 409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ReasonProblem(ValueError):
    """The reason typed is missing or too long (HTTP 422, beside the field)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def clean_reason(text: object, what: str = "a reason") -> str:
    """The reason as it is stored: trimmed, line breaks kept, other control and format
    characters (which could hide text or reorder it on screen) removed."""
    raw = str(text or "").replace("\r\n", "\n").replace("\r", "\n")
    kept = "".join(ch for ch in raw if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    cleaned = "\n".join(line.rstrip() for line in kept.strip().split("\n"))
    if not cleaned:
        raise ReasonProblem(f"Enter {what}.")
    if len(cleaned) > MAX_REASON:
        raise ReasonProblem(f"Shorten {what} to {MAX_REASON:,} characters or fewer "
                            f"(it has {len(cleaned):,}).")
    return cleaned


def move(db: Session, submission: Submission, to: SubmissionState, user_id: int | None,
         reason: str | None = None) -> None:
    """Change the state if :data:`TRANSITIONS` allows it from the current one (caller
    commits); :class:`ReviewConflict` otherwise."""
    from jdl.service._jobs import set_state

    current = SubmissionState(submission.state)
    if to not in TRANSITIONS[current]:
        raise ReviewConflict(f"A submission that is {current.replace('_', ' ')} cannot be "
                             f"{_PAST.get(to, to.replace('_', ' '))}.")
    set_state(db, submission, to, user_id, reason=reason)


_PAST = {SubmissionState.sent_back: "sent back", SubmissionState.declined: "declined",
         SubmissionState.withdrawn: "withdrawn"}


def send_back(db: Session, submission: Submission, user_id: int, reason: str) -> None:
    """The lab asks the organisation to correct something, saying what (caller commits)."""
    move(db, submission, SubmissionState.sent_back, user_id,
         clean_reason(reason, "the reason for sending the request back"))


def decline(db: Session, submission: Submission, user_id: int, reason: str) -> None:
    """A reviewer declines the request with a reason: no report is released (caller
    commits). Any awaiting answer may be declined, a report or a run below the lab's
    minimum; so may a held, failed or sent-back request."""
    move(db, submission, SubmissionState.declined, user_id,
         clean_reason(reason, "the reason for declining"))


def withdraw(db: Session, submission: Submission, user_id: int) -> int:
    """The organisation withdraws its request before publication (caller commits, then
    calls :func:`delete_withdrawn_data`). Its queued and running jobs are cancelled with a
    conditional update, so a worker finishing at the same moment either ends first (and its
    output is deleted with the rest) or finds the job cancelled and discards it; returns how
    many jobs were cancelled."""
    move(db, submission, SubmissionState.withdrawn, user_id)
    cancelled: Any = db.execute(
        update(Job).where(Job.submission_id == submission.id,
                          Job.state.in_((JobState.queued.value, JobState.running.value)))
        .values(state=JobState.cancelled.value,
                error="Cancelled: the organisation withdrew the request."))
    submission.embargo_until = None  # never published
    return int(cancelled.rowcount or 0)


def delete_withdrawn_data(settings: Settings, submission: Submission) -> list[str]:
    """Delete a withdrawn request's files now (the retention period no longer applies): the
    upload, the programme copy and every run's outputs. Only when the organisation already
    had its results are that run's sealed register ids kept (:data:`GUARD_FILES`), so that a
    later request differing by a few people is still caught by the differencing guard.
    Returns what was deleted, as kinds (for the audit log; never a file's content)."""
    folder = submission_dir(Path(settings.service.storage_dir), submission.id)
    deleted: list[str] = []
    upload = folder / submission.file_name
    if upload.exists():
        upload.unlink()
        deleted.append("upload")
    if submission.purged_at is None:
        submission.purged_at = utcnow()
    (folder / "programme.json").unlink(missing_ok=True)
    kept_job = (submission.latest_done_job if submission.released_to_organisation else None)
    jobs = folder / "jobs"
    for run in sorted(jobs.iterdir()) if jobs.is_dir() else []:
        if kept_job is not None and run.name == str(kept_job.id):
            _keep_only_guard_files(run)
            deleted.append(f"run {run.name} outputs (register ids kept for the guard)")
        else:
            shutil.rmtree(run, ignore_errors=True)
            deleted.append(f"run {run.name} outputs")
    return deleted


def _keep_only_guard_files(run: Path) -> None:
    for path in sorted(run.rglob("*"), reverse=True):
        keep = path.parent.name == "internal" and path.name.startswith(GUARD_FILES)
        if path.is_dir():
            if not any(path.iterdir()):
                path.rmdir()
        elif not keep:
            path.unlink()
