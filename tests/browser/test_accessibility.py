"""Basic accessibility of each kind of page, checked in the browser's own DOM: a language and a
title, one main heading, a label (accessible name) for every form control, headings in every
table, and a meaningful name for every link and button (no "click here")."""

from __future__ import annotations

import pytest

from tests.browser.live import (
    NEW_PASSWORD,
    accessibility_problems,
    api_upload,
    first_sign_in,
    new_context,
    sign_in,
)

pytestmark = pytest.mark.xdist_group("browser")

def test_every_page_kind_has_labels_headings_and_a_language(browser, live_lab, planted_upload):
    lab = live_lab
    lab.create_org("New Leaf Trust")
    submitter = lab.create_user("New Leaf Trust", "submitter", "sam@newleaf.example")
    lab.create_org("Justice Data Lab")
    analyst = lab.create_user("Justice Data Lab", "analyst", "ana@lab.example")
    admin = lab.create_user("Justice Data Lab", "admin", "adam@lab.example")
    sid = api_upload(lab, submitter.token, planted_upload)

    found = {}
    page = new_context(browser, lab).new_page()
    page.goto("/login")
    found["sign in"] = accessibility_problems(page)
    sign_in(page, lab.base_url, submitter.email, submitter.password)
    page.wait_for_url("**/password")
    found["choose a password"] = accessibility_problems(page)
    page.get_by_label("One-time password").fill(submitter.password)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save password").click()
    page.wait_for_url(lab.base_url + "/")
    found["home (submitter)"] = accessibility_problems(page)
    page.goto(f"/submissions/{sid}")
    found["submission (submitter)"] = accessibility_problems(page)
    page.goto("/submissions/99999")
    found["not found"] = accessibility_problems(page)
    for who, pages in ((analyst, [f"/submissions/{sid}", "/"]), (admin, ["/admin"])):
        staff = new_context(browser, lab).new_page()
        first_sign_in(staff, lab.base_url, who.email, who.password)
        for path in pages:
            staff.goto(path)
            found[f"{path} ({who.role})"] = accessibility_problems(staff)
    assert {name: p for name, p in found.items() if p} == {}
