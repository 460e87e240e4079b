"""The report shows the JDL's measure menu (issue 20 part 2) in its extended-measures table, in
plain English: per 100 re-offenders for the re-offender measures, the court-outcome tiers
explained once, a measure the JDL's rules withhold shown as not reported with the reason, and
nothing that disclosure control hid."""

from __future__ import annotations

import json
import re

import pytest

from jdl.core.config import DisclosureSettings
from jdl.disclosure import release
from tests.disclosure.test_jdl_measures import _raw

from ._factory import GENERATED_AT

REASON = ("Fewer than 30 people in the treatment group re-offended, so measures about "
          "re-offenders are not reported (the Justice Data Lab's rule).")


@pytest.fixture(scope="module")
def jdl_html() -> str:
    from jdl.report import render_html

    raw = _raw(tiers=((7, 20), (40, 56), (53, 50)))
    raw["measures"]["first_reoffence_custody_rate"].update(reported=False,
                                                           reason_not_reported=REASON)
    released = json.loads(release(raw, DisclosureSettings()).results_json)
    released["generated_at"] = GENERATED_AT
    return render_html(released)


def _extended(html: str) -> str:
    start = html.index('id="extended"')
    return html[start: html.index("</section>", start)]


def _rows(section: str) -> dict[str, str]:
    """Table rows by their header text (the label before the unit)."""
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", section, flags=re.S):
        head = re.search(r'<th scope="row">(.*?)<span class="unit">(.*?)</span>', row, re.S)
        if head:
            rows[head.group(1).strip()] = row
    return rows


def test_every_new_measure_has_a_row_in_the_extended_table(jdl_html):
    rows = _rows(_extended(jdl_html))
    for label in ("First re-offence tier 1", "First re-offence tier 2", "First re-offence tier 3",
                  "Tier 1 re-offences per re-offender", "Custody for the first re-offence",
                  "Change in offences"):
        assert label in rows, label


def test_reoffender_measures_are_per_100_reoffenders(jdl_html):
    rows = _rows(_extended(jdl_html))
    assert "per 100 re-offenders" in rows["First re-offence tier 3"]
    assert "re-offences per 100 re-offenders" in rows["Tier 2 re-offences per re-offender"]
    assert "offences per 100 people" in rows["Change in offences"]
    # tier 3: 53 of 100 participants who re-offended (released 55 of 100), 50 of 126
    # comparison re-offenders (released 50 of 125)
    cells = re.findall(r"<td>(.*?)</td>", rows["First re-offence tier 3"])
    assert cells[:2] == ["55.0", "40.0"]
    # the change in offending per 100 people: -1.23 and -0.99 per person
    cells = re.findall(r"<td>(.*?)</td>", rows["Change in offences"])
    assert cells[:3] == ["-123.0", "-99.0", "-24.0"]


def test_tiers_and_the_reoffenders_only_comparison_are_explained_once(jdl_html):
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", _extended(jdl_html)))
    assert text.count("indictable-only, tier 1") == 1
    assert "re-offenders only" in text and "rather than the programme’s effect on everyone" in text


def test_a_shift_between_tiers_is_neither_better_nor_worse(jdl_html):
    rows = _rows(_extended(jdl_html))
    assert "neither direction is better" in rows["First re-offence tier 3"]
    assert "lower is better" in rows["First re-offence tier 1"]


def test_hidden_and_withheld_measures_show_no_numbers(jdl_html):
    rows = _rows(_extended(jdl_html))
    # tier 1 (7 participants) and one other tier are hidden by disclosure control
    hidden = [k for k in (1, 2, 3) if "Not reported" in rows[f"First re-offence tier {k}"]]
    assert 1 in hidden and len(hidden) >= 2
    custody = rows["Custody for the first re-offence"]
    assert "Not reported" in custody and "Fewer than 30 people" in custody
    assert not re.search(r"<td>\d", custody)


def test_the_catalogue_sentences_of_a_reoffender_measure_speak_of_reoffenders():
    from jdl.report import measure_sentences

    raw = _raw()
    released = json.loads(release(raw, DisclosureSettings()).results_json)
    hundred, effect = (str(s) for s in measure_sentences(released)["first_reoffence_tier2_rate"])
    assert hundred.startswith("For 100 typical participants who re-offended")
    assert "40 for the participants" in hundred and "per 100 re-offenders" in hundred
    assert "re-offenders in every 100" in effect
    change = " ".join(str(s) for s in measure_sentences(released)["offending_volume_change"])
    assert "between them changed by -123 from the year before to the year after" in change
