"""The differencing guard (issue 15): no two releases may differ by a few people.

Two reports whose analysed treatment groups differ by one person give that person's outcome by
subtraction. Each finished run's analysed group (lab-internal ``matched.csv``) is compared with
every other submission's — every organisation, earlier, pending or published — and with the
unions, intersections and differences of each pair (:func:`jdl.disclosure.differencing_risks`).
The guard runs when a job finishes (its reason is recorded for the lab only), and again,
serialised, at approval and before publication. Its decision never reaches the organisation.
"""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from jdl.core.config import ServiceSettings, Settings
from jdl.service._crypto import read_sealed
from jdl.service._models import Job, JobState, Submission, SubmissionState
from jdl.service._storage import job_dir


def linked_person_ids(service: ServiceSettings, out_dir: Path) -> set[str]:
    """The people a run linked (lab-internal ``links.csv``), for the differencing guard."""
    import csv
    import io

    data = read_sealed(service, out_dir / "internal" / "links.csv")
    if data is None:
        return set()
    rows = csv.DictReader(io.StringIO(data.decode()))
    return {row["person_id"] for row in rows if row.get("person_id")}


def analysed_person_ids(service: ServiceSettings, out_dir: Path) -> set[str]:
    """The people a run analysed: the matched treatment group (lab-internal ``matched.csv``),
    or, for a run that has none, the people it linked."""
    import csv
    import io

    data = read_sealed(service, out_dir / "internal" / "matched.csv")
    if data is None:
        return linked_person_ids(service, out_dir)
    rows = csv.DictReader(io.StringIO(data.decode()))
    return {row["person_id"] for row in rows
            if row.get("person_id") and str(row.get("treated")) in ("1", "1.0", "True")
            and float(row.get("weights") or 1) > 0}


#: Serialises the guard with the state change it allows (approval, publication) in this
#: process; on PostgreSQL a transaction-level advisory lock does it across processes.
GUARD_LOCK = threading.Lock()
_GUARD_LOCK_KEY = 15_015


def lock_guard(db: Session) -> None:
    """Take the cross-process guard lock for the current transaction (PostgreSQL)."""
    from sqlalchemy import text

    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _GUARD_LOCK_KEY})


def differencing_hold(db: Session, settings: Settings, submission: Submission,
                      job: Job | None = None, *, released_only: bool = False) -> str | None:
    """Why this submission's answer must not be released, or None (lab-internal wording).

    Its analysed treatment group is compared with that of every other submission of *every*
    organisation with a finished run — earlier, pending or published; with ``released_only``
    only those approved, published or declined (what approval and publication must not
    collide with) — and with the unions, intersections and differences of each pair
    (:func:`jdl.disclosure.differencing_risks`).

    A decline ("could not be answered") releases no number, and whether a request is
    answered is no longer decided on the exact count (:mod:`jdl.disclosure._decision`: the
    rounded count against a threshold drawn per request), so an answered and a declined
    request that differ by one person do not say whether that person was counted. When
    either side of a comparison is a decline the *linked* people are compared, for the
    reviewer's information only (a run of near-identical requests is a pattern to raise with
    the organisation): with ``released_only`` (approval, publication) such comparisons never
    block, since a block, seen by the organisation as a refusal, would itself say whether a
    person it added or removed has a record."""
    from jdl.disclosure import differencing_risks

    storage = Path(settings.service.storage_dir)
    job = job or submission.latest_finished_job
    if job is None:
        return None
    folder = job_dir(storage, submission.id, job.id)
    declined = job.state == JobState.declined.value
    states = ([SubmissionState.approved.value, SubmissionState.published.value,
               SubmissionState.not_answerable.value, SubmissionState.declined.value,
               SubmissionState.withdrawn.value] if released_only
              else [s.value for s in SubmissionState if s is not SubmissionState.failed])
    others = db.scalars(select(Submission).where(
        Submission.id != submission.id, Submission.state.in_(states)).order_by(Submission.id))
    analysed: dict[str, set[str]] = {}
    linked: dict[str, set[str]] = {}
    for other in others:
        done = other.latest_finished_job
        if done is None or not _compared(other, done, released_only):
            continue
        other_folder = job_dir(storage, other.id, done.id)
        label = f"submission {other.id}"
        if declined or done.state == JobState.declined.value:
            if released_only:
                continue  # no number to subtract; the answer bit is randomised (see above)
            linked[label] = linked_person_ids(settings.service, other_folder)
        else:
            analysed[label] = analysed_person_ids(settings.service, other_folder)
    risks = differencing_risks(linked_person_ids(settings.service, folder), linked,
                               settings.disclosure) if linked else []
    if analysed and not declined:
        risks += differencing_risks(analysed_person_ids(settings.service, folder), analysed,
                                    settings.disclosure)
    if not risks:
        return None
    return ("Differencing guard: "
            + "; ".join(risk.describe() for risk in risks) + ".")


def _compared(other: Submission, done: Job, released_only: bool) -> bool:
    """Whether another submission's answer counts for the guard (issue 21's states): a
    withdrawn request only if its organisation had had its results (its register ids are
    kept for this); a reviewer's decline only of a run below the lab's minimum (the same
    answer as "could not be answered"), since a decline of a report releases no number."""
    if other.state == SubmissionState.withdrawn.value:
        return other.released_to_organisation
    if other.state == SubmissionState.declined.value and released_only:
        return done.state == JobState.declined.value
    return True
