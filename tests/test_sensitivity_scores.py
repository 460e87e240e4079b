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
    settings = Settings()
    result = evaluation._match(frame, COVS, [], settings, 1)
    assert result.model is not None and result.distance is not None
    effects = estimate_effects(result, {"reoffended": "rate"}, settings=settings.inference)
    reused = evaluation._sensitivity(frame, COVS, [], result, effects, settings, 1)
    refitted = evaluation._sensitivity(
        frame, COVS, [], dataclasses.replace(result, model=None), effects, settings, 1
    )
    rows = reused.specifications
    assert [r.label for r in rows][:4] == [
        "Main analysis", "Caliper 0.1", "3 comparison people per participant", "With replacement"]
    assert all(r.difference is not None for r in rows)
    assert rows == refitted.specifications
    # the main specification is the main analysis
    main = effects["reoffended"]
    assert (rows[0].difference, rows[0].treatment_n) == (main.difference, main.n_treated)
