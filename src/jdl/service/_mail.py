"""Email from the service (issue 21): notifications of a submission's progress, and
password-reset links, through an SMTP server.

**One entry point.** A state change calls :func:`notify` with a :class:`MailEvent` and the
submission, inside its own transaction: the emails are rows of ``mail_outbox``, committed (or
rolled back) with the change, so a request or job never waits for, or fails with, an SMTP
server. The worker's :class:`Mailer` thread sends due rows (:func:`deliver_due`), tries a
failed send again after ``mail.retry_seconds`` doubling each time (up to an hour), and gives up
after ``mail.max_attempts``; failures are logged by kind and row id, never an address, a
server's reply or a credential.

**What an email may say.** A row holds the event, the recipient's account and the submission
(or reset link) it concerns — no address, text or link. The worker writes the email when it
sends it: the submission's reference number, what happened in words, and a link built from
``service.public_url`` (never from a request's Host header). No programme name, organisation,
count or result: an email can be forwarded, misaddressed or read on a shared screen, and the
portal behind the sign-in says the rest.

**Who receives it.** Organisation events go to the active accounts of the submitting
organisation only (checked again when sending: an account moved to another organisation since
gets nothing); lab events to the lab's own accounts of the role that acts. A decline under the
lab's minimum criteria and an approval send the organisation the same words ("the review is
complete"): as in the portal, the organisation learns which it is when it signs in, and an
intercepted email says neither.

With ``mail.host`` unset the service sends no email and :func:`notify` writes nothing.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from jdl.core.config import MailSettings, Settings
from jdl.core.errors import UsageError
from jdl.service._models import (
    LAB_ROLES,
    MailOutbox,
    Organisation,
    PasswordReset,
    Role,
    Submission,
    User,
    utcnow,
)
from jdl.service._password_reset import RESET_PATH, link_token, read_reset_key

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600.0
BATCH = 20  # rows a sender claims per pass
KEEP_DAYS = 30  # sent, failed and dropped rows, and ended reset links, are deleted after this
TIDY_EVERY_SECONDS = 3600.0


class MailEvent(StrEnum):
    """Why an email is sent. Each has its audience (:data:`AUDIENCE`) and its words
    (:data:`WORDS`); add a member to both and call :func:`notify` where it happens."""

    received = "received"  # organisation: the upload was accepted and queued
    needs_attention = "needs_attention"  # lab analysts: a run failed, or was held
    ready_for_review = "ready_for_review"  # lab reviewers: a run finished, to be reviewed
    sent_back = "sent_back"  # organisation: a reviewer sent it back with a reason
    withdrawn = "withdrawn"  # lab analysts and reviewers: the organisation withdrew it
    review_complete = "review_complete"  # organisation: approved, or declined (same words)
    published = "published"  # organisation: the report is in the public catalogue
    password_reset = "password_reset"  # one account: its reset link (not through notify)


ORGANISATION = "organisation"
#: who receives each event: the submitting organisation, or the lab accounts of these roles
AUDIENCE: dict[MailEvent, str | frozenset[Role]] = {
    MailEvent.received: ORGANISATION,
    MailEvent.needs_attention: frozenset({Role.analyst}),
    MailEvent.ready_for_review: frozenset({Role.reviewer}),
    MailEvent.sent_back: ORGANISATION,
    MailEvent.withdrawn: frozenset({Role.analyst, Role.reviewer}),
    MailEvent.review_complete: ORGANISATION,
    MailEvent.published: ORGANISATION,
}

#: (subject, what happened, what to do): ``{ref}`` is the submission's reference number
WORDS: dict[MailEvent, tuple[str, str, str]] = {
    MailEvent.received: (
        "Submission {ref} received",
        "The Justice Data Lab has received your submission {ref}. It is queued for "
        "evaluation.",
        "You do not need to do anything now. We will email you again when the lab's review "
        "is complete."),
    MailEvent.needs_attention: (
        "Submission {ref} needs attention",
        "The evaluation of submission {ref} did not finish, or was held.",
        "Sign in to see why, and re-run it or release the hold."),
    MailEvent.ready_for_review: (
        "Submission {ref} is ready for review",
        "The evaluation of submission {ref} has finished and is waiting for a reviewer.",
        "Sign in to review it. You cannot approve work you submitted or ran."),
    MailEvent.sent_back: (
        "Submission {ref} has been sent back to you",
        "The lab has sent submission {ref} back to you with a reason.",
        "Sign in to read the reason and what to change."),
    MailEvent.withdrawn: (
        "Submission {ref} was withdrawn",
        "The organisation withdrew submission {ref} before publication.",
        "There is nothing more to review for it."),
    MailEvent.review_complete: (
        "Submission {ref}: the lab's review is complete",
        "The Justice Data Lab has finished reviewing submission {ref}.",
        "Sign in to see the outcome."),
    MailEvent.published: (
        "Submission {ref}: the report is published",
        "The report of submission {ref} is now in the lab's public catalogue of published "
        "reports.",
        "Sign in to see it."),
}


def mail_problem(settings: Settings) -> str | None:
    """Why the mail settings cannot work (None when they can, or when email is off)."""
    mail = settings.mail
    if not mail.enabled:
        return None
    if not settings.service.public_url:
        return ("Email is on (JDL_MAIL__HOST) but the service's public address is not set: "
                "links in emails are built from JDL_SERVICE__PUBLIC_URL (never from a "
                "request's Host header).")
    if mail.security == "none" and mail.username:
        return ("JDL_MAIL__USERNAME is set with JDL_MAIL__SECURITY=none: the password would "
                "cross the network in clear. Use starttls or ssl.")
    return None


def check_mail_settings(settings: Settings) -> None:
    """Refuse to start with mail settings that cannot work (a clear error, not a failed
    email an hour later)."""
    problem = mail_problem(settings)
    if problem:
        raise UsageError(problem, hint="See docs/service.md, \"Email\".")


# --- queueing --------------------------------------------------------------------------------

def notify(db: Session, settings: Settings, event: MailEvent, submission: Submission) -> int:
    """Queue ``event``'s email about ``submission`` for everyone it is for (caller commits,
    with the state change); how many. Nothing when email is off."""
    if not settings.mail.enabled:
        return 0
    try:
        users = recipients(db, settings, event, submission)
    except SQLAlchemyError:
        raise  # the database is failing: so is the state change, which must know
    except Exception as exc:  # a bug here must not stop a job or a request: no email instead
        log.error("no email queued for submission %s (%s): %s", submission.id, event,
                  type(exc).__name__)
        return 0
    for user in users:
        db.add(MailOutbox(event=event.value, user_id=user.id, submission_id=submission.id,
                          state="pending", attempts=0, next_attempt_at=utcnow()))
    return len(users)


def recipients(db: Session, settings: Settings, event: MailEvent,
               submission: Submission) -> list[User]:
    """The active accounts ``event`` goes to: the submitting organisation's, or the lab's
    accounts of the acting roles (a reviewer is not asked to review work they submitted or
    ran)."""
    audience = AUDIENCE[event]
    if not isinstance(audience, frozenset):
        return list(db.scalars(select(User).where(
            User.organisation_id == submission.organisation_id, User.active.is_(True))
            .order_by(User.id)))
    involved = {submission.submitted_by, *(job.requested_by for job in submission.jobs)}
    users = db.scalars(select(User).join(Organisation).where(
        Organisation.name == settings.service.lab_organisation.strip(),
        User.active.is_(True), User.role.in_([r.value for r in audience]))
        .order_by(User.id)).all()
    if event is MailEvent.ready_for_review:
        users = [u for u in users if u.id not in involved]
    return list(users)


def _still_for(db: Session, settings: Settings, row: MailOutbox, user: User) -> bool:
    """Checked again when sending: the account is active and still where the event is for
    (never another organisation's address, whatever happened since it was queued)."""
    if not user.active:
        return False
    event = MailEvent(row.event)
    if event is MailEvent.password_reset:
        return True
    submission = db.get(Submission, row.submission_id)
    if submission is None:
        return False
    audience = AUDIENCE[event]
    if not isinstance(audience, frozenset):
        return user.organisation_id == submission.organisation_id
    return (user.organisation.name == settings.service.lab_organisation.strip()
            and user.role in audience and user.role in LAB_ROLES)


# --- writing ----------------------------------------------------------------------------------

def link(settings: Settings, path: str) -> str:
    """An absolute link from the configured public address (never a request's Host)."""
    return (settings.service.public_url or "").rstrip("/") + path


def compose(settings: Settings, event: MailEvent, to: str, *, submission_id: int | None = None,
            reset_url: str | None = None) -> EmailMessage:
    """The email: plain text, the reference, what happened, and one link."""
    mail = settings.mail
    message = EmailMessage()
    message["From"], message["To"] = mail.sender, to
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=mail.sender.rpartition("@")[2].strip("> ")
                                       or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    footer = ("\n\n--\nThis email was sent by the Justice Data Lab because you have an account "
              "with it. " + ("Reply to this email to contact the lab." if mail.reply_to else
                             "Replies to this address are not read."))
    if event is MailEvent.password_reset:
        message["Subject"] = "Reset your Justice Data Lab password"
        _set_text(message, (
            "Someone asked to reset the password of your Justice Data Lab account. To choose "
            f"a new password, open this link within {mail.reset_minutes} minutes:\n\n"
            f"{reset_url}\n\nThe link works once. Choosing a new password signs out every "
            "session of your account.\n\nIf you did not ask for this, you can ignore this "
            "email: your password has not changed." + footer))
        return message
    ref = str(submission_id)
    subject, happened, todo = WORDS[event]
    message["Subject"] = subject.format(ref=ref)
    _set_text(
        message, f"Hello,\n\n{happened.format(ref=ref)}\n\n{todo}\n\n"
        f"Submission reference: {ref}\n{link(settings, f'/submissions/{ref}')}" + footer)
    return message


def _set_text(message: EmailMessage, text: str) -> None:
    """Plain text, unencoded when it is ASCII (as it is but for an unusual public address):
    the link stays one line that any mail client or scanner reads as it is."""
    message.set_content(text, cte="7bit" if text.isascii() else "quoted-printable")


# --- sending ----------------------------------------------------------------------------------

def send(mail: MailSettings, message: EmailMessage) -> None:
    """Hand one email to the SMTP server (certificate and host name checked under TLS)."""
    assert mail.host is not None
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if mail.security == "ssl":
        smtp = smtplib.SMTP_SSL(mail.host, mail.port, timeout=mail.timeout_seconds,
                                context=context)
    else:
        smtp = smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout_seconds)
    with smtp:
        if mail.security == "starttls":
            smtp.starttls(context=context)
        if mail.username:
            secret = mail.password.get_secret_value() if mail.password is not None else ""
            smtp.login(mail.username, secret)
        smtp.send_message(message)


def _error_kind(exc: BaseException) -> str:
    """What went wrong, for the outbox row and the log: the exception's kind and an SMTP
    reply's code — never the reply's text, which may echo an address or a credential."""
    code = getattr(exc, "smtp_code", None)
    return f"{type(exc).__name__}" + (f" {code}" if code else "")


@dataclass(frozen=True)
class Delivery:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0


def deliver_due(sessions: sessionmaker[Session], settings: Settings,
                reset_key: bytes | None = None, now: datetime | None = None) -> Delivery:
    """Send the outbox's due emails (a pass of at most :data:`BATCH`). Several senders may
    run: each claims a row by moving its next attempt past the send's timeout first.
    ``reset_key`` derives reset links' tokens (``_password_reset.reset_key``)."""
    if not settings.mail.enabled or mail_problem(settings):
        return Delivery()
    now = now or utcnow()
    with sessions() as db:
        due = db.scalars(select(MailOutbox.id).where(
            MailOutbox.state == "pending", MailOutbox.next_attempt_at <= now)
            .order_by(MailOutbox.id).limit(BATCH)).all()
    counts: Counter[str] = Counter()
    lease = timedelta(seconds=3 * settings.mail.timeout_seconds + 30)
    for row_id in due:
        with sessions() as db:
            claimed = db.execute(update(MailOutbox).where(
                MailOutbox.id == row_id, MailOutbox.state == "pending",
                MailOutbox.next_attempt_at <= now).values(
                next_attempt_at=now + lease, attempts=MailOutbox.attempts + 1))
            db.commit()
            if getattr(claimed, "rowcount", 0) != 1:
                continue  # another sender has it
            counts[_deliver_one(db, settings, row_id, reset_key, now)] += 1
    return Delivery(**{k: counts[k] for k in ("sent", "retried", "failed", "dropped")})


def queue_reset_email(db: Session, reset: PasswordReset) -> None:
    """Queue a reset link's email (caller commits); its text and link are written when it is
    sent, so the outbox holds no token."""
    db.add(MailOutbox(event=MailEvent.password_reset.value, user_id=reset.user_id,
                      reset_id=reset.id, state="pending", attempts=0,
                      next_attempt_at=utcnow()))


def _reset_url(db: Session, settings: Settings, reset_id: int | None, key: bytes | None,
               now: datetime) -> str | None:
    token = link_token(db, reset_id, key, now)
    return None if token is None else link(settings, f"{RESET_PATH}?token={token}")


def _deliver_one(db: Session, settings: Settings, row_id: int, reset_key: bytes | None,
                 now: datetime) -> str:
    row = db.get(MailOutbox, row_id)
    assert row is not None
    user = db.get(User, row.user_id)
    reason = None
    reset_url = None
    if row.event not in {e.value for e in MailEvent}:
        reason = "unknown event"  # queued by another version of the service
    elif user is None or not _still_for(db, settings, row, user):
        reason = "recipient no longer for this email"
    elif row.event == MailEvent.password_reset:
        reset_url = _reset_url(db, settings, row.reset_id, reset_key, now)
        if reset_url is None:
            reason = "reset link no longer valid"
    if reason is not None:
        row.state, row.last_error = "dropped", reason
        db.commit()
        log.info("email %s not sent: %s", row_id, reason)
        return "dropped"
    assert user is not None
    try:
        message = compose(settings, MailEvent(row.event), user.email,
                          submission_id=row.submission_id, reset_url=reset_url)
    except ValueError as exc:  # an address or sender no header can hold (a line break)
        row.state, row.last_error = "dropped", f"not writable: {type(exc).__name__}"
        db.commit()
        log.warning("email %s not sent: the address or sender cannot be written", row_id)
        return "dropped"
    try:
        send(settings.mail, message)
    except (OSError, smtplib.SMTPException) as exc:  # refused, unreachable, timed out, TLS
        kind = _error_kind(exc)
        row.last_error = kind[:200]
        if row.attempts >= settings.mail.max_attempts:
            row.state = "failed"
            log.error("email %s (%s) not sent after %d attempts: %s; giving up", row_id,
                      row.event, row.attempts, kind)
            outcome = "failed"
        else:
            delay = min(settings.mail.retry_seconds * 2 ** (row.attempts - 1),
                        MAX_BACKOFF_SECONDS)
            row.next_attempt_at = now + timedelta(seconds=delay)
            log.warning("email %s (%s) not sent (attempt %d): %s; trying again in %.0f s",
                        row_id, row.event, row.attempts, kind, delay)
            outcome = "retried"
        db.commit()
        return outcome
    row.state, row.sent_at, row.last_error = "sent", utcnow(), None
    db.commit()
    return "sent"


def tidy(db: Session, now: datetime | None = None, keep_days: float = KEEP_DAYS) -> int:
    """Delete outbox rows no longer pending, and reset links ended or expired, older than
    ``keep_days`` (the audit log keeps what happened); how many rows."""
    from sqlalchemy import delete, or_

    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    done = db.execute(delete(MailOutbox).where(MailOutbox.state != "pending",
                                               MailOutbox.created_at < cutoff))
    old_links = select(PasswordReset.id).where(
        or_(PasswordReset.ended_at.is_not(None), PasswordReset.expires_at < cutoff),
        PasswordReset.created_at < cutoff,
        PasswordReset.id.not_in(select(MailOutbox.reset_id).where(
            MailOutbox.reset_id.is_not(None))))
    links = db.execute(delete(PasswordReset).where(PasswordReset.id.in_(old_links)))
    db.commit()
    return int(getattr(done, "rowcount", 0) or 0) + int(getattr(links, "rowcount", 0) or 0)


class Mailer:
    """The worker's sending thread: a pass of :func:`deliver_due` every ``mail.poll_seconds``,
    beside the job thread so a long evaluation never holds up a reset link."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings,
                 reset_key: bytes | None = None) -> None:
        self.sessions, self.settings, self.reset_key = sessions, settings, reset_key
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="jdl-mailer", daemon=True)

    def start(self) -> None:
        problem = mail_problem(self.settings)
        if problem:
            log.error("email not sent: %s", problem)
            return
        if self.settings.mail.enabled:
            self._thread.start()

    def run(self) -> None:
        tidied = float("-inf")
        while not self._stop.is_set():
            try:
                if time.monotonic() - tidied > TIDY_EVERY_SECONDS:
                    tidied = time.monotonic()
                    with self.sessions() as db:
                        tidy(db)
                if self.reset_key is None:  # the web app creates the file on its first start
                    self.reset_key = read_reset_key(self.settings.service.secret_key_file)
                done = deliver_due(self.sessions, self.settings, self.reset_key)
                if done.sent or done.retried or done.failed or done.dropped:
                    continue  # more may be due
            except Exception as exc:  # a busy database: the next pass will do
                log.error("email pass failed (%s); trying again", type(exc).__name__)
            self._stop.wait(self.settings.mail.poll_seconds)

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)


# --- for the admin --------------------------------------------------------------------------

def outbox_summary(db: Session, recent: int = 10) -> tuple[dict[str, int], list[MailOutbox]]:
    """Rows per state, and the newest not sent (pending, failed or dropped) with their error
    kind: what ``jdl admin mail-outbox`` shows."""
    counts = {state: int(n) for state, n in db.execute(
        select(MailOutbox.state, func.count()).group_by(MailOutbox.state)).all()}
    unsent = db.scalars(select(MailOutbox).where(MailOutbox.state != "sent")
                        .order_by(MailOutbox.id.desc()).limit(recent)).all()
    return counts, list(unsent)


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
