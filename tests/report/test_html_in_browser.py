"""The HTML report is a standalone accessible page (issue 21, build 4): opened in headless
Chromium at desktop and phone width, it has a language, a title, one h1, named links and table
headings, and nothing wider than the screen except inside a table's own scroll box."""

from __future__ import annotations

from pathlib import Path

import pytest

from jdl.report import render_report


@pytest.fixture(scope="module")
def report_file(released, tmp_path_factory) -> Path:
    files = render_report(released, tmp_path_factory.mktemp("html"), formats=("html",))
    assert files.html is not None
    return files.html


@pytest.mark.parametrize("width", [1280, 375])
def test_html_report_in_a_browser(report_file, width, tmp_path):
    from tests.browser.live import accessibility_problems, launch_chromium, require_chromium

    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(report_file.as_uri())
            assert accessibility_problems(page) == []
            assert page.title().startswith("Justice Data Lab report:")
            # the page itself never scrolls sideways; wide tables scroll in their own box
            overflow = page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width + 1, overflow
            # the skip link leads to the findings, and every term link to its glossary entry
            assert page.locator("a.skip-link").get_attribute("href") == "#headline"
            broken = page.evaluate("""() => [...document.querySelectorAll('a[href^="#"]')]
                .map(a => a.getAttribute('href').slice(1))
                .filter(id => id && !document.getElementById(id))""")
            assert broken == []
            page.screenshot(path=str(tmp_path / f"report-{width}.png"), full_page=False)
        finally:
            browser.close()
