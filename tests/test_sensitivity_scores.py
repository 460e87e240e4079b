"""The sensitivity analysis' specifications reuse the main propensity scores (a speed-up at
national scale): their results are exactly those of refitting the model for each."""

from __future__ import annotations

import dataclasses

import numpy as np
from bench.bench_matching import COVS, make_data

from jdl.core.config import Settings
from jdl.evaluation import _evaluate as evaluation
from jdl.inference import estimate_effects


def test_specifications_with_reused_scores_equal_refitted_ones():
    frame = make_data(300, 6_000, seed=3).rename(columns={"treat": "treated"})
    frame["reoffended"] = np.random.default_rng(5).binomial(1, 0.4, len(frame))
    settings = Settings(matching={"design": "fixed"})  # the 1:1 reference design
    design = evaluation._design(frame, COVS, [], settings, 1)
    result = design.result
    assert result.model is not None and result.distance is not None
    effects = estimate_effects(result, {"reoffended": "rate"}, settings=settings.inference)
    reused = evaluation._sensitivity(frame, COVS, [], design, effects, settings, 1)
    unfitted = dataclasses.replace(design, result=dataclasses.replace(result, model=None))
    refitted = evaluation._sensitivity(frame, COVS, [], unfitted, effects, settings, 1)
    rows = reused.specifications
    assert [r.label for r in rows][:4] == [
        "Main analysis", "Caliper 0.1", "3 comparison people per participant", "With replacement"]
    assert all(r.difference is not None for r in rows)
    assert rows == refitted.specifications
    # the main specification is the main analysis
    main = effects["reoffended"]
    assert (rows[0].difference, rows[0].treatment_n) == (main.difference, main.n_treated)


def test_power_first_sensitivity_rows_start_from_the_chosen_design():
    """Under the power-first design the main row is the chosen k:1 design and the 1:1
    reference design is a row of its own."""
    frame = make_data(300, 6_000, seed=3).rename(columns={"treat": "treated"})
    frame["reoffended"] = np.random.default_rng(5).binomial(1, 0.4, len(frame))
    settings = Settings(matching={"design": "power_first"})
    design = evaluation._design(frame, COVS, [], settings, 1)
    assert design.choice is not None and design.result.spec.replace
    effects = estimate_effects(design.result, {"reoffended": "rate"},
                               settings=settings.inference)
    rows = evaluation._sensitivity(frame, COVS, [], design, effects, settings, 1).specifications
    labels = [r.label for r in rows]
    assert labels[0] == "Main analysis" and evaluation.REFERENCE_DESIGN in labels
    assert "With replacement" not in labels
    main = effects["reoffended"]
    assert (rows[0].difference, rows[0].treatment_n) == (main.difference, main.n_treated)
    reference = rows[labels.index(evaluation.REFERENCE_DESIGN)]
    assert reference.comparison_n == reference.treatment_n  # 1:1 without replacement
