"""The JDL's measure menu in the evaluation (issue 20 part 2): every reported outcome goes
through the one matched-effect path on its own people, and the JDL's rules decide which are
shown.

A re-offender measure is compared among the matched people who re-offended, with the matching
weights (checked against the weighted means worked out directly), and is not reported below 30
treated re-offenders (kpow2: Tables 3-7 only ``if(treat_time_numb >= 30)``) or below 10
counted in its row (``np_10_marker``)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from jdl.core.config import Settings
from jdl.evaluation._measures import estimate_reported, withheld_reason
from jdl.outcomes import reported_outcomes


def _matched(n_treated: int = 120, seed: int = 5):
    """A matched sample (1:2 with replacement, so the weights vary) with every reported
    outcome: re-offender measures empty for the people who did not re-offend."""
    from jdl.matching import match

    rng = np.random.default_rng(seed)
    n = n_treated + 600
    df = pd.DataFrame({"person_id": np.arange(n), "treated": (np.arange(n) < n_treated) * 1,
                       "x": rng.normal(size=n)})
    df["reoffended"] = (rng.random(n) < 0.45).astype(int)
    for m in reported_outcomes():
        if m.name == "reoffended":
            continue
        if m.kind == "rate":
            values = (rng.random(n) < 0.3).astype(float)
        elif m.kind == "frequency":
            values = rng.poisson(1.5, n).astype(float)
        else:
            values = rng.normal(100, 20, n)
        if m.population == "reoffenders" or m.kind == "days":
            values = np.where(df["reoffended"] == 1, values, np.nan)
        df[m.name] = values
    df["reoffences"] = np.where(df["reoffended"] == 1, df["reoffences"].fillna(0) + 1, 0)
    return match(df, "treated", ["x"], ratio=2, replace=True, random_state=1)


@pytest.fixture(scope="module")
def matched():
    return _matched()


def test_every_reported_outcome_is_estimated(matched):
    effects = estimate_reported(matched, Settings())
    assert {e.measure for e in effects.effects} == {m.name for m in reported_outcomes()}


def test_a_reoffender_measure_is_the_weighted_mean_among_matched_reoffenders(matched):
    effects = estimate_reported(matched, Settings())
    rows = matched.matched
    rows = rows[rows["weights"] > 0]
    reoff = rows[rows["reoffended"] == 1]
    for name in ("first_reoffence_tier2", "custodial_sentences_reoffenders"):
        e = effects[name]
        t, c = reoff[reoff["treated"] == 1], reoff[reoff["treated"] == 0]
        assert e.treatment_value == pytest.approx(np.average(t[name], weights=t["weights"]))
        assert e.comparison_value == pytest.approx(np.average(c[name], weights=c["weights"]))
        assert e.n_treated == len(t) and e.n_comparison == len(c)
        assert e.n_treated_reoffenders == len(t)
    # a measure of everyone is over everyone
    everyone = effects["reoffended"]
    assert everyone.n_treated == int((rows["treated"] == 1).sum())


def _effect(reoffenders: int, events: int) -> SimpleNamespace:
    return SimpleNamespace(n_treated_reoffenders=reoffenders, treatment_events=events)


def _measure(name: str):
    return {m.name: m for m in reported_outcomes()}[name]


def test_the_jdl_rules_decide_what_is_shown():
    settings = Settings()
    tier = _measure("first_reoffence_tier1")
    assert withheld_reason(tier, _effect(30, 10), settings) is None
    assert withheld_reason(tier, _effect(29, 20), settings).startswith(
        "Fewer than 30 people in the treatment group re-offended")
    assert "Fewer than 10 were counted" in withheld_reason(tier, _effect(60, 9), settings)
    # the rules are the settings'
    lowered = Settings(inference={"min_treated_reoffenders": 20, "min_expected_count": 5})
    assert withheld_reason(tier, _effect(25, 6), lowered) is None
    # measures of everyone are not subject to them
    assert withheld_reason(_measure("custodial_reoffence"), _effect(3, 1), settings) is None
    assert withheld_reason(_measure("offence_change"), _effect(3, 3), settings) is None


def test_the_reasons_quote_rules_never_counts():
    settings = Settings()
    tier = _measure("reoffences_tier3")
    for effect in (_effect(17, 40), _effect(40, 7)):
        reason = withheld_reason(tier, effect, settings)
        assert "17" not in reason and "7 " not in reason


def test_a_longer_follow_up_the_records_do_not_cover_is_not_reported_with_the_reason():
    from datetime import date

    from jdl.evaluation._evaluate import _reported_measure
    from jdl.matching import match
    from jdl.outcomes import FollowUp

    follow_up = FollowUp(data_cutoff=date(2024, 12, 31), long_follow_up_days=730)
    base = _matched().matched.drop(columns=["weights", "subclass"], errors="ignore")
    rng = np.random.default_rng(2)
    base["reoffended_2y"] = (rng.random(len(base)) < 0.5).astype(float)
    base["reoffences_2y"] = rng.poisson(2, len(base)).astype(float)
    base.loc[base.index[:5], ["reoffended_2y", "reoffences_2y"]] = np.nan  # not yet covered
    matched = match(base, "treated", ["x"], ratio=2, replace=True, random_state=1)
    effects = estimate_reported(matched, Settings(), follow_up)
    names = {e.measure for e in effects.effects}
    assert "reoffended" in names and "reoffended_2y" not in names
    measure = {m.name: m for m in reported_outcomes(follow_up)}["reoffended_2y"]
    summary = _reported_measure(measure, effects, {}, Settings(), follow_up)
    assert summary.reported is False
    assert summary.reason_not_reported.startswith(
        "A follow-up of two years is not possible for this analysis")
    # and it goes through disclosure control as a measure without numbers
    import copy
    import json
    from pathlib import Path

    from jdl.core.results import to_plain
    from jdl.disclosure import release

    raw = json.loads((Path(__file__).parents[1] / "fixtures" / "raw_results_example.json")
                     .read_text())
    raw = copy.deepcopy(raw)
    raw["measures"][measure.result_key] = to_plain(summary)
    raw["extended_measures"].append(measure.result_key)
    out = json.loads(release(raw).results_json)["measures"][measure.result_key]
    assert out["reported"] is False and out["treatment"] is None and out["p_value"] is None
    assert out["reason_not_reported"] == summary.reason_not_reported
    # covered for everyone: estimated like any rate
    base[["reoffended_2y", "reoffences_2y"]] = base[["reoffended_2y", "reoffences_2y"]].fillna(0)
    matched = match(base, "treated", ["x"], ratio=2, replace=True, random_state=1)
    assert estimate_reported(matched, Settings(), follow_up)["reoffended_2y"].n_treated > 0
