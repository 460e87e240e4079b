"""The checks the pipeline runs on released results and released files."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from jdl.disclosure import (
    DisclosureError,
    assert_released,
    check_released_text,
    find_release_problems,
    release,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "raw_results_example.json"


@pytest.fixture(scope="module")
def released():
    return release(json.loads(FIXTURE.read_text()))


def broken(released, change) -> dict:
    out = copy.deepcopy(released.results)
    change(out)
    return out


def test_a_clean_release_passes(released):
    assert_released(released.results)


@pytest.mark.parametrize(("change", "problem"), [
    (lambda d: d["counts"].__setitem__("linked", 7), "/counts/linked: count 7 below 10"),
    (lambda d: d["counts"].__setitem__("linked", 396), "/counts/linked: count 396 not rounded"),
    (lambda d: d["profile"]["sex"].__setitem__("Female", 0), "/profile/sex/Female: count 0"),
    (lambda d: d["attrition"][4].__setitem__("n", 347), "/attrition/4/n: count 347 not rounded"),
    (lambda d: d.pop("disclosure"), "no 'disclosure' block"),
    (lambda d: d.__setitem__("people", [{"person_id": "P1"}]), "/people/0/person_id"),
    (lambda d: d.__setitem__("extra", 3), "/extra: not declared"),
    (lambda d: d["measures"]["custodial_reoffending_rate"].__setitem__("treatment", 0.02),
     "/measures/custodial_reoffending_rate/treatment: shown although"),
    (lambda d: d["measures"]["custodial_reoffending_rate"].__setitem__("p_value", 0.2),
     "/measures/custodial_reoffending_rate/p_value: shown although"),
    (lambda d: d["measures"]["proven_reoffending_rate"].__setitem__("treatment_events", 345),
     "/measures/proven_reoffending_rate: treatment non-events 0"),
    (lambda d: d["profile"]["nationality"].__setitem__("Other", 15),
     "/profile/nationality: exactly one cell hidden"),
    (lambda d: d["survival"]["treatment"][0].__setitem__("n_at_risk", 345),
     "/survival/treatment/0/n_at_risk: numbers at risk are never released"),
    (lambda d: d["disclosure"]["suppressed"].append("/counts/linked"),
     "/counts/linked: listed as suppressed but holds a value"),
])
def test_each_breach_is_found(released, change, problem):
    problems = find_release_problems(broken(released, change))
    assert any(p.startswith(problem) for p in problems), problems
    with pytest.raises(DisclosureError):
        assert_released(broken(released, change))


def test_sensitivity_must_hide_with_the_headline(released):
    def hide(d):
        d["measures"]["proven_reoffending_rate"]["difference"] = None
    problems = find_release_problems(broken(released, hide))
    assert "/sensitivity/specifications/0/difference: shown although the headline difference " \
           "is hidden" in problems


def test_rules_are_read_from_the_disclosure_block(released):
    out = released.results
    out["disclosure"]["rules"]["rounding_base"] = 10
    assert any("not rounded to 10" in p for p in find_release_problems(out))


# --- released text ---------------------------------------------------------------------------

GOOD_HTML = """
<h2>Profile</h2><table><tr><th>Sex</th><th>Number</th></tr>
<tr><td>Male</td><td>320</td></tr><tr><td>Female</td><td>30</td></tr>
<tr><td>Other</td><td>[c]</td></tr></table>
<p>{}</p><p>{}</p>
<p>At least 30 re-offenders are needed. 345 people were matched (n = 345). Matching ratio:
<td>1</td>. Delivered 2015-01-01 to 2018-12-31; generated 2026-11-24T19:30:00+00:00.
Aged 14 or under at the index date. Page 3 of 12.</p>
""".format(
    "The programme may decrease the one-year proven re-offending rate by between 1 and 14 people "
    "per 100.",
    "The programme may decrease the number of proven re-offences by between 3 and 71 per 100 "
    "people.")


def test_a_good_report_text_passes(released):
    assert check_released_text(GOOD_HTML, released) == []


def test_lab_wording_quoted_verbatim_passes_and_paraphrase_does_not():
    raw = json.loads(FIXTURE.read_text())
    wording = ("For 100 typical people who receive support, compared with 100 similar people "
               "who do not, the number of people who commit a proven re-offence within one year "
               "could be lower by between 3 and 14 people. This is a statistically significant "
               "result.")
    raw["measures"]["proven_reoffending_rate"]["conclusion"] = wording
    r = release(raw)
    # release words the conclusion again from the released limits
    wording = r.results["measures"]["proven_reoffending_rate"]["conclusion"]
    assert "could be lower by between" in wording
    assert check_released_text(f"<p>{wording}</p>", r) == []
    assert check_released_text("<p>It could be lower by 3 people.</p>", r)


def test_the_released_json_passes(released):
    assert check_released_text(released.to_json(), released) == []


@pytest.mark.parametrize("snippet", [
    "<td>Other</td><td>6</td>",  # a small count in a table
    "<td>7</td>",
    "3 people did not re-offend",
    "n = 7",
    "N: 12",
    "Irish: 4",
    "50+ 19",  # PDF text of a table row, unrounded
    "Male 318",
    "Of the 431 people submitted",  # the exact value of a rounded count
    "1,041 comparison people",
    '"treatment_events": 8',
])
def test_a_leaking_text_is_caught(released, snippet):
    assert check_released_text(GOOD_HTML + snippet, released), snippet


def test_the_raw_json_would_be_caught(released):
    raw = FIXTURE.read_text()
    problems = check_released_text(raw, released)
    assert any(p.startswith("8 ") for p in problems)
    assert any(p.startswith("431 ") for p in problems)


@pytest.mark.parametrize(("text", "flagged"), [
    ("Only 6 people were rejected.", True),
    ("Fewer than 10 people in the group.", False),
    ("At least 30 re-offenders are needed.", False),
    ("Groups under 50 people are not reported.", False),
    ("n = 8 after exclusions", True),
])
def test_lab_written_sentences_are_scanned_for_counts(released, text, flagged):
    out = released.results
    out["warnings"] = [text]
    assert any(p.startswith("/warnings/0:") for p in find_release_problems(out)) is flagged


def test_the_exact_value_of_a_hidden_larger_count_is_caught(released):
    # Mixed (22) is hidden by secondary suppression: quoting it would undo that.
    assert check_released_text(GOOD_HTML + "<p>Mixed ethnicity: 22</p>", released)
    assert check_released_text(GOOD_HTML + "<p>of whom 22 were of mixed ethnicity</p>", released)


def test_digits_inside_an_embedded_chart_are_not_counts(released):
    # A chart's base64 text can hold "+22/" by chance; the same count in words is still caught.
    image = '<img alt="chart" src="data:image/png;base64,iVBORw0K+22//8aPx+hRo2BjY=">'
    assert check_released_text(GOOD_HTML + image, released) == []
    assert check_released_text(GOOD_HTML + image + "<p>Mixed ethnicity: 22</p>", released)


def test_estimates_rendered_in_the_report_style_pass(released):
    # days estimates rounded into table cells; differences and CIs per 100 in words
    text = ("<tr><td>Average days</td><td>151</td><td>140</td><td>11</td></tr>"
            "<p>The programme may decrease this by up to 14 people in every 100, or may "
            "increase it by up to 1 person in every 100.</p><p>With 345 people in the treatment "
            "group, the analysis could detect a change of about 7 people in every 100.</p>")
    assert check_released_text(text, released) == []


@pytest.mark.parametrize("rules", [{"min_count": "many"}, {"rounding_base": 0}, "strict"])
def test_invalid_recorded_rules_are_a_problem_not_a_crash(released, rules):
    out = released.results
    out["disclosure"]["rules"] = rules
    assert find_release_problems(out)[0].startswith("/disclosure/rules")


def test_dates_are_not_counts(released):
    raw_counts = {int(a.raw) for a in released.audit if a.rule == "rounding"
                  and a.kind == "count" and isinstance(a.raw, int) and 10 <= a.raw <= 31
                  and a.raw % 5}
    day = min(raw_counts) if raw_counts else None
    if day is None:
        pytest.skip("no rounded count that could be a day of the month")
    assert check_released_text(f"<dd>1 January 2015 to {day} December 2018</dd>", released) == []
    assert check_released_text(f"<p>{day} people</p>", released) != []


def test_page_numbers_are_not_counts(released):
    raw_counts = {int(a.raw) for a in released.audit if a.rule == "rounding"
                  and a.kind == "count" and isinstance(a.raw, int) and 10 <= a.raw <= 99
                  and a.raw % 5}
    n = min(raw_counts)
    assert check_released_text(f"Justice Data Lab Page {n} of 99 Matching", released) == []
    assert check_released_text(f"Matching {n} people", released) != []
