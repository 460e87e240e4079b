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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from jdl.core.config import InferenceSettings
from jdl.core.results import Kind, internal, released
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


@dataclass(frozen=True)
class Specification:
    """One way of doing the analysis differently: ``overrides`` are keyword arguments of
    :func:`jdl.matching.match` on top of the main specification; ``drop`` covariates are left
    out of the propensity score model."""

    label: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    drop: tuple[str, ...] = ()


#: The lab's sensitivity analysis (the one every report shows): the main analysis, a narrower
#: caliper, more comparison people per participant and matching with replacement. The
#: evaluation adds "Without assessment covariates" when assessments are used.
LAB_SPECIFICATIONS: tuple[Specification, ...] = (
    Specification("Main analysis"),
    Specification("Caliper 0.1", {"caliper": 0.1}),
    Specification("3 comparison people per participant", {"ratio": 3}),
    Specification("With replacement", {"replace": True}),
)


def without_each(covariates: Sequence[str]) -> tuple[Specification, ...]:
    """One specification per covariate, leaving it out in turn (a robustness check)."""
    return tuple(Specification(f"without {c}", drop=(c,)) for c in covariates)


@dataclass(frozen=True)
class SpecificationEstimate:
    """The headline outcome's effect under one specification (natural units: proportions for a
    rate); ``note`` says why it could not be estimated (then the numbers are None)."""

    label: str = released(Kind.LABEL)
    difference: float | None = released(Kind.DERIVED, default=None)
    ci_low: float | None = released(Kind.DERIVED, default=None)
    ci_high: float | None = released(Kind.DERIVED, default=None)
    p_value: float | None = released(Kind.DERIVED, default=None)
    treatment_n: int | None = released(Kind.COUNT, default=None)
    comparison_n: int | None = released(Kind.COUNT, default=None)
    note: str | None = released(Kind.LABEL, default=None, omit_if_none=True)
    max_abs_smd: float | None = internal(default=None)


def specification_spread(data: object, treatment: str, covariates: Sequence[str], *,
                         base: Mapping[str, Any] | None = None,
                         specifications: Sequence[Specification] = LAB_SPECIFICATIONS,
                         outcome: str = "reoffended", kind: str = "rate",
                         settings: InferenceSettings | None = None,
                         distance: npt.NDArray[np.float64] | None = None,
                         matcher: Callable[..., Any] | None = None,
                         ) -> tuple[SpecificationEstimate, ...]:
    """Estimate ``outcome`` under each specification; one estimate each, in order.

    ``base`` holds the main specification's :func:`jdl.matching.match` keywords. With
    ``distance`` (the main analysis' propensity scores) specifications that keep every
    covariate reuse them: refitting the same logistic model gives the same scores, and was half
    an evaluation's CPU at 10M people. A specification that cannot run gets a ``note``.
    ``matcher`` replaces :func:`jdl.matching.match` (same call), e.g. with the lab's settings.
    """
    from jdl.core.errors import JDLError
    from jdl.inference._effects import estimate_effects
    from jdl.matching import match

    main = dict(base or {})
    run = matcher or match
    rows = []
    for spec in specifications:
        covs = [c for c in covariates if c not in spec.drop]
        reuse = {"distance": distance} if distance is not None and not spec.drop else {}
        try:
            m = run(data, treatment, covs, **{**main, **reuse, **spec.overrides})
            e = estimate_effects(m, {outcome: kind},  # type: ignore[dict-item]
                                 settings=settings)[outcome]
        except JDLError as exc:
            rows.append(SpecificationEstimate(spec.label, note=exc.message))
            continue
        rows.append(SpecificationEstimate(
            spec.label, difference=e.difference, ci_low=e.ci_low, ci_high=e.ci_high,
            p_value=e.p_value, treatment_n=e.n_treated, comparison_n=e.n_comparison,
            max_abs_smd=float(m.max_abs_smd())))
    return tuple(rows)


def spread_frame(rows: Sequence[SpecificationEstimate]) -> pd.DataFrame:
    """The estimates as a table indexed by label (for notebooks and benchmarks)."""
    return pd.DataFrame([vars(r) for r in rows]).set_index("label")


@dataclass(frozen=True)
class EValue:
    """E-values (VanderWeele and Ding 2017) of the rate's risk ratio and its CI limit."""

    point: float | None = released(Kind.DERIVED, default=None)
    ci: float | None = released(Kind.DERIVED, default=None)


def e_value_of_rates(treatment: float, comparison: float, ci_low: float,
                     ci_high: float) -> EValue:
    """E-values for two proportions and the CI of their difference, on the risk-ratio scale
    (the CI of the ratio is approximated by ``(p0 + limit) / p0``)."""
    if not (comparison > 0 and treatment > 0):
        return EValue()
    rr = treatment / comparison
    lo = max(comparison + ci_low, 1e-9) / comparison
    hi = max(comparison + ci_high, 1e-9) / comparison
    point, ci = e_value(rr, lo, hi)
    return EValue(float(point), float(ci))


@dataclass(frozen=True)
class HiddenBias:
    """The Rosenbaum bound: the Gamma at which a significant result stops being significant
    (None when the result is not significant or the design has no pairs)."""

    gamma_at_which_significance_lost: float | None = released(Kind.DERIVED, default=None)
    #: the bound is of the 1:1-without-replacement reference matching (Rosenbaum's bound for
    #: McNemar's test needs pairs), not of the main k:1 analysis with replacement
    on_reference_design: bool = released(Kind.FLAG, default=False)


@dataclass(frozen=True)
class Sensitivity:
    """The sensitivity analysis of the headline rate, as released."""

    specifications: tuple[SpecificationEstimate, ...]
    e_value: EValue
    rosenbaum: HiddenBias
