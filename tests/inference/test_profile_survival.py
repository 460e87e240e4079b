"""The matched treatment group's profile and the survival curves read at the report's days."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jdl.inference import age_band, treated_profile
from jdl.inference._survival import CURVE_DAYS, curve_points, km_curve


def test_age_bands_are_right_closed():
    bands = age_band(pd.Series([15, 17, 18, 24, 25, 39, 40, 49, 50, 80]))
    assert bands.tolist() == ["under 18", "under 18", "18-24", "18-24", "25-29", "30-39",
                              "40-49", "40-49", "50+", "50+"]


def test_profile_counts_the_treated_only_most_common_first():
    matched = pd.DataFrame({
        "treated": [1, 1, 1, 0], "sex": ["M", "F", "M", "F"], "age_at_index": [20, 30, 31, 40],
        "ethnicity": ["White", "Black", "White", "Asian"], "nationality": ["British"] * 4,
        "index_offence_group": ["theft", "theft", "drugs", "theft"]})
    tables = treated_profile(matched).tables
    assert tables["sex"] == {"Male": 2, "Female": 1}
    assert tables["age_band"] == {"30-39": 2, "18-24": 1}
    assert list(tables) == ["sex", "age_band", "ethnicity", "nationality",
                            "index_offence_group"]
    assert all(sum(t.values()) == 3 for t in tables.values())


def test_curve_points_read_the_step_function():
    time = np.array([10.0, 40.0, 40.0, 365.0, 365.0])
    event = np.array([1.0, 1.0, 0.0, 0.0, 0.0])
    curve = km_curve(time, event, np.ones(5))
    points = curve_points(curve, (0, 9, 10, 39, 40, 365))
    assert [p.day for p in points] == [0, 9, 10, 39, 40, 365]
    # S(10) = 4/5; S(40) = 4/5 * 3/4 = 3/5
    assert [p.proportion_not_reoffended for p in points] == pytest.approx(
        [1.0, 1.0, 0.8, 0.8, 0.6, 0.6])
    assert [p.n_at_risk for p in points] == [5, 5, 5, 5, 4, 4]
    assert CURVE_DAYS[0] == 0 and CURVE_DAYS[-1] == 360 and len(CURVE_DAYS) == 13
