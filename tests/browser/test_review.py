"""The review in a real browser (issue 21): a lab reviewer reads the draft report inside the
review page, sends the request back with a reason, and the organisation reads the reason and
withdraws the request after a confirmation; a reviewer declines another with a reason. Every
page is checked with axe-core (WCAG 2.1 A and AA) on a desktop and a 375-px phone, must not
scroll sideways on the phone, and is photographed at both widths (``JDL_SCREENSHOTS_DIR``)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select

from jdl.service._models import Organisation, Submission, SubmissionState, User
from tests.browser.live import (
    LiveLab,
    Screens,
    api_upload,
    axe_violations,
    first_sign_in,
    new_context,
)

pytestmark = pytest.mark.xdist_group("browser")

WIDTHS = {"desktop": (1280, 900), "phone": (375, 800)}
LAB = "Justice Data Lab"
REASON = ("Please check the delivery dates: 12 people started after the programme ended.\n"
          "Upload the corrected file as a new submission.")

SIDEWAYS_JS = """() => document.scrollingElement.scrollWidth - window.innerWidth"""




def check(page: Any, screens: Screens, what: str) -> None:
    """axe-core finds nothing and nothing scrolls sideways, at both widths; a screenshot of
    each (the page is left at desktop width)."""
    problems = []
    for name, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        problems += [f"{name}: {v}" for v in axe_violations(page)]
        if page.evaluate(SIDEWAYS_JS) > 0:
            problems.append(f"{name}: the page scrolls sideways")
        screens.take(page, f"{what}-{name}")
    page.set_viewport_size({"width": 1280, "height": 900})
    assert problems == [], f"{what}: {problems}"


def submit(page: Any, button: str) -> None:
    """Press a form's button and wait for the answer page (the review page reads sealed
    results and draws long tables: on a loaded machine it can take several seconds)."""
    control = page.get_by_role("button", name=button)
    control.scroll_into_view_if_needed()
    with page.expect_navigation(timeout=60_000):
        control.click()


def _wait_for(lab: LiveLab, sid: int, states: tuple[str, ...], timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with lab.sessions() as db:
            state = db.get(Submission, sid).state
        if state in states:
            return state
        assert state != "failed", "the evaluation failed"
        time.sleep(0.5)
    raise AssertionError(f"submission {sid} did not reach {states}")


def test_reviewer_reads_the_draft_and_sends_it_back_and_the_organisation_withdraws(
        browser, live_data_lab, planted_upload, screens):
    from playwright.sync_api import expect

    lab, programme = live_data_lab, planted_upload["programme"]
    lab.create_org(programme["organisation"])
    lab.create_org(LAB)
    submitter = lab.create_user(programme["organisation"], "submitter", "sam@newleaf.example")
    reviewer = lab.create_user(LAB, "reviewer", "rita@lab.example")
    sid = api_upload(lab, submitter.token, planted_upload)
    assert _wait_for(lab, sid, ("awaiting_review", "held")) == "awaiting_review"

    # the reviewer: the draft report inside the page, the checks, the decision
    lab_context = new_context(browser, lab)
    review = lab_context.new_page()
    first_sign_in(review, lab.base_url, reviewer.email, reviewer.password)
    review.goto(f"/submissions/{sid}")
    expect(review.get_by_role("heading", name="Review: the draft report")).to_be_visible()
    expect(review.locator("#organisation-name")).to_have_text(programme["organisation"])
    draft = review.frame_locator("#draft-report")
    expect(draft.get_by_role("heading", level=1).first).to_be_visible(timeout=15_000)
    expect(draft.get_by_text(programme["programme_name"]).first).to_be_visible()
    expect(review.get_by_role("link", name="Download the draft report (PDF)")).to_be_visible()
    expect(review.get_by_role("heading", name="Things to check before signing")).to_be_visible()
    expect(review.get_by_role("heading", name="Disclosure review")).to_be_visible()
    expect(review.get_by_role("heading", name="Sensitivity")).to_be_visible()
    # "No warnings." only when nothing is flagged, here or in the review's tables (a flagged
    # sensitivity or balance row says why; the upload's rejected rows are flagged in the intake
    # table, which is not a warning about the analysis)
    flagged = review.locator("tr.flag:has(.flag-text)").count()
    if review.get_by_text("No warnings.", exact=True).count():
        assert flagged == 0
    review.locator("#draft-report").scroll_into_view_if_needed()
    check(review, screens, "reviewer-draft")

    # a send-back without a reason is answered beside the field
    submit(review, "Send back with this reason")
    expect(review.get_by_role("alert")).to_contain_text(
        "Enter the reason for sending the request back.")
    expect(review.get_by_label("Reason for sending back")).to_be_visible()
    check(review, screens, "reviewer-reason-missing")
    review.get_by_label("Reason for sending back").fill(REASON)
    submit(review, "Send back with this reason")
    expect(review.get_by_role("heading", name="Sent back to the organisation")).to_be_visible()
    expect(review.locator("#status-tag")).to_have_text("sent back")
    check(review, screens, "reviewer-sent-back")
    lab_context.close()

    # the organisation, on a phone: the reason as the lab wrote it, then withdrawal
    phone = new_context(browser, lab, viewport={"width": 375, "height": 800})
    page = phone.new_page()
    first_sign_in(page, lab.base_url, submitter.email, submitter.password)
    page.goto(f"/submissions/{sid}")
    expect(page.get_by_role("heading", name="The lab has sent this request back to you")
           ).to_be_visible()
    expect(page.locator("blockquote.reason")).to_have_text(REASON)
    expect(page.locator("#status-tag")).to_have_text("sent back to you")
    expect(page.locator("#draft-report")).to_have_count(0)  # never the draft
    check(page, screens, "organisation-sent-back")
    page.get_by_role("link", name="Withdraw this request").click()
    expect(page.get_by_role("heading", name=f"Withdraw submission {sid}?")).to_be_visible()
    check(page, screens, "organisation-withdraw-confirm")
    submit(page, "Yes, withdraw this request")
    expect(page.locator("#withdrawn")).to_contain_text("This request was withdrawn")
    expect(page.get_by_role("link", name="Withdraw this request")).to_have_count(0)
    check(page, screens, "organisation-withdrawn")
    phone.close()
    with lab.sessions() as db:
        row = db.get(Submission, sid)
        assert row.state == "withdrawn" and row.purged_at is not None


def test_reviewer_declines_with_a_reason_the_organisation_reads(browser, live_lab, screens):
    from playwright.sync_api import expect

    from jdl.service._jobs import set_state

    lab = live_lab
    lab.create_org("Open Door")
    lab.create_org(LAB)
    submitter = lab.create_user("Open Door", "submitter", "olu@opendoor.example")
    reviewer = lab.create_user(LAB, "reviewer", "rita@lab.example")
    with lab.sessions() as db:  # a request awaiting review (no evaluation needed to decline)
        org = db.scalar(select(Organisation.id).where(Organisation.name == "Open Door"))
        user = db.scalar(select(User.id).where(User.email == submitter.email))
        row = Submission(organisation_id=org, submitted_by=user, state="queued",
                         file_name="upload.csv", validation={"counts": {"rows": 90,
                                                                        "accepted": 90,
                                                                        "rejected": 0}},
                         programme={"programme_name": "Open Door Mentoring"})
        db.add(row)
        db.flush()
        set_state(db, row, SubmissionState.awaiting_review)
        db.commit()
        sid = row.id

    desk = new_context(browser, lab)
    review = desk.new_page()
    first_sign_in(review, lab.base_url, reviewer.email, reviewer.password)
    review.goto(f"/submissions/{sid}")
    review.get_by_label("Reason for declining").fill(
        "The programme started after the latest data the lab holds: no one has a year of "
        "follow-up yet. Ask again in 2027.")
    submit(review, "Decline with this reason")
    expect(review.get_by_role("heading", name="Declined", exact=True)).to_be_visible()
    check(review, screens, "reviewer-declined")
    desk.close()

    phone = new_context(browser, lab, viewport={"width": 375, "height": 800})
    page = phone.new_page()
    first_sign_in(page, lab.base_url, submitter.email, submitter.password)
    page.goto(f"/submissions/{sid}")
    expect(page.get_by_role("heading", name="The lab has declined this request")).to_be_visible()
    expect(page.locator("blockquote.reason")).to_contain_text("Ask again in 2027.")
    expect(page.get_by_role("link", name="Withdraw this request")).to_have_count(0)
    check(page, screens, "organisation-declined")
    phone.close()
