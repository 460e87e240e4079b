"""Validation harness: many simulated evaluations with a known effect, scored against truth.

For each scenario (planted effect) and replicate, a *scenario source* draws a data set and its
true effects; the lab's matching and estimation run on it; the harness records the estimate of
the re-offending rate difference, its 95% interval and whether the lab would call it
significant. It reports, per scenario, bias and RMSE (percentage points), 95% interval
coverage of the true ATT, and the rejection rate: the false-positive rate when the planted
effect is zero, the power otherwise.

Targets (issue 6): coverage 93-97%, false-positive rate <= 5.5%, |bias| < 0.5 pp.

A scenario source is any object with ``draw(scenario, rng) -> SimulatedEvaluation``. The
built-in :class:`CohortSimulator` simulates cohorts directly; the national pipeline can plug in
a source that plants programmes in the synthetic national records and returns the cohort+pool
table the pipeline builds, with each row's true effect.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from jdl.core.config import DEFAULT_SEED
from jdl.inference._simulate import Scenario, SimulatedEvaluation

TARGETS = {"coverage_low": 0.93, "coverage_high": 0.97, "fpr_max": 0.055, "abs_bias_pp": 0.5}

DEFAULT_SCENARIOS = (Scenario("no effect", 0.0), Scenario("decrease 5 pp", -0.05),
                     Scenario("increase 5 pp", 0.05))


class ScenarioSource(Protocol):
    def draw(self, scenario: Scenario, rng: np.random.Generator) -> SimulatedEvaluation: ...


@dataclass(frozen=True)
class Replicate:
    scenario: str
    true_att: float
    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    significant: bool
    n_treated: int
    max_abs_smd: float


def evaluate_once(sim: SimulatedEvaluation, match_kwargs: Mapping) -> tuple:
    """Match and estimate the rate effect on one simulated data set (the lab's default path)."""
    from jdl.inference._effects import estimate_effects
    from jdl.matching import match

    m = match(sim.data, sim.treatment, list(sim.covariates),
              exact=list(sim.exact) or None, **match_kwargs)
    eff = estimate_effects(m, {"reoffended": "rate"})["reoffended"]
    matched_t = m.treat & (m.weights > 0)
    true_att = float(sim.true_effect[matched_t].mean())
    return (true_att, eff.difference, eff.ci_low, eff.ci_high, eff.p_value,
            eff.significant, m.n_treated_matched, m.balance().max_abs_smd)


@dataclass(frozen=True)
class ValidationReport:
    """Per-scenario bias, RMSE, coverage and rejection rate, with the targets checked."""

    table: pd.DataFrame
    replicates: pd.DataFrame = field(repr=False)
    seconds: float = 0.0

    @property
    def meets_targets(self) -> bool:
        return bool(self.table["meets_targets"].all())

    def __str__(self) -> str:
        cols = ["planted_pp", "reps", "bias_pp", "rmse_pp", "coverage", "coverage_mc_se",
                "rejection_rate", "mean_treated", "meets_targets"]
        return self.table[cols].to_string(float_format=lambda v: f"{v:.4f}")


def summarise(reps: pd.DataFrame, planted: Mapping[str, float]) -> pd.DataFrame:
    """Aggregate replicates into the report table (percentage points for bias and RMSE)."""
    rows = []
    for name, g in reps.groupby("scenario", sort=False):
        err = g["estimate"] - g["true_att"]
        cover = ((g["ci_low"] <= g["true_att"]) & (g["true_att"] <= g["ci_high"])).mean()
        n = len(g)
        rej = float(g["significant"].mean())
        bias = 100 * err.mean()
        ok = (TARGETS["coverage_low"] <= cover <= TARGETS["coverage_high"]
              and abs(bias) < TARGETS["abs_bias_pp"]
              and (planted[name] != 0 or rej <= TARGETS["fpr_max"]))
        rows.append({"scenario": name, "planted_pp": 100 * planted[name], "reps": n,
                     "true_att_pp": 100 * g["true_att"].mean(), "bias_pp": bias,
                     "bias_mc_se_pp": 100 * err.std(ddof=1) / np.sqrt(n),
                     "rmse_pp": 100 * float(np.sqrt((err**2).mean())), "coverage": cover,
                     "coverage_mc_se": float(np.sqrt(cover * (1 - cover) / n)),
                     "rejection_rate": rej, "mean_treated": g["n_treated"].mean(),
                     "mean_max_abs_smd": g["max_abs_smd"].mean(), "meets_targets": ok})
    return pd.DataFrame(rows).set_index("scenario")


def run_validation(source: ScenarioSource, scenarios: Sequence[Scenario] = DEFAULT_SCENARIOS,
                   *, reps: int = 400, seed: int = DEFAULT_SEED,
                   match_kwargs: Mapping | None = None,
                   progress: Callable[[str], None] | None = None) -> ValidationReport:
    """Run ``reps`` simulated evaluations per scenario and score them against the truth.

    ``match_kwargs`` default to the lab's specification (1:1 nearest neighbour without
    replacement, caliper 0.2 SD of the propensity score, exact on index type and year).
    """
    kw = dict(match_kwargs or {"caliper": 0.2, "ratio": 1, "replace": False})
    start = time.perf_counter()
    ss = np.random.SeedSequence(seed)
    records = []
    for scen, child in zip(scenarios, ss.spawn(len(scenarios)), strict=True):
        rngs = [np.random.default_rng(s) for s in child.spawn(reps)]
        for i, rng in enumerate(rngs):
            sim = source.draw(scen, rng)
            out = evaluate_once(sim, kw)
            records.append(Replicate(scen.name, *out))
            if progress and (i + 1) % 100 == 0:
                progress(f"{scen.name}: {i + 1}/{reps}")
    reps_df = pd.DataFrame([r.__dict__ for r in records])
    table = summarise(reps_df, {s.name: s.effect for s in scenarios})
    return ValidationReport(table=table, replicates=reps_df,
                            seconds=time.perf_counter() - start)
