"""The feasibility check (issue 21): people analysed, the smallest detectable effect and the
people needed, against answers worked out by hand and an independent implementation."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from jdl.inference import (
    ANALYSED_SHARE,
    Feasibility,
    InferenceError,
    assess_feasibility,
)


def power_by_hand(n: int, p0: float, p1: float, alpha: float = 0.05) -> float:
    """The two-sided test of two proportions with n people in each group, written out
    (normal approximation, pooled variance under the null, unpooled under the alternative;
    Fleiss, Levin and Paik 2003, eq. 4.14 inverted), independently of jdl.inference."""
    z = stats.norm.ppf(1 - alpha / 2)
    pbar = (p0 + p1) / 2
    null_sd = math.sqrt(2 * pbar * (1 - pbar))
    alt_sd = math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))
    return float(stats.norm.cdf((abs(p0 - p1) * math.sqrt(n) - z * null_sd) / alt_sd))


def test_people_analysed_are_the_share_of_people_sent_rounded_down():
    assert assess_feasibility(100, base_rate=0.425).this.people_analysed == 60
    assert assess_feasibility(101, base_rate=0.425).this.people_analysed == 60  # 60.6
    assert assess_feasibility(99, base_rate=0.425).this.people_analysed == 59  # 59.4
    pooled = assess_feasibility(80, 3, 2, base_rate=0.425, analysed_share=0.5).this
    assert (pooled.people_sent, pooled.people_analysed) == (480, 240)
    assert ANALYSED_SHARE == 0.6  # the documented planning default


def test_the_smallest_detectable_fall_has_exactly_80_percent_power_by_hand():
    option = assess_feasibility(100, base_rate=0.425).this  # 60 analysed
    assert option.mde_decrease is not None and option.mde_increase is not None
    assert power_by_hand(60, 0.425, 0.425 - option.mde_decrease) == pytest.approx(0.8, abs=1e-6)
    assert power_by_hand(60, 0.425, 0.425 + option.mde_increase) == pytest.approx(0.8, abs=1e-6)
    assert 0.23 < option.mde_decrease < 0.24  # about 23 per 100: only a huge effect shows
    assert option.expected_reoffenders == pytest.approx(25.5)


def test_the_smallest_detectable_fall_agrees_with_statsmodels_arcsine_power():
    """statsmodels' NormalIndPower works on Cohen's h (the arcsine scale), a different
    approximation: the two agree to about a point per 100 at this size."""
    from statsmodels.stats.power import NormalIndPower

    h = NormalIndPower().solve_power(effect_size=None, nobs1=180, alpha=0.05, power=0.8,
                                     ratio=1.0)
    p1 = math.sin(math.asin(math.sqrt(0.336)) - h / 2) ** 2
    ours = assess_feasibility(300, base_rate=0.336).this  # 180 analysed
    assert ours.mde_decrease == pytest.approx(0.336 - p1, abs=0.005)


def test_people_needed_for_the_planning_effect_match_the_textbook_formula():
    # p0 = 0.5, p1 = 0.4, one comparison person each: pbar = 0.45,
    # n = (1.959964 * sqrt(0.495) + 0.841621 * sqrt(0.49))^2 / 0.01 = 387.34 -> 388
    check = assess_feasibility(100, base_rate=0.5, planning_effect=0.1)
    assert check.analysed_needed == 388
    assert check.people_needed == 647  # 388 / 0.6 = 646.7, rounded up
    assert check.years_needed == 7  # 647 people at 100 a year
    # 388 analysed people reach the planning effect, 387 do not quite
    assert power_by_hand(388, 0.5, 0.4) >= 0.8 > power_by_hand(387, 0.5, 0.4)


def test_verdicts_follow_the_labs_rules():
    assert assess_feasibility(90, base_rate=0.425).this.verdict == "too_few"  # 54 analysed
    # 600 analysed at 42.5 per 100: a fall of about 8 per 100 is detectable
    middling = assess_feasibility(1000, base_rate=0.425).this
    assert 0.05 < middling.mde_decrease < 0.10 and middling.verdict == "large_effects_only"
    big = assess_feasibility(2600, base_rate=0.425).this  # 1,560 analysed
    assert big.mde_decrease <= 0.05 and big.verdict == "realistic"
    # enough people, but too few re-offenders for the lab to call anything significant
    rare = assess_feasibility(250, base_rate=0.15, planning_effect=0.05).this
    assert rare.people_analysed == 150 and rare.expected_reoffenders < 30
    assert rare.verdict == "unlikely"


def test_no_fall_is_detectable_with_a_handful_of_people():
    tiny = assess_feasibility(5, base_rate=0.4).this
    assert tiny.people_analysed == 3 and tiny.mde_decrease is None
    assert tiny.verdict == "too_few"
    one = assess_feasibility(1, base_rate=0.4).this  # nobody analysed: no power maths at all
    assert one.people_analysed == 0 and one.mde_decrease is None


def test_pooled_options_add_years_and_partners():
    check = assess_feasibility(200, 1, 1, base_rate=0.425)
    shapes = [(o.years, o.organisations, o.people_sent) for o in check.options]
    assert shapes == [(2, 1, 400), (3, 1, 600), (1, 2, 400), (1, 3, 600), (2, 2, 800)]
    assert all(o.pooled for o in check.options) and not check.this.pooled
    downs = [o.mde_decrease for o in check.options]
    assert downs[0] == downs[2] and downs[1] == downs[3]  # only the number of people counts
    assert check.this.mde_decrease > downs[0] > downs[1] > downs[4]
    assert check.best_pooled is None  # 480 analysed at most: not enough for 5 per 100
    large = assess_feasibility(1500, base_rate=0.425)
    assert large.this.verdict == "large_effects_only"
    assert large.best_pooled is not None and large.best_pooled.people_sent == 3000


def test_the_matching_ratio_buys_precision():
    one = assess_feasibility(500, base_rate=0.425).this
    three = assess_feasibility(500, base_rate=0.425, ratio=3.0).this
    assert three.mde_decrease < one.mde_decrease


@pytest.mark.parametrize("kwargs, words", [
    ({"people_per_year": 0}, "people_per_year must be a whole number"),
    ({"people_per_year": True}, "people_per_year must be a whole number"),
    ({"years": 0}, "years must be a whole number"),
    ({"organisations": 1.5}, "organisations must be a whole number"),
    ({"analysed_share": 0}, "analysed share"),
    ({"analysed_share": 1.2}, "analysed share"),
    ({"base_rate": 1.0}, "base rate"),
    ({"base_rate": 0.04}, "planning effect"),
])
def test_impossible_inputs_are_refused_with_a_clear_message(kwargs, words):
    arguments = {"people_per_year": 100, "base_rate": 0.425, **kwargs}
    with pytest.raises(InferenceError, match=words):
        assess_feasibility(**arguments)


def test_the_result_is_frozen():
    check = assess_feasibility(100, base_rate=0.425)
    assert isinstance(check, Feasibility)
    with pytest.raises(AttributeError):
        check.people_needed = 1  # type: ignore[misc]
