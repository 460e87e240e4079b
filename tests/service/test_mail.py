"""Email notifications (issue 21): queued in the outbox with the state change, sent by the
worker through a real SMTP server on loopback (aiosmtpd), only to the accounts an event is
for, with nothing in them but the reference, what happened and a link from the configured
public address."""

from __future__ import annotations

import logging
import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from jdl.core.config import MailSettings
from jdl.core.errors import UsageError
from jdl.service import create_app
from jdl.service._jobs import run_once
from jdl.service._mail import (
    AUDIENCE,
    WORDS,
    MailEvent,
    compose,
    deliver_due,
    notify,
    outbox_summary,
    recipients,
)
from jdl.service._models import MailOutbox, Submission, User, utcnow
from jdl.service._publication import publish_due
from tests.service.conftest import Lab, make_settings, start_lab
from tests.service.smtp import free_port, loopback_smtp, self_signed

PUBLIC = "https://lab.example.org"  # no digit in it: every digit in an email is accounted for


@pytest.fixture
def inbox():
    with loopback_smtp() as received:
        yield received


def mail_lab_at(tmp_path, mail: MailSettings, data_dir=None):
    passwords: dict[str, str] = {}
    settings = make_settings(tmp_path, data_dir, public_url=PUBLIC)
    settings.mail = mail
    client, tokens, ids = start_lab(settings, passwords)
    return client, Lab(client, tokens, ids, passwords)


@pytest.fixture
def mail_lab(tmp_path, inbox):
    client, lab = mail_lab_at(tmp_path, inbox.settings())
    with client:
        yield lab


def deliver(lab, now=None):
    return deliver_due(lab.sessions, lab.settings, lab.client.app.state.reset_key, now=now)


def outbox(lab) -> list[MailOutbox]:
    with lab.sessions() as db:
        return list(db.scalars(select(MailOutbox).order_by(MailOutbox.id)))


def digits(message) -> set[str]:
    return set(re.findall(r"\d+", message["Subject"] + message.get_content()))


def test_no_email_is_queued_or_sent_by_default(lab, synthetic_upload):
    assert not lab.settings.mail.enabled
    lab.upload("submitter_a", synthetic_upload["upload"], synthetic_upload["programme"])
    assert outbox(lab) == []
    assert deliver(lab).sent == 0


def test_an_upload_emails_its_organisation_only(mail_lab, inbox, synthetic_upload):
    lab = mail_lab
    started = time.monotonic()
    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    assert time.monotonic() - started < 30
    assert inbox.messages == []  # queued with the upload, not sent by the request
    assert [row.state for row in outbox(lab)] == ["pending", "pending"]
    assert deliver(lab).sent == 2
    received = inbox.wait_for(2)
    assert sorted(r for rcpts, _ in received for r in rcpts) == [
        "submitter_a2@example.org", "submitter_a@example.org"]
    for _, message in received:
        assert message["Subject"] == f"Submission {sid} received"
        assert message["From"] == "Justice Data Lab <no-reply@lab.example.org>"
        assert message["Auto-Submitted"] == "auto-generated"
        body = message.get_content()
        assert f"{PUBLIC}/submissions/{sid}" in body
        # the reference and nothing else: no programme, organisation or number
        assert digits(message) == {str(sid)}
        assert synthetic_upload["programme"]["programme_name"] not in body
        assert "Org A" not in body
    assert [row.state for row in outbox(lab)] == ["sent", "sent"]
    assert deliver(lab).sent == 0  # once only


def test_a_failed_run_emails_the_lab_analysts_only(mail_lab, inbox, synthetic_upload):
    lab = mail_lab
    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    deliver(lab)
    inbox.messages.clear()
    assert run_once(lab.sessions, lab.settings).value == "failed"  # no national records
    deliver(lab)
    [(rcpts, message)] = inbox.wait_for(1)
    assert rcpts == ["analyst@example.org"]
    assert message["Subject"] == f"Submission {sid} needs attention"
    assert digits(message) == {str(sid)}


def test_reviewers_who_ran_or_submitted_the_work_are_not_asked_to_review_it(mail_lab,
                                                                           synthetic_upload):
    lab = mail_lab
    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    with lab.sessions() as db:
        submission = db.get(Submission, sid)
        names = {u.email for u in recipients(db, lab.settings, MailEvent.ready_for_review,
                                             submission)}
        assert names == {"reviewer@example.org", "reviewer2@example.org"}
        submission.jobs[-1].requested_by = lab.ids["reviewer2"]
        names = {u.email for u in recipients(db, lab.settings, MailEvent.ready_for_review,
                                             submission)}
        assert names == {"reviewer@example.org"}
        organisation = {u.email for u in recipients(db, lab.settings, MailEvent.sent_back,
                                                    submission)}
        assert organisation == {"submitter_a@example.org", "submitter_a2@example.org"}
        lab_events = {u.email for u in recipients(db, lab.settings, MailEvent.withdrawn,
                                                  submission)}
        assert lab_events == {"analyst@example.org", "reviewer@example.org",
                              "reviewer2@example.org"}


def test_an_account_moved_to_another_organisation_since_is_not_emailed(mail_lab, inbox,
                                                                      synthetic_upload):
    lab = mail_lab
    lab.upload("submitter_a", synthetic_upload["upload"], synthetic_upload["programme"])
    with lab.sessions() as db:  # queued for Org A's two accounts; one then moves to Org B
        moved = db.get(User, lab.ids["submitter_a2"])
        moved.organisation_id = db.get(User, lab.ids["submitter_b"]).organisation_id
        db.commit()
    done = deliver(lab)
    assert (done.sent, done.dropped) == (1, 1)
    assert [r for r, _ in inbox.wait_for(1)] == [["submitter_a@example.org"]]
    assert inbox.to("submitter_a2@example.org") == []
    states = sorted((row.state, row.last_error) for row in outbox(lab))
    assert states == [("dropped", "recipient no longer for this email"), ("sent", None)]


def test_the_whole_journey_emails_each_step_and_never_a_number_from_the_results(
        tmp_path, inbox, synthetic_data_dir, synthetic_upload):
    import json

    client, lab = mail_lab_at(tmp_path, inbox.settings(), synthetic_data_dir)
    with client:
        sid = lab.upload("submitter_a", synthetic_upload["upload"],
                         synthetic_upload["programme"]).json()["id"]
        assert run_once(lab.sessions, lab.settings).value == "done"
        today = utcnow().date()
        approved = lab.client.post(f"/api/submissions/{sid}/approve",
                                   headers=lab.auth("reviewer"),
                                   json={"embargo_until": today.isoformat()})
        assert approved.status_code == 200
        assert publish_due(lab.sessions, lab.settings, today=today) == [sid]
        deliver(lab)
        received = inbox.wait_for(8)
        results = lab.client.get(f"/api/submissions/{sid}/results.json",
                                 headers=lab.auth("submitter_a")).json()
    by_subject: dict[str, set[str]] = {}
    for rcpts, message in received:
        by_subject.setdefault(message["Subject"], set()).update(rcpts)
        assert digits(message) == {str(sid)}, message.get_content()
    organisation = {"submitter_a@example.org", "submitter_a2@example.org"}
    assert by_subject == {
        f"Submission {sid} received": organisation,
        f"Submission {sid} is ready for review": {"reviewer@example.org",
                                                  "reviewer2@example.org"},
        f"Submission {sid}: the lab's review is complete": organisation,
        f"Submission {sid}: the report is published": organisation}
    # the released results have numbers an email could have carried: none did
    numbers = {str(v) for v in _numbers(results) if abs(v) >= 10 and v != sid}
    assert numbers
    bodies = " ".join(m.get_content() for _, m in received)
    assert not [n for n in numbers if n in bodies]
    assert json.dumps(results)  # (results were readable: the check above had something)


def _numbers(value):
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _numbers(item)


@pytest.mark.parametrize("event", [e for e in MailEvent if e is not MailEvent.password_reset])
def test_every_event_says_only_the_reference_and_a_link(lab, event):
    lab.settings.service.public_url = PUBLIC
    message = compose(lab.settings, event, "someone@example.org", submission_id=4321)
    assert event in WORDS and event in AUDIENCE
    assert digits(message) == {"4321"}
    assert f"{PUBLIC}/submissions/4321" in message.get_content()


def test_a_refusing_server_is_retried_with_backoff_then_given_up(tmp_path, inbox, caplog,
                                                                 synthetic_upload):
    inbox.refuse_with = "451 4.3.0 mailbox submitter_a@example.org busy"
    client, lab = mail_lab_at(tmp_path, inbox.settings(max_attempts=3, retry_seconds=60))
    with client:
        lab.upload("submitter_a", synthetic_upload["upload"], synthetic_upload["programme"])
        caplog.set_level(logging.INFO, logger="jdl.service._mail")
        now = utcnow()
        assert deliver(lab, now).retried == 2
        first = outbox(lab)[0]
        assert (first.state, first.attempts, first.last_error) == ("pending", 1,
                                                                   "SMTPDataError 451")
        assert deliver(lab, now + timedelta(seconds=59)).retried == 0  # not yet due
        assert deliver(lab, now + timedelta(seconds=61)).retried == 2  # then 120 s
        assert deliver(lab, now + timedelta(seconds=61 + 119)).retried == 0
        assert deliver(lab, now + timedelta(seconds=61 + 121)).failed == 2
        assert {row.state for row in outbox(lab)} == {"failed"}
        assert deliver(lab, now + timedelta(days=1)) == deliver(lab, now)  # nothing more
        with lab.sessions() as db:
            counts, unsent = outbox_summary(db)
        assert counts == {"failed": 2} and len(unsent) == 2
    assert inbox.messages == []
    logged = caplog.text
    assert "giving up" in logged and "SMTPDataError 451" in logged
    assert "@example.org" not in logged and "busy" not in logged  # no address, no reply text


def test_an_unreachable_server_slows_no_request_and_is_retried(tmp_path, synthetic_upload):
    dead = MailSettings(host="127.0.0.1", port=free_port(), security="none",
                        timeout_seconds=2)
    client, lab = mail_lab_at(tmp_path, dead)
    with client:
        started = time.monotonic()
        response = lab.upload("submitter_a", synthetic_upload["upload"],
                              synthetic_upload["programme"])
        assert response.status_code == 201
        assert time.monotonic() - started < 30
        assert deliver(lab).retried == 2
        assert {row.last_error for row in outbox(lab)} == {"ConnectionRefusedError"}


def test_starttls_with_a_login_and_a_checked_certificate(tmp_path, monkeypatch,
                                                         synthetic_upload):
    import ssl

    cert, key = self_signed(tmp_path)
    with loopback_smtp(tls_cert=(cert, key), users={"lab": "s3cret-smtp"}) as inbox:
        mail = inbox.settings(security="starttls", username="lab", password="s3cret-smtp",
                              host="localhost")
        client, lab = mail_lab_at(tmp_path, mail)
        with client:
            lab.upload("submitter_a", synthetic_upload["upload"],
                       synthetic_upload["programme"])
            # the system's trust store does not know the test certificate: refused
            assert deliver(lab).retried == 2
            assert {row.last_error for row in outbox(lab)} == {"SSLCertVerificationError"}
            trusted = ssl.create_default_context(cafile=str(cert))
            monkeypatch.setattr("jdl.service._mail.ssl.create_default_context",
                                lambda *a, **k: trusted)
            assert deliver(lab, utcnow() + timedelta(hours=1)).sent == 2
            inbox.wait_for(2)
            assert inbox.logins == ["lab", "lab"]
    assert "s3cret" not in repr(mail) and "s3cret" not in str(mail.model_dump())


def test_email_on_needs_a_public_address_and_no_password_in_clear(tmp_path):
    settings = make_settings(tmp_path)
    settings.mail = MailSettings(host="127.0.0.1")
    with pytest.raises(UsageError, match="JDL_SERVICE__PUBLIC_URL"):
        create_app(settings)
    settings.service.public_url = PUBLIC
    settings.mail = MailSettings(host="mail.example.org", security="none", username="lab")
    with pytest.raises(UsageError, match="in clear"):
        create_app(settings)


def test_notify_writes_nothing_when_email_is_off(lab, synthetic_upload):
    sid = lab.upload("submitter_a", synthetic_upload["upload"],
                     synthetic_upload["programme"]).json()["id"]
    with lab.sessions() as db:
        assert notify(db, lab.settings, MailEvent.published, db.get(Submission, sid)) == 0


def test_the_admin_sees_the_outbox_from_the_command_line(tmp_path, monkeypatch, capsys,
                                                        synthetic_upload):
    from jdl.cli import main
    from jdl.core.config import get_settings

    dead = MailSettings(host="127.0.0.1", port=free_port(), security="none",
                        timeout_seconds=2)
    client, lab = mail_lab_at(tmp_path, dead)
    with client:
        sid = lab.upload("submitter_a", synthetic_upload["upload"],
                         synthetic_upload["programme"]).json()["id"]
        deliver(lab)
    monkeypatch.setenv("JDL_SERVICE__DATABASE_URL", lab.settings.service.database_url)
    monkeypatch.setenv("JDL_MAIL__HOST", "127.0.0.1")
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exit_:
            main(["admin", "mail-outbox"])
        assert exit_.value.code == 0
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr().out
    assert "Email is on." in out and "Outbox: 2 pending, 0 sent, 0 failed, 0 dropped." in out
    assert f"received (submission {sid})" in out and "ConnectionRefusedError" in out
    assert "@" not in out  # accounts by number: no address on the screen


def test_an_address_no_header_can_hold_is_dropped_not_retried_forever(mail_lab, inbox,
                                                                     synthetic_upload):
    lab = mail_lab
    with lab.sessions() as db:
        db.get(User, lab.ids["submitter_a2"]).email = "a2@example.org\nBcc: x@evil.example"
        db.commit()
    lab.upload("submitter_a", synthetic_upload["upload"], synthetic_upload["programme"])
    done = deliver(lab)
    assert (done.sent, done.dropped) == (1, 1)
    assert [r for r, _ in inbox.wait_for(1)] == [["submitter_a@example.org"]]


def test_old_rows_are_tidied_away_but_not_pending_ones(mail_lab, synthetic_upload):
    from jdl.service._mail import tidy

    lab = mail_lab
    lab.upload("submitter_a", synthetic_upload["upload"], synthetic_upload["programme"])
    deliver(lab)
    lab.upload("submitter_a", synthetic_upload["upload"], synthetic_upload["programme"])
    with lab.sessions() as db:
        assert tidy(db) == 0
        assert tidy(db, now=utcnow() + timedelta(days=31)) == 2  # the sent pair
    assert [row.state for row in outbox(lab)] == ["pending", "pending"]


def test_a_bug_in_choosing_recipients_never_stops_the_state_change(mail_lab, monkeypatch,
                                                                  synthetic_upload, caplog):
    def broken(*_args, **_kwargs):
        raise KeyError("no audience")

    monkeypatch.setattr("jdl.service._mail.recipients", broken)
    response = mail_lab.upload("submitter_a", synthetic_upload["upload"],
                               synthetic_upload["programme"])
    assert response.status_code == 201 and response.json()["state"] == "queued"
    assert outbox(mail_lab) == [] and "no email queued" in caplog.text
