"""Issue 21 in a real browser, on a desktop and a 375-px phone: styled error pages (never
JSON), forms answered in place with the error summary linked to the field, upload feedback
grouped by column and kind with the problem rows downloadable, rejected rows of an accepted
file listed, and the template and guidance from the portal. Each page is checked with the
suite's accessibility checks and for sideways scrolling at 375 px."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.browser.conftest import fill_programme
from tests.browser.live import (
    accessibility_problems,
    api_upload,
    first_sign_in,
    live_server,
    live_settings,
    new_context,
)

pytestmark = pytest.mark.xdist_group("browser")

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 812}}


@pytest.fixture(params=list(WIDTHS))
def width(request) -> str:
    return request.param


def checked(page: Any) -> list[str]:
    """The suite's accessibility problems, plus sideways scrolling of the page itself (a
    wide table scrolls in its own box)."""
    problems = list(accessibility_problems(page))
    if page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1"):
        problems.append(f"the page scrolls sideways at {page.viewport_size['width']} px")
    return problems


def every_dob_wrong(upload: Path, target: Path) -> Path:
    frame = pd.read_csv(upload, dtype=str, keep_default_na=False)
    frame["date_of_birth"] = "1985-13-45"
    frame.to_csv(target, index=False)
    return target


def downloaded_rows(page: Any, link_name: str, tmp_path: Path) -> list[dict[str, str]]:
    with page.expect_download() as download:
        page.get_by_role("link", name=link_name).click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def test_unknown_and_malformed_addresses_are_styled_pages(browser, live_lab, screens, width):
    from playwright.sync_api import expect

    page = new_context(browser, live_lab, viewport=WIDTHS[width]).new_page()
    response = page.goto("/no/such/page")
    assert response.status == 404 and "text/html" in response.headers["content-type"]
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    assert "Not Found" not in page.content() and '{"detail"' not in page.content()
    assert checked(page) == []
    screens.take(page, f"404-{width}")
    response = page.goto("/catalogue/reports/not-a-number")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    api = page.goto("/api/no/such/thing")  # the API keeps JSON, even in a browser
    assert api.status == 404 and api.headers["content-type"].startswith("application/json")


def test_upload_feedback_a_charity_can_act_on(browser, live_lab, planted_upload, screens,
                                              width, tmp_path):
    from playwright.sync_api import expect

    lab, programme = live_lab, planted_upload["programme"]
    lab.create_org(programme["organisation"])
    submitter = lab.create_user(programme["organisation"], "submitter", "sam@newleaf.example")
    page = new_context(browser, lab, viewport=WIDTHS[width], accept_downloads=True).new_page()
    first_sign_in(page, lab.base_url, submitter.email, submitter.password)

    # pressed with no file: the same form, the error linked to the file field, input kept
    page.get_by_label("Programme name", exact=True).fill(programme["programme_name"])
    page.get_by_role("button", name="Upload and check").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Choose a file to upload.")
    expect(page.get_by_label("Programme name", exact=True)).to_have_value(
        programme["programme_name"])
    summary.get_by_role("link", name="Choose a file to upload.").click()
    assert page.evaluate("document.activeElement.id") == "file"
    assert checked(page) == []
    screens.take(page, f"no-file-{width}")

    # one repeated mistake: the column and the reason, one group, every row downloadable
    fill_programme(page, programme)
    bad = every_dob_wrong(planted_upload["upload"], tmp_path / "people.csv")
    rows = len(pd.read_csv(bad, dtype=str))
    page.get_by_label("Participants file").set_input_files(str(bad))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_text(f"None of the {rows} rows could be accepted: in every one of "
                            "them, date_of_birth is not a real date")).to_be_visible()
    assert "jdl template" not in page.content()
    group = page.locator("#problem-summary").get_by_role("row").filter(
        has_text="date_of_birth is not a real date")
    expect(group).to_have_count(1)
    expect(group).to_contain_text(str(rows))
    assert checked(page) == []
    screens.take(page, f"refused-{width}")
    lines = downloaded_rows(page, "Download every problem row (CSV spreadsheet)", tmp_path)
    dob = [r for r in lines if r["Column"] == "date_of_birth"]
    assert len(dob) == rows and all(r["Effect"] == "row rejected" for r in dob)

    # the fixed file is accepted; its rejected rows are listed the same way
    page.get_by_label("Participants file").set_input_files(str(planted_upload["upload"]))
    page.get_by_role("button", name="Upload and check").click()
    page.wait_for_url("**/submissions/*")
    counts = re.search(r"(\d+) rows: (\d+) accepted, (\d+) rejected",
                       page.locator("#file-checks + p").inner_text())
    rejected = int(counts.group(3))
    assert rejected > 0
    expect(page.locator("#problem-summary")).to_be_visible()
    assert checked(page) == []
    screens.take(page, f"accepted-{width}")
    lines = downloaded_rows(page, "Download every problem row (CSV spreadsheet)", tmp_path)
    assert len({r["Row"] for r in lines if r["Effect"] == "row rejected"}) == rejected


def test_template_and_guidance_from_the_portal(browser, live_lab, screens, width, tmp_path):
    from openpyxl import load_workbook
    from playwright.sync_api import expect

    lab = live_lab
    lab.create_org("New Leaf Trust")
    submitter = lab.create_user("New Leaf Trust", "submitter", "sam@newleaf.example")
    page = new_context(browser, lab, viewport=WIDTHS[width], accept_downloads=True).new_page()
    first_sign_in(page, lab.base_url, submitter.email, submitter.password)
    page.get_by_role("link", name="what to send the lab").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What to send the lab")
    assert checked(page) == []
    screens.take(page, f"guidance-{width}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Submission template (Excel, .xlsx)").click()
    path = tmp_path / "template.xlsx"
    download.value.save_as(path)
    assert load_workbook(path).sheetnames == ["Submission", "Guidance"]


def test_lab_forms_answer_mistakes_in_place(browser, live_lab, planted_upload, screens, width):
    from playwright.sync_api import expect

    from jdl.service._jobs import set_state
    from jdl.service._models import Submission, SubmissionState

    lab = live_lab
    lab.create_org("New Leaf Trust")
    submitter = lab.create_user("New Leaf Trust", "submitter", "sam@newleaf.example")
    lab.create_org("Justice Data Lab")
    analyst = lab.create_user("Justice Data Lab", "analyst", "ana@lab.example")
    reviewer = lab.create_user("Justice Data Lab", "reviewer", "rita@lab.example")
    sid = api_upload(lab, submitter.token, planted_upload)
    lab.app.state.worker.stop(timeout=5)  # nothing runs: the submission waits for review
    with lab.sessions() as db:
        set_state(db, db.get(Submission, sid), SubmissionState.awaiting_review)
        db.commit()

    page = new_context(browser, lab, viewport=WIDTHS[width]).new_page()
    first_sign_in(page, lab.base_url, analyst.email, analyst.password)
    page.goto(f"/submissions/{sid}")
    page.get_by_text("Run the evaluation again, with adjusted settings").click()
    page.get_by_label(re.compile("^Caliper")).fill("0,2 sd")
    page.get_by_role("button", name="Run the evaluation again").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Enter the caliper as a number")
    assert "pydantic" not in page.content() and "float_parsing" not in page.content()
    expect(page.get_by_label(re.compile("^Caliper"))).to_have_value("0,2 sd")
    alert.get_by_role("link").first.click()
    assert page.evaluate("document.activeElement.id") == "matching.caliper"
    assert checked(page) == []
    screens.take(page, f"rerun-error-{width}")

    review = new_context(browser, lab, viewport=WIDTHS[width]).new_page()
    first_sign_in(review, lab.base_url, reviewer.email, reviewer.password)
    review.goto(f"/submissions/{sid}")
    review.get_by_label("Publish in the public catalogue on").fill("2001-01-01")
    review.get_by_role("button", name="Approve for release").click()
    expect(review.get_by_role("alert")).to_contain_text(
        "The publication date cannot be in the past.")
    expect(review.get_by_label("Publish in the public catalogue on")).to_have_value(
        "2001-01-01")
    expect(review.get_by_role("button", name="Approve for release")).to_be_visible()
    assert checked(review) == []
    screens.take(review, f"past-date-{width}")


def test_a_file_over_the_limit_gets_a_page_that_says_the_limit(browser, tmp_path,
                                                               planted_upload, screens):
    from playwright.sync_api import expect

    settings = live_settings(tmp_path, None)
    settings.intake.max_file_bytes = 1024 * 1024  # 1 MB, to upload past it quickly
    big = tmp_path / "big.csv"
    big.write_text(planted_upload["upload"].read_text() * 200)
    assert big.stat().st_size > 2 * 1024 * 1024
    with live_server(settings) as lab:
        lab.create_org("New Leaf Trust")
        submitter = lab.create_user("New Leaf Trust", "submitter", "sam@newleaf.example")
        page = new_context(browser, lab).new_page()
        first_sign_in(page, lab.base_url, submitter.email, submitter.password)
        fill_programme(page, planted_upload["programme"])
        page.get_by_label("Participants file").set_input_files(str(big))
        page.get_by_role("button", name="Upload and check").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("File too large")
        expect(page.get_by_text("The file is larger than the limit of 1 MB.")).to_be_visible()
        assert checked(page) == []
        screens.take(page, "too-large")
