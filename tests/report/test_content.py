"""What the report says: findings first, numbers with their intervals, JDL wording, suppression."""

from __future__ import annotations

import base64
import copy
import re

import pytest

from jdl.core.errors import JDLError
from jdl.report import ReportError, render_html

from ._factory import make_released, outline, visible_text

HEADLINE = ["proven_reoffending_rate", "reoffending_frequency", "days_to_first_reoffence"]
_SCALE = {"proportion": 100, "per person": 100, "days": 1}


def _ci(m: dict) -> str:
    """The CI as the table should print it, computed here independently of the report code."""
    s = _SCALE[m["unit"]]
    d = 0 if m["unit"] == "days" else 1
    return f"({m['ci_low'] * s:+.{d}f} to {m['ci_high'] * s:+.{d}f})"


def _section(html: str, sid: str) -> str:
    """The HTML of one <section id=...> (sections are not nested)."""
    start = html.index(f'id="{sid}"')
    return html[start:html.index("</section>", start)]


def test_raw_results_are_refused(raw):
    with pytest.raises(ReportError, match="disclosure control") as info:
        render_html(raw)
    assert isinstance(info.value, JDLError)


def test_malformed_input_is_a_report_error(released):
    with pytest.raises(ReportError):
        render_html([released])
    bad = copy.deepcopy(released)
    del bad["measures"]
    with pytest.raises(ReportError, match="measures"):
        render_html(bad)
    bad = copy.deepcopy(released)
    bad["measures"]["proven_reoffending_rate"]["treatment"] = "lots"
    with pytest.raises(ReportError, match="proven_reoffending_rate"):
        render_html(bad)


def test_every_headline_measure_appears_with_its_ci(html, released):
    table = _section(html, "headline")
    for key in HEADLINE:
        m = released["measures"][key]
        assert m["label"] in table
        assert _ci(m) in table, key


def test_summary_comes_first_and_builds_the_100_people_sentences(html):
    text = visible_text(html)
    assert text.index("Summary of key findings") < text.index("The three headline measures")
    headline = visible_text(_section(html, "headline"))
    lead = ("For 100 typical participants, compared with 100 similar people in the comparison "
            "group")
    assert headline.count(lead) == 2  # rate and frequency; days are worded per re-offender
    # 0.2882 and 0.3631 per person -> 29 and 36 per 100; 0.94 and 1.31 -> 94 and 131.
    assert "29 of the participants committed a proven re-offence" in headline
    assert "compared with 36 of the people in the comparison group" in headline
    assert "committed 94 proven re-offences" in headline and "compared with 131" in headline
    assert "after 151 days on average, compared with 140 days" in headline
    # the summary page quotes the same whole numbers
    summary = visible_text(_section(html, "summary"))
    assert "Within one year, 29 in every 100 participants had a proven re-offence" in summary
    assert "compared with 36 in every 100 people in the comparison group" in summary


def test_summary_page_says_what_was_compared_found_how_sure_next_and_contact(released):
    out = render_html(released, contact="Jo Analyst, lab@example.org")
    summary = visible_text(_section(out, "summary"))
    for heading in ("What we compared", "What we found", "How sure we are", "What to do next",
                    "Who to contact"):
        assert heading in summary
    rate = released["measures"]["proven_reoffending_rate"]
    assert f"compared {rate['treatment_n']:,} people who took part" in summary
    assert f"with {rate['comparison_n']:,} similar people" in summary
    # ci -0.1402..-0.0096 -> between 14 fewer and 1 fewer in every 100
    assert "probably between 14 fewer and 1 fewer people in every 100 re-offending" in summary
    assert "This fall is statistically significant" in summary
    assert "Jo Analyst, lab@example.org" in summary
    assert "31 December 2024" in visible_text(out[:out.index("</header>")]) or \
        released.get("data_cutoff") is None
    # nothing for reproducing the analysis on the first page
    first = out[:out.index("</section>", out.index('id="summary"'))]
    for key in ("config_hash", "seed", "schema_version"):
        if released.get(key) is not None:
            assert str(released[key]) not in visible_text(first), key
    for word in ("Configuration hash", "Random seed", "Results schema"):
        assert word not in visible_text(first)


@pytest.mark.parametrize(("difference", "lo", "hi", "significant", "verdict", "advice"), [
    (-0.08, -0.14, -0.01, True, "This fall is statistically significant",
     "Use this result to show"),
    (0.08, 0.01, 0.14, True, "This rise is statistically significant",
     "Talk to the lab before drawing conclusions"),
    (-0.03, -0.09, 0.03, False, "The result is inconclusive", "pool more years"),
])
def test_summary_advice_depends_on_the_verdict(raw, difference, lo, hi, significant, verdict,
                                               advice):
    rel = make_released(raw)
    rate = rel["measures"]["proven_reoffending_rate"]
    rate.update(difference=difference, ci_low=lo, ci_high=hi, significant=significant)
    rel["power"]["required_n_for_observed"] = 4890
    summary = visible_text(_section(render_html(rel), "summary"))
    assert verdict in summary and advice in summary
    needed = "About 4,890 participants would be needed"
    assert (needed in summary) == (not significant and difference < 0)


def test_significance_wording_follows_the_results(html):
    headline = visible_text(_section(html, "headline"))
    # ci -0.1402..-0.0096 -> "between 1 and 14 people in every 100"
    assert ("statistically significant decrease: the programme may decrease the number of "
            "people who commit a proven re-offence within one year by between 1 and 14 people "
            "in every 100") in headline
    # days: -12.6..35.4 -> inconclusive, "by up to 13 days, or may lengthen it by up to 35 days"
    assert "may shorten the time to first proven re-offence" in headline
    assert "by up to 13 days, or may lengthen it by up to 35 days" in headline
    assert "This does not mean the programme has no effect" in headline
    assert "Do not compare this result with other reports" in visible_text(
        _section(html, "summary"))


def test_what_inconclusive_means_is_said_once_per_layer(raw):
    """Issue 21: "This does not mean..." was printed after every measure (12 times)."""
    text = visible_text(render_html(_all_inconclusive(raw)))
    assert text.count("does not mean the programme has no effect") <= 3  # summary, findings,
    assert "fails to affect" not in text                                   # glossary


def test_each_headline_measure_is_worded_once_in_its_section(html):
    """Issue 17 item 4: the effect sentence is not repeated as "The lab's conclusion"."""
    headline = visible_text(_section(html, "headline"))
    assert "The lab's conclusion" not in html
    assert "This is a statistically significant decrease" in headline
    assert headline.count("may shorten the time to first proven re-offence") == 1


def _all_inconclusive(raw: dict) -> dict:
    rel = make_released(raw)
    for m in rel["measures"].values():
        m["significant"] = False
        m["ci_low"], m["ci_high"] = -abs(m["ci_high"]) - 0.01, abs(m["ci_low"]) + 0.01
    return rel


def test_inconclusive_wording_never_claims_proof_or_no_effect(raw):
    text = visible_text(render_html(_all_inconclusive(raw)))
    assert "significant decrease" not in text and "significant increase" not in text
    assert text.count("Inconclusive") >= 3  # every headline measure is marked
    assert not re.search(r"\bprove[sd]?\b|\bproof\b", text, re.I)
    allowed = "does not mean the programme has no effect"  # the results' own conclusion text
    assert "no effect" not in text.replace(allowed, "")


def test_inconclusive_results_get_sample_size_advice(raw):
    rel = _all_inconclusive(raw)
    rel["power"]["required_n_for_observed"] = 1234.2
    power = visible_text(_section(render_html(rel), "power"))
    assert "why some results are inconclusive" in power
    assert "would need about 1,235 participants" in power
    assert "about 7 people in every 100" in power  # mde 0.0735


@pytest.mark.parametrize(("difference", "quoted"), [(0.03, False), (0.0, False),
                                                  (-0.03, True)])
def test_sample_size_needed_is_quoted_only_for_an_observed_fall(raw, difference, quoted):
    """An observed *increase* must not read as a reduction the programme could show with more
    people (issue 21: the advice spoke of "a difference of the size observed" for a rise)."""
    rel = _all_inconclusive(raw)
    rel["power"]["required_n_for_observed"] = 1234.2
    rel["measures"]["proven_reoffending_rate"]["difference"] = difference
    out = render_html(rel)
    power = visible_text(_section(out, "power"))
    assert ("a fall as large as the one observed here is real" in power) == quoted
    assert ("1,235" in visible_text(out)) == quoted
    if not quoted:
        assert "A larger group of participants" in power


def test_suppressed_values_show_the_mark_and_the_footnote(html, released):
    text = visible_text(html)
    profile = visible_text(_section(html, "profile"))
    assert re.search(r"Female \[c\]", profile)
    assert re.search(r"Irish \[c\]", profile)
    assert re.search(r"Rejected at validation \[c\]", visible_text(_section(html, "attrition")))
    extended = visible_text(_section(html, "extended"))
    assert re.search(r"custodial sentence per 100 people · lower is better \[c\] 4\.0", extended)
    assert "[c] = suppressed to protect the people in the analysis" in profile
    for note in released["disclosure"]["notes"]:
        assert note in visible_text(_section(html, "disclosure"))
    assert f"Values hidden in this report: {len(released['disclosure']['suppressed'])}" in text


def test_sections_without_suppression_have_no_suppression_note(html):
    assert "[c]" not in visible_text(_section(html, "matching"))


def test_percentages_are_not_derived_when_a_count_is_suppressed(html):
    profile = _section(html, "profile")
    sex = profile[profile.index("<caption>Sex"):]
    sex = sex[:sex.index("</table>")]
    assert "%" not in sex  # Female suppressed: Male's share would reveal it
    age = profile[profile.index("<caption>Age"):]
    assert "22%" in age[:age.index("</table>")]  # 75 of 345 after rounding


def _null_every_number(node, path=()):
    """Yield the paths of every number in the results (booleans excluded)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _null_every_number(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _null_every_number(v, (*path, i))
    elif isinstance(node, int | float) and not isinstance(node, bool):
        yield path


@pytest.mark.parametrize("listed", [True, False], ids=["listed", "unlisted"])
def test_null_anywhere_never_prints_none_or_nan(raw, listed):
    rel = make_released(raw)
    paths = [p for p in _null_every_number(rel) if p[0] not in ("disclosure", "seed")]
    assert len(paths) > 150
    for p in paths:
        node = rel
        for s in p[:-1]:
            node = node[s]
        node[p[-1]] = None
    if listed:
        rel["disclosure"]["suppressed"] = [".".join(map(str, p)) for p in paths]
    text = visible_text(render_html(rel))
    assert not re.search(r"\bNone\b|\bnan\b|\bNaN\b|\binf\b", text)
    assert text.count("[c]") > 100


def test_measure_not_reported_shows_its_reason_and_no_chart(raw, html):
    rel = make_released(raw)
    days = rel["measures"]["days_to_first_reoffence"]
    reason = "Fewer than 30 people in the treatment group re-offended."
    days.update(reported=False, reason_not_reported=reason, treatment=None, comparison=None,
                difference=None, ci_low=None, ci_high=None, p_value=None, significant=False)
    out = render_html(rel)
    headline = visible_text(_section(out, "headline"))
    assert f"Not reported: {reason}" in headline
    assert "This measure is not reported." in headline
    summary = visible_text(_section(out, "summary"))
    assert "average days to first proven re-offence (re-offenders only): not reported" in summary
    assert len(outline(out).images) == len(outline(html).images) - 1


def _with_selection(**programme: object) -> dict:
    """The example released with intake's selective-sample finding for ``programme``."""
    from dataclasses import replace

    from jdl.intake import selective_sample
    from tests.fixtures.example_results import PROGRAMME, example_results

    form = {**PROGRAMME, **programme}
    typed = example_results()
    finding = selective_sample(form, typed.counts.submitted, 0.8)
    return make_released(replace(typed, programme=form, selective_sample=finding).to_dict())


def test_selective_sample_warning_is_prominent_early_and_stated_once(html):
    assert 'id="selective-sample"' not in html
    cases = {
        "completers": ({"selection_basis": "completers_only"}, "more effective than it is"),
        "small share": ({"declared_participants": 800}, "The file holds about 50% of the people"),
        "other basis": ({"selection_basis": "other"}, "chosen in a way other than"),
    }
    for name, (change, phrase) in cases.items():
        out = render_html(_with_selection(**change))
        assert 'id="selective-sample"' in out, name
        # the first page points to it; the box opens the findings, before any result
        assert out.index('id="selective-sample"') < out.index('id="headline"')
        box = visible_text(_section(out, "selective-sample"))
        assert "Warning" in box
        assert "Read the warning" in visible_text(out[:out.index("<main>")])
        assert phrase in box, name
        # one rule, one wording, stated once (issue 17 item 4)
        assert visible_text(out).count(phrase) == 1, name
    both = visible_text(render_html(_with_selection(selection_basis="completers_only",
                                                    declared_participants=800)))
    assert both.count("more effective than it is") == 1
    assert both.count("The file holds about 50%") == 1


def test_share_submitted_is_always_stated(html):
    summary = visible_text(_section(html, "attrition"))
    assert "worked with 400 people" in summary and "share submitted: 100%" in summary


def test_reproducibility_facts_are_printed(html, released):
    text = visible_text(html)
    for key in ("config_hash", "data_version", "software_version"):
        assert released[key] in text
    assert "24 November 2026" in text


def test_attrition_exclusions_and_excluded_groups(html, released):
    attrition = visible_text(_section(html, "attrition"))
    for step in released["attrition"]:
        assert f"{step['step']} {step['n']:,}" in attrition
    assert "Index offence sexual, domestic-violence-related or terrorism-related 25" in attrition
    method = visible_text(_section(html, "method"))
    for group in ("sexual", "domestic-violence", "terrorism", "aged 14 or under", "gang members",
                  "vulnerable people", "motivation"):
        assert group in method


def test_attrition_says_how_many_may_not_have_been_found(html, released):
    """The linkage model's estimate of people missed, as released (rounded like any count)."""
    attrition = visible_text(_section(html, "attrition"))
    n = released["counts"]["possibly_missed"]
    assert n == 15  # 14 in the typed example, rounded to the nearest 5
    assert ("probably in the national records (estimated by the linkage model: people who may "
            f"not have been found) {n}") in attrition


def test_what_you_can_and_cannot_say(html):
    section = visible_text(_section(html, "can-say"))
    assert "must not be ranked or put side by side" in section
    assert "people like those analysed" in section
    assert "not the same as desistance" in section


def test_balance_flags_large_smds(raw, html):
    assert "(0.1 or more)" not in _section(html, "matching")  # all SMDs after matching < 0.1
    rel = make_released(raw)
    rel["balance"][2]["smd_after"] = -0.15
    matching = _section(render_html(rel), "matching")
    row = matching[matching.index("Previous offences"):]
    row = row[:row.index("</tr>")]
    assert 'class="num flag">-0.150' in row and "(0.1 or more)" in row
    assert "not well balanced" in visible_text(matching)
    assert "good" in visible_text(matching)  # the verdict is the results', not recomputed


def test_common_support_and_sensitivity_in_words(html):
    matching = visible_text(_section(html, "matching"))
    assert "4 participants had no similar enough person" in matching
    sens = visible_text(_section(html, "sensitivity"))
    assert "1.71 times" in sens and "1.20 times" in sens
    assert "Without assessment covariates -6.3 (-12.9 to +0.2)" in sens


def test_subgroups_are_exploratory_and_small_groups_listed(html):
    sub = visible_text(_section(html, "subgroups"))
    assert "exploratory" in sub
    assert "Sex: Male 318 / 318 -7.9 (-14.7 to -1.0) 0.024 0.072 No" in sub
    assert "Sex: Female" in sub and "Fewer than 50 people in the group." in sub


def test_user_text_is_escaped(raw):
    rel = make_released(raw)
    rel["programme"]["organisation"] = "<script>alert(1)</script> & Co"
    out = render_html(rel)
    assert "<script>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in out


def test_html_is_self_contained(html):
    assert not re.search(r"""(src|href)=["'](https?:|//|file:|[^"'#d])""", html)
    images = outline(html).images
    assert len(images) == 7  # 3 measures, survival, chevron, Love plot, forest
    for img in images:
        src = img["src"] or ""
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_listed_measure_missing_is_refused_and_nulled_measure_not_reported(raw):
    rel = make_released(raw)
    del rel["measures"]["serious_reoffending_rate"]
    with pytest.raises(ReportError, match="serious_reoffending_rate"):
        render_html(rel)
    rel = make_released(raw)
    rel["measures"]["serious_reoffending_rate"] = None
    extended = visible_text(_section(render_html(rel), "extended"))
    assert "Serious reoffending rate" in extended
    assert "Not reported: Suppressed to protect the people in the analysis." in extended


def test_non_reoffending_extended_measure_wording(raw):
    rel = make_released(raw)
    rel["extended_measures"].append("employment_days_after")
    rel["measures"]["employment_days_after"] = {
        "label": "Days in employment in the year after the index date", "unit": "days",
        "treatment": 50.6, "comparison": 51.8, "difference": -1.2, "ci_low": -21.6,
        "ci_high": 0.3, "p_value": 0.9, "significant": False, "conclusion": None,
        "treatment_n": 135, "comparison_n": 135, "reported": True, "reason_not_reported": None}
    extended = visible_text(_section(render_html(rel), "extended"))
    assert ("may decrease the number of days in employment in the year after the index date by "
            "up to 22 days, or may increase it by less than 1 day") in extended
    assert "fails to affect" not in extended  # said once per report, not per measure
    assert "shorten the number of days" not in extended


def test_a_large_unmatched_share_is_pointed_out(raw, html):
    assert "a large share" not in visible_text(_section(html, "matching"))  # 4 of 351
    rel = make_released(raw)
    rel["matching"].update(treated_matched=135, treated_unmatched=50)
    matching = visible_text(_section(render_html(rel), "matching"))
    assert "50 participants had no similar enough person" in matching
    assert "about 27% of the eligible participants, a large share" in matching


def test_hidden_bias_wording_depends_on_significance(raw, html):
    sens = visible_text(_section(html, "sensitivity"))
    assert "could stop being statistically significant" in sens
    rel = _all_inconclusive(raw)
    sens = visible_text(_section(render_html(rel), "sensitivity"))
    assert "could stop being statistically significant" not in sens
    assert "already inconclusive" in sens and "1.09 times" not in sens


def test_a_significant_increase_is_worded_as_one(raw):
    rel = make_released(raw)
    rate = rel["measures"]["proven_reoffending_rate"]
    rate.update(treatment=0.40, comparison=0.32, difference=0.08, ci_low=0.02, ci_high=0.14,
                p_value=0.01, significant=True)
    out = render_html(rel)
    headline = visible_text(_section(out, "headline"))
    assert "Statistically significant increase" in headline
    assert ("the programme may increase the number of people who commit a proven re-offence "
            "within one year by between 2 and 14 people in every 100") in headline
    assert "This rise is statistically significant" in visible_text(_section(out, "summary"))
    assert "was higher for the participants" in visible_text(_section(out, "can-say"))


def test_settings_changed_for_a_rerun_are_listed_in_the_methods(raw):
    """Issue 16: every override an analyst made (reviewed by the lab) reaches the report's
    methods, through the typed results and the disclosure stage, and a standard run shows none."""
    import dataclasses

    from jdl.core.config import DisclosureSettings
    from jdl.disclosure import release
    from jdl.evaluation._results import SettingChange
    from jdl.report import render_html
    from tests.fixtures.example_results import example_results

    typed = dataclasses.replace(example_results(), analysis_overrides=(
        SettingChange("matching.caliper", "0.1", "0.2"),
        SettingChange("matching.exact", "index_type", "index_type, index_year")))
    released = release(typed.to_dict(), DisclosureSettings()).results
    assert released["analysis_overrides"][0] == {
        "setting": "matching.caliper", "value": "0.1", "lab_value": "0.2"}
    html = render_html({**released, "generated_at": "2026-11-24"})
    section = html.split("Settings changed for this analysis", 1)[1].split("</table>", 1)[0]
    assert "matching.caliper" in section and "<td>0.1</td><td>0.2</td>" in section
    assert "<td>index_type</td><td>index_type, index_year</td>" in section
    standard = release(example_results().to_dict(), DisclosureSettings()).results
    assert "Settings changed for this analysis" not in render_html(
        {**standard, "generated_at": "2026-11-24"})
