"""Issue 21, the start of the journey in a real browser, on a desktop and a 375-px phone: the
start page, the guidance, the template download, the data-sharing agreement, and the
feasibility check answered wrongly and then rightly; the skip link and the footer's pages.
Every page is checked with axe-core (0 violations), the suite's own accessibility checks, and
for sideways scrolling at 375 px."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.live import accessibility_problems, new_context

pytestmark = pytest.mark.xdist_group("browser")

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 812}}


@pytest.fixture(params=list(WIDTHS))
def width(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def axe() -> Any:
    """axe-core (the ``axe-playwright-python`` package ships it)."""
    module = pytest.importorskip("axe_playwright_python.sync_playwright")
    return module.Axe()


def checked(page: Any, axe: Any) -> list[str]:
    """Every axe-core violation (rule and the first element), the suite's own checks, and
    sideways scrolling of the page itself."""
    problems = list(accessibility_problems(page))
    result = axe.run(page).response
    for violation in result["violations"]:
        target = violation["nodes"][0]["target"] if violation["nodes"] else ""
        problems.append(f"axe {violation['id']} ({violation['impact']}): {target}")
    if page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1"):
        problems.append(f"the page scrolls sideways at {page.viewport_size['width']} px")
    return problems


def test_from_the_start_page_to_a_feasibility_answer(browser, live_lab, screens, width, axe,
                                                     tmp_path):
    from playwright.sync_api import expect

    context = new_context(browser, live_lab, viewport=WIDTHS[width], accept_downloads=True,
                          bypass_csp=True)  # axe-core is injected as a script
    page = context.new_page()
    found: dict[str, list[str]] = {}
    # the checker finds what it should (an image without a text alternative)
    page.set_content('<html lang="en"><head><title>t</title></head><body><main><h1>t</h1>'
                     '<img src="/static/none.png"></main></body></html>')
    assert any("image-alt" in p for p in checked(page, axe))

    # a signed-out visitor: the header leads to the start page
    page.goto("/login")
    page.get_by_role("navigation", name="Site").get_by_role(
        "link", name="Justice Data Lab").click()
    page.wait_for_url("**/start")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Find out if your programme reduces re-offending")
    expect(page.get_by_text("at least 60 people the lab can analyse")).to_be_visible()
    found["start"] = checked(page, axe)
    screens.take(page, f"start-{width}")
    expect(page.get_by_role("link", name="Start now")).to_have_attribute("href", "/feasibility")

    # the skip link is the first thing a keyboard reaches, and it is shown when focused
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    assert skip.bounding_box()["x"] >= 0  # on screen, not parked off it
    page.keyboard.press("Enter")
    assert page.url.endswith("#main-content")

    # guidance: what to send, and the template
    page.get_by_role("main").get_by_role("link", name="What to send the lab").first.click()
    page.wait_for_url("**/guidance")
    expect(page.get_by_role("heading", level=1)).to_have_text("What to send the lab")
    found["guidance"] = checked(page, axe)
    screens.take(page, f"guidance-{width}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Submission template (CSV)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "jdl-submission-template.csv"
    assert saved.read_text(encoding="utf-8-sig").startswith("forename,surname,date_of_birth")

    # data protection, and the agreement template to download
    page.get_by_role("navigation", name="Guidance pages").get_by_role(
        "link", name="Data protection and the data-sharing agreement").click()
    page.wait_for_url("**/guidance/data-protection")
    found["data protection"] = checked(page, axe)
    screens.take(page, f"data-protection-{width}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the data-sharing agreement template").click()
    agreement = Path(tmp_path / "agreement.txt")
    download.value.save_as(agreement)
    assert agreement.read_text(encoding="utf-8").startswith("# Data-sharing agreement")
    page.get_by_role("link", name="Read the template on this site").click()
    # wait for the page: checking it mid-navigation reads a document that is not there yet
    page.wait_for_url("**/guidance/data-sharing-agreement")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    found["agreement"] = checked(page, axe)
    page.goto("/guidance/publication")
    found["publication"] = checked(page, axe)

    # the feasibility check: wrong first
    page.get_by_role("navigation", name="Guidance pages").get_by_role(
        "link", name="Check if you have enough people").click()
    page.wait_for_url("**/feasibility")
    found["feasibility"] = checked(page, axe)
    screens.take(page, f"feasibility-{width}")
    people = page.get_by_label("How many people does your programme work with in a year?")
    people.fill("about 100")
    page.get_by_role("button", name="Check my numbers").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("as a whole number, like 120")
    expect(summary).to_contain_text("Select where people start on your programme")
    expect(people).to_have_value("about 100")  # what was typed is kept
    found["feasibility with mistakes"] = checked(page, axe)
    screens.take(page, f"feasibility-errors-{width}")
    summary.get_by_role("link", name="Select where people start on your programme").click()
    assert page.evaluate("document.activeElement.id") == "setting-custody"
    summary.get_by_role("link", name="as a whole number").click()
    assert page.evaluate("document.activeElement.id") == "people_per_year"

    # then right
    people.fill("150")
    page.get_by_label("In prison, before they are released").check()
    page.get_by_role("button", name="Check my numbers").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "What the lab could find with your numbers")
    expect(page.get_by_role("heading", name="About 90 people would likely be analysed")
           ).to_be_visible()
    expect(page.get_by_role("heading", name="A clear answer is unlikely")).to_be_visible()
    table = page.locator("#options-table")
    expect(table).to_contain_text("3 years from your organisation")
    expect(table).to_contain_text("1 year from you and 2 partners")
    found["feasibility answer"] = checked(page, axe)
    screens.take(page, f"feasibility-answer-{width}")

    # the footer's pages
    for name, path in (("Accessibility statement", "/accessibility"),
                       ("Privacy notice", "/privacy")):
        page.get_by_role("contentinfo").get_by_role("link", name=name).click()
        page.wait_for_url(f"**{path}")
        found[name] = checked(page, axe)
    screens.take(page, f"privacy-{width}")
    context.close()
    assert {name: p for name, p in found.items() if p} == {}
