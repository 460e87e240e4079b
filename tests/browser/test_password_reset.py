"""The "Forgotten your password?" journey in Debian's Chromium (issue 21): from the sign-in
page, ask for a link, read the email the lab sent to a real SMTP server on loopback, choose a
new password (a refused one first), and sign in with it — on a desktop and on a 375-px phone,
with axe-core (WCAG 2.1 A and AA) finding nothing on any page and nothing scrolling sideways."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.live import (
    NEW_PASSWORD,
    Screens,
    axe_violations,
    first_sign_in,
    live_server,
    live_settings,
    new_context,
    sign_in,
)
from tests.service.smtp import loopback_smtp

pytestmark = pytest.mark.xdist_group("browser")

WIDTHS = {"desktop": (1280, 900), "phone": (375, 740)}
SIDEWAYS_JS = "() => document.scrollingElement.scrollWidth - window.innerWidth"
CHOSEN = "tidal orchard bicycle seventeen"




def check(page: Any, screens: Screens, width: str, what: str) -> None:
    problems = [f"{what}: {v}" for v in axe_violations(page)]
    if page.evaluate(SIDEWAYS_JS) > 0:
        problems.append(f"{what}: the page scrolls sideways")
    screens.take(page, f"{width}-{what}")
    assert problems == []


def test_forgotten_password_journey_at_both_widths(browser, tmp_path, screens):
    with loopback_smtp() as inbox:
        settings = live_settings(tmp_path, None, public_url="http://127.0.0.1")
        settings.mail = inbox.settings()
        with live_server(settings) as lab:
            # the emailed links must open this server: its address is known once it runs
            lab.settings.service.public_url = lab.base_url
            lab.create_org("New Leaf Trust")
            for width, (w, h) in WIDTHS.items():
                email = f"sam.{width}@newleaf.example"
                user = lab.create_user("New Leaf Trust", "submitter", email)
                context = new_context(browser, lab, viewport={"width": w, "height": h})
                page = context.new_page()
                first_sign_in(page, lab.base_url, email, user.password)  # then forgets it
                context.clear_cookies()

                page.goto("/login")
                page.get_by_role("link", name="Forgotten your password?").click()
                page.wait_for_url("**/forgot-password")
                check(page, screens, width, "forgot")
                page.get_by_role("button", name="Send the link").click()  # nothing typed
                assert "Enter your email address" in page.locator(".error-summary").inner_text()
                check(page, screens, width, "forgot-error")
                page.locator(".error-summary a").click()
                assert page.evaluate("() => document.activeElement.id") == "email"
                page.get_by_label("Email address").fill(email.upper())
                page.get_by_role("button", name="Send the link").click()
                page.get_by_role("heading", name="Check your email").wait_for()
                check(page, screens, width, "check-email")

                body = inbox.wait_to(email).get_content()
                link = re.search(r"http://127\.0\.0\.1:\d+/reset-password\?token=[\w-]+",
                                 body)
                assert link, body
                page.goto(link.group(0))
                page.get_by_role("heading", name="Choose a new password").wait_for()
                check(page, screens, width, "choose")
                page.get_by_label("New password", exact=True).fill("password1234")
                page.get_by_label("Confirm new password").fill("password1234")
                page.get_by_role("button", name="Save password").click()
                assert "too common" in page.locator(".error-summary").inner_text()
                check(page, screens, width, "choose-error")
                page.get_by_label("New password", exact=True).fill(CHOSEN)
                page.get_by_label("Confirm new password").fill(CHOSEN)
                page.get_by_role("button", name="Save password").click()
                page.wait_for_url("**/login?reset=done")
                assert "Sign in with your new password" in page.locator("main").inner_text()
                check(page, screens, width, "signed-out")

                sign_in(page, lab.base_url, email, NEW_PASSWORD)  # the old one: refused
                assert "not right" in page.locator(".error-summary").inner_text()
                sign_in(page, lab.base_url, email, CHOSEN)
                page.wait_for_url(lab.base_url + "/")
                assert email in page.locator("header").inner_text()

                page.goto(link.group(0))  # used: the link no longer works
                page.get_by_role("heading", name="This link does not work").wait_for()
                check(page, screens, width, "used-link")
                context.close()
