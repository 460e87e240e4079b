"""The durable job queue and its worker.

Jobs are rows in ``jobs``; a worker claims the oldest queued row with a conditional UPDATE (so
two workers never run the same job), runs :func:`jdl.run.run_evaluation` and records the outcome.
While a job runs, its worker writes a heartbeat every quarter of ``job_stale_seconds``; a
running job whose heartbeat is older than that belonged to a worker that died, and any worker
queues it again, so nothing is lost on restart and several workers can share the queue. The
retry resumes from the job's last completed slow stage (linkage; cohort and pool), whose outputs
were saved encrypted as checkpoints (deleted when the job ends).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from jdl.core.config import Settings
from jdl.core.errors import JDLError
from jdl.service._crypto import EncryptedCheckpoints, decrypted, seal_folder
from jdl.service._guard import differencing_hold
from jdl.service._mail import Mailer, MailEvent, notify
from jdl.service._models import (
    AuditEntry,
    Job,
    JobState,
    Submission,
    SubmissionEvent,
    SubmissionState,
    utcnow,
)
from jdl.service._publication import publish_due
from jdl.service._retention import purge_expired
from jdl.service._storage import (
    discard_partial_outputs,
    job_dir,
    job_work_dir,
    job_work_dirs,
    submission_dir,
    sweep_scratch,
)

log = logging.getLogger(__name__)
# an idle worker applies the upload retention and publishes due reports this often
PURGE_EVERY_SECONDS = 60.0


def set_state(db: Session, submission: Submission, state: SubmissionState,
              user_id: int | None = None, reason: str | None = None) -> None:
    """Change a submission's state and timestamp the change, with the lab's reason when it
    gives one (sent back, declined) (caller commits)."""
    submission.state = state.value
    submission.updated_at = utcnow()
    db.add(SubmissionEvent(submission_id=submission.id, state=state.value, user_id=user_id,
                           reason=reason))


def enqueue(db: Session, submission: Submission, user_id: int,
            overrides: dict[str, Any] | None = None) -> Job:
    """Queue an evaluation of ``submission`` (caller commits)."""
    job = Job(submission_id=submission.id, requested_by=user_id, state=JobState.queued.value,
              settings_overrides=overrides or {}, attempts=0)
    db.add(job)
    set_state(db, submission, SubmissionState.queued, user_id)
    return job


def job_settings(base: Settings, overrides: dict[str, Any]) -> Settings:
    """The lab settings with an analyst's overrides — only allowed analysis settings (refused by
    name otherwise, :mod:`jdl.service._overrides`) — validated like any settings; the reviewed
    changes ride along in ``report.analysis_overrides`` for the report's methods."""
    from jdl.service._overrides import apply_overrides, check_overrides

    recorded = check_overrides(base, overrides) if overrides else []
    return apply_overrides(base, overrides or {}, recorded)


def _with_decision_key(settings: Settings) -> Settings:
    """The settings with the lab's secret for the answer band's draw (derived from the
    encryption key unless ``disclosure.decision_key`` is set): without a secret, anyone with
    the code could work out which variant of an upload draws which threshold."""
    if settings.disclosure.decision_key:
        return settings
    from jdl.service._crypto import decision_key

    disclosure = settings.disclosure.model_copy(
        update={"decision_key": decision_key(settings.service)})
    return settings.model_copy(update={"disclosure": disclosure})


def recover(sessions: sessionmaker[Session], stale_seconds: float = 0,
            storage: Path | None = None, job_ids: tuple[int, ...] | None = None) -> int:
    """Queue again every running job whose worker has not signalled for ``stale_seconds``
    (its process stopped), or those of ``job_ids`` still marked running (their worker is known
    to be gone), deleting any decrypted working copy and plaintext partial output it left in
    ``storage``; returns how many."""
    cutoff = utcnow() - timedelta(seconds=stale_seconds)
    with sessions() as db:
        jobs = db.scalars(select(Job).where(Job.state == JobState.running.value)).all()
        jobs = [job for job in jobs
                if (job.id in job_ids if job_ids is not None else
                    job.heartbeat_at is None or _aware(job.heartbeat_at) <= cutoff)]
        for job in jobs:
            _requeue(db, job, storage)
        db.commit()
        return len(jobs)


def _requeue(db: Session, job: Job, storage: Path | None) -> None:
    """Put a running job back in the queue (caller commits); its plaintext left behind goes."""
    import shutil

    if storage is not None:
        for work in job_work_dirs(Path(storage), job.id):
            shutil.rmtree(work, ignore_errors=True)
        discard_partial_outputs(job_dir(Path(storage), job.submission_id, job.id))
    job.state = JobState.queued.value
    job.stage = None
    submission = db.get(Submission, job.submission_id)
    if submission is not None:
        set_state(db, submission, SubmissionState.queued)


def start_up_sweep(sessions: sessionmaker[Session], storage: Path) -> int:
    """What a starting ``jdl serve`` or ``jdl worker`` does first: delete what stopped
    processes of this host left in ``incoming/`` and ``work/``, and queue again the jobs they
    were running; returns how many jobs."""
    swept = sweep_scratch(Path(storage))
    if not swept.orphaned_jobs:
        return 0
    requeued = recover(sessions, storage=storage, job_ids=swept.orphaned_jobs)
    if requeued:
        log.info("re-queued %d job(s) left running by a stopped worker", requeued)
    return requeued


class Abandoned(Exception):
    """The worker was asked to stop: the job goes back to the queue at its next stage."""


class Cancelled(Exception):
    """The submission was withdrawn while its job ran: the run stops at its next stage and
    whatever it wrote is deleted (``jdl.service._review.withdraw``)."""


def _discard_cancelled(sessions: sessionmaker[Session], storage: Path, job_id: int) -> bool:
    """If the job was cancelled (its submission withdrawn), delete everything it wrote;
    True when it was."""
    import shutil

    with sessions() as db:
        job = db.get(Job, job_id)
        if job is None or job.state != JobState.cancelled.value:
            return False
        shutil.rmtree(job_dir(storage, job.submission_id, job.id), ignore_errors=True)
        if job.finished_at is None:
            job.finished_at = utcnow()
            db.commit()
    log.info("job %s stopped: its submission was withdrawn; its output deleted", job_id)
    return True


def claim_next(sessions: sessionmaker[Session]) -> int | None:
    """Atomically mark the oldest queued job running; its id, or None if the queue is empty."""
    with sessions() as db:
        candidates = db.scalars(select(Job.id).where(Job.state == JobState.queued.value)
                                .order_by(Job.id).limit(5)).all()
        for job_id in candidates:
            claimed = db.execute(
                update(Job).where(Job.id == job_id, Job.state == JobState.queued.value)
                .values(state=JobState.running.value, started_at=utcnow(), finished_at=None,
                        heartbeat_at=utcnow(), attempts=Job.attempts + 1, error=None))
            if claimed.rowcount == 1:
                job = db.get(Job, job_id)
                set_state(db, db.get(Submission, job.submission_id), SubmissionState.running)
                # the worker is about to read the upload: personal data
                db.add(AuditEntry(action="job.run", outcome="allowed",
                                  submission_id=job.submission_id, detail=f"job {job_id}",
                                  client=f"worker pid {os.getpid()}"))
                db.commit()
                return job_id
            db.rollback()
    return None


def registered_plan(submission: Submission) -> Any:
    """The submission's registered analysis plan (:class:`jdl.intake.Registration`), or None;
    refuses a stored plan whose SHA-256 is not the one registered (it was changed)."""
    from jdl.intake import registration_from_dict

    if not submission.registration:
        return None
    plan = registration_from_dict(dict(submission.registration))
    if plan.sha256 != submission.registration_sha256:
        raise JDLError("The stored analysis plan is not the one registered (its SHA-256 "
                       "differs); the lab will not run it.")
    return plan


def _published_effects(db: Session, settings: Settings, programme: Path) -> list[Any] | None:
    """The catalogue's published effects of the programme's intervention type, for the
    probability of benefit's prior (issue 20); None (the weakly informative prior) when they
    cannot be read — the catalogue never stops an evaluation — or are not used (the catalogue
    prior is off: ``benefit_catalogue_prior``), so a job reads no publications it ignores."""
    from jdl.service._catalogue import published_effects

    if not settings.inference.benefit_catalogue_prior:
        return None
    try:
        kind = json.loads(programme.read_text()).get("intervention_type")
        return published_effects(db, settings, str(kind)) if kind else None
    except Exception as exc:  # logged; the evaluation goes on without it
        log.warning("catalogue effects not read for the prior: %s", type(exc).__name__)
        return None


def run_job(sessions: sessionmaker[Session], settings: Settings, job_id: int,
            stopping: threading.Event | None = None) -> JobState:
    """Run one claimed job to done or failed; if ``stopping`` is set meanwhile, the job is
    abandoned at its next stage and queued again (the completed stages' checkpoints kept)."""
    from jdl.evaluation import CouldNotBeAnswered
    from jdl.run import run_evaluation as evaluate

    with sessions() as db:
        job = db.get(Job, job_id)
        submission = db.get(Submission, job.submission_id)
        storage = Path(settings.service.storage_dir)
        folder = submission_dir(storage, submission.id)
        upload, out = folder / submission.file_name, job_dir(storage, submission.id, job.id)
        overrides = dict(job.settings_overrides or {})
        try:
            registration = registered_plan(submission)
        except JDLError as exc:  # raised in the run below, so the job fails with the reason
            registration = exc
        effects = _published_effects(db, settings, folder / "programme.json")

    def progress(stage: str) -> None:
        if stopping is not None and stopping.is_set():
            raise Abandoned(stage)
        with sessions() as db:
            db.execute(update(Job).where(Job.id == job_id).values(stage=stage))
            cancelled = db.scalar(select(Job.state).where(Job.id == job_id)) == \
                JobState.cancelled.value
            db.commit()
        if cancelled:
            raise Cancelled(stage)

    beat = _Heartbeat(sessions, job_id, settings.service.job_stale_seconds / 4)
    saved = EncryptedCheckpoints(settings.service, out / "checkpoints")
    try:
        if isinstance(registration, JDLError):
            raise registration
        with decrypted(settings.service, upload, job_work_dir(storage, job_id)) as plain:
            evaluate(plain, folder / "programme.json", settings.data.data_dir, out,
                     settings=_with_decision_key(job_settings(settings, overrides)),
                     seed=settings.service.seed,
                     progress=progress, checkpoints=_Resuming(saved, sessions, job_id),
                     registration=registration, published_effects=effects)
    except Cancelled:
        beat.stop()
        _discard_cancelled(sessions, storage, job_id)
        return JobState.cancelled
    except Abandoned as stop:
        beat.stop()
        if _discard_cancelled(sessions, storage, job_id):
            return JobState.cancelled
        with sessions() as db:
            job = db.get(Job, job_id)
            if job.state == JobState.running.value:
                _requeue(db, job, storage)
                db.commit()
        log.info("job %s abandoned before its %s stage (worker stopping); queued again",
                 job_id, stop)
        return JobState.queued
    except CouldNotBeAnswered as exc:  # the lab's minimum criteria: a decision, not a failure
        if _requeued_by_stop(sessions, job_id, stopping):
            return JobState.queued
        return _finish(sessions, settings, job_id, JobState.declined, exc.message, saved)
    except JDLError as exc:
        if _requeued_by_stop(sessions, job_id, stopping):
            return JobState.queued
        return _finish(sessions, settings, job_id, JobState.failed, exc.message, saved)
    except Exception as exc:  # a bug: the job fails, the worker carries on
        if _requeued_by_stop(sessions, job_id, stopping):
            # Worker.stop abandoned the stage after its grace period and deleted the working
            # copy; the stage then failed on the missing file. The job is queued, not failed.
            return JobState.queued
        # where, not what: an exception's message may quote the data it choked on
        log.error("job %s failed: internal error %s at %s", job_id, type(exc).__name__,
                  _where(exc))
        return _finish(sessions, settings, job_id, JobState.failed,
                       f"Internal error ({type(exc).__name__}); the lab has been told.", saved)
    finally:
        beat.stop()
    if _requeued_by_stop(sessions, job_id, stopping):
        return JobState.queued  # abandoned meanwhile by Worker.stop: the next worker runs it
    return _finish(sessions, settings, job_id, JobState.done, None, saved)


def _requeued_by_stop(sessions: sessionmaker[Session], job_id: int,
                      stopping: threading.Event | None) -> bool:
    """True when the worker is stopping and has already put this job back in the queue (so
    whatever the abandoned stage did after that must not mark it done or failed)."""
    return (stopping is not None and stopping.is_set()
            and _state(sessions, job_id) == JobState.queued.value)


def _state(sessions: sessionmaker[Session], job_id: int) -> str | None:
    with sessions() as db:
        return db.scalar(select(Job.state).where(Job.id == job_id))


def _where(exc: BaseException) -> str:
    """The innermost frame of ``exc``'s traceback (file, line, function), for the log: enough
    to find the bug, with none of the values a traceback or message could show."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown"
    last = frames[-1]
    return f"{Path(last.filename).name}:{last.lineno} in {last.name}"


class _Resuming:
    """Checkpoints that record on the job which completed stage a retry resumed from."""

    def __init__(self, saved: EncryptedCheckpoints, sessions: sessionmaker[Session],
                 job_id: int) -> None:
        self.saved, self.sessions, self.job_id = saved, sessions, job_id

    def load(self, stage: str) -> object | None:
        value = self.saved.load(stage)
        if value is not None:
            with self.sessions() as db:
                db.execute(update(Job).where(Job.id == self.job_id)
                           .values(resumed_from=stage))
                db.commit()
            log.info("job %s resumed after its completed %s stage", self.job_id, stage)
        return value

    def save(self, stage: str, value: object) -> None:
        self.saved.save(stage, value)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class _Heartbeat:
    """Marks a running job alive every ``interval`` seconds until stopped."""

    def __init__(self, sessions: sessionmaker[Session], job_id: int, interval: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(sessions, job_id, interval),
                                        name=f"jdl-heartbeat-{job_id}", daemon=True)
        self._thread.start()

    def _run(self, sessions: sessionmaker[Session], job_id: int, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                with sessions() as db:
                    db.execute(update(Job).where(Job.id == job_id,
                                                 Job.state == JobState.running.value)
                               .values(heartbeat_at=utcnow()))
                    db.commit()
            except Exception:  # a busy database: the next beat will do
                log.warning("heartbeat for job %s not recorded", job_id)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _finish(sessions: sessionmaker[Session], settings: Settings, job_id: int, state: JobState,
            error: str | None, saved: EncryptedCheckpoints | None = None) -> JobState:
    if saved is not None:
        saved.clear()  # personal data, needed only while the job might be retried
    storage = Path(settings.service.storage_dir)
    with sessions() as db:
        # the job's end is written first (a withdrawal waits for this transaction, or has
        # already cancelled the job, which this update then leaves alone)
        ended = db.execute(update(Job).where(Job.id == job_id,
                                             Job.state != JobState.cancelled.value)
                           .values(state=state.value, error=error, finished_at=utcnow()))
        if ended.rowcount == 0:
            db.rollback()
            _discard_cancelled(sessions, storage, job_id)
            return JobState.cancelled  # withdrawn meanwhile: the result is discarded
        job = db.get(Job, job_id)
        # lab-internal outputs (link table, matched ids, unrounded aggregates) kept encrypted
        seal_folder(settings.service, job_dir(storage, job.submission_id, job.id) / "internal")
        submission = db.get(Submission, job.submission_id)
        if state is JobState.failed:
            set_state(db, submission, SubmissionState.failed)
            notify(db, settings, MailEvent.needs_attention, submission)
        else:
            # the guard's finding is lab-internal: the organisation sees the same state and
            # wording whatever it is (a "held" state told it whether a person it added has a
            # record); approval and publication run the guard again, serialised. A decline
            # waits for review too: told at once, "answered or not" would say whether a
            # person it added or removed was counted
            submission.hold_reason = differencing_hold(db, settings, submission, job)
            set_state(db, submission, SubmissionState.awaiting_review)
            notify(db, settings, MailEvent.ready_for_review, submission)
        db.commit()
    return state


def run_once(sessions: sessionmaker[Session], settings: Settings) -> JobState | None:
    """Claim and run one job; None when nothing was queued."""
    job_id = claim_next(sessions)
    return None if job_id is None else run_job(sessions, settings, job_id)


class Worker:
    """A background thread that runs queued jobs until stopped."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self.sessions, self.settings = sessions, settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="jdl-worker", daemon=True)
        self.current_job: int | None = None
        # the outbox's emails go from a thread of their own: a long job never holds them up
        self.mailer = Mailer(sessions, settings)

    def start(self) -> None:
        self._thread.start()
        self.mailer.start()

    def run(self) -> None:
        last_purge = 0.0
        storage = Path(self.settings.service.storage_dir)
        try:
            start_up_sweep(self.sessions, storage)
        except Exception as exc:  # the database was unavailable: the stale check catches up
            log.error("start-up sweep failed (%s at %s)", type(exc).__name__, _where(exc))
        while not self._stop.is_set():
            try:
                recovered = recover(self.sessions, self.settings.service.job_stale_seconds,
                                    storage)
                if recovered:
                    log.info("re-queued %d job(s) of a stopped worker", recovered)
                ran = self._run_next()
                if ran is None and time.monotonic() - last_purge > PURGE_EVERY_SECONDS:
                    last_purge = time.monotonic()
                    purge_expired(self.sessions, self.settings)
                    publish_due(self.sessions, self.settings)
            except Exception as exc:  # the database was unavailable: wait and try again
                log.error("worker step failed (%s at %s); trying again",
                          type(exc).__name__, _where(exc))
                ran = None
            if ran is None:
                self._stop.wait(self.settings.service.worker_poll_seconds)

    def _run_next(self) -> JobState | None:
        if self._stop.is_set():
            return None
        job_id = claim_next(self.sessions)
        if job_id is None:
            return None
        self.current_job = job_id
        try:
            return run_job(self.sessions, self.settings, job_id, self._stop)
        finally:
            self.current_job = None

    def stop(self, timeout: float | None = None) -> None:
        """Stop: the current job is abandoned at its next stage and queued again. If it does
        not get there within ``timeout`` seconds, its plaintext working files are deleted and
        it is queued again from here; the caller then exits (the thread is a daemon)."""
        self._stop.set()
        self.mailer.stop(timeout)
        if self._thread.is_alive():
            self._thread.join(timeout)
        job_id = self.current_job
        if self._thread.is_alive() and job_id is not None:
            log.warning("job %s did not reach a stage boundary in %s s; abandoning it",
                        job_id, timeout)
            recover(self.sessions, storage=Path(self.settings.service.storage_dir),
                    job_ids=(job_id,))
