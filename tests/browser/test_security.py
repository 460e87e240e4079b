"""In Chromium (issue 16): the Content-Security-Policy blocks nothing the pages need (the live
progress runs from its script file, no page reports a violation), another site cannot frame
the service, and a session copied into a second browser dies at sign-out."""

from __future__ import annotations

import pytest

from jdl.service._models import Job, Submission, SubmissionState
from tests.browser.live import first_sign_in, live_server, live_settings, new_context

pytestmark = pytest.mark.xdist_group("browser")


def _running_submission(lab, user_id: int, org_id: int) -> int:
    with lab.sessions() as db:
        sub = Submission(organisation_id=org_id, submitted_by=user_id,
                         state=SubmissionState.running.value, file_name="upload.csv",
                         programme={"programme_name": "Polling"}, validation={"counts": {}})
        db.add(sub)
        db.flush()
        db.add(Job(submission_id=sub.id, requested_by=user_id, state="running", stage="link"))
        db.commit()
        return sub.id


@pytest.fixture
def idle_lab(tmp_path):
    """A server without a worker: a submission stays 'running' for as long as the test wants."""
    with live_server(live_settings(tmp_path, None, in_process_worker=False)) as lab:
        yield lab


def test_pages_run_under_the_csp_without_violations(browser, idle_lab):
    lab = idle_lab
    org = lab.create_org("New Leaf Trust")
    lab.create_org("Justice Data Lab")
    user = lab.create_user("New Leaf Trust", "submitter", "sam@newleaf.example")
    admin = lab.create_user("Justice Data Lab", "admin", "ada@lab.example")
    sid = _running_submission(lab, user.user_id, org)
    violations: list[str] = []
    for who in (user, admin):
        page = new_context(browser, lab).new_page()
        page.on("console", lambda msg: violations.append(msg.text)
                if "Content Security Policy" in msg.text else None)
        first_sign_in(page, lab.base_url, who.email, who.password)
        for path in ("/", "/catalogue", "/catalogue/summary", "/admin", "/login"):
            page.goto(path)
        if who is user:
            # the progress box polls its fragment from /static/progress.js
            with page.expect_request(f"**/submissions/{sid}/progress", timeout=10_000):
                page.goto(f"/submissions/{sid}")
    assert violations == []


def test_another_site_cannot_frame_the_service(browser, live_lab):
    page = new_context(browser, live_lab).new_page()
    page.set_content(f'<iframe id="f" src="{live_lab.url("/login")}"></iframe>')
    page.wait_for_timeout(1500)
    framed = [f for f in page.frames if f != page.main_frame]
    # Chromium refuses to render it (frame-ancestors 'none'): no sign-in form inside
    assert all(f.url != live_lab.url("/login") or not f.query_selector("form") for f in framed)


def test_a_copied_session_dies_when_its_owner_signs_out(browser, live_lab):
    from playwright.sync_api import expect

    lab = live_lab
    lab.create_org("New Leaf Trust")
    user = lab.create_user("New Leaf Trust", "submitter", "sam@newleaf.example")
    owner = new_context(browser, lab)
    page = owner.new_page()
    first_sign_in(page, lab.base_url, user.email, user.password)
    thief = new_context(browser, lab)
    thief.add_cookies(owner.cookies())
    stolen = thief.new_page()
    stolen.goto("/")
    expect(stolen.get_by_role("heading", name="Upload a submission")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login")
    stolen.goto("/")
    assert stolen.url.endswith("/login")
