"""In the browser, a lab admin creates a new organisation and its first user on the account
pages; the one-time password shown once lets that user in, and a deactivated user is out."""

from __future__ import annotations

import pytest

from tests.browser.live import first_sign_in, new_context, sign_in

pytestmark = pytest.mark.xdist_group("browser")


def test_admin_creates_a_new_organisation_and_its_user_in_the_browser(browser, live_lab,
                                                                      screens):
    from playwright.sync_api import expect

    lab = live_lab
    lab.create_org("Justice Data Lab")
    admin = lab.create_user("Justice Data Lab", "admin", "ada@lab.example")
    context = new_context(browser, lab)
    page = context.new_page()
    first_sign_in(page, lab.base_url, admin.email, admin.password)
    page.get_by_role("link", name="Accounts").click()
    expect(page.get_by_role("heading", name="Organisations and users")).to_be_visible()

    page.get_by_label("Name").fill("Second Chance CIC")
    page.get_by_role("button", name="Add organisation").click()
    expect(page.get_by_role("status")).to_contain_text("Created the organisation")
    page.get_by_label("Email address").fill("kim@secondchance.example")
    page.get_by_label("Organisation").select_option("Second Chance CIC")
    page.get_by_label("Role").select_option("submitter")
    page.get_by_role("button", name="Add user").click()
    shown = page.get_by_role("status").filter(has_text="One-time password")
    expect(shown).to_be_visible()
    screens.take(page, "user-created")
    secrets = shown.locator("code").all_inner_texts()
    one_time, token = secrets[0], secrets[1]
    assert token.startswith("jdl_") and len(one_time) >= 12

    newcomer = new_context(browser, lab)
    their_page = newcomer.new_page()
    first_sign_in(their_page, lab.base_url, "kim@secondchance.example", one_time)
    expect(their_page.get_by_role("heading", name="Upload a submission")).to_be_visible()
    # the organisation comes from the account, not a form field
    expect(their_page.locator("#account-organisation")).to_have_text("Second Chance CIC")
    newcomer.close()

    # deactivated: the same password no longer signs in
    page.get_by_label("Action for kim@secondchance.example").select_option("Deactivate")
    page.get_by_role("row", name="kim@secondchance.example").get_by_role(
        "button", name="Apply").click()
    expect(page.get_by_role("row", name="kim@secondchance.example")).to_contain_text(
        "deactivated")
    screens.take(page, "deactivated")
    context.close()
    again = new_context(browser, lab).new_page()
    sign_in(again, lab.base_url, "kim@secondchance.example", "a long enough passphrase")
    expect(again.get_by_role("alert")).to_contain_text("not right")
