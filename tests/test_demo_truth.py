"""The demo's statement of the truth: expected and realised effects, and which one the lab's
interval should cover (issue 21: the demo used to print only the expected effect)."""

from __future__ import annotations

import pandas as pd

from jdl.pipeline_cli import planted_truth_lines, realised_rate_effect


def _write(tmp_path):
    data, evaluation = tmp_path / "data", tmp_path / "evaluation"
    (data / "truth").mkdir(parents=True)
    (evaluation / "internal").mkdir(parents=True)
    # Four analysed participants: re-offenders 1 of 4 with the programme, 3 of 4 without it;
    # a fifth participant was not analysed and another programme's person must be ignored.
    pd.DataFrame({
        "programme": ["p"] * 5 + ["other"],
        "person_id": [1, 2, 3, 4, 5, 1],
        "event_id": [10, 20, 30, 40, 50, 99],
        "reoffences_treated": [0, 0, 2, 0, 5, 0],
        "reoffences_untreated": [1, 3, 1, 0, 5, 0],
    }).to_parquet(data / "truth" / "participants.parquet")
    pd.DataFrame({
        "person_id": [1, 2, 3, 4, 100, 101],
        "event_id": [10, 20, 30, 40, 1000, 1001],
        "treated": [1, 1, 1, 1, 0, 0],
        "weights": 1.0, "subclass": [0, 1, 2, 3, 0, 1],
    }).to_csv(evaluation / "internal" / "matched.csv", index=False)
    return data, evaluation


def test_realised_effect_is_over_the_analysed_participants_only(tmp_path):
    data, evaluation = _write(tmp_path)
    effect, n = realised_rate_effect(data, "p", evaluation)
    assert n == 4
    assert effect == 1 / 4 - 3 / 4


def test_demo_says_which_effect_the_interval_estimates_and_whether_it_covers_it(tmp_path):
    data, evaluation = _write(tmp_path)
    spec = {"name": "p", "true_effect": {"att_rate": -0.067}}
    covering = {"measures": {"proven_reoffending_rate": {"ci_low": -0.6, "ci_high": 0.1}}}
    text = "\n".join(planted_truth_lines(spec, data, evaluation, covering))
    assert "-6.7 per 100" in text and "-50.0 per 100" in text
    assert "and covers it" in text
    missing = {"measures": {"proven_reoffending_rate": {"ci_low": -0.2, "ci_high": 0.1}}}
    assert "does not cover it" in "\n".join(planted_truth_lines(spec, data, evaluation, missing))
