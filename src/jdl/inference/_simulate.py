"""A cohort-level simulator of offender populations with a planted programme effect.

Each draw is one evaluation the lab might receive: a national comparison pool and a programme's
cohort, with realistic offender covariates, selection into the programme that depends on those
(observed) covariates, and one-year re-offending outcomes driven by a latent re-offending
propensity. The programme changes each participant's probability of re-offending by a known
amount, so the true effect on the treated (ATT) is known exactly.

Covariates: age, sex, prior offences (count), prior custodial sentences, days employed in the
year before, an OGRS-like risk score (0-100), index type (custody release / court order) and
index year. Re-offending probability (logit scale) rises with risk, priors, custody history and
youth, falls with employment, is higher after custody, plus an individual random term that is
independent of selection (so there is no unobserved confounding unless ``hidden_bias`` > 0).
Selection favours younger, higher-risk, unemployed people released from custody.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

COVARIATES = ("age", "sex", "prior_offences", "prior_custody", "employment_days",
              "risk_score", "index_type", "index_year")
EXACT = ("index_type", "index_year")


@dataclass(frozen=True)
class Scenario:
    """A planted programme: additive change in the one-year re-offending probability."""

    name: str
    effect: float  # e.g. -0.05 = five fewer re-offenders per 100 participants


@dataclass(frozen=True)
class SimulatedEvaluation:
    """One simulated evaluation: data for matching and the truth to compare against.

    ``true_effect`` holds each row's true change in re-offending probability (0 for the pool),
    so the harness can average it over the treated rows that were actually matched.
    """

    data: pd.DataFrame
    true_effect: np.ndarray
    treatment: str = "treated"
    covariates: tuple[str, ...] = COVARIATES
    exact: tuple[str, ...] = EXACT

    @property
    def true_att(self) -> float:
        t = self.data[self.treatment].to_numpy() == 1
        return float(self.true_effect[t].mean())


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class CohortSimulator:
    """Built-in scenario source: ``draw(scenario, rng)`` returns a SimulatedEvaluation.

    Parameters
    ----------
    population : people in the simulated population (pool + cohort).
    treated_share : expected share selected into the programme.
    base_logit : intercept of the re-offending model (about 40% re-offend).
    hidden_bias : weight of the latent re-offending term in selection (0 = none); >0 plants
        unobserved confounding, for checking that sensitivity analysis flags it.
    """

    population: int = 20_000
    treated_share: float = 0.02
    base_logit: float = -0.55
    hidden_bias: float = 0.0
    years: tuple[int, ...] = (2019, 2020, 2021, 2022)
    selection: dict = field(default_factory=lambda: {
        "age": -0.04, "risk": 0.025, "custody_index": 0.5, "employed": -0.004,
        "priors": 0.15, "female": 0.3})

    def covariates(self, rng: np.random.Generator) -> pd.DataFrame:
        n = self.population
        sex = np.where(rng.random(n) < 0.15, "F", "M")
        age = np.clip(18 + rng.gamma(2.2, 7.5, n), 18, 80).round()
        priors = rng.negative_binomial(1.2, 1.2 / (1.2 + 2.5 + 0.08 * (age - 18)), n)
        custody = rng.binomial(np.minimum(priors, 20), 0.18)
        employed = np.where(rng.random(n) < 0.55, 0.0, rng.uniform(1, 365, n)).round()
        risk = np.clip(20 + 4.5 * np.log1p(priors) * 3 - 0.5 * (age - 30)
                       + 6 * (sex == "M") + rng.normal(0, 10, n), 1, 99).round()
        index_type = np.where(rng.random(n) < 0.4 + 0.03 * np.minimum(custody, 10),
                              "custody", "court_order")
        year = rng.choice(self.years, n)
        return pd.DataFrame({"age": age, "sex": sex, "prior_offences": priors,
                             "prior_custody": custody, "employment_days": employed,
                             "risk_score": risk, "index_type": index_type,
                             "index_year": year})

    def draw(self, scenario: Scenario, rng: np.random.Generator) -> SimulatedEvaluation:
        df = self.covariates(rng)
        n = len(df)
        s = self.selection
        custody_idx = (df["index_type"] == "custody").to_numpy()
        latent = (self.base_logit + 0.035 * (df["risk_score"] - 40) + 0.12 * np.log1p(
            df["prior_offences"]) + 0.15 * np.log1p(df["prior_custody"])
            - 0.02 * (df["age"] - 30) - 0.0025 * df["employment_days"]
            + 0.25 * custody_idx - 0.2 * (df["sex"] == "F")
            + 0.05 * (df["index_year"] - 2019)).to_numpy() + rng.normal(0, 0.6, n)
        sel = (s["age"] * (df["age"] - 30) + s["risk"] * (df["risk_score"] - 40)
               + s["custody_index"] * custody_idx + s["employed"] * df["employment_days"]
               + s["priors"] * np.log1p(df["prior_offences"]) + s["female"] * (df["sex"] == "F")
               ).to_numpy() + self.hidden_bias * (latent - latent.mean())
        intercept = np.log(self.treated_share / (1 - self.treated_share)) - np.mean(sel) - 0.3
        treated = rng.random(n) < _sigmoid(intercept + sel)
        p0 = _sigmoid(latent)
        p1 = np.clip(p0 + scenario.effect, 0.0, 1.0)
        effect = np.where(treated, p1 - p0, 0.0)
        p = np.where(treated, p1, p0)
        reoff = rng.random(n) < p
        freq = np.where(reoff, 1 + rng.poisson(np.exp(0.3 + 0.6 * (latent - self.base_logit)
                                                      .clip(-3, 3))), 0)
        days = np.where(reoff, np.ceil(365 * rng.beta(0.9, 1.6, n)), np.nan)
        df.insert(0, "treated", treated.astype(int))
        df["reoffended"] = reoff.astype(int)
        df["reoffences"] = freq
        df["days_to_first"] = days
        df["index_year"] = df["index_year"].astype(str)
        return SimulatedEvaluation(data=df, true_effect=effect)
