"""The demonstration catalogue in a real browser, as `make demo-catalogue` seeds it (issue 20):
`jdl catalogue seed`'s code on the tests' synthetic records (one planted programme published
directly, and the register's demonstration taken through the service: an earlier cohort
replaced by the updated analysis with the organisation's response and registered plan, a
withdrawn request, one that could not be answered). The register's counts, the forest plot and
its data table, the replaced and replacing reports both ways, the reply and the plan; every
page axe-checked at desktop and phone widths and photographed (``JDL_SCREENSHOTS_DIR``)."""

from __future__ import annotations

import re

import pytest

from tests.browser.live import live_server, live_settings, new_context
from tests.browser.test_review import check

pytestmark = pytest.mark.xdist_group("browser")


@pytest.fixture(scope="module")
def seeded(synthetic_data_dir, tmp_path_factory):
    from jdl.service._catalogue_seed import seed_catalogue
    from jdl.service._register_seed import REGISTER_PROGRAMME, seed_register

    tmp = tmp_path_factory.mktemp("seeded")
    settings = live_settings(tmp, synthetic_data_dir, in_process_worker=False)
    with live_server(settings) as running:
        with running.sessions() as db:
            direct = seed_catalogue(db, synthetic_data_dir, 1, settings.service.storage_dir,
                                    running.settings, seed=3, leave_out=(REGISTER_PROGRAMME,))
        story = seed_register(running.settings, synthetic_data_dir, seed=3)
        assert story.publication and story.early_publication
        running.ids = {"direct": direct[0].publication_id, "old": story.early_publication,
                       "new": story.publication}
        yield running


def test_the_register_and_the_forest_plot(browser, seeded, screens):
    from playwright.sync_api import expect

    context = new_context(browser, seeded, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto("/catalogue/summary")
    expect(page.get_by_role("heading", name="Every request the lab has had")).to_be_visible()
    counts = {row.get_attribute("data-outcome"): row.locator("td").inner_text()
              for row in page.locator("#table-register tbody tr").all()}
    assert counts == {"published": "3", "not_answerable": "1", "withdrawn": "1", "held": "0",
                      "requests": "5"}
    forest = page.get_by_role("img", name=re.compile("Every published estimate"))
    expect(forest).to_be_visible()
    assert forest.locator("path").count() > 2  # the intervals and markers were drawn
    # its data table: the standing reports, not the replaced one
    shown = {int(r.get_attribute("data-id"))
             for r in page.locator("#table-forest tbody tr").all()}
    assert shown == {seeded.ids["direct"], seeded.ids["new"]}
    page.locator("#forest").scroll_into_view_if_needed()
    check(page, screens, "summary")
    page.goto("/catalogue")
    assert page.locator(f'[data-id="{seeded.ids["old"]}"]').count() == 0
    expect(page.locator(f'[data-id="{seeded.ids["new"]}"]').first).to_be_visible()
    check(page, screens, "list")
    context.close()


def test_the_replaced_and_replacing_reports_the_reply_and_the_plan(browser, seeded, screens):
    from playwright.sync_api import expect

    context = new_context(browser, seeded)
    page = context.new_page()
    page.goto(f"/catalogue/reports/{seeded.ids['old']}")
    expect(page.locator("#replaced")).to_contain_text(f"Replaced by report {seeded.ids['new']}")
    check(page, screens, "replaced")
    page.locator("#replaced a").click()
    page.wait_for_url(f"**/catalogue/reports/{seeded.ids['new']}")
    expect(page.locator("#replaces")).to_contain_text("This report replaces the one of")
    expect(page.locator("#response blockquote")).to_contain_text(
        "We welcome the lab's analysis of everyone who took part in New Leaf")
    expect(page.locator("#registration-sha256")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    expect(page.locator("#registration-text")).to_contain_text('"sub_analyses":["delivery_mode"')
    expect(page.locator(".tag.registered")).to_have_count(1)
    check(page, screens, "replacing-with-reply-and-plan")
    page.locator("#replaces a").click()
    page.wait_for_url(f"**/catalogue/reports/{seeded.ids['old']}")
    context.close()
