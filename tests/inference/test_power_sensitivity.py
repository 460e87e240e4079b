"""Power, E-values, Rosenbaum bounds, Kaplan-Meier and the CLI against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from jdl.inference import (
    InferenceError,
    e_value,
    minimum_detectable_effect,
    power_two_proportions,
    required_n,
    rosenbaum_binary,
)
from jdl.inference._survival import km_curve


def test_required_n_hand_computed():
    # 42% -> 32%: pbar 0.37; (1.95996*sqrt(2*.37*.63) + .84162*sqrt(.2436+.2176))^2 / .01
    za, zb = stats.norm.ppf(0.975), stats.norm.ppf(0.8)
    hand = (za * math.sqrt(2 * 0.37 * 0.63) + zb * math.sqrt(0.42 * 0.58 + 0.32 * 0.68)) ** 2
    assert required_n(0.42, 0.32) == math.ceil(hand / 0.01) == 365
    # a 2:1 comparison group needs fewer treated people
    assert required_n(0.42, 0.32, ratio=2) < 365


def test_mde_round_trip_and_cli_example():
    res = minimum_detectable_effect(120, 0.42)
    assert 0.16 < res.mde_decrease < 0.18 and 0.17 < res.mde_increase < 0.19
    p_low = 0.42 - res.mde_decrease
    assert power_two_proportions(120, 0.42, p_low) == pytest.approx(0.8, abs=1e-6)
    # at the MDE the required n is (up to rounding) the n we started from
    assert required_n(0.42, p_low) in (120, 121)
    with pytest.raises(InferenceError):
        minimum_detectable_effect(120, 1.5)


def test_e_value_published_example():
    # VanderWeele & Ding (2017): RR 3.9 (95% CI 1.8 to 8.7) -> E-values 7.26 and 3.0
    point, ci = e_value(3.9, 1.8, 8.7)
    assert point == pytest.approx(7.26, abs=0.005)
    assert ci == pytest.approx(3.0, abs=0.005)
    # protective effects are inverted; an interval crossing 1 gives 1
    assert e_value(1 / 3.9)[0] == pytest.approx(point)
    assert e_value(0.9, 0.7, 1.1)[1] == 1.0


def test_rosenbaum_bounds_binary():
    t = np.r_[np.ones(30), np.zeros(10), np.ones(20), np.zeros(40)].astype(bool)
    c = np.r_[np.zeros(30), np.ones(10), np.ones(20), np.zeros(40)].astype(bool)
    rb = rosenbaum_binary(t, c)
    assert rb.discordant_pairs == 40 and rb.treated_only == 30
    p1 = rb.table.loc[rb.table.gamma == 1, "p_upper"].item()
    assert p1 == pytest.approx(stats.binom.sf(29, 40, 0.5))  # exact McNemar, one-sided
    assert rb.table["p_upper"].is_monotonic_increasing
    g = rb.gamma_critical
    assert stats.binom.sf(29, 40, g / (1 + g)) == pytest.approx(0.05, abs=1e-6)


def test_kaplan_meier_hand_computed():
    km = km_curve(np.array([1.0, 2, 2, 3]), np.array([1.0, 1, 0, 1]), np.ones(4))
    assert km["survival"].tolist() == pytest.approx([1.0, 0.75, 0.5, 0.0])
    # integer weights behave like repeated rows
    kw = km_curve(np.array([1.0, 2, 3]), np.array([1.0, 0, 1]), np.array([2.0, 1, 1]))
    kr = km_curve(np.array([1.0, 1, 2, 3]), np.array([1.0, 1, 0, 1]), np.ones(4))
    assert kw["survival"].tolist() == pytest.approx(kr["survival"].tolist())


def test_power_cli():
    from jdl.cli import app

    out = CliRunner().invoke(app, ["power", "--n", "120", "--base-rate", "0.42",
                                   "--difference", "-0.1"])
    assert out.exit_code == 0, out.output
    assert "fall of 17.0" in out.output and "365" in out.output
    bad = CliRunner().invoke(app, ["power", "--n", "120", "--base-rate", "2"])
    assert bad.exit_code != 0


def test_survival_curves_from_matched_table():
    from jdl.inference import survival_curves

    df = pd.DataFrame({"treated": [1, 1, 0, 0], "reoffended": [1, 0, 1, 1],
                       "days_to_first": [10.0, np.nan, 5.0, 20.0], "weights": 1.0})
    sc = survival_curves(df, treatment="treated")
    assert sc.proportion_reoffended_by(365) == pytest.approx((0.5, 1.0))
