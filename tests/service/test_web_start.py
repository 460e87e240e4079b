"""The public start of the journey (issue 21) in the fast client: the start page, the guidance
pages and the data-sharing agreement, the feasibility check (answers, and forms with mistakes
coming back as the same form with 422), and the footer's accessibility statement and privacy
notice. Every page is public, is a page (never JSON) and keeps nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.service.test_web import csrf, signed_in

HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}

PUBLIC_PAGES = ("/start", "/feasibility", "/guidance", "/guidance/data-protection",
                "/guidance/publication", "/guidance/data-sharing-agreement", "/accessibility",
                "/privacy")


def good_answers(**changes: str) -> dict[str, str]:
    form = {"people_per_year": "100", "years": "1", "partners": "0", "analysed_share": "60",
            "setting": "custody", "own_rate": ""}
    form.update(changes)
    return form


def ask(lab, **changes: str):
    token = csrf(lab.client.get("/feasibility", headers=HTML).text)
    return lab.client.post("/feasibility", headers=HTML,
                           data={"csrf_token": token, **good_answers(**changes)})


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_every_start_page_is_public_html_with_skip_link_and_footer(lab, path):
    page = lab.client.get(path, headers=HTML)
    assert page.status_code == 200, path
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.lstrip().startswith("<!doctype html>") and '"detail"' not in page.text
    assert page.text.count("<h1") == 1
    body = page.text
    assert body.index('class="skip-link"') < body.index("<header")
    assert 'href="#main-content"' in body and 'id="main-content"' in body
    footer = body[body.index("<footer"):]
    for link in ("/accessibility", "/privacy", "/catalogue", "/guidance"):
        assert f'href="{link}"' in footer
    # a signed-out visitor is offered the way in from every page's header
    header = body[body.index("<header"):body.index("</header>")]
    assert 'href="/start"' in header and 'href="/login"' in header


def test_the_start_page_says_who_can_use_the_lab_from_its_settings(lab):
    settings = lab.client.app.state.settings
    page = text_of(lab.client.get("/start", headers=HTML).text)
    assert f"at least {settings.intake.min_cohort_size} people the lab can analyse" in page
    assert "Start now" in page and "/feasibility" in lab.client.get("/start").text
    assert f"{settings.service.publication_embargo_days} days after it is approved" in page
    assert f"deleted {settings.service.upload_retention_days:g} days after" in page
    assert "14 or younger" in page  # cohort minimum age 15
    assert "sexual, domestic violence or terrorism" in page
    html = lab.client.get("/start").text
    for link in ('href="/template.xlsx"', 'href="/template.csv"', 'href="/guidance"',
                 'href="/guidance/data-protection"', 'href="/catalogue"'):
        assert link in html


def test_a_signed_in_user_keeps_the_home_page_and_sees_no_sign_in_link(lab):
    assert lab.client.get("/", follow_redirects=False).headers["location"] == "/login"
    signed_in(lab, "submitter_a")
    home = lab.client.get("/", headers=HTML)
    assert home.status_code == 200 and "Submissions" in home.text
    start = lab.client.get("/start", headers=HTML).text
    header = start[start.index("<header"):start.index("</header>")]
    assert 'href="/login"' not in header and "Sign out" in header


def test_the_guidance_columns_come_from_the_intake_contract(lab):
    from jdl.intake._spec import COLUMNS

    page = lab.client.get("/guidance", headers=HTML).text
    for column in COLUMNS:
        assert f"<code>{column.name}</code>" in page
    assert 'href="/guidance/data-protection"' in page and 'href="/feasibility"' in page


def test_the_data_sharing_agreement_downloads_as_the_page_shows_it(lab):
    settings = lab.client.app.state.settings
    download = lab.client.get("/guidance/data-sharing-agreement.txt")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/plain")
    assert "attachment" in download.headers["content-disposition"]
    text = download.text
    assert text.startswith("# Data-sharing agreement")
    assert "{retention_days}" not in text and "{embargo_days}" not in text
    assert f"deletes the uploaded file {settings.service.upload_retention_days:g} days" in text
    assert "Schedule 1, Part 1, paragraph 4" in text
    page = text_of(lab.client.get("/guidance/data-sharing-agreement", headers=HTML).text)
    for heading in re.findall(r"^## (.+)$", text, flags=re.M):
        assert heading in page
    assert "build a matched comparison group of similar people" in page


def test_the_privacy_notice_and_statement_describe_this_service(lab):
    settings = lab.client.app.state.settings
    privacy = text_of(lab.client.get("/privacy", headers=HTML).text)
    assert "jdl_session" in privacy
    assert f"deleted {settings.service.upload_retention_days:g} days after" in privacy
    assert "no analytics" in privacy.lower() and "keeps nothing you type" in privacy
    statement = text_of(lab.client.get("/accessibility", headers=HTML).text)
    assert "Skip to main content" in statement and "WCAG" in statement


# ----------------------------------------------------------------------- feasibility


def test_the_check_answers_in_plain_english(lab):
    from jdl.inference import assess_feasibility

    answer = ask(lab)
    assert answer.status_code == 200
    page = text_of(answer.text)
    expected = assess_feasibility(100, base_rate=0.425)
    assert "About 60 people would likely be analysed" in page
    fall = round(100 * expected.this.mde_decrease)
    assert f"a fall in re-offending of {fall} in 100 people or more" in page
    assert "from 42.5 in 100" in page  # the published rate, as published
    assert f"to {round(42.5 - 100 * expected.this.mde_decrease)} in 100 or fewer" in page
    assert "A clear answer is unlikely" in page
    # fewer than 30 re-offenders expected (25.5): the lab's significance rule is explained
    assert "at least 30 of the people analysed re-offended" in page
    # the pooled options and the people needed for a fall of 5 in 100
    assert "2 years from your organisation" in page and "1 year from you and 2 partners" in page
    assert f"about {expected.analysed_needed:,} people need to be analysed" in page
    assert f"about {expected.people_needed:,} people sent" in page
    assert "Nothing you typed has been kept" in page
    # the form is there again, filled in, to change the numbers
    assert 'value="100"' in answer.text and "Check again" in page


def test_the_check_uses_the_organisations_own_rate_and_partners(lab):
    from jdl.inference import assess_feasibility

    page = text_of(ask(lab, people_per_year="1,300", partners="1", own_rate="30",
                       analysed_share="50").text)
    expected = assess_feasibility(1300, 1, 2, base_rate=0.30, analysed_share=0.5)
    assert f"About {expected.this.people_analysed:,} people would likely be analysed" in page
    assert "(the rate you gave)" in page and "from 30 in 100" in page
    assert "about 38 in 100 re-offend" in page  # both: halfway, not "38.0"
    assert expected.this.verdict == "realistic" and "A clear answer is realistic" in page


def test_too_few_people_is_said_plainly(lab):
    page = text_of(ask(lab, people_per_year="40").text)
    assert "The lab could not answer with these numbers" in page
    assert "at least 60 people in the analysis" in page


@pytest.mark.parametrize("changes, field, message", [
    ({"people_per_year": ""}, "people_per_year",
     "Enter how many people your programme works with in a year"),
    ({"people_per_year": "lots"}, "people_per_year", "as a whole number, like 120"),
    ({"people_per_year": "12.5"}, "people_per_year", "as a whole number"),
    ({"people_per_year": "0"}, "people_per_year", "between 1 and 100,000"),
    ({"years": "99"}, "years", "between 1 and 30"),
    ({"partners": "-1"}, "partners", "as a whole number"),
    ({"analysed_share": "5"}, "analysed_share", "between 10 and 100"),
    ({"own_rate": "4"}, "own_rate", "between 10 and 90"),
    ({"setting": ""}, "setting", "Select where people start on your programme"),
    ({"setting": "moon"}, "setting", "Select where people start on your programme"),
])
def test_a_mistake_comes_back_as_the_same_form_with_a_linked_error(lab, changes, field,
                                                                   message):
    answer = ask(lab, **changes)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert '"detail"' not in answer.text and "pydantic" not in answer.text
    assert 'class="error-summary"' in answer.text and message in answer.text
    href = "#setting-custody" if field == "setting" else f"#{field}"
    assert f'href="{href}"' in answer.text
    assert f'id="{field}-error"' in answer.text
    # what was typed is kept (the other fields as sent)
    assert 'name="years" type="text" inputmode="numeric" spellcheck="false" ' \
           'autocomplete="off" value="' in answer.text
    assert "would likely be analysed" not in answer.text


def test_several_mistakes_are_listed_in_the_order_of_the_form(lab):
    answer = ask(lab, people_per_year="", years="x", setting="")
    summary = answer.text[answer.text.index("error-summary"):answer.text.index("</ul>")]
    assert summary.index("#people_per_year") < summary.index("#years") \
        < summary.index("#setting-custody")


def test_the_check_refuses_a_form_without_its_token_and_keeps_nothing(lab):
    from jdl.service._models import AuditEntry

    lab.client.get("/feasibility", headers=HTML)
    refused = lab.client.post("/feasibility", headers=HTML, data=good_answers())
    assert refused.status_code == 403 and "This form has expired" in refused.text
    with lab.client.app.state.sessions() as db:
        before = db.scalar(select(func.count()).select_from(AuditEntry))
    assert ask(lab, people_per_year="12345").status_code == 200
    with lab.client.app.state.sessions() as db:  # nothing about the check is written
        assert db.scalar(select(func.count()).select_from(AuditEntry)) == before
    huge = ask(lab, people_per_year="9" * 5000)  # cut before it is read as a number
    assert huge.status_code == 422


def test_what_was_typed_is_shown_back_escaped(lab):
    answer = ask(lab, people_per_year='"><script>x</script>', own_rate="<b>1</b>")
    assert answer.status_code == 422
    assert "<script>x" not in answer.text and "<b>1</b>" not in answer.text
    assert "&lt;script&gt;x" in answer.text or "&#34;&gt;&lt;script" in answer.text


def test_the_check_runs_off_the_event_loop_one_at_a_time(lab, monkeypatch):
    """A check costs tens of milliseconds: it runs in a worker thread under a limiter of
    one, so anonymous bursts cannot block every other request."""
    import threading

    from jdl.service import _web_start

    threads = []
    real = _web_start._assess

    def spy(*args):
        threads.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(_web_start, "_assess", spy)
    assert ask(lab).status_code == 200
    assert len(threads) == 1 and threads[0].startswith("AnyIO worker thread")
    assert _web_start._check_limiter().total_tokens == _web_start.CHECKS_AT_ONCE == 1


def test_start_pages_are_not_in_the_api_schema(lab):
    paths = lab.client.get("/openapi.json").json()["paths"]
    assert not any(p.startswith(("/start", "/feasibility", "/guidance", "/privacy",
                                 "/accessibility")) for p in paths)


def test_the_check_offers_every_programme_setting_in_plain_words(lab):
    """Issue 20: the out-of-court and fine-or-discharge settings, as the programme form and the
    cohort rules have them, with plain labels; their rate is the all-adults bound, said so."""
    from jdl.core.index_types import SETTINGS
    from jdl.service._web_start import SETTINGS_LABELS

    assert set(SETTINGS_LABELS) == set(SETTINGS)
    form = lab.client.get("/feasibility", headers=HTML).text
    for value in SETTINGS:
        assert f'id="setting-{value}" name="setting" value="{value}"' in form
    text = text_of(form)
    assert "After a caution or conditional caution (out of court)" in text
    assert "After a fine or a discharge at court" in text
    assert "fewer than 25.6 in 100, the rate for all adults, re-offend within a year" in text
    assert "out_of_court" not in text and "fine_or_discharge" not in text  # no codes shown


@pytest.mark.parametrize("setting", ["out_of_court", "fine_or_discharge"])
def test_an_out_of_court_programme_is_checked_at_the_all_adults_rate(lab, setting):
    from jdl.inference import assess_feasibility

    page = text_of(ask(lab, setting=setting, people_per_year="300").text)
    expected = assess_feasibility(300, base_rate=0.256)
    assert f"a fall in re-offending of {round(100 * expected.this.mde_decrease)} in 100" in page
    assert "from 25.6 in 100" in page
    assert "the national rate for all adults" in page and "enter your own rate" in page
    # with the organisation's own rate, that rate is used and the bound is not mentioned
    own = text_of(ask(lab, setting=setting, people_per_year="300", own_rate="18").text)
    assert "(the rate you gave)" in own and "from 18 in 100" in own
    assert "the national rate for all adults" not in own
