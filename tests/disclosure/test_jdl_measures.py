"""The JDL's measure menu (issue 20 part 2) goes out only through disclosure control.

The example evaluation plus the re-offender measures: the first re-offence's court-outcome tier
(three rates that split the re-offenders), re-offences by tier (which split the re-offences),
custody for the first re-offence, and the change in offending volume. Small cells are hidden,
a tier hidden alone is hidden with another (else the released re-offenders minus the others
give it back), everything about re-offenders goes when the headline's re-offenders do, every
released value is declared, and the coarsened values are what the rules say."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from jdl.core.config import DisclosureSettings
from jdl.disclosure import release
from jdl.disclosure._schema import RELEASED_SCHEMA, kind_of, leaves

RAW = json.loads((Path(__file__).parents[1] / "fixtures" / "raw_results_example.json")
                 .read_text())
#: the example's headline: 100 of 347 participants re-offended (126 in the comparison group)
REOFFENDERS = (100, 126)


def _measure(label: str, unit: str, events: tuple[int, int], n: tuple[int, int] = REOFFENDERS,
             *, values: tuple[float, float] | None = None, population: str = "reoffenders",
             partition: str | None = None) -> dict:
    t, c = values if values else (events[0] / n[0], events[1] / n[1])
    return {"label": label, "unit": unit, "treatment": t, "comparison": c, "difference": t - c,
            "ci_low": t - c - 0.1, "ci_high": t - c + 0.1, "p_value": 0.4, "significant": False,
            "conclusion": "Inconclusive.", "treatment_n": n[0], "comparison_n": n[1],
            "treatment_events": events[0], "comparison_events": events[1], "reported": True,
            "reason_not_reported": None, "comparison_ess": n[1], "population": population,
            "partition": partition}


def _raw(tiers=((12, 20), (40, 56), (48, 50)), frequencies=((20, 31), (90, 130), (216, 294)),
         headline_events: int | None = None) -> dict:
    raw = copy.deepcopy(RAW)
    new = {}
    for k, events in enumerate(tiers, start=1):
        new[f"first_reoffence_tier{k}_rate"] = _measure(
            f"First re-offence tier {k}", "proportion", events, partition="first_reoffence_tier")
    for k, events in enumerate(frequencies, start=1):
        new[f"tier{k}_reoffending_frequency"] = _measure(
            f"Tier {k} re-offences per re-offender", "per person", events,
            partition="reoffence_tier")
    new["first_reoffence_custody_rate"] = _measure("Custody for the first re-offence",
                                                   "proportion", (31, 44))
    new["offending_volume_change"] = _measure(
        "Change in offences", "offences per person", (347, 347), (347, 347),
        values=(-1.23456, -0.98765), population="all")
    raw["measures"].update(new)
    raw["extended_measures"] += list(new)
    if headline_events is not None:
        raw["measures"]["proven_reoffending_rate"]["treatment_events"] = headline_events
    return raw


def _released(raw: dict) -> dict:
    return json.loads(release(raw, DisclosureSettings()).results_json)


def test_every_released_value_of_the_new_measures_is_declared():
    released = _released(_raw())
    undeclared = [p for p, _ in leaves(released) if p[0] == "measures"
                  and kind_of(p, RELEASED_SCHEMA) is None]
    assert undeclared == []
    tier = released["measures"]["first_reoffence_tier2_rate"]
    assert (tier["population"], tier["partition"]) == ("reoffenders", "first_reoffence_tier")


def test_counts_are_rounded_and_rates_are_the_rounded_counts_over_each_other():
    m = _released(_raw())["measures"]["first_reoffence_tier2_rate"]
    assert (m["treatment_n"], m["treatment_events"]) == (100, 40)
    assert (m["comparison_n"], m["comparison_events"]) == (125, 55)  # 126 and 56 to fives
    assert m["treatment"] == 0.4 and m["comparison"] == round(55 / 125, 4)


def test_a_small_tier_is_hidden_with_another_so_the_rest_cannot_give_it_back():
    # tier 1: 7 of the 100 re-offenders (small); 100 - 40 - 53 would give it back
    released = _released(_raw(tiers=((7, 20), (40, 56), (53, 50))))["measures"]
    events = [released[f"first_reoffence_tier{k}_rate"]["treatment_events"] for k in (1, 2, 3)]
    assert events[0] is None
    assert events.count(None) >= 2, events
    for k in (1, 2, 3):
        m = released[f"first_reoffence_tier{k}_rate"]
        if m["treatment_events"] is None:
            assert m["treatment"] is None and m["difference"] is None
            assert m["reported"] is False
    # the headline's re-offenders are a different quantity: still shown
    assert released["proven_reoffending_rate"]["treatment_events"] == 100
    # the one hidden for the small one says so (not "based on fewer than 10 people")
    second = [released[f"first_reoffence_tier{k}_rate"] for k in (2, 3)
              if released[f"first_reoffence_tier{k}_rate"]["treatment_events"] is None]
    assert second and "another figure in the same table" in second[0]["reason_not_reported"]


def test_a_small_tier_of_reoffences_is_hidden_with_another():
    released = _released(_raw(frequencies=((6, 31), (104, 130), (216, 294))))["measures"]
    events = [released[f"tier{k}_reoffending_frequency"]["treatment_events"] for k in (1, 2, 3)]
    assert events[0] is None and events.count(None) >= 2, events


def test_a_near_whole_tier_is_hidden_by_its_complement():
    # 95 of 100 re-offenders in tier 3: the other 5 are a small cell
    released = _released(_raw(tiers=((2, 20), (3, 56), (95, 50))))["measures"]
    assert released["first_reoffence_tier3_rate"]["treatment_events"] is None
    assert released["first_reoffence_tier3_rate"]["treatment"] is None


def test_a_hidden_reoffender_measure_does_not_hide_a_headline_of_the_same_value():
    # the custody measure's comparison events (9) are hidden; the headline's events are 100:
    # a count of the same value elsewhere must not be hidden for it (nor the headline when a
    # coincidence makes them equal: they are different quantities)
    raw = _raw()
    # 100 of 104 comparison re-offenders: hidden (its complement, 4, is small) - and 100 is
    # also the number of participants who re-offended, by coincidence
    raw["measures"]["first_reoffence_custody_rate"].update(comparison_events=100,
                                                           comparison_n=104)
    released = _released(raw)["measures"]
    assert released["first_reoffence_custody_rate"]["comparison_events"] is None
    assert released["proven_reoffending_rate"]["treatment_events"] == 100


@pytest.mark.parametrize("events", [9, 4])
def test_everything_about_reoffenders_goes_when_the_headline_reoffenders_do(events):
    released = _released(_raw(headline_events=events))["measures"]
    assert released["proven_reoffending_rate"]["treatment_events"] is None
    for name, m in released.items():
        if m.get("population") == "reoffenders":
            assert all(m[k] is None for k in ("treatment", "comparison", "difference",
                                              "ci_low", "ci_high", "p_value")), name
            assert m["reported"] is False, name


def test_the_volume_change_is_rounded_with_its_interval_centred_on_it():
    m = _released(_raw())["measures"]["offending_volume_change"]
    assert (m["treatment"], m["comparison"]) == (-1.23, -0.99)
    assert m["difference"] == pytest.approx(-0.24)
    assert m["ci_low"] == pytest.approx(-0.34) and m["ci_high"] == pytest.approx(-0.14)
    assert "per 100 people" in m["conclusion"] and "1.2345" not in m["conclusion"]


def test_a_measure_withheld_by_the_jdl_rules_carries_no_numbers():
    raw = _raw()
    raw["measures"]["first_reoffence_custody_rate"].update(
        reported=False, reason_not_reported="Fewer than 30 people in the treatment group "
        "re-offended, so measures about re-offenders are not reported (the Justice Data "
        "Lab's rule).")
    m = _released(raw)["measures"]["first_reoffence_custody_rate"]
    assert m["reported"] is False and m["reason_not_reported"].startswith("Fewer than 30")
    assert all(m[k] is None for k in ("treatment", "comparison", "difference", "p_value"))
