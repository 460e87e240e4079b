"""The service's tables (SQLAlchemy 2 declarative models).

Storage models only: API responses use the schemas in :mod:`jdl.service._schemas`, so that
password hashes and token hashes can never reach a response. The schema itself is created by
the Alembic migrations in ``migrations/`` (a test checks the two agree).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates


def utcnow() -> datetime:
    """Timestamps are stored in UTC."""
    return datetime.now(UTC)


class Role(StrEnum):
    """Organisation submitters see their own organisation's submissions; lab staff see all."""

    submitter = "submitter"
    analyst = "analyst"
    reviewer = "reviewer"
    admin = "admin"


LAB_ROLES = frozenset({Role.analyst, Role.reviewer, Role.admin})


class SubmissionState(StrEnum):
    """queued -> running -> awaiting_review -> approved -> published (in the public catalogue,
    once the embargo date has passed); or failed (an analyst may re-run); or held (differencing
    guard) until an analyst releases the hold; or not_answerable: the lab declined the request
    under its minimum criteria (too few people after linkage and matching), recorded as "could
    not be answered" as the Justice Data Lab does. A decline passes through awaiting_review
    like a report: a reviewer confirms it (the differencing guard runs on it too), and until
    then the organisation sees the same as for any request under review.

    The review's other answers (issue 21), each with the lab's reason, shown to the
    organisation: sent_back (the organisation is asked to correct something; it uploads
    again, or an analyst re-runs this one) and declined (a reviewer's decision: no report).
    withdrawn: the organisation withdrew the request before publication; its data is deleted
    and the row kept, so the public register can count withdrawn requests.
    :data:`TRANSITIONS` lists every allowed change."""

    queued = "queued"
    running = "running"
    held = "held"
    awaiting_review = "awaiting_review"
    approved = "approved"
    published = "published"
    failed = "failed"
    not_answerable = "not_answerable"
    sent_back = "sent_back"
    declined = "declined"
    withdrawn = "withdrawn"


_S = SubmissionState
#: Every state change the service makes (the review's and withdrawal's checks use it): the
#: worker's (queued -> running -> held / awaiting_review / failed, and running -> queued when a
#: worker stops), an analyst's re-run (-> queued) and hold release, a reviewer's approve / send
#: back / decline, publication, and the organisation's withdrawal before publication.
TRANSITIONS: dict[SubmissionState, frozenset[SubmissionState]] = {
    _S.queued: frozenset({_S.queued, _S.running, _S.withdrawn}),
    _S.running: frozenset({_S.queued, _S.held, _S.awaiting_review, _S.failed, _S.withdrawn}),
    _S.held: frozenset({_S.queued, _S.awaiting_review, _S.sent_back, _S.declined,
                        _S.withdrawn}),
    _S.awaiting_review: frozenset({_S.queued, _S.approved, _S.not_answerable, _S.sent_back,
                                   _S.declined, _S.withdrawn}),
    _S.failed: frozenset({_S.queued, _S.sent_back, _S.declined, _S.withdrawn}),
    _S.sent_back: frozenset({_S.queued, _S.declined, _S.withdrawn}),
    _S.approved: frozenset({_S.published, _S.withdrawn}),
    _S.published: frozenset(),
    _S.not_answerable: frozenset(),
    _S.declined: frozenset(),
    _S.withdrawn: frozenset(),
}
#: Whom the lab's review answers with a reason (shown to the organisation).
REASONED = frozenset({_S.sent_back, _S.declined})
#: The organisation may withdraw a request in these states (any time before publication
#: while the lab may still act on it).
WITHDRAWABLE = frozenset(s for s, to in TRANSITIONS.items() if _S.withdrawn in to)


class JobState(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    declined = "declined"  # below the lab's minimum criteria: "could not be answered"
    cancelled = "cancelled"  # its submission was withdrawn: the run stops, its output deleted


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict] = {datetime: DateTime(timezone=True)}


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    must_change_password: Mapped[bool] = mapped_column(default=True)
    # SHA-256 of the API token: a leaked database does not leak usable tokens.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation] = relationship()

    #: Set per request by the service (``jdl.service._deps.apply_lab_rule``): True when the
    #: account holds a lab role but is not in the lab's organisation (a mis-set CLI or a direct
    #: database edit) - such a role counts for nothing until an admin fixes it.
    outside_lab = False

    @property
    def effective_role(self) -> str:
        """The role the running server honours: a lab role outside the lab is no lab role."""
        return Role.submitter if self.outside_lab and self.role in LAB_ROLES else self.role

    @property
    def is_lab(self) -> bool:
        return self.effective_role in LAB_ROLES


class UserSession(Base):
    """A signed-in browser: the cookie carries a random key, the database its SHA-256. A session
    works only while its row is open, unexpired and its user active, so ending the rows (sign-out,
    password change, admin reset, deactivation) ends every copy of the cookie at once."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)


class Submission(Base):
    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    submitted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(20), index=True)
    file_name: Mapped[str] = mapped_column(String(50))  # stored name, e.g. upload.csv
    programme: Mapped[dict] = mapped_column(JSON)
    validation: Mapped[dict] = mapped_column(JSON)  # counts and issue summary from intake
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    # why the differencing guard held it (sizes only, never ids)
    hold_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # when the uploaded file was deleted under the retention setting
    purged_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # set by the reviewer at approval: the report enters the public catalogue on this day
    embargo_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(nullable=True)
    publication_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # catalogue's id
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the organisation's analysis plan, registered with the upload (issue 20): its canonical
    # form and SHA-256. Set once, before any result exists; never changed afterwards.
    registration: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    registration_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)

    @validates("registration", "registration_sha256")
    def _registered_once(self, key: str, value: object) -> object:
        if getattr(self, key, None) is not None and value != getattr(self, key):
            raise ValueError("A registered analysis plan cannot be changed.")
        return value

    events: Mapped[list[SubmissionEvent]] = relationship(
        order_by="SubmissionEvent.id", cascade="all, delete-orphan")
    jobs: Mapped[list[Job]] = relationship(order_by="Job.id")
    organisation: Mapped[Organisation] = relationship()

    @property
    def review_reason(self) -> str | None:
        """The lab's reason for the current state (sent back or declined), from its event."""
        if self.state not in REASONED:
            return None
        return next((e.reason for e in reversed(self.events) if e.state == self.state), None)

    @property
    def released_to_organisation(self) -> bool:
        """Whether the organisation has had its results (approved before, even if withdrawn
        since): such a run stays in the differencing guard's comparisons."""
        return self.approved_by is not None and self.state in (
            SubmissionState.approved, SubmissionState.published, SubmissionState.withdrawn)

    @property
    def latest_done_job(self) -> Job | None:
        """The newest completed run: the one whose outputs are reviewed, released and
        published."""
        return next((job for job in reversed(self.jobs) if job.state == JobState.done.value),
                    None)

    @property
    def latest_finished_job(self) -> Job | None:
        """The newest run that reached an answer: done, or declined under the lab's minimum
        criteria. A decline is an output like a report (whether a request is answered can
        turn on one person), so it is reviewed and guarded the same way."""
        finished = (JobState.done.value, JobState.declined.value)
        return next((job for job in reversed(self.jobs) if job.state in finished), None)

    @property
    def awaits_decline(self) -> bool:
        """Awaiting review of a decline: the newest answer is "could not be answered"."""
        job = self.latest_finished_job
        return (self.state == SubmissionState.awaiting_review.value and job is not None
                and job.state == JobState.declined.value)


class SubmissionEvent(Base):
    """One row per state change, so every change is timestamped and attributable."""

    __tablename__ = "submission_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    state: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # the lab's reason for sending back or declining (free text, shown to the organisation)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class Job(Base):
    """The durable queue: a worker claims a queued row, runs the evaluation, records the end."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(20), index=True)
    stage: Mapped[str | None] = mapped_column(String(20), nullable=True)  # last stage started
    settings_overrides: Mapped[dict] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # message only, no data
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(nullable=True)  # worker alive at
    # a retry after its worker died: the last completed stage whose saved output it reused
    resumed_from: Mapped[str | None] = mapped_column(String(20), nullable=True)


class AuditEntry(Base):
    """Every access to personal data and every denied access. Never holds personal data."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(60))
    outcome: Mapped[str] = mapped_column(String(10))  # allowed / denied
    submission_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    client: Mapped[str | None] = mapped_column(String(100), nullable=True)


class RateCount(Base):
    """Requests from one client address in one minute, counted here so that every server
    process shares the limit (``_ratelimit.py``). The address is stored as a keyed hash; rows
    of past minutes are deleted."""

    __tablename__ = "rate_counts"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    minute: Mapped[int] = mapped_column(Integer, primary_key=True)  # Unix time // 60
    count: Mapped[int] = mapped_column(Integer, default=0)


class LoginFailure(Base):
    """One failed sign-in (or current-password check), counted per account and per address in
    a sliding window by every server process (``_ratelimit.py``). The account (the email typed,
    perhaps a password typed in the wrong box) and the address are stored as keyed hashes only;
    rows older than the window are deleted."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[float] = mapped_column(Float, index=True)  # Unix time


class MailOutbox(Base):
    """An email waiting to be sent, or sent (issue 21; ``_mail.py``). A row holds what the
    email is about — the event, the recipient's account, the submission or reset it concerns —
    never its text or address: the worker writes the email when it sends it, from the account
    and the event, so the table holds no address, no link and no reset token."""

    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"),
                                                      nullable=True)
    reset_id: Mapped[int | None] = mapped_column(ForeignKey("password_resets.id"),
                                                 nullable=True)
    state: Mapped[str] = mapped_column(String(20), index=True)  # pending / sent / failed / dropped
    attempts: Mapped[int] = mapped_column(default=0)
    # when it may next be tried (a sender claims a row by moving this forward)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)  # kind, no secret
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)


class PasswordReset(Base):
    """A password-reset link sent by email. The token is derived from ``nonce`` with a key
    kept outside the database, and only its SHA-256 is stored: the database alone gives no
    usable link. It works once, until ``expires_at``, only while the account's password is the
    one it was issued under (``password_stamp``) and until a newer link is issued."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    nonce: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # a digest of the password hash when issued: any change of password ends the link
    password_stamp: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
