"""Isolation and session safety as a browser sees them: another organisation's submission is
"not found", the session cookie cannot be read by scripts or sent by other sites, and a form
without its CSRF token is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from jdl.service._models import AuditEntry, Submission
from tests.browser.live import api_upload, first_sign_in, new_context

pytestmark = pytest.mark.xdist_group("browser")


@pytest.fixture
def two_orgs(live_lab):
    lab = live_lab
    users = {}
    for org in ("Org A", "Org B"):
        lab.create_org(org)
        users[org] = lab.create_user(org, "submitter", f"someone@{org[-1].lower()}.example")
    return lab, users["Org A"], users["Org B"]


def test_another_organisations_submission_is_not_found(browser, two_orgs, planted_upload,
                                                       screens):
    from playwright.sync_api import expect

    lab, a, b = two_orgs
    sid = api_upload(lab, a.token, planted_upload)
    theirs = new_context(browser, lab).new_page()
    first_sign_in(theirs, lab.base_url, a.email, a.password)
    assert theirs.goto(f"/submissions/{sid}").status == 200  # its own organisation sees it

    page = new_context(browser, lab).new_page()
    first_sign_in(page, lab.base_url, b.email, b.password)
    expect(page.get_by_text("No submissions yet.")).to_be_visible()
    expect(page.get_by_role("link", name=str(sid), exact=True)).to_have_count(0)
    for path in (f"/submissions/{sid}", f"/submissions/{sid}/report.pdf"):
        response = page.goto(path)
        assert response.status == 404
        expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
        expect(page.get_by_text(planted_upload["programme"]["programme_name"])).to_have_count(0)
    screens.take(page, "not-found")
    # exactly what a submission that does not exist looks like: nothing confirms it exists
    other = page.locator("main").inner_text()
    assert page.goto("/submissions/99999").status == 404
    assert page.locator("main").inner_text() == other
    with lab.sessions() as db:
        denied = db.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.submission_id == sid, AuditEntry.outcome == "denied"))
    assert denied == 2


def test_session_cookie_is_httponly_and_samesite_strict(browser, two_orgs):
    lab, a, _ = two_orgs
    context = new_context(browser, lab)
    page = context.new_page()
    first_sign_in(page, lab.base_url, a.email, a.password)
    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["jdl_session"]
    assert session["httpOnly"] is True and session["sameSite"] == "Strict"
    assert "jdl_session" not in page.evaluate("document.cookie")  # scripts cannot read it


def test_a_form_without_its_csrf_token_is_refused(browser, two_orgs, planted_upload, screens):
    from playwright.sync_api import expect

    from jdl.service._web import _programme_fields

    lab, a, _ = two_orgs
    page = new_context(browser, lab).new_page()
    first_sign_in(page, lab.base_url, a.email, a.password)
    page.get_by_label("Participants file").set_input_files(str(planted_upload["upload"]))
    for field in _programme_fields():
        value = planted_upload["programme"].get(field["name"])
        if value is not None and not field.get("choices"):
            page.get_by_label(field["label"], exact=True).fill(str(value))
    # as a forged form from elsewhere would be: everything but the token
    page.locator("form[action='/upload'] input[name=csrf_token]").evaluate("e => e.remove()")
    with page.expect_response("**/upload") as answer:
        page.get_by_role("button", name="Upload and check").click()
    assert answer.value.status == 403
    # a page for a person, not JSON
    expect(page.get_by_role("heading", name="This form has expired")).to_be_visible()
    expect(page.get_by_role("link", name="Back to your submissions")).to_be_visible()
    screens.take(page, "csrf-refused")
    with lab.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Submission)) == 0
        reasons = list(db.scalars(select(AuditEntry.detail)
                                  .where(AuditEntry.outcome == "denied")))
    assert "missing or wrong CSRF token" in reasons
