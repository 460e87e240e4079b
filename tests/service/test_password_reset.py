"""Password reset by emailed link (issue 21): the same answer whether or not the account
exists, a link that works once and briefly, rate limits, every session ended, and a link
that a request's Host header cannot point elsewhere."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update

from jdl.service._models import AuditEntry, MailOutbox, PasswordReset, User, UserSession
from jdl.service._password_reset import HideResetTokens
from tests.service.smtp import loopback_smtp
from tests.service.test_mail import PUBLIC, deliver, mail_lab_at
from tests.service.test_web import csrf, sign_in, signed_in

NEW = "quiet harbour lanterns at dusk"
LINK = re.compile(re.escape(PUBLIC) + r"/reset-password\?token=([A-Za-z0-9_-]+)")


@pytest.fixture
def inbox():
    with loopback_smtp() as received:
        yield received


@pytest.fixture
def mail_lab(tmp_path, inbox):
    client, lab = mail_lab_at(tmp_path, inbox.settings())
    with client:
        yield lab


def ask(lab, email: str, client: TestClient | None = None, **headers):
    client = client or lab.client
    token = csrf(client.get("/forgot-password").text)
    return client.post("/forgot-password", data={"csrf_token": token, "email": email},
                       headers=headers)


def link_for(lab, inbox, address: str) -> str:
    deliver(lab)
    messages = inbox.to(address)
    assert messages, f"no email to {address}"
    found = LINK.search(messages[-1].get_content())
    assert found, messages[-1].get_content()
    return found.group(0)


def open_link(lab, url: str, client: TestClient | None = None):
    parts = urlsplit(url)
    return (client or lab.client).get(f"{parts.path}?{parts.query}")


def choose(lab, url: str, password: str = NEW, confirm: str | None = None,
           client: TestClient | None = None):
    client = client or lab.client
    page = open_link(lab, url, client)
    assert page.status_code == 200, page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    return client.post("/reset-password", follow_redirects=False, data={
        "csrf_token": csrf(page.text), "token": token, "password": password,
        "confirm": password if confirm is None else confirm})


def _page_text(html: str, email: str) -> str:
    body = html.replace(email, "EMAIL")
    return re.sub(r'name="csrf_token" value="[^"]+"', "", body)


def test_the_answer_is_the_same_whether_or_not_the_account_exists(mail_lab, inbox):
    lab = mail_lab
    with lab.sessions() as db:
        db.execute(update(User).where(User.id == lab.ids["submitter_b"]).values(active=False))
        db.commit()
    answers = {email: ask(lab, email) for email in (
        "submitter_a@example.org", "nobody@example.org", "submitter_b@example.org")}
    assert {a.status_code for a in answers.values()} == {200}
    pages = {_page_text(a.text, email) for email, a in answers.items()}
    assert len(pages) == 1 and "Check your email" in pages.pop()
    deliver(lab)
    assert [rcpts for rcpts, _ in inbox.wait_for(1)] == [["submitter_a@example.org"]]
    inbox.messages.clear()
    # an address typed in capitals is the same account
    ask(lab, "Submitter_A@Example.org")
    assert link_for(lab, inbox, "submitter_a@example.org")


def test_a_link_works_once_and_ends_every_session(mail_lab, inbox):
    lab = mail_lab
    signed_in(lab, "submitter_a")  # a browser signed in with the account
    assert lab.client.get("/", follow_redirects=False).status_code == 200
    other = TestClient(lab.client.app)
    ask(lab, "submitter_a@example.org", other)  # someone else's browser asks for the link
    url = link_for(lab, inbox, "submitter_a@example.org")
    assert open_link(lab, url, other).status_code == 200
    assert open_link(lab, url, other).status_code == 200  # opening uses nothing up
    done = choose(lab, url, client=other)
    assert (done.status_code, done.headers["location"]) == (303, "/login?reset=done")
    assert "Sign in with your new password" in other.get("/login?reset=done").text
    # the signed-in browser is signed out; the new password signs in
    assert lab.client.get("/", follow_redirects=False).headers["location"] == "/login"
    with lab.sessions() as db:
        open_sessions = db.scalars(select(UserSession).where(
            UserSession.user_id == lab.ids["submitter_a"], UserSession.ended_at.is_(None))).all()
        assert open_sessions == []
        user = db.get(User, lab.ids["submitter_a"])
        assert not user.must_change_password
    assert sign_in(lab, "submitter_a", NEW).headers["location"] == "/"
    # used: the link no longer works
    again = open_link(lab, url, other)
    assert again.status_code == 410 and "This link does not work" in again.text


def test_a_link_expires(mail_lab, inbox):
    lab = mail_lab
    ask(lab, "submitter_a@example.org")
    url = link_for(lab, inbox, "submitter_a@example.org")
    with lab.sessions() as db:
        reset = db.scalars(select(PasswordReset)).one()
        assert (reset.expires_at - reset.created_at) == timedelta(minutes=30)
        reset.expires_at = reset.created_at - timedelta(seconds=1)
        db.commit()
    assert open_link(lab, url).status_code == 410


def test_an_expired_link_is_not_emailed_late(mail_lab, inbox):
    lab = mail_lab
    ask(lab, "submitter_a@example.org")
    with lab.sessions() as db:
        reset = db.scalars(select(PasswordReset)).one()
        reset.expires_at = reset.created_at - timedelta(seconds=1)
        db.commit()
    assert deliver(lab).dropped == 1
    assert inbox.messages == []


def test_a_newer_link_or_any_password_change_ends_older_links(mail_lab, inbox):
    lab = mail_lab
    ask(lab, "submitter_a@example.org")
    first = link_for(lab, inbox, "submitter_a@example.org")
    ask(lab, "submitter_a@example.org")
    second = link_for(lab, inbox, "submitter_a@example.org")
    assert first != second
    assert open_link(lab, first).status_code == 410
    assert open_link(lab, second).status_code == 200
    # the user changes the password on /password: the emailed link stops working
    signed_in(lab, "submitter_a")
    assert open_link(lab, second).status_code == 410
    # an admin's reset too
    ask(lab, "submitter_a@example.org")
    third = link_for(lab, inbox, "submitter_a@example.org")
    from jdl.service._accounts import new_credentials

    with lab.sessions() as db:
        new_credentials(db, db.get(User, lab.ids["submitter_a"]), password=True)
    assert open_link(lab, third).status_code == 410
    # and deactivation
    ask(lab, "submitter_a2@example.org")
    fourth = link_for(lab, inbox, "submitter_a2@example.org")
    with lab.sessions() as db:
        db.execute(update(User).where(User.id == lab.ids["submitter_a2"]).values(active=False))
        db.commit()
    assert open_link(lab, fourth).status_code == 410


def test_the_new_password_follows_the_password_rules(mail_lab, inbox):
    lab = mail_lab
    ask(lab, "submitter_a@example.org")
    url = link_for(lab, inbox, "submitter_a@example.org")
    for password, confirm, field in (("short", None, "password"),
                                     ("Password1234!", None, "password"),
                                     ("submittera-example", None, "password"),
                                     (NEW, NEW + "x", "confirm")):
        answer = choose(lab, url, password, confirm)
        assert answer.status_code == 422
        assert f'<a href="#{field}">' in answer.text and f'id="{field}-error"' in answer.text
        assert answer.text.count("There is a problem") == 1
    assert choose(lab, url).status_code == 303  # the link still worked after the mistakes


def test_requests_are_rate_limited_per_email_and_per_address(mail_lab, inbox):
    lab = mail_lab
    for _ in range(5):
        assert ask(lab, "submitter_a@example.org").status_code == 200  # same page each time
    with lab.sessions() as db:  # reset_max_per_email links (each ends the one before)
        assert len(db.scalars(select(PasswordReset)).all()) == 3
    # per address: 10 requests (any emails) from one address, then refused
    answers = [ask(lab, f"someone{i}@example.org").status_code for i in range(6)]
    assert answers == [200] * 5 + [429]
    with lab.sessions() as db:
        denied = db.scalars(select(AuditEntry.detail).where(
            AuditEntry.action == "web.password_reset_request",
            AuditEntry.outcome == "denied")).all()
    assert "rate limited for this email" in denied and "rate limited" in denied


def test_a_host_header_cannot_change_the_link(mail_lab, inbox):
    lab = mail_lab
    answer = ask(lab, "submitter_a@example.org", host="evil.example",
                 **{"x-forwarded-host": "evil.example", "x-forwarded-proto": "http"})
    assert answer.status_code == 200
    deliver(lab)
    [message] = inbox.to("submitter_a@example.org")
    body = message.get_content()
    assert "evil" not in body and LINK.search(body)


def test_the_token_is_in_no_table_audit_entry_or_log(mail_lab, inbox, caplog):
    lab = mail_lab
    caplog.set_level(logging.DEBUG)
    ask(lab, "submitter_a@example.org")
    url = link_for(lab, inbox, "submitter_a@example.org")
    token = LINK.search(url).group(1)
    choose(lab, url)
    with lab.sessions() as db:
        for table in ("audit_log", "mail_outbox", "password_resets", "user_sessions"):
            rows = db.execute(text(f"SELECT * FROM {table}")).all()
            assert token not in repr(rows), table
        entries = db.scalars(select(AuditEntry.action).where(
            AuditEntry.action.like("web.password_reset%"))).all()
        assert entries == ["web.password_reset_request", "web.password_reset"]
        assert db.scalars(select(MailOutbox.state)).all() == ["sent"]
    # (the test client's httpx log quotes the link it opened, and the test SMTP server's
    # "mail.log" the email it received; the service's own log has no token)
    service_log = [r.getMessage() for r in caplog.records
                   if not r.name.startswith(("httpx", "mail."))]
    assert caplog.records and not [line for line in service_log if token in line]


def test_the_access_log_line_hides_the_token():
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0,
                               '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1", "GET", "/reset-password?token=abcDEF_123-x", "1.1",
                                200), None)
    assert HideResetTokens().filter(record)
    assert "abcDEF" not in record.getMessage() and "token=[hidden]" in record.getMessage()


def test_a_lab_without_email_says_to_ask_the_administrator(lab):
    page = lab.client.get("/forgot-password")
    assert page.status_code == 200 and "does not send email" in page.text
    assert "<form" not in page.text.split("<main", 1)[1]
    login = lab.client.get("/login").text
    assert 'href="/forgot-password"' in login
    answer = lab.client.post("/forgot-password", data={
        "csrf_token": csrf(login), "email": "submitter_a@example.org"})
    assert answer.status_code == 404


def test_a_mistyped_email_is_answered_on_the_form(mail_lab):
    answer = ask(mail_lab, "not an email")
    assert answer.status_code == 422
    assert '<a href="#email">Enter an email address in the correct format' in answer.text
    assert 'value="not an email"' in answer.text


@pytest.mark.parametrize("token", ["", "x" * 200, "<script>", "A" * 43])
def test_a_made_up_token_opens_nothing(mail_lab, token):
    answer = mail_lab.client.get("/reset-password", params={"token": token})
    assert answer.status_code == 410 and "<script>" not in answer.text.split("<main", 1)[1]


def test_the_worker_sends_reset_links_while_a_job_runs(tmp_path, inbox):
    """The outbox has its own thread beside the job thread (a long evaluation would hold a
    reset link past its expiry)."""
    import threading

    from jdl.service._jobs import Worker

    client, lab = mail_lab_at(tmp_path, inbox.settings())
    with client:
        ask(lab, "submitter_a@example.org")
        worker = Worker(lab.sessions, lab.settings)
        busy = threading.Event()
        worker._run_next = lambda: busy.wait(30)  # type: ignore[method-assign]
        worker.start()
        try:
            [(rcpts, message)] = inbox.wait_for(1, timeout=15)
        finally:
            busy.set()
            worker.stop(timeout=5)
    assert rcpts == ["submitter_a@example.org"] and LINK.search(message.get_content())
