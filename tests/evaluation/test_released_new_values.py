"""The values issue 18 adds to the released results go through disclosure control: the
comparison group's effective size, each group's own interval, the covariate-adjusted estimate.

Released estimates are computed from released counts where a count carries them (a rate's
interval, now with the comparison group at its released effective size) and otherwise rounded
to a step a few people cannot move them across (the adjusted estimate)."""

from __future__ import annotations

import math

import pytest

from jdl.disclosure._coarsen import (
    _wilson,
    coarse_p,
    coarsen,
    released_two_proportions,
    two_proportions,
)


def _rate(**extra):
    m = {"label": "rate", "unit": "proportion", "treatment": 0.2571, "comparison": 0.3261,
         "difference": -0.069, "ci_low": -0.16, "ci_high": 0.03, "p_value": 0.2,
         "significant": False, "conclusion": "x", "treatment_n": 175, "comparison_n": 460,
         "treatment_events": 45, "comparison_events": 150, "comparison_ess": 160,
         "reported": True, "reason_not_reported": None,
         "treatment_ci_low": 0.19, "treatment_ci_high": 0.32,
         "comparison_ci_low": 0.28, "comparison_ci_high": 0.37,
         "adjusted_comparison": 0.2913, "adjusted_difference": -0.0342,
         "adjusted_ci_low": -0.1123, "adjusted_ci_high": 0.0439, "adjusted_p_value": 0.39,
         "adjustment": "logistic"}
    m.update(extra)
    return m


def _released(m):
    data = {"measures": {"proven_reoffending_rate": m}, "power": {"alpha": 0.05}}
    coarsen(data, base=5)
    return data["measures"]["proven_reoffending_rate"]


def test_a_weighted_comparison_group_counts_at_its_effective_size():
    m = _released(_rate())
    kc, nc, ess = 150, 460, 160
    _, lo, hi, p = two_proportions(45, 175, kc / nc * ess, ess)
    assert (m["ci_low"], m["ci_high"]) == (round(lo, 4), round(hi, 4))
    assert m["p_value"] == coarse_p(p)
    # wider than the head count would give: 460 reused people are worth 160
    _, lo_n, hi_n, _ = two_proportions(45, 175, kc, nc)
    assert hi - lo > hi_n - lo_n + 0.02
    assert released_two_proportions(m)[1] == pytest.approx(lo)


def test_an_effective_size_never_claims_more_than_the_head_count():
    m = _released(_rate(comparison_ess=900))
    _, lo, hi, _ = two_proportions(45, 175, 150, 460)
    assert (m["ci_low"], m["ci_high"]) == (round(lo, 4), round(hi, 4))


def test_each_groups_interval_is_wilsons_of_the_released_counts():
    m = _released(_rate())
    z = 1.959963984540054
    assert (m["treatment_ci_low"], m["treatment_ci_high"]) == tuple(
        round(v, 4) for v in _wilson(45, 175, z))
    assert (m["comparison_ci_low"], m["comparison_ci_high"]) == tuple(
        round(v, 4) for v in _wilson(150 / 460 * 160, 160, z))
    # Newcombe's interval of the difference is built from exactly these limits
    pt, pc = 45 / 175, 150 / 460
    lo = (pt - pc) - math.hypot(pt - _wilson(45, 175, z)[0],
                                _wilson(150 / 460 * 160, 160, z)[1] - pc)
    assert m["ci_low"] == pytest.approx(lo, abs=1e-4)


def test_the_adjusted_estimate_is_rounded_to_five_peoples_worth():
    m = _released(_rate())
    step = 0.03  # 5 / 175 = 0.0286, rounded up to a percentage point
    assert m["adjusted_difference"] == pytest.approx(-0.03)
    half = (m["adjusted_ci_high"] - m["adjusted_ci_low"]) / 2
    assert half / step == pytest.approx(round(half / step))
    assert half >= (0.0439 + 0.1123) / 2  # rounded up, never narrower
    assert m["adjusted_difference"] == pytest.approx(
        (m["adjusted_ci_low"] + m["adjusted_ci_high"]) / 2)
    assert m["adjusted_comparison"] == pytest.approx(m["treatment"] - m["adjusted_difference"])
    assert m["adjusted_p_value"] == round(m["adjusted_p_value"], 2)


def test_a_withheld_measure_withholds_its_intervals_and_adjustment():
    m = _released(_rate(treatment_events=None, treatment=None))
    assert m["difference"] is None
    for key in ("treatment_ci_low", "comparison_ci_high", "adjusted_difference",
                "adjusted_ci_low", "adjusted_comparison", "adjusted_p_value"):
        assert m[key] is None, key


def test_days_intervals_are_centred_and_rounded_up_to_a_day():
    days = {"label": "days", "unit": "days", "treatment": 141.3, "comparison": 144.2,
            "difference": -2.9, "ci_low": -39.2, "ci_high": 33.4, "p_value": 0.87,
            "significant": False, "conclusion": None, "treatment_n": 45, "comparison_n": 150,
            "treatment_events": 45, "comparison_events": 150, "comparison_ess": 75,
            "reported": True, "reason_not_reported": None,
            "treatment_ci_low": 112.4, "treatment_ci_high": 170.2,
            "comparison_ci_low": 122.0, "comparison_ci_high": 166.4,
            "adjusted_comparison": 155.1, "adjusted_difference": -13.8,
            "adjusted_ci_low": -48.6, "adjusted_ci_high": 21.0, "adjusted_p_value": 0.43,
            "adjustment": "linear"}
    data = {"measures": {"proven_reoffending_rate": _rate(),
                         "days_to_first_reoffence": days}, "power": {"alpha": 0.05}}
    coarsen(data, base=5)
    d = data["measures"]["days_to_first_reoffence"]
    assert d["treatment"] == 141.0
    assert (d["treatment_ci_low"], d["treatment_ci_high"]) == (112.0, 170.0)  # 28.9 -> 29
    assert d["adjusted_difference"] == -14.0
    assert (d["adjusted_ci_low"], d["adjusted_ci_high"]) == (-49.0, 21.0)  # 34.8 -> 35


def test_sub_group_rows_use_the_headlines_effective_size_ratio():
    """A sub-group row releases no effective size of its own (a hidden row's would repeat the
    headline's); its interval scales its released comparison size by the headline's
    released effective size over head count (160 / 460)."""
    row = {"dimension": "sex", "level": "Male", "treatment_n": 120, "comparison_n": 300,
           "treatment_events": 30, "comparison_events": 100, "difference": -0.08,
           "ci_low": -0.2, "ci_high": 0.04, "p_value": 0.2, "p_adjusted": 0.4,
           "significant": False}
    data = {"measures": {"proven_reoffending_rate": _rate()}, "subgroups": [row],
            "power": {"alpha": 0.05}}
    coarsen(data, base=5)
    released = data["subgroups"][0]
    n_eff = 300 * 160 / 460
    _, lo, hi, _p = two_proportions(30, 120, 100 / 300 * n_eff, n_eff)
    assert (released["ci_low"], released["ci_high"]) == (round(lo, 4), round(hi, 4))
    assert "comparison_ess" not in released
