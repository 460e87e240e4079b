"""The public register in a real browser (issue 20): the summary's register of requests, the
forest plot of every published estimate with its table and the pooled summaries; a replaced,
a replacing and a withdrawn report's pages; the organisation's response form and the lab's
withdrawal form. Every page is checked with axe-core (WCAG 2.1 A and AA) at desktop and phone
widths, must not scroll sideways, and is photographed (``JDL_SCREENSHOTS_DIR``)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jdl.service._models import Job, Submission, SubmissionState, utcnow
from tests.browser.conftest import planted_upload  # noqa: F401  (fixture)
from tests.browser.live import api_upload, first_sign_in, live_server, live_settings, new_context
from tests.browser.test_review import check, submit
from tests.catalogue._build import publish_one, released
from tests.catalogue.test_summary import PLAN, publish_plan

pytestmark = pytest.mark.xdist_group("browser")
LAB = "Justice Data Lab"


@pytest.fixture
def lab(tmp_path):
    from jdl.service._catalogue import withdraw_publication

    with live_server(live_settings(tmp_path, None, in_process_worker=False)) as running:
        settings = running.settings
        with running.sessions() as db:
            ids = publish_plan(db, settings)
            # Org 4 publishes a re-analysis of its growing cohort, with its response
            results = released(n=800, diff=-0.06, half_width=0.035, p=0.001,
                               sector="public", intervention_type="accommodation",
                               organisation="Org 4", programme_name="Org 4 programme, 2025-26")
            new = publish_one(db, settings.service.storage_dir, results, settings=settings,
                              supersedes_id=ids[3], when=datetime(2026, 11, 20, tzinfo=UTC),
                              response="We thank the lab for a careful analysis.\n"
                                       "Our hostels now also offer <evening> support.")
            withdraw_publication(db, settings, ids[6], "An error was found in the delivery "
                                 "dates the organisation gave.", None)
        running.ids = {"old": ids[3], "new": new, "withdrawn": ids[6], "org1": ids[0]}
        yield running


def test_the_register_forest_plot_and_pooled_summary(browser, lab, screens):
    from playwright.sync_api import expect

    context = new_context(browser, lab, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto("/catalogue/summary")
    expect(page.get_by_role("heading", name="Every request the lab has had")).to_be_visible()
    assert page.locator("#table-register tbody tr").count() == 5
    forest = page.get_by_role("img", name=re.compile("Every published estimate"))
    assert forest.count() == 1 and forest.is_visible()
    box = forest.bounding_box()
    assert box["width"] > 300 and box["height"] > 200 and box["x"] + box["width"] <= 1280
    # withdrawn (Org 7) and replaced (Org 4's first) reports are not plotted: 7 - 2 + 1
    assert page.locator("#table-forest tbody tr").count() == len(PLAN) - 1
    assert page.locator(f'#table-forest tr[data-id="{lab.ids["withdrawn"]}"]').count() == 0
    assert page.locator(f'#table-forest tr[data-id="{lab.ids["new"]}"]').count() == 1
    assert forest.locator("path").count() > 6  # the intervals and markers were drawn
    expect(page.locator("#table-pooled tbody tr")).to_have_count(1)  # employment: 3 reports
    expect(page.locator('#table-pooled tr[data-type="employment"]')).to_be_visible()
    expect(page.locator("#pooled-caveats")).to_contain_text("Do not compare intervention types")
    page.locator("#forest").scroll_into_view_if_needed()
    check(page, screens, "summary")
    context.close()


def test_replaced_replacing_and_withdrawn_report_pages(browser, lab, screens):
    from playwright.sync_api import expect

    context = new_context(browser, lab)
    page = context.new_page()
    page.goto(f"/catalogue/reports/{lab.ids['old']}")
    expect(page.locator("#replaced")).to_contain_text("Replaced by report")
    check(page, screens, "replaced")
    page.locator("#replaced a").click()
    page.wait_for_url(f"**/catalogue/reports/{lab.ids['new']}")
    expect(page.locator("#replaces")).to_contain_text("This report replaces the one of")
    expect(page.locator("#response blockquote")).to_have_text(
        "We thank the lab for a careful analysis.\nOur hostels now also offer <evening> "
        "support.")
    check(page, screens, "replacing-with-response")
    page.goto(f"/catalogue/reports/{lab.ids['withdrawn']}")
    expect(page.get_by_role("heading", name=re.compile("^Withdrawn on"))).to_be_visible()
    expect(page.locator("#withdrawn blockquote")).to_contain_text("delivery dates")
    check(page, screens, "withdrawn")
    page.goto("/catalogue")
    expect(page.locator(f'tr[data-id="{lab.ids["withdrawn"]}"] .result-withdrawn')
           ).to_have_text("withdrawn")
    check(page, screens, "list")
    context.close()


def _approved_submission(lab, upload, submitter) -> int:
    """An upload moved to approved with a stand-in released report, as review leaves it."""
    sid = api_upload(lab, submitter.token, upload)
    from jdl.service._storage import job_dir

    with lab.sessions() as db:
        submission = db.get(Submission, sid)
        job = db.query(Job).filter(Job.submission_id == sid).one()
        job.state = "done"
        folder = job_dir(Path(lab.settings.service.storage_dir), sid, job.id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "results.json").write_text(json.dumps(released(n=300)))
        (folder / "report.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
        submission.state = SubmissionState.approved.value
        submission.embargo_until = utcnow().date() + timedelta(days=20)
        db.commit()
    return sid


def test_the_organisation_adds_its_response_and_the_lab_withdraws(browser, lab, planted_upload,  # noqa: F811
                                                                   screens):
    from playwright.sync_api import expect

    lab.create_org(LAB)
    lab.create_org("Org 1")
    submitter = lab.create_user("Org 1", "submitter", "sam@org1.example")
    reviewer = lab.create_user(LAB, "reviewer", "rita@lab.example")
    sid = _approved_submission(lab, planted_upload, submitter)

    phone = new_context(browser, lab, viewport={"width": 375, "height": 800})
    page = phone.new_page()
    first_sign_in(page, lab.base_url, submitter.email, submitter.password)
    page.goto(f"/submissions/{sid}")
    page.get_by_role("link", name="Your report in the public catalogue").click()
    expect(page.get_by_role("heading", name="Your report in the public catalogue")
           ).to_be_visible()
    page.get_by_label("Your response to the analysis (optional)").fill(
        "We welcome this. Only 4 people left early.")
    # Org 1's published report was not published from an upload (a hand-built one), so there
    # is nothing it could replace
    replaces = page.get_by_label("Does this report replace one of your published reports?")
    expect(replaces.locator("option")).to_have_count(1)
    submit(page, "Save")
    expect(page.get_by_role("alert")).to_contain_text("number of people (4)")
    check(page, screens, "response-refused")
    page.get_by_label("Your response to the analysis (optional)").fill(
        "We welcome this. A few people left early.")
    submit(page, "Save")
    page.wait_for_url(f"**/submissions/{sid}")
    expect(page.locator("#catalogue-entry")).to_contain_text(
        "your response will be published beside it")
    check(page, screens, "submission-with-response")
    phone.close()

    desk = new_context(browser, lab)
    page = desk.new_page()
    first_sign_in(page, lab.base_url, reviewer.email, reviewer.password)
    page.goto(f"/catalogue/reports/{lab.ids['org1']}/withdraw")
    submit(page, "Withdraw the report")
    expect(page.get_by_role("alert")).to_contain_text("Enter the reason")
    check(page, screens, "withdraw-form")
    page.get_by_label("Reason for withdrawing (published)").fill("A data error.")
    submit(page, "Withdraw the report")
    page.wait_for_url(f"**/catalogue/reports/{lab.ids['org1']}")
    expect(page.locator("#withdrawn")).to_contain_text("A data error.")
    desk.close()
