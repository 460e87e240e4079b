"""The pipeline validation's summary maths, on hand-made tables with answers worked by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bench import validate_pipeline as vp


def _row(design: str, estimate: float, low: float, high: float, truth: float, *,
         hr: float = 0.8, p: float = 0.5, size: int = 60, rep: int = 0, **extra) -> dict:
    return {"design": design, "population_seed": 1, "people": 10, "programme": "a",
            "size": size, "replicate": rep, "estimate": estimate, "ci_low": low,
            "ci_high": high, "truth_realised": truth,
            "truth_expected": extra.pop("expected", truth),
            "hazard_ratio": hr, "p_value": p, "n_treated": size, "n_treated_unmatched": 0,
            "n_controls": extra.pop("controls", size), "max_abs_smd": 0.05, **extra}


def test_bias_rmse_coverage_fpr_width_by_hand():
    rows = pd.DataFrame([
        # errors +0.02, -0.04, +0.03, +0.01 -> bias +0.5 pt, RMSE sqrt(30e-4 / 4) pt
        _row("d", 0.02, -0.05, 0.09, 0.00, hr=1.0, p=0.60),  # covered; width 14
        _row("d", -0.04, -0.10, 0.02, 0.00, hr=1.0, p=0.04),  # covered, a false positive; 12
        _row("d", -0.07, -0.09, -0.05, -0.10, p=0.01),  # truth below the CI: missed; 4
        _row("d", -0.04, -0.10, 0.02, -0.05, p=0.30, expected=-0.01),  # covered; 12
    ])
    s = vp.summarise(rows)
    assert s["evaluations"] == 4
    assert s["bias_pp"] == pytest.approx(0.5)
    assert s["rmse_pp"] == pytest.approx(100 * np.sqrt((4 + 16 + 9 + 1) * 1e-4 / 4), abs=1e-3)
    assert s["coverage_95"] == pytest.approx(0.75)
    assert s["coverage_se"] == pytest.approx(np.sqrt(0.75 * 0.25 / 4), abs=1e-4)
    assert s["zero_effect_evaluations"] == 2
    assert s["false_positive_rate"] == pytest.approx(0.5)  # only hazard ratio 1 rows count
    assert s["median_ci_width_pp"] == pytest.approx(12.0)  # widths 14, 12, 4, 12
    # against the expected truth: the fourth CI covers -0.01 too, the third still misses
    assert s["coverage_95_expected_truth"] == pytest.approx(0.75)


def test_coverage_uses_the_chosen_truth():
    rows = pd.DataFrame([_row("d", 0.0, -0.01, 0.01, 0.05, expected=0.0)])
    assert vp.summarise(rows)["coverage_95"] == 0.0
    assert vp.summarise(rows)["coverage_95_expected_truth"] == 1.0
    assert vp.summarise(rows, truth="truth_expected")["coverage_95"] == 1.0


def test_no_zero_effect_programme_gives_no_false_positive_rate():
    s = vp.summarise(pd.DataFrame([_row("d", 0.0, -0.1, 0.1, 0.0, hr=0.7, p=0.001)]))
    assert s["false_positive_rate"] is None
    assert s["zero_effect_evaluations"] == 0


def test_width_reduction_pairs_the_same_cohorts_and_checks_the_targets():
    rows = pd.DataFrame([
        _row("one-to-one", 0, -0.10, 0.10, 0, rep=0),  # width 20
        _row("one-to-one", 0, -0.05, 0.05, 0, rep=1),  # width 10
        _row("k", 0, -0.07, 0.07, 0, rep=0),  # 14: 30% narrower
        _row("k", 0, -0.04, 0.04, 0, rep=1),  # 8: 20% narrower
        _row("k", 0, -0.01, 0.01, 0, rep=2),  # no 1:1 partner: left out
        _row("one-to-one", 0, -0.5, 0.5, 0, size=500),  # outside 60-250: left out
        _row("k", 0, -0.1, 0.1, 0, size=500),
    ])
    red = vp.width_reduction(rows, "k")
    assert red["cohorts"] == 2
    assert red["reduction_of_median_width"] == pytest.approx(1 - 11 / 15, abs=1e-4)  # 11 vs 15
    assert red["median_paired_reduction"] == pytest.approx(0.25, abs=1e-4)  # of 0.3, 0.2
    assert vp.checks({"coverage_95": 0.95, "false_positive_rate": 0.05, "bias_pp": -0.4},
                     red) == {"coverage_93_97": True, "false_positive_rate_le_5_5": True,
                              "abs_bias_lt_0_5_pp": True,
                              "ci_width_60_250_at_least_25pct_narrower": True}
    assert vp.checks({"coverage_95": 0.92, "false_positive_rate": 0.06, "bias_pp": 0.5},
                     {"reduction_of_median_width": 0.2}) == {
        "coverage_93_97": False, "false_positive_rate_le_5_5": False,
        "abs_bias_lt_0_5_pp": False, "ci_width_60_250_at_least_25pct_narrower": False}


def test_summary_groups_by_design_and_size_and_renders_a_table():
    rows = pd.DataFrame([_row("one-to-one", 0.01, -0.1, 0.1, 0.0, hr=1.0, size=s)
                         for s in (60, 500)]
                        + [_row("k", 0.0, -0.05, 0.05, 0.0, hr=1.0, size=s) for s in (60, 500)])
    out = vp.summary(rows)
    assert set(out) == {"one-to-one", "k"}
    assert set(out["k"]["by_size"]) == {60, 500}
    assert out["k"]["ci_width_vs_one-to-one"]["cohorts"] == 1
    table = vp.markdown(out)
    assert "| k | 60 | 1 | +0.00 |" in table and "| one-to-one | all | 2 | +1.00 |" in table


def test_disjoint_blocks_do_not_overlap_and_respect_the_cap():
    blocks = vp.disjoint_blocks(130, 60, 8, seed=3)
    assert len(blocks) == 2 and all(len(b) == 60 for b in blocks)
    assert not set(blocks[0]) & set(blocks[1])
    assert len(vp.disjoint_blocks(1000, 60, 8, seed=3)) == 8
    assert vp.disjoint_blocks(59, 60, 8, seed=3) == []


def test_designs_resolve_to_settings_and_identical_designs_run_once():
    settings, extra = vp.resolve_design({"ratio": 5, "replace": True, "distance": "mahalanobis"})
    assert settings.ratio == 5 and settings.replace is True
    assert extra == {"distance": "mahalanobis"}
    from jdl.core.config import MatchingSettings

    today = {k: getattr(MatchingSettings(), k) for k in ("method", "ratio", "replace", "caliper")}
    run, alias = vp.distinct_designs({"a": today, "b": {}, "c": {"ratio": 3}})
    assert "c" in run and alias == {"b": "a"}
    with pytest.raises(ValueError):
        vp.resolve_design({"ratio": "many"})


def test_a_key_this_code_does_not_know_is_left_out_and_listed():
    unknown = {"ratio": 2, "no_such_setting_xyz": "x"}
    assert vp.unknown_keys(unknown) == ["no_such_setting_xyz"]
    settings, extra = vp.resolve_design(unknown)
    assert settings.ratio == 2 and extra == {}
    assert vp.design_fingerprint(unknown) == vp.design_fingerprint({"ratio": 2})


def test_rows_append_and_read_back(tmp_path):
    path = tmp_path / "rows.jsonl"
    vp.append_row(path, {"a": 1})
    vp.append_row(path, {"a": np.float64(2.5)})
    assert vp.read_rows(path) == [{"a": 1}, {"a": 2.5}]
    assert json.loads(path.read_text().splitlines()[1]) == {"a": 2.5}


def test_the_adjusted_estimate_is_summarised_as_its_own_design():
    rows = pd.DataFrame([
        _row("k", 0.05, 0.0, 0.1, 0.0, adj_estimate=0.01, adj_ci_low=-0.02, adj_ci_high=0.04,
             adj_p_value=0.5, design_used="power-first (5:1 with replacement)"),
        _row("k", 0.05, 0.0, 0.1, 0.0, adj_estimate=None, adj_ci_low=None, adj_ci_high=None,
             adj_p_value=None, rep=1, design_used="power-first (3:1 with replacement)"),
    ])
    both = vp.with_adjusted(rows)
    adj = both[both["design"] == "k +adjusted"]
    assert len(adj) == 1 and adj["estimate"].iloc[0] == 0.01 and adj["ci_high"].iloc[0] == 0.04
    out = vp.summary(both)
    assert out["k +adjusted"]["overall"]["bias_pp"] == pytest.approx(1.0)
    assert out["k"]["overall"]["coverage_95"] == 1.0  # 0 is on the lower limit: covered
    assert out["k"]["design_used"] == {"power-first (5:1 with replacement)": 1,
                                       "power-first (3:1 with replacement)": 1}


def test_se_calibration_by_hand():
    """Within one (population, programme, size) the estimates' SD against the mean SE; the
    shift at no effect in SE units; the other recorded standard errors' false positives."""
    est = [0.02, -0.02, 0.04, -0.04]  # SD = sqrt((4 + 4 + 16 + 16) e-4 / 3)
    rows = pd.DataFrame([
        _row("d", e, e - 0.1, e + 0.1, 0.0, hr=1.0, rep=i, se=0.05, se_pairs_person=0.01,
             se_abadie_imbens=0.05) for i, e in enumerate(est)])
    c = vp.se_calibration(rows)
    assert c["groups"] == 1
    assert c["sd_over_se"] == pytest.approx(np.sqrt(40e-4 / 3) / 0.05, abs=1e-3)
    assert c["null_shift"][60]["mean_estimate_pp"] == pytest.approx(0.0)
    # |estimate| / 0.01 > 1.96 for all four; / 0.05 for none
    assert c["other_rules"]["se_pairs_person"]["false_positive_rate"] == 1.0
    assert c["other_rules"]["se_abadie_imbens"]["false_positive_rate"] == 0.0
    assert c["other_rules"]["se"]["coverage_95"] == 1.0


def test_released_figures_are_the_lab_s_released_rate():
    """The released reading of a row: withheld below 10 events or non-events (as the lab
    withholds), else Newcombe's interval and the pooled test on the counts rounded to 5 with
    the comparison group at its rounded effective size — the disclosure module's own
    computation on the released row."""
    from jdl.disclosure._coarsen import released_two_proportions

    assert vp.released_figures(9, 60, 0.3, 600, 300.0) == {}  # 9 treated re-offenders
    assert vp.released_figures(52, 60, 0.3, 600, 300.0) == {}  # 8 did not re-offend
    got = vp.released_figures(13, 62, 0.31, 1117, 402.4)
    row = {"treatment_events": 15, "treatment_n": 60, "comparison_events": 345,
           "comparison_n": 1115, "comparison_ess": 400}  # 13, 62, 346.27, 1117, 402.4 rounded
    d, lo, hi, p = released_two_proportions(row)
    assert (got["rel_estimate"], got["rel_ci_low"], got["rel_ci_high"], got["rel_p_value"]) \
        == (d, lo, hi, p)
    assert got["rel_significant"] is False and lo < 0 < hi


def test_the_released_reading_joins_the_summary_as_its_own_design():
    rows = pd.DataFrame([
        _row("d", -0.10, -0.20, 0.00, -0.05, hr=1.0, p=0.04, size=120, treated_events=12.0,
             comparison_rate=0.3, comparison_ess=600.0, significant_by_lab_rules=False),
        _row("d", 0.0, -0.1, 0.1, 0.0, hr=1.0, p=0.9, size=120, treated_events=5.0,
             comparison_rate=0.3, comparison_ess=600.0, significant_by_lab_rules=False)])
    both = vp.with_released(rows)
    released = both[both["design"] == "d released"]
    assert len(released) == 1  # the second row's 5 re-offenders are withheld
    # rounded counts: 12 -> 10 of 120 treated, 0.3 x 120 = 36 -> 35 of 120 compared
    assert released["estimate"].iloc[0] == pytest.approx(10 / 120 - 35 / 120)
    assert released["internal_p_value"].iloc[0] == 0.04
