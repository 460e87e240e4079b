"""The public catalogue in a real browser (headless Debian Chromium, a real server): filtering
with and without JavaScript, the summary's charts drawn with their accessible names, a report's
page and its PDF. Screenshots go to the test's folder (and JDL_SCREENSHOTS_DIR when set)."""

from __future__ import annotations

import re

import pytest

from tests.browser.live import live_server, live_settings, new_context
from tests.catalogue.test_summary import PLAN, publish_plan

pytestmark = pytest.mark.xdist_group("browser")


@pytest.fixture
def lab(tmp_path):
    with live_server(live_settings(tmp_path, None, in_process_worker=False)) as running:
        with running.sessions() as db:
            publish_plan(db, running.settings)
        yield running


def rows(page) -> int:
    return page.locator("#reports tbody tr").count()


@pytest.mark.parametrize("javascript", [True, False])
def test_filtering_the_list(browser, lab, screens, javascript):
    context = new_context(browser, lab, java_script_enabled=javascript)
    page = context.new_page()
    page.goto("/catalogue")
    assert rows(page) == len(PLAN)
    assert page.get_by_role("note", name="How to read these results").is_visible()
    page.get_by_label("Sector").select_option(label="Public")
    page.get_by_role("button", name="Show reports").click()
    page.wait_for_url(re.compile(r"sector=public"))
    assert rows(page) == 2
    assert page.locator("#count").inner_text().startswith("2 of 7 published reports match")
    page.get_by_label("Result (re-offending rate)").select_option(label="Significant decrease")
    page.get_by_role("button", name="Show reports").click()
    page.wait_for_url(re.compile(r"result=decrease"))
    assert rows(page) == 1
    assert page.locator("#reports tbody tr td").nth(1).inner_text() == "Org 4"
    if javascript:
        screens.take(page, "filtered")
    page.get_by_label("Treatment group at least").fill("many")
    page.get_by_role("button", name="Show reports").click()
    assert page.get_by_role("alert").inner_text().count("whole number") == 1
    page.get_by_role("link", name="Clear filters").click()
    assert rows(page) == len(PLAN)
    context.close()


def test_summary_charts_render(browser, lab, screens):
    context = new_context(browser, lab, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto("/catalogue")
    page.get_by_role("link", name="Summary of findings to date").click()
    page.wait_for_url("**/catalogue/summary")
    for name, marks in (("by intervention type", "path"), ("by sector", "path"),
                        ("against treatment-group size", "use, path")):
        chart = page.get_by_role("img", name=re.compile(name))
        assert chart.count() == 1 and chart.is_visible()
        box = chart.bounding_box()
        assert box["width"] > 300 and box["height"] > 150
        assert chart.locator(marks).count() > 5  # bars and markers were drawn
        # it fits beside its table, inside the page
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1280
    assert page.locator("#table-intervention tbody tr").count() == 4
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # no sideways scroll
    screens.take(page, "summary")
    page.goto("/catalogue")
    page.get_by_role("link", name="Org 3 programme").click()
    assert page.get_by_role("heading", name="Org 3 programme").is_visible()
    screens.take(page, "report")
    href = page.get_by_role("link", name="Read the full report (PDF)").get_attribute("href")
    pdf = page.request.get(href)
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF-")
    context.close()
