"""End to end in a real browser, as a person with only a browser would go (issue 21's journey):
from the public start page, check whether the programme has enough people, download the
template; then, with the account the lab made, sign in with a one-time password, upload a file
the lab refuses, see each problem with its row and column and download every problem row,
upload the fixed file, follow the evaluation, get the lab's emails (a real SMTP server on
loopback), and download the report a lab reviewer read as a draft and approved, until it is
published in the catalogue. (Send back, decline and withdrawal: ``test_review.py``.)

Elements are found by their labels and roles (their accessible names), so the test also checks
that the pages can be used with a screen reader."""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import broken_copy, fill_upload_form
from tests.browser.live import Screens, first_sign_in, live_server, live_settings, new_context
from tests.service.smtp import loopback_smtp

pytestmark = pytest.mark.xdist_group("browser")

FINISHED = ("awaiting review", "held", "failed")


def cells_of_row(page: Any, text: str) -> list[str]:
    """The cells of the first row of the row-by-row problem list that mentions ``text``."""
    row = page.locator("#problem-rows").get_by_role("row").filter(has_text=text).first
    return [cell.strip() for cell in row.get_by_role("cell").all_inner_texts()]


def status(page: Any) -> str:
    text = page.locator("p", has_text="Status:").first.inner_text()
    return text.split("Status:", 1)[1].strip()


def wait_until_finished(page: Any, screens: Screens, timeout: float = 300) -> str:
    """Follow the submission as its organisation would: reload until the evaluation ends (the
    page also updates itself; reloading checks what a fresh visit shows)."""
    from playwright.sync_api import expect

    deadline, seen = time.monotonic() + timeout, set()
    while time.monotonic() < deadline:
        page.reload()
        state = status(page)
        if state == "running":  # the stage reached, in words and as a labelled progress bar
            expect(page.get_by_role("progressbar", name="Evaluation progress")).to_be_visible()
            expect(page.get_by_text("The lab is evaluating this submission")).to_be_visible()
        if state in ("queued", "running") and state not in seen:
            screens.take(page, state)
        seen.add(state)
        if state in FINISHED:
            return state
        time.sleep(1)
    raise AssertionError(f"the evaluation did not finish in {timeout} s (seen: {seen})")


@pytest.fixture
def mailing_data_lab(tmp_path, synthetic_data_dir):
    """A lab server on the 30,000-person register that emails through a loopback SMTP server."""
    with loopback_smtp() as inbox:
        settings = live_settings(tmp_path, synthetic_data_dir, public_url="http://127.0.0.1")
        settings.mail = inbox.settings()
        with live_server(settings) as lab:
            lab.settings.service.public_url = lab.base_url
            yield lab, inbox


def nth_email(inbox: Any, address: str, n: int, timeout: float = 30) -> Any:
    """The ``n``-th email to ``address`` (the worker's mail thread sends a few seconds later)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = inbox.to(address)
        if len(found) >= n:
            return found[n - 1]
        time.sleep(0.1)
    raise AssertionError(f"{len(inbox.to(address))} email(s) to {address}, expected {n}")


def before_any_personal_data(page: Any, screens: Screens, upload: Path) -> None:
    """The public start page, the feasibility check and the template: no account needed."""
    from playwright.sync_api import expect

    page.goto("/start")
    page.get_by_role("link", name="Start now").click()
    page.wait_for_url("**/feasibility")
    page.get_by_label("How many people does your programme work with in a year?").fill("400")
    page.get_by_label("On a community sentence or court order").check()
    page.get_by_role("button", name="Check my numbers").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "What the lab could find with your numbers")
    expect(page.get_by_role("heading", name=re.compile(r"About \d+ people would likely be "
                                                       r"analysed"))).to_be_visible()
    screens.take(page, "feasibility")
    page.goto("/guidance")
    with page.expect_download() as download:
        page.get_by_role("link", name="Submission template (CSV)").click()
    template_heading = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()[
        0].split(",")
    upload_heading = upload.read_text().splitlines()[0].split(",")
    assert set(upload_heading) <= set(template_heading)  # the planted file fits the template


def test_new_organisation_gets_an_approved_report_through_the_browser(
        browser, mailing_data_lab, planted_upload, screens, tmp_path):
    from playwright.sync_api import expect
    from pypdf import PdfReader

    (lab, inbox), programme = mailing_data_lab, planted_upload["programme"]
    lab.create_org(programme["organisation"])
    submitter = lab.create_user(programme["organisation"], "submitter", "sam@newleaf.example")
    lab.create_org("Justice Data Lab")
    reviewer = lab.create_user("Justice Data Lab", "reviewer", "rita@lab.example")

    organisation = new_context(browser, lab, accept_downloads=True)
    page = organisation.new_page()
    before_any_personal_data(page, screens, planted_upload["upload"])
    page.goto("/")
    expect(page).to_have_url(lab.url("/login"))  # nothing without signing in
    screens.take(page, "sign-in")
    first_sign_in(page, lab.base_url, submitter.email, submitter.password, screens)
    expect(page.get_by_role("heading", name="Submissions", exact=True)).to_be_visible()
    expect(page.get_by_text("No submissions yet.")).to_be_visible()
    screens.take(page, "home")

    # a file with mistakes: refused, with every problem's row and column
    fill_upload_form(page, broken_copy(planted_upload["upload"], tmp_path / "people.csv"),
                     programme)
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_role("heading", name="The lab cannot use this file")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("The problems are listed below")
    # how many: the generator's mistakes (issue 19's mix includes dates intake must refuse)
    expect(page.get_by_text(re.compile(r"Only \d+ of the 70 rows could be accepted"))
           ).to_be_visible()
    # grouped by column and kind first; the row-by-row list one click away
    summary = page.locator("#problem-summary")
    expect(summary.get_by_role("row").filter(has_text="not a date the lab can read")
           ).to_contain_text("15")
    page.get_by_text(re.compile(r"The first \d+ problems, row by row")).click()
    screens.take(page, "refused")
    impossible = cells_of_row(page, "is not a real date")
    assert impossible[:2] == ["6", "date_of_birth"]
    assert "31/02/1985" in impossible[2] and "dd/mm/yyyy" in impossible[3]
    assert cells_of_row(page, "sex should be M or F")[:2] == ["11", "sex"]
    outside = cells_of_row(page, "outside the programme's period of delivery")
    assert outside[2].startswith("Warning (the row is kept):")  # told apart from errors
    assert not impossible[2].startswith("Warning")
    unreadable = page.locator("#problem-rows").get_by_role("row").filter(
        has_text="not a date the lab can read")
    expect(unreadable).to_have_count(15)
    expect(page.get_by_label("Programme name")).to_have_value(programme["programme_name"])
    # every problem row, to fix in the organisation's own spreadsheet
    with page.expect_download() as download:
        page.get_by_role("link", name="Download every problem row (CSV spreadsheet)").click()
    problem_rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(
        encoding="utf-8-sig"))))
    assert len(problem_rows) >= 17
    assert any("31/02/1985" in " ".join(map(str, row.values())) for row in problem_rows)

    # the fixed file is accepted and evaluated
    page.get_by_label("Participants file").set_input_files(str(planted_upload["upload"]))
    page.get_by_role("button", name="Upload and check").click()
    page.wait_for_url("**/submissions/*")
    submission_url = page.url
    expect(page.get_by_role("heading", level=1)).to_contain_text(programme["programme_name"])
    assert status(page) in ("queued", "running", *FINISHED)
    screens.take(page, "accepted")
    reference = submission_url.rsplit("/", 1)[1]
    received = inbox.wait_to(submitter.email)
    assert reference in received["Subject"] and "received" in received["Subject"]
    assert wait_until_finished(page, screens) == "awaiting review"
    assert "ready for review" in inbox.wait_to(reviewer.email)["Subject"]
    screens.take(page, "awaiting-review")
    expect(page.get_by_role("link", name="Download the report (PDF)")).to_have_count(0)
    expect(page.get_by_role("button", name="Approve for release")).to_have_count(0)

    # a lab reviewer, in another browser, approves it
    lab_browser = new_context(browser, lab)
    review = lab_browser.new_page()
    first_sign_in(review, lab.base_url, reviewer.email, reviewer.password)
    review.get_by_role("link", name=submission_url.rsplit("/", 1)[1], exact=True).click()
    expect(review.get_by_role("heading", name="Diagnostics (lab only)")).to_be_visible()
    draft = review.frame_locator("#draft-report")  # the draft report, read before signing
    expect(draft.get_by_text(programme["programme_name"]).first).to_be_visible()
    screens.take(review, "review")
    today = datetime.now(UTC).date()
    review.get_by_label("Publish in the public catalogue on").fill(today.isoformat())
    review.get_by_role("button", name="Approve for release").click()
    expect(review.locator("p", has_text="Status:")).to_contain_text("approved")
    done = nth_email(inbox, submitter.email, 2)
    assert reference in done["Subject"] and "review is complete" in done["Subject"]
    screens.take(review, "approved")
    lab_browser.close()

    # the organisation downloads the report
    page.reload()
    assert status(page) == "approved"
    screens.take(page, "report-ready")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the report (PDF)").click()
    pdf = tmp_path / "report.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    text = " ".join(p.extract_text() for p in PdfReader(pdf).pages)
    assert programme["programme_name"] in text and programme["organisation"] in text

    # on its publication date the report enters the public catalogue
    expect(page.get_by_text("will be published in the lab's public catalogue on")).to_be_visible()
    from jdl.service._publication import publish_due

    # (the server's idle worker does this once a minute; do it now rather than wait)
    publish_due(lab.sessions, lab.settings, today=today)
    page.reload()
    assert status(page) == "published"
    assert "published" in nth_email(inbox, submitter.email, 3)["Subject"]
    page.get_by_role("link", name="its catalogue page").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(programme["programme_name"])
    screens.take(page, "published")
    public = browser.new_context(base_url=lab.base_url)  # no sign-in
    catalogue = public.new_page()
    catalogue.goto("/catalogue")
    expect(catalogue.get_by_role("link", name=programme["programme_name"])).to_be_visible()
    public.close()
    organisation.close()
