"""The lab's power-first matching design, chosen from the data by a rule written down in advance.

Small cohorts are the JDL's best-known problem: matching each participant to *one* person from a
pool of hundreds of thousands throws power away. The lab therefore matches each participant to
``k`` comparison people, **with replacement** (a close comparison person may stand in for several
participants, so no participant gets a worse match because another took the best one), within a
caliper of 0.2 standard deviations of the **logit** of the propensity score (Austin 2011's
recommendation, MatchIt's ``link = "linear.logit"``), in the exact strata, and chooses ``k`` by:

1. **balance first**: a candidate is acceptable when every covariate's |SMD| after matching is
   below ``smd_good`` (0.1) and every variance ratio is within [``var_ratio_low``,
   ``var_ratio_high``] (0.5-2; MatchIt's "assessing balance" vignette, Stuart 2010);
2. **then the smallest estimated variance**: among acceptable candidates, the one with the
   smallest design variance of a difference in means, ``1/n_t + 1/ESS_c`` (``n_t`` matched
   participants, ``ESS_c`` Kish's effective size of the weighted comparison group), which is
   the variance of the ATT estimate for an outcome of unit variance; ties go to the smaller
   ``k``;
3. if no candidate is acceptable, the one with the smallest largest |SMD| (the report's balance
   rules then say whether it is good enough to report).

The rule looks at covariates and weights only, **never at outcomes** (Rubin 2001, "design before
outcome analysis"): choosing by the outcome's estimated error would be a specification search.
1:1 matching without replacement stays available (``MatchingSettings.design = "fixed"``) as the
MatchIt-parity reference, and the evaluation shows it as a sensitivity row.

References
----------
Austin, P. C. (2011). Optimal caliper widths for propensity-score matching when estimating
differences in means and differences in proportions. *Pharmaceutical Statistics* 10, 150-161.
Austin, P. C. (2010). Statistical criteria for selecting the optimal number of untreated subjects
matched to each treated subject when using many-to-one matching on the propensity score.
*American Journal of Epidemiology* 172(9), 1092-1097.
Rubin, D. B. (2001). Using propensity scores to help design observational studies. *Health
Services and Outcomes Research Methodology* 2, 169-188.
Stuart, E. A. (2010). Matching methods for causal inference. *Statistical Science* 25(1), 1-21.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from jdl.matching._balance import _sd_denominator, balance_stats
from jdl.matching._design import build_design, to_pandas, treatment_indicator
from jdl.matching._errors import MatchingError
from jdl.matching._glm import LogitFit, fit_logit
from jdl.matching._match import match
from jdl.matching._result import MatchResult, Thresholds

if TYPE_CHECKING:
    from jdl.core.config import MatchingSettings

#: The rule, in the words the report and the docs use.
RULE = ("k:1 nearest-neighbour matching with replacement within 0.2 SD of the logit of the "
        "propensity score; k chosen from {ratios} by balance first (every |SMD| below "
        "{smd_good} and every variance ratio within {vr_low}-{vr_high}), then the smallest "
        "estimated variance (1/n treated + 1/effective comparison size); outcomes are not "
        "looked at")


@dataclass(frozen=True)
class Candidate:
    """One design tried: its ratio, balance and estimated variance."""

    ratio: int
    treated: int
    comparison: int
    comparison_ess: float
    max_abs_smd: float
    variance_ratios_ok: bool
    balanced: bool
    design_variance: float


@dataclass(frozen=True)
class DesignChoice:
    """The chosen design (``result``), every candidate, and the rule that chose it."""

    result: MatchResult
    ratio: int
    candidates: tuple[Candidate, ...]
    rule: str
    balanced: bool
    # the propensity model's coefficients by column name when choose_design fitted it: refits
    # of the same model on other samples start from them (logit_fit's ``start``)
    coefficients: tuple[tuple[str, float], ...] = ()

    @property
    def overrides(self) -> dict[str, Any]:
        """:func:`match` keywords that reproduce the chosen design (the sensitivity rows start
        from these)."""
        return {"ratio": self.ratio, "replace": True, "distance": self.result.distance,
                "caliper": self.result.spec.caliper, "std_caliper": True}


def comparison_ess(weights: np.ndarray, treat: np.ndarray) -> float:
    """Kish's effective sample size of the weighted comparison group, ``(sum w)^2 / sum w^2``
    (MatchIt's ``summary()`` "Matched (ESS)")."""
    w = weights[(~treat) & (weights > 0)]
    return float(w.sum() ** 2 / (w**2).sum()) if len(w) else 0.0


@dataclass(frozen=True)
class _Covariates:
    """The balance matrix and each column's SMD denominator, computed once for every candidate
    (MatchIt's: the treated group's SD before matching)."""

    X: np.ndarray
    binary: np.ndarray
    sd: np.ndarray

    @classmethod
    def of(cls, df: Any, covariates: Sequence[str], treat: np.ndarray) -> _Covariates:
        X = build_design(df, covariates).balance_X
        binary = np.array([bool(np.all((X[:, j] == 0) | (X[:, j] == 1)))
                           for j in range(X.shape[1])])
        sd = np.array([_sd_denominator(X[:, j], treat, bool(binary[j]))
                       for j in range(X.shape[1])])
        return cls(X, binary, sd)


def _candidate(result: MatchResult, cov: _Covariates, thresholds: Thresholds) -> Candidate:
    """The candidate's balance after matching on the matched rows only (the same figures as
    ``result.balance()``, without recomputing the whole pool's statistics)."""
    w, t = result.weights, result.treat
    sel = w > 0
    smd, vrs = [], []
    for j in range(cov.X.shape[1]):
        _, _, d, vr, _, _ = balance_stats(cov.X[sel, j], t[sel], w[sel], float(cov.sd[j]),
                                          bool(cov.binary[j]))
        smd.append(abs(d))
        if not cov.binary[j] and np.isfinite(vr):
            vrs.append(vr)
    max_smd = float(np.nanmax(smd)) if smd else 0.0
    vr_ok = all(thresholds.var_ratio_low <= v <= thresholds.var_ratio_high for v in vrs)
    n_t = result.n_treated_matched
    ess = comparison_ess(w, t)
    return Candidate(ratio=int(result.spec.ratio), treated=n_t, comparison=result.n_control_matched,
                     comparison_ess=ess, max_abs_smd=max_smd, variance_ratios_ok=vr_ok,
                     balanced=bool(max_smd < thresholds.smd_good and vr_ok),
                     design_variance=1.0 / n_t + 1.0 / ess if n_t and ess else float("inf"))


def logit_fit(data: object, treatment: str, covariates: Sequence[str], *,
              start: Mapping[str, float] | None = None) -> LogitFit:
    """The propensity score's logistic regression as R's ``glm`` fits it. ``start``: starting
    coefficients by model-matrix column name (another fit's ``dict(zip(names, coef))``; a column
    it lacks starts at 0), for a refit of nearly the same model (:func:`fit_logit`)."""
    df = to_pandas(data)
    t = treatment_indicator(df, treatment)
    design = build_design(df, covariates, with_balance=False)
    first = None if start is None else np.array([start.get(n, 0.0) for n in design.names])
    return fit_logit(design.X, t.astype("float64"), design.names, factors=design.factors,
                     start=first)


def linear_predictor(data: object, treatment: str, covariates: Sequence[str], *,
                     start: Mapping[str, float] | None = None) -> np.ndarray:
    """The logit of the propensity score (R's ``glm`` linear predictor; MatchIt's
    ``link = "linear.logit"`` distance); ``start`` as :func:`logit_fit`'s."""
    fit = logit_fit(data, treatment, covariates, start=start)
    return np.asarray(fit.linear_predictor, dtype="float64")


def choose_design(data: object, treatment: str, covariates: Sequence[str], *,
                  exact: Sequence[str] | None = None, ratios: Sequence[int] | None = None,
                  caliper: float | None = 0.2, thresholds: Thresholds | None = None,
                  random_state: int | None = None,
                  distance: np.ndarray | None = None) -> DesignChoice:
    """Match with each ratio in ``ratios`` (with replacement, logit caliper) and keep the one the
    rule chooses (module docstring). ``ratios``: the candidate k (default: the lab's,
    ``MatchingSettings.candidate_ratios``). ``distance``: the linear predictor when already
    fitted.

    Raises
    ------
    MatchingError
        When no ratio gives any match.
    """
    th = thresholds or Thresholds()
    if ratios is None:
        from jdl.core.config import MatchingSettings

        ratios = MatchingSettings().candidate_ratios
    if not ratios or any(int(k) < 1 for k in ratios):
        raise MatchingError("the candidate ratios must be whole numbers of at least 1.")
    df = to_pandas(data)
    fit = logit_fit(df, treatment, covariates) if distance is None else None
    lp = np.asarray(fit.linear_predictor, dtype="float64") if fit is not None else distance
    cov = _Covariates.of(df, covariates, treatment_indicator(df, treatment))
    results: list[MatchResult] = []
    candidates: list[Candidate] = []
    for k in sorted({int(r) for r in ratios}):
        m = match(df, treatment, covariates, distance=lp, ratio=k, replace=True,
                  caliper=caliper, std_caliper=True, exact=exact or None, thresholds=th,
                  random_state=random_state)
        results.append(m)
        candidates.append(_candidate(m, cov, th))
    balanced = [i for i, c in enumerate(candidates) if c.balanced]
    if balanced:
        best = min(balanced, key=lambda i: (candidates[i].design_variance, candidates[i].ratio))
    else:
        best = min(range(len(candidates)),
                   key=lambda i: (candidates[i].max_abs_smd, candidates[i].ratio))
    rule = RULE.format(ratios=", ".join(str(c.ratio) for c in candidates),
                       smd_good=th.smd_good, vr_low=th.var_ratio_low, vr_high=th.var_ratio_high)
    coefficients = () if fit is None else tuple(
        (str(n), float(c)) for n, c in zip(fit.names, fit.coef, strict=True) if np.isfinite(c))
    return DesignChoice(result=results[best], ratio=candidates[best].ratio,
                        candidates=tuple(candidates), rule=rule, balanced=bool(balanced),
                        coefficients=coefficients)


def choose_with_settings(data: object, treatment: str, covariates: Sequence[str],
                         settings: MatchingSettings, **kwargs: Any) -> DesignChoice:
    """:func:`choose_design` with the lab's ``MatchingSettings`` (candidate ratios, caliper on
    the logit, exact strata, balance thresholds)."""
    th = Thresholds(settings.smd_good, settings.smd_poor, settings.var_ratio_low,
                    settings.var_ratio_high)
    return choose_design(data, treatment, covariates, exact=kwargs.pop("exact", settings.exact),
                         ratios=settings.candidate_ratios, caliper=settings.caliper,
                         thresholds=th, **kwargs)
