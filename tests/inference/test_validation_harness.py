"""The simulator plants the effect it says; the harness recovers it; sensitivity tools run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jdl.inference import (
    CohortSimulator,
    Scenario,
    Specification,
    estimate_effects,
    rosenbaum_from_match,
    run_validation,
    specification_spread,
    spread_frame,
    without_each,
)
from jdl.matching import match


def test_simulator_plants_the_stated_effect():
    sim = CohortSimulator(population=5_000, treated_share=0.05)
    ev = sim.draw(Scenario("d", -0.05), np.random.default_rng(1))
    t = ev.data["treated"] == 1
    assert 150 < t.sum() < 400
    # the effect is additive on the probability, clipped at 0: almost everyone gets -5 points
    assert ev.true_att == pytest.approx(-0.05, abs=0.002)
    assert (ev.true_effect[~t.to_numpy()] == 0).all()
    # selection is confounded: participants are younger and higher-risk than the pool
    d = ev.data
    assert d.loc[t, "age"].mean() < d.loc[~t, "age"].mean() - 2
    assert d.loc[t, "risk_score"].mean() > d.loc[~t, "risk_score"].mean() + 3


def test_harness_recovers_a_large_planted_effect_and_beats_the_naive_comparison():
    sim = CohortSimulator(population=8_000, treated_share=0.05)
    rep = run_validation(sim, [Scenario("big", -0.15)], reps=12, seed=3)
    row = rep.table.loc["big"]
    assert abs(row["bias_pp"]) < 2.5  # 12 reps: MC s.e. of the bias is about 0.8 pp
    assert row["rejection_rate"] >= 0.9
    ev = sim.draw(Scenario("big", -0.15), np.random.default_rng(0))
    d = ev.data
    naive = d.loc[d.treated == 1, "reoffended"].mean() - d.loc[d.treated == 0, "reoffended"].mean()
    assert naive > -0.1  # confounding hides most of the effect without matching


@pytest.mark.slow
def test_harness_meets_targets_at_zero_effect():
    rep = run_validation(CohortSimulator(), [Scenario("no effect", 0.0)], reps=300, seed=11)
    row = rep.table.loc["no effect"]
    assert 0.92 <= row["coverage"] <= 0.98
    assert row["rejection_rate"] <= 0.08
    assert abs(row["bias_pp"]) < 0.6


def test_specification_spread_and_rosenbaum_on_lalonde():
    df = pd.read_csv(Path(__file__).parents[1] / "matching" / "data" / "lalonde.csv")
    df["employed78"] = (df["re78"] > 0).astype(int)
    covs = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
    specs = (Specification("base"), Specification("with replacement", {"replace": True}),
             Specification("2:1", {"ratio": 2}), *without_each(["re74"]),
             Specification("impossible", {"method": "no-such-method"}))
    rows = specification_spread(df, "treat", covs, outcome="re78", kind="mean",
                                specifications=specs)
    spread = spread_frame(rows)
    assert spread.loc["base", "difference"] == pytest.approx(894.367480, abs=1e-6)
    assert spread.loc["with replacement", "difference"] == pytest.approx(1991.615274, abs=1e-6)
    assert spread.loc["2:1", "difference"] == pytest.approx(220.288641, abs=1e-6)
    without = match(df, "treat", [c for c in covs if c != "re74"])
    assert spread.loc["without re74", "difference"] == pytest.approx(
        estimate_effects(without, {"re78": "mean"})["re78"].difference)
    # a specification that cannot run is kept, with the reason and no numbers
    assert rows[-1].note and rows[-1].difference is None
    # reusing the main scores gives the main specification's numbers exactly
    main = match(df, "treat", covs)
    reused = specification_spread(df, "treat", covs, outcome="re78", kind="mean",
                                  specifications=specs[:3], distance=main.distance)
    assert reused == rows[:3]
    m = match(df, "treat", covs)
    rb = rosenbaum_from_match(m, "employed78")
    t = df["employed78"].to_numpy()[m.treat]
    c = df["employed78"].to_numpy()[m.match_matrix[:, 0]]
    assert rb.discordant_pairs == int((t != c).sum())


def test_validate_entry_point_writes_its_report(tmp_path):
    import json

    pytest.importorskip("bench.validate")
    from bench.validate import run

    out = tmp_path / "validation.json"
    run(CohortSimulator(population=4_000, treated_share=0.05), reps=3, seed=1, out=out)
    payload = json.loads(out.read_text())
    assert payload["reps_per_scenario"] == 3 and payload["source"] == "CohortSimulator"
    assert {s["scenario"] for s in payload["scenarios"]} == {
        "no effect", "decrease 5 pp", "increase 5 pp"}
    assert payload["targets"]["fpr_max"] == 0.055
