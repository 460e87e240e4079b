"""Sensitivity of an estimate: other matching specifications, E-values and Rosenbaum bounds.

* **Specification spread**: re-run matching and estimation under alternative calipers, ratios,
  replacement and covariate sets; a robust finding keeps its sign and rough size.
* **E-value** (VanderWeele and Ding 2017): the minimum strength of association, on the risk
  ratio scale, that an unmeasured confounder would need with both treatment and outcome to
  explain away the observed risk ratio: ``E = RR + sqrt(RR (RR - 1))`` for ``RR >= 1`` (invert
  first if below 1); for the confidence limit nearest 1 (1 if the interval crosses 1).
* **Rosenbaum bounds** for a binary outcome in matched pairs (McNemar's test): with hidden bias
  Gamma, among the ``D`` discordant pairs the number in which only the treated person has the
  outcome is bounded by Binomial(D, Gamma / (1 + Gamma)); the upper-bound one-sided p-value
  is reported per Gamma, and the largest Gamma at which the result stays significant.

References
----------
VanderWeele, T. J. and Ding, P. (2017). Sensitivity analysis in observational research:
introducing the E-value. *Annals of Internal Medicine* 167(4), 268-274.
Rosenbaum, P. R. (2002). *Observational Studies*, 2nd ed., Springer, section 4.3.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from jdl.inference._errors import InferenceError


def e_value(rr: float, lo: float | None = None, hi: float | None = None) -> tuple[float, float]:
    """E-values for a risk ratio and for the confidence limit closest to the null."""
    if rr <= 0:
        raise InferenceError("a risk ratio must be positive.")

    def ev(x: float) -> float:
        x = 1 / x if x < 1 else x
        return x + math.sqrt(x * (x - 1))

    point = ev(rr)
    if lo is None or hi is None:
        return point, float("nan")
    if lo <= 1 <= hi:
        return point, 1.0
    return point, ev(lo if rr > 1 else hi)


@dataclass(frozen=True)
class RosenbaumBounds:
    """Upper-bound p-values by Gamma for matched pairs with a binary outcome."""

    table: pd.DataFrame  # gamma, p_upper
    discordant_pairs: int
    treated_only: int  # pairs where only the treated person had the outcome
    gamma_critical: float  # largest Gamma with p_upper <= alpha (1.0 if not significant)


def rosenbaum_binary(treated_y: np.ndarray, control_y: np.ndarray,
                     gammas: Sequence[float] = (1, 1.1, 1.2, 1.3, 1.5, 1.75, 2, 2.5, 3),
                     alpha: float = 0.05) -> RosenbaumBounds:
    """Rosenbaum bounds for McNemar's test on 1:1 pairs (direction of the observed effect)."""
    tt, cc = np.asarray(treated_y, bool), np.asarray(control_y, bool)
    a = int((tt & ~cc).sum())
    b = int((~tt & cc).sum())
    d = a + b
    x = max(a, b)  # test in the direction observed
    rows = []
    for g in gammas:
        p_plus = g / (1 + g)
        p = float(stats.binom.sf(x - 1, d, p_plus)) if d else 1.0
        rows.append((float(g), p))
    table = pd.DataFrame(rows, columns=["gamma", "p_upper"])
    crit = 1.0
    if d and stats.binom.sf(x - 1, d, 0.5) <= alpha:
        lo_g, hi_g = 1.0, 100.0
        for _ in range(60):
            mid = (lo_g + hi_g) / 2
            if stats.binom.sf(x - 1, d, mid / (1 + mid)) <= alpha:
                lo_g = mid
            else:
                hi_g = mid
        crit = lo_g
    return RosenbaumBounds(table=table, discordant_pairs=d, treated_only=a, gamma_critical=crit)


def rosenbaum_from_match(result, outcome: str = "reoffended", **kwargs) -> RosenbaumBounds:
    """Rosenbaum bounds from a 1:1 matching without replacement."""
    mm = result.match_matrix
    if mm is None or mm.shape[1] != 1 or result.spec.replace:
        raise InferenceError("Rosenbaum bounds here need 1:1 matching without replacement.")
    y = result.data[outcome].to_numpy()
    rows = np.flatnonzero(result.treat)[mm[:, 0] >= 0]
    return rosenbaum_binary(y[rows] == 1, y[mm[mm[:, 0] >= 0, 0]] == 1, **kwargs)


DEFAULT_ALTERNATIVES: dict[str, dict] = {
    "caliper 0.1": {"caliper": 0.1},
    "no caliper": {"caliper": None},
    "2:1": {"ratio": 2},
    "with replacement": {"replace": True},
}


def specification_spread(data: object, treatment: str, covariates: Sequence[str], *,
                         base: Mapping | None = None,
                         alternatives: Mapping[str, Mapping] | None = None,
                         outcome: str = "reoffended", kind: str = "rate",
                         drop_each_covariate: bool = True) -> pd.DataFrame:
    """Estimate ``outcome`` under the base and alternative specifications; one row each.

    Alternatives are keyword overrides of :func:`jdl.matching.match`; with
    ``drop_each_covariate`` each covariate is also left out in turn.
    """
    from jdl.inference._effects import estimate_effects
    from jdl.matching import MatchingError, match

    base = dict(base or {})
    specs: dict[str, tuple[dict, list[str]]] = {"base": (base, list(covariates))}
    for name, over in (alternatives or DEFAULT_ALTERNATIVES).items():
        specs[name] = ({**base, **over}, list(covariates))
    if drop_each_covariate and len(covariates) > 1:
        for c in covariates:
            specs[f"without {c}"] = (base, [x for x in covariates if x != c])
    rows = []
    for name, (kw, covs) in specs.items():
        try:
            m = match(data, treatment, covs, **kw)
            e = estimate_effects(m, {outcome: kind})[outcome]  # type: ignore[dict-item]
            rows.append({"specification": name, "n_treated": m.n_treated_matched,
                         "n_comparison": m.n_control_matched,
                         "max_abs_smd": m.balance().max_abs_smd, "difference": e.difference,
                         "ci_low": e.ci_low, "ci_high": e.ci_high, "p_value": e.p_value})
        except (MatchingError, InferenceError) as exc:
            rows.append({"specification": name, "error": exc.message})
    return pd.DataFrame(rows).set_index("specification")
