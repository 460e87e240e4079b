"""Sub-group effects for every matching design: each sub-group's comparison carries the ATT
weights of the matching restricted to the sub-group's treated people (known answers computed
by hand from the match matrix or the subclasses)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from jdl.inference import comparison_weights, subgroup_effects, weighted_difference
from jdl.matching import match


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(17)
    n = 1600
    x = rng.normal(size=n)
    age = rng.integers(16, 60, n)
    treated = rng.binomial(1, 1 / (1 + np.exp(2.2 - 0.6 * x)), n)
    y = rng.binomial(1, 1 / (1 + np.exp(0.4 - 0.5 * x + 0.3 * treated)), n)
    return pd.DataFrame({
        "treated": treated, "x": x, "age_at_index": age,
        "sex": np.where(rng.random(n) < 0.7, "M", "F"),
        "index_type": np.where(rng.random(n) < 0.5, "court_order", "custody_release"),
        "index_offence_group": rng.choice(["theft", "violence", "drugs"], n),
        "reoffended": y,
    })


def _by_hand_nearest(result, in_group: np.ndarray) -> float:
    """Treated mean minus the mean over treated people of their matched controls' mean."""
    y = result.data["reoffended"].to_numpy(float)
    t_rows = np.flatnonzero(result.treat)
    diffs = []
    for i, row in enumerate(t_rows):
        matches = result.match_matrix[i][result.match_matrix[i] >= 0]
        if in_group[row] and result.weights[row] > 0 and len(matches):
            diffs.append((y[row], y[matches].mean()))
    t, c = np.array(diffs).T
    return float(t.mean() - c.mean())


@pytest.mark.parametrize("ratio, replace", [(1, False), (2, False), (3, True), (1, True)])
def test_nearest_any_ratio_with_or_without_replacement(data, ratio, replace):
    result = match(data, "treated", ["x"], ratio=ratio, replace=replace, random_state=1)
    male = (data["sex"] == "M").to_numpy()
    w = comparison_weights(result, male)
    row = next(r for r in subgroup_effects(result, dimensions=("sex",), min_treated=10)
               if r.level == "M")
    assert row.difference == pytest.approx(_by_hand_nearest(result, male), abs=1e-12)
    assert row.treatment_n == int((result.treat & male & (result.weights > 0)).sum())
    assert row.comparison_n == int(((w > 0) & ~result.treat).sum())
    # controls carry the share of the sub-group's treated people they stand in for
    assert w[~result.treat].sum() == pytest.approx(row.treatment_n)
    if replace:
        assert w[~result.treat].max() > 1  # a control matched twice counts twice


def test_one_to_one_is_the_sub_group_pairs(data):
    result = match(data, "treated", ["x"], random_state=1)
    matched = result.matched
    female = matched["subclass"].map(matched[matched["treated"] == 1]
                                     .set_index("subclass")["sex"]) == "F"
    sub = matched[female.to_numpy()]
    pairs = weighted_difference(sub["reoffended"].to_numpy(float), sub["treated"].to_numpy() == 1,
                                sub["weights"].to_numpy(float), sub["subclass"].to_numpy())
    row = next(r for r in subgroup_effects(result, dimensions=("sex",), min_treated=10)
               if r.level == "F")
    assert (row.difference, row.ci_low, row.ci_high, row.p_value) == pytest.approx(
        (pairs.difference, pairs.ci_low, pairs.ci_high, pairs.p_value), abs=1e-12)


@pytest.mark.parametrize("method, kwargs", [("subclass", {"subclass": 4}),
                                            ("exact", {})])
def test_subclass_and_exact_weights(data, method, kwargs):
    covs = ["x"] if method == "subclass" else ["index_offence_group", "index_type"]
    result = match(data, "treated", covs, method=method, **kwargs)
    y = result.data["reoffended"].to_numpy(float)
    male = (data["sex"] == "M").to_numpy()
    t = result.treat
    sub = np.where(result.weights > 0, result.subclass, -1)
    treated_means, control_terms = [], []
    for s in np.unique(sub[sub >= 0]):
        in_s = sub == s
        n_tg = (in_s & t & male).sum()
        if n_tg and (in_s & ~t).any():
            treated_means.append(y[in_s & t & male].sum())
            control_terms.append(n_tg * y[in_s & ~t].mean())
    n = (t & male & (result.weights > 0)).sum()
    expected = sum(treated_means) / n - sum(control_terms) / n
    row = next(r for r in subgroup_effects(result, dimensions=("sex",), min_treated=10)
               if r.level == "M")
    assert row.difference == pytest.approx(expected, abs=1e-12)
    # the whole treatment group gets the matching's own ATT weights (up to scale)
    everyone = comparison_weights(result, np.ones(len(data), bool))
    controls = ~t & (result.weights > 0)
    ratio = everyone[controls] / result.weights[controls]
    assert np.allclose(ratio, ratio[0])


def test_small_groups_give_a_reason_and_holm_adjusts_the_rest(data):
    result = match(data, "treated", ["x"], random_state=1)
    rows = subgroup_effects(result, min_treated=40)
    small = [r for r in rows if r.treatment_n < 40]
    assert small and all(r.reason_not_reported and r.p_value is None for r in small)
    tested = [r for r in rows if r.p_value is not None]
    reject, adjusted, _, _ = multipletests([r.p_value for r in tested], method="holm")
    assert [r.p_adjusted for r in tested] == pytest.approx(list(adjusted))
    assert [r.significant for r in tested] == list(reject)
    assert rows[0].dimension == "sex"
    assert {r.dimension for r in rows} == {"sex", "age_band", "index_offence_group",
                                           "index_type"}


@pytest.mark.parametrize("ratio, replace", [(1, False), (5, True), (20, True)])
def test_subgroup_counts_give_the_estimated_rates(data, ratio, replace):
    """The released comparison count over the comparison size is the comparison group's
    weighted rate (to rounding), so a rate recomputed from the released counts agrees with the
    estimate. Before the fix the count was the weighted *sum*, whose weights add up to the
    sub-group's treated people, not its comparison people: at 20:1 a rate recomputed from it
    was tens of points off."""
    result = match(data, "treated", ["x"], ratio=ratio, replace=replace, random_state=1,
                   caliper=None)
    for row in subgroup_effects(result, dimensions=("sex", "index_offence_group"),
                                min_treated=10):
        if row.difference is None:
            continue
        treated_rate = row.treatment_events / row.treatment_n
        comparison_rate = row.comparison_events / row.comparison_n
        assert treated_rate - comparison_rate == pytest.approx(
            row.difference, abs=0.5 / row.comparison_n + 1e-12), (row.dimension, row.level)
