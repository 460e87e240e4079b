"""Registered sub-analyses' statistics against known answers: Holm's adjustment, the
dose-response trend, dosage bands, and which sub-groups may be analysed at all (attacks by the
choice of sub-group)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jdl.inference import (
    SubgroupEstimate,
    dose_bands,
    dose_trend,
    holm,
    safe_groups,
    with_holm,
)

Z = 1.959963984540054


def test_holm_on_a_hand_worked_set():
    # sorted: 0.005 x4 = 0.02; 0.01 x3 = 0.03; 0.03 x2 = 0.06; 0.04 x1 = 0.04 -> max(0.06, 0.04)
    adjusted, reject = holm([0.01, 0.04, 0.03, 0.005], alpha=0.05)
    assert adjusted == pytest.approx((0.03, 0.06, 0.06, 0.02))
    assert reject == (True, False, False, True)
    # capped at 1, and an empty family is empty
    assert holm([0.6, 0.7])[0] == pytest.approx((1.0, 1.0))
    assert holm([]) == ((), ())


def test_with_holm_leaves_rows_without_an_estimate_out_of_the_family():
    rows = [SubgroupEstimate("d", "a", 60, 60, p_value=0.01),
            SubgroupEstimate("d", "b", None, None, reason_not_reported="declined"),
            SubgroupEstimate("d", "c", 60, 60, p_value=0.04)]
    out = with_holm(rows, 0.05)
    assert out[0].p_adjusted == pytest.approx(0.02) and out[0].significant
    assert out[1].p_adjusted is None and not out[1].significant
    assert out[2].p_adjusted == pytest.approx(0.04) and out[2].significant


def _row(level: str, d: float, se: float) -> SubgroupEstimate:
    return SubgroupEstimate("attendance", level, 100, 100, difference=d, ci_low=d - Z * se,
                            ci_high=d + Z * se, p_value=0.5)


def test_dose_trend_equal_precision_is_the_least_squares_slope():
    rows = [_row("low", 0.0, 0.02), _row("mid", -0.05, 0.02), _row("high", -0.10, 0.02)]
    trend = dose_trend("attendance", rows)
    assert trend.slope == pytest.approx(-0.05)
    se = 1 / np.sqrt(2 / 0.02**2)  # 1 / sqrt(sum w (x - xbar)^2)
    assert trend.ci_high - trend.ci_low == pytest.approx(2 * Z * se)
    assert trend.p_value == pytest.approx(2 * 0.00020346, rel=1e-3)  # z = -3.5355
    assert trend.bands == 3


def test_dose_trend_of_two_bands_is_the_test_of_their_difference():
    trend = dose_trend("attendance", [_row("low", 0.0, 0.03), _row("high", -0.10, 0.04)])
    # Altman and Bland (2003): z = -0.10 / sqrt(0.03^2 + 0.04^2) = -2
    assert trend.slope == pytest.approx(-0.10)
    assert trend.p_value == pytest.approx(0.0455003, rel=1e-5)


def test_dose_trend_needs_two_estimated_bands():
    declined = SubgroupEstimate("attendance", "high", None, None, reason_not_reported="x")
    trend = dose_trend("attendance", [_row("low", 0.0, 0.03), declined])
    assert trend.slope is None and trend.reason_not_reported


def test_dose_bands_registered_and_default():
    values = pd.Series([0, 3, 4, 5, 9, 10, 25, None], dtype="Int64")
    band, labels = dose_bands(values, (4, 9))
    assert labels == ("0 to 4", "5 to 9", "10 or more")
    assert band.tolist()[:7] == ["0 to 4"] * 3 + ["5 to 9"] * 2 + ["10 or more"] * 2
    assert pd.isna(band.iloc[7])
    # default: integer tertiles of the counts
    band, labels = dose_bands(pd.Series(range(1, 31)))
    assert labels == ("0 to 10", "11 to 20", "21 or more")
    assert band.value_counts().tolist() == [10, 10, 10]


def _mask(n: int, idx) -> np.ndarray:
    out = np.zeros(n, bool)
    out[list(idx)] = True
    return out


def test_a_tiny_site_is_not_analysed():
    n = 300
    whole = np.ones(n, bool)
    big, tiny = _mask(n, range(0, 297)), _mask(n, range(297, 300))
    # the tiny site is too small; the big one is the whole group but for three people
    assert safe_groups([big, tiny], [whole], 50) == [False, False]


def test_two_overlapping_groups_differing_by_one_person():
    n = 400
    whole = np.ones(n, bool)
    a = _mask(n, range(0, 150))            # e.g. delivery_mode = online
    b = _mask(n, range(0, 151))            # e.g. site = North: the same people and one more
    c = _mask(n, range(150, 400))
    assert safe_groups([a, b, c], [whole], 50) == [True, False, True]
    # whichever the plan names first is the one analysed
    assert safe_groups([b, a], [whole], 50) == [True, False]


def test_a_group_one_person_away_from_an_exploratory_group_is_not_analysed():
    n = 400
    whole = np.ones(n, bool)
    women = _mask(n, range(0, 120))
    site = _mask(n, range(1, 120))         # the women, but one
    assert safe_groups([site], [whole, women], 50) == [False]
    assert safe_groups([site], [whole], 50) == [True]


def test_complementary_levels_are_both_analysed():
    n = 200
    a, b = _mask(n, range(0, 100)), _mask(n, range(100, 200))
    assert safe_groups([a, b], [np.ones(n, bool)], 50) == [True, True]
