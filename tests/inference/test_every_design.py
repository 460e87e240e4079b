"""Every inference stage runs on every matching design (issue 18, finding 1: the evaluation
stopped in the sub-group stage with anything but 1:1 without replacement), and the
power-first design rule chooses as documented."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jdl.inference import (
    estimate_effects,
    power_summary,
    subgroup_effects,
    survival_curves,
    treated_profile,
)
from jdl.matching import match
from jdl.matching._design_choice import choose_design, comparison_ess
from jdl.matching._result import Thresholds

LALONDE = Path(__file__).parents[1] / "matching" / "data" / "lalonde.csv"
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
DESIGNS = {"1:1": {}, "3:1": {"ratio": 3}, "replace": {"replace": True},
           "5:1 replace": {"ratio": 5, "replace": True}, "subclass": {"method": "subclass"},
           "exact": {"method": "exact"}}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    df = pd.read_csv(LALONDE)
    rng = np.random.default_rng(5)
    n = len(df)
    df["person_id"] = np.arange(n)
    df["reoffended"] = (rng.random(n) < 0.4).astype(int)
    df["reoffences"] = df["reoffended"] * rng.integers(1, 5, n)
    df["days_to_first"] = np.where(df["reoffended"] == 1, rng.integers(1, 366, n), np.nan)
    df["sex"] = np.where(rng.random(n) < 0.8, "M", "F")
    df["age_at_index"] = df["age"]
    df["ethnicity"] = df["race"]
    df["nationality"] = "British"
    df["index_offence_group"] = np.where(rng.random(n) < 0.5, "theft", "violence")
    df["index_type"] = "custody"
    return df


@pytest.mark.parametrize("design", list(DESIGNS))
def test_every_stage_runs_on_every_design(data, design):
    kw = DESIGNS[design]
    covs = ["race", "married", "nodegree"] if design == "exact" else COVS
    m = match(data, "treat", covs, **kw)
    effects = estimate_effects(m)
    rate = effects["reoffended"]
    assert -1 <= rate.difference <= 1 and rate.ci_low < rate.difference < rate.ci_high
    # the comparison group is worth its effective size, never more than its head count
    assert 0 < rate.comparison_ess <= rate.n_comparison + 1e-9
    assert rate.comparison_ess == pytest.approx(comparison_ess(m.weights, m.treat))
    curves = survival_curves(m).points()
    assert curves["comparison"][0].proportion_not_reoffended == 1.0
    rows = subgroup_effects(m, min_treated=20)
    assert rows and all(r.treatment_n > 0 for r in rows)
    estimated = [r for r in rows if r.difference is not None]
    assert estimated, "no sub-group estimated"
    assert all(r.comparison_ess is not None and r.comparison_ess <= r.comparison_n
               for r in rows)
    profile = treated_profile(m.matched, "treat")
    assert sum(profile.tables["sex"].values()) == m.n_treated_matched
    ratio = rate.comparison_ess / rate.n_treated
    power = power_summary(rate.comparison_value, rate.n_treated, rate.required_n, ratio=ratio)
    one_to_one = power_summary(rate.comparison_value, rate.n_treated, rate.required_n)
    assert (power.mde < one_to_one.mde) == (ratio > 1)


def test_k_to_1_sub_group_weights_sum_to_the_treated_count(data):
    """A comparison person matched to several participants stands in for each of them."""
    from jdl.inference import comparison_weights

    m = match(data, "treat", COVS, ratio=3, replace=True)
    everyone = np.ones(len(m.treat), dtype=bool)
    w = comparison_weights(m, everyone)
    assert w[~m.treat].sum() == pytest.approx(m.n_treated_matched)


def test_power_first_rule_balance_first_then_variance(data):
    choice = choose_design(data, "treat", COVS, ratios=(1, 2, 3, 5, 10))
    assert [c.ratio for c in choice.candidates] == [1, 2, 3, 5, 10]
    assert choice.result.spec.replace and choice.result.spec.ratio == choice.ratio
    balanced = [c for c in choice.candidates if c.balanced]
    chosen = next(c for c in choice.candidates if c.ratio == choice.ratio)
    if balanced:
        assert chosen.design_variance == min(c.design_variance for c in balanced)
    else:  # lalonde: no ratio balances every variance ratio; the best-balanced is chosen
        assert chosen.max_abs_smd == min(c.max_abs_smd for c in choice.candidates)
    # the candidates' quick balance is the full balance table's
    assert chosen.max_abs_smd == pytest.approx(choice.result.balance().max_abs_smd, rel=1e-12)
    # caliper on the logit of the score: 0.2 SD of the linear predictor
    lp = choice.result.distance
    assert choice.result.caliper_abs == pytest.approx(0.2 * np.std(lp, ddof=1))
    assert np.all((lp > -50) & (lp < 50)) and (lp < 0).any()  # a logit, not a probability


def test_power_first_rule_prefers_lower_variance_among_balanced_designs(data):
    lenient = Thresholds(smd_good=10.0, smd_poor=20.0, var_ratio_low=0.0, var_ratio_high=1e9)
    choice = choose_design(data, "treat", COVS, ratios=(1, 3, 10), thresholds=lenient)
    assert all(c.balanced for c in choice.candidates)
    assert choice.ratio == min(choice.candidates, key=lambda c: c.design_variance).ratio
    variances = [c.design_variance for c in choice.candidates]
    assert variances[0] > variances[-1]  # more comparison people, smaller variance here


def test_the_rule_never_reads_outcomes(data):
    shuffled = data.copy()
    shuffled["re78"] = np.random.default_rng(1).permutation(shuffled["re78"].to_numpy())
    a = choose_design(data, "treat", COVS)
    b = choose_design(shuffled, "treat", COVS)
    assert a.ratio == b.ratio and a.candidates == b.candidates


def test_adjusted_effects_decline_a_model_with_too_few_people(data):
    """Days among a handful of re-offenders cannot carry the propensity model's terms: the
    adjusted estimate says why instead of failing the evaluation."""
    from jdl.inference import adjusted_effects

    small = pd.concat([data[data["treat"] == 1].head(20),
                       data[data["treat"] == 0].head(20)]).reset_index(drop=True)
    m = match(small, "treat", COVS)
    out = adjusted_effects(m, {"reoffended": "rate", "days_to_first": "days"}, COVS)
    assert isinstance(out["days_to_first"], str) and "too few people" in out["days_to_first"]
