"""Effect estimates, standard errors and the lab's reporting rules, against known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from jdl.core.config import InferenceSettings
from jdl.inference import InferenceError, estimate_effects, weighted_difference
from jdl.matching import match

LALONDE = Path(__file__).parents[1] / "matching" / "data" / "lalonde.csv"
COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


def test_cluster_robust_se_equals_statsmodels_cr1():
    df = pd.read_csv(LALONDE)
    m = match(df, "treat", COVS, ratio=2)
    md = m.matched
    est = weighted_difference(md["re78"].to_numpy(), md["treat"].to_numpy() == 1,
                              md["weights"].to_numpy(), md["subclass"].to_numpy(dtype=int))
    assert est.difference == pytest.approx(220.288641, abs=1e-6)
    ref = sm.WLS(md["re78"], sm.add_constant(md["treat"].astype(float)),
                 weights=md["weights"]).fit(cov_type="cluster",
                                           cov_kwds={"groups": md["subclass"].astype(int)})
    assert est.se == pytest.approx(ref.bse["treat"], rel=1e-10)
    assert est.n_clusters == 185


def test_hc3_se_equals_statsmodels_with_replacement():
    df = pd.read_csv(LALONDE)
    m = match(df, "treat", COVS, replace=True)
    eff = estimate_effects(m, {"re78": "mean"})["re78"]
    assert eff.difference == pytest.approx(1991.615274, abs=1e-6)
    md = m.matched
    ref = sm.WLS(md["re78"], sm.add_constant(md["treat"].astype(float)),
                 weights=md["weights"]).fit(cov_type="HC3")
    assert eff.se == pytest.approx(ref.bse["treat"], rel=1e-10)
    assert eff.vcov_type == "HC3"


def _pairs(n: int, p_t: float, p_c: float, seed: int = 0) -> pd.DataFrame:
    """A 1:1 matched table with exactly round(n p) re-offenders in each group."""
    rng = np.random.default_rng(seed)
    k_t, k_c = round(n * p_t), round(n * p_c)
    yt = np.r_[np.ones(k_t), np.zeros(n - k_t)]
    yc = np.r_[np.ones(k_c), np.zeros(n - k_c)]
    rng.shuffle(yt)
    rng.shuffle(yc)
    days = rng.integers(1, 366, 2 * n).astype(float)
    y = np.r_[yt, yc]
    return pd.DataFrame({"treated": np.r_[np.ones(n), np.zeros(n)].astype(int),
                         "reoffended": y.astype(int),
                         "reoffences": (y * rng.integers(1, 4, 2 * n)).astype(int),
                         "days_to_first": np.where(y == 1, days, np.nan),
                         "weights": 1.0, "subclass": np.r_[np.arange(n), np.arange(n)]})


def test_rate_as_a_proportion_and_significant_decrease_wording():
    df = _pairs(1000, 0.30, 0.40)
    res = estimate_effects(df, treatment="treated")
    rate = res["reoffended"]
    assert rate.treatment_value == pytest.approx(0.30)
    assert rate.comparison_value == pytest.approx(0.40)
    assert rate.difference == pytest.approx(-0.10)
    assert (rate.treatment_events, rate.comparison_events) == (300, 400)
    assert rate.significant and rate.direction == "decrease"
    assert rate.conclusion.startswith("For 100 typical people who receive support")
    assert "could be lower by between" in rate.conclusion
    assert "statistically significant" in rate.conclusion
    assert rate.required_n is None
    # days to first re-offence is compared among re-offenders only
    days = res["days_to_first"]
    assert days.n_treated == 300 and days.n_comparison == 400


def test_significant_increase_wording():
    rate = estimate_effects(_pairs(1000, 0.45, 0.35), treatment="treated")["reoffended"]
    assert rate.significant and rate.direction == "increase"
    assert "could be higher by between" in rate.conclusion


def test_inconclusive_wording_and_required_sample_size():
    rate = estimate_effects(_pairs(120, 0.40, 0.45), treatment="treated")["reoffended"]
    assert not rate.significant and rate.direction == "inconclusive"
    assert "insufficient evidence" in rate.conclusion
    assert "does not mean the programme has no effect" in rate.conclusion
    assert "the programme may decrease the number of people who commit" in rate.conclusion
    assert "or may increase it by up to" in rate.conclusion
    # Fleiss 4.14, 45% -> 40%, 1:1, alpha 0.05, power 0.8, by hand: pbar = 0.425,
    # (1.95996 * sqrt(2 * 0.425 * 0.575) + 0.84162 * sqrt(0.24 + 0.2475))^2 / 0.05^2 = 1533.3
    assert rate.required_n == 1534


def test_thirty_reoffender_rule_blocks_significance_and_days_headline():
    df = _pairs(100, 0.05, 0.60)  # p tiny, but only 5 treated re-offenders
    res = estimate_effects(df, treatment="treated")
    rate = res["reoffended"]
    assert rate.p_value < 1e-6
    assert not rate.significant
    assert "Fewer than 30" in rate.conclusion
    assert res["days_to_first"].suppressed
    # the rule is configurable
    cfg = InferenceSettings(min_treated_reoffenders=5, min_expected_count=4)
    assert estimate_effects(df, treatment="treated", settings=cfg)["reoffended"].significant


def test_bad_inputs_raise_inference_errors():
    df = _pairs(50, 0.4, 0.4)
    with pytest.raises(InferenceError, match="treatment column"):
        estimate_effects(df)
    with pytest.raises(InferenceError, match="not in the matched table"):
        estimate_effects(df, {"nope": "rate"}, treatment="treated")
    with pytest.raises(InferenceError, match="must be 0/1"):
        estimate_effects(df.assign(reoffended=2), {"reoffended": "rate"}, treatment="treated")


def test_other_rate_columns_are_worded_by_their_label():
    df = _pairs(1000, 0.30, 0.40).assign(custodial=lambda d: d["reoffended"])
    res = estimate_effects(df, {"custodial": "rate"}, treatment="treated",
                           labels={"custodial": "Re-offended and received a custodial sentence"})
    text = res["custodial"].conclusion
    assert "counted in 'Re-offended and received a custodial sentence'" in text
    assert "commit a proven re-offence" not in text


def test_rows_with_zero_weight_are_ignored():
    df = _pairs(200, 0.30, 0.40)
    extra = _pairs(50, 1.0, 1.0).assign(weights=0.0, subclass=lambda d: d["subclass"] + 1000)
    both = pd.concat([df, extra], ignore_index=True)
    a = estimate_effects(df, treatment="treated")["reoffended"]
    b = estimate_effects(both, treatment="treated")["reoffended"]
    assert (a.difference, a.n_treated_reoffenders) == (b.difference, b.n_treated_reoffenders)


def test_comparison_count_of_a_subset_gives_its_weighted_rate():
    """On a subset of a matched sample (the re-offenders the JDL's re-offender measures
    compare), the comparison weights do not add up to the number of comparison people; the
    released count must still be the one whose rate over the group's size is the estimate's
    comparison mean (known answer: weights 3 and 1 on outcomes 1 and 0 give a mean of 0.75, so
    1.5 -> 2 events of 2 people, not the weighted sum 3)."""
    import pandas as pd

    from jdl.inference import estimate_effects

    frame = pd.DataFrame({
        "treated": [1, 1, 1, 1, 0, 0],
        "weights": [1.0, 1.0, 1.0, 1.0, 3.0, 1.0],
        "subclass": [0, 1, 2, 3, 0, 1],
        "reoffended": [1, 0, 1, 1, 1, 0],
    })
    effect = estimate_effects(frame, {"reoffended": "rate"}, treatment="treated").effects[0]
    assert effect.n_comparison == 2
    assert effect.comparison_events == 2  # round(0.75 * 2); the weighted sum would give 3
    assert effect.treatment_events == 3
