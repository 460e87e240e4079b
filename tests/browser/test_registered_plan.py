"""Issue 20 in a real browser, on a desktop and a 375-px phone: the organisation registers its
analysis plan in the upload form; a mistake in the plan comes back in place, linked to the
field, with the rest of the form kept; the accepted upload's page shows the registered plan
and its fingerprint. Each page passes the suite's accessibility checks and fits a phone."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from jdl.intake import registration_from_dict
from tests.browser.conftest import fill_programme
from tests.browser.live import first_sign_in, new_context
from tests.browser.test_web_portal import WIDTHS, checked

pytestmark = pytest.mark.xdist_group("browser")

GOOD_PLAN = ("primary_measure: proven_reoffending_rate\n"
             "variables:\n"
             "  delivery_mode: {kind: category, categories: [In person, Online]}\n"
             "sub_analyses: [delivery_mode, sex]\n")


@pytest.fixture(params=list(WIDTHS))
def width(request) -> str:
    return request.param


def test_the_plan_is_registered_in_the_form(browser, live_lab, planted_upload, screens, width,
                                            tmp_path):
    from playwright.sync_api import expect

    lab, programme = live_lab, planted_upload["programme"]
    lab.create_org(programme["organisation"])
    submitter = lab.create_user(programme["organisation"], "submitter",
                                f"plan-{width}@newleaf.example")
    page = new_context(browser, lab, viewport=WIDTHS[width]).new_page()
    first_sign_in(page, lab.base_url, submitter.email, submitter.password)
    rows = pd.read_csv(planted_upload["upload"], dtype=str, keep_default_na=False)
    rows["Delivery method"] = np.random.default_rng(2).choice(["In person", "online"],
                                                             len(rows))
    upload = tmp_path / "with-mode.csv"
    rows.to_csv(upload, index=False)

    # a plan naming a sub-group nobody declared: the error is on the plan's field
    fill_programme(page, programme)
    plan = page.get_by_label("Analysis plan (optional)")
    plan.fill("primary_measure: proven_reoffending_rate\nsub_analyses: [postcode]")
    page.get_by_label("Participants file").set_input_files(str(upload))
    page.get_by_role("button", name="Upload and check").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("'postcode' is neither a declared variable")
    summary.get_by_role("link").first.click()
    assert page.evaluate("document.activeElement.id") == "analysis_plan"
    expect(page.get_by_label("Programme name", exact=True)).to_have_value(
        programme["programme_name"])
    assert checked(page) == []
    screens.take(page, f"plan-error-{width}")

    # the corrected plan is registered with the upload
    page.get_by_label("Analysis plan (optional)").fill(GOOD_PLAN)
    page.get_by_label("Participants file").set_input_files(str(upload))
    page.get_by_role("button", name="Upload and check").click()
    page.wait_for_url("**/submissions/*")
    expected = registration_from_dict({
        "primary_measure": "proven_reoffending_rate",
        "variables": {"delivery_mode": {"kind": "category",
                                        "categories": ["In person", "Online"]}},
        "sub_analyses": ["delivery_mode", "sex"]})
    assert expected.sha256 == hashlib.sha256(
        json.dumps(expected.as_dict(), sort_keys=True, separators=(",", ":"),
                   ensure_ascii=False).encode()).hexdigest()
    expect(page.get_by_role("heading", name="Registered analysis plan")).to_be_visible()
    expect(page.get_by_text(expected.sha256)).to_be_visible()
    assert checked(page) == []
    screens.take(page, f"plan-registered-{width}")
