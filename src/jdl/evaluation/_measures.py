"""The reported outcomes estimated on their own people, and the JDL's rules for showing them.

Every reported outcome (:func:`jdl.outcomes.reported_outcomes`) goes through the one matched-
effect path (:func:`jdl.inference.estimate_effects` and, as a check, the covariate-adjusted
:func:`jdl.inference.adjusted_effects`) on the matched sample with its matching weights. A
measure of re-offenders only (``Measure.population == "reoffenders"``: the JDL's court-outcome
and custody tables, "for reoffenders only") is compared on the matched rows that re-offended,
with the same weights and clusters, as days to first re-offence already is inside the
estimator.

The JDL's rules for its re-offender tables (kpow2 ``JDL part 2 ... .Rmd``, ``tables.R``):

* the tables are shown only when at least 30 people in the treatment group re-offended
  (``if(treat_time_numb[headline_analysis] >= 30)``; here
  ``InferenceSettings.min_treated_reoffenders``);
* a court-outcome row is printed only when ``np_treat >= 10`` (``np_10_marker``: the number in
  the treatment group counted by the row; here ``InferenceSettings.min_expected_count``).

A measure that fails a rule is not reported (``reported`` false, with the reason in words);
disclosure control then withholds its numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jdl.core.config import Settings


def reported(follow_up: Any = None) -> tuple[Any, ...]:
    """The registry's reported outcomes (``follow_up``: a :class:`jdl.outcomes.FollowUp`;
    default the standard one-year follow-up)."""
    from jdl.outcomes import reported_outcomes

    return reported_outcomes(follow_up)


def _reoffender_rows(result: Any) -> Any:
    """The matched rows of people who re-offended, weights and pair/person columns kept."""
    from jdl.outcomes import headline_rate

    matched = result.matched
    return matched[matched[headline_rate().name].to_numpy(dtype="float64") == 1.0]


def _populations(result: Any, measures: tuple[Any, ...]) -> list[tuple[Any, dict[str, Any]]]:
    """(matched data, {column: kind}) per population, leaving out a measure with a value
    missing for someone in its population (the longer follow-up where the records end too
    soon): it cannot be estimated."""
    everyone = result.matched
    rows = _reoffender_rows(result) if any(m.population == "reoffenders" for m in measures) \
        else None
    groups: list[tuple[Any, dict[str, Any]]] = []
    for population, data, source in (("all", everyone, result), ("reoffenders", rows, rows)):
        if data is None:
            continue
        kinds: dict[str, Any] = {}
        for m in measures:
            if m.population != population:
                continue
            values = data[m.name].to_numpy(dtype="float64")
            if m.kind == "days" or np.isfinite(values).all():
                kinds[m.name] = m.kind
        if kinds:
            groups.append((source, kinds))
    return groups


def estimate_reported(result: Any, settings: Settings, follow_up: Any = None) -> Any:
    """The effects of every reported outcome that can be estimated, as one
    :class:`jdl.inference.EffectsResult` (each on its own population)."""
    from jdl.inference import EffectsResult, estimate_effects

    measures = reported(follow_up)
    labels = {m.name: m.label for m in measures}
    treatment = result.spec.treatment
    effects: list[Any] = []
    for data, kinds in _populations(result, measures):
        found = estimate_effects(data, kinds, settings=settings.inference, labels=labels,
                                 treatment=None if data is result else treatment)
        effects += found.effects
    return EffectsResult(effects=tuple(effects), alpha=settings.inference.alpha,
                         settings=settings.inference)


def adjusted_reported(result: Any, covariates: list[str], settings: Settings,
                      follow_up: Any = None) -> dict[str, Any]:
    """The covariate-adjusted effects (g-computation), each measure on its own population."""
    from jdl.inference import adjusted_effects

    treatment = result.spec.treatment
    out: dict[str, Any] = {}
    for data, kinds in _populations(result, reported(follow_up)):
        out.update(adjusted_effects(
            data, kinds, covariates, treatment=None if data is result else treatment,
            alpha=settings.inference.alpha,
            min_events_per_parameter=settings.inference.adjusted_min_events_per_parameter))
    return out


def withheld_reason(measure: Any, effect: Any, settings: Settings) -> str | None:
    """Why the JDL's rules do not show ``measure`` (None when they do). The reasons quote the
    rules' thresholds, never a count."""
    cfg = settings.inference
    if measure.population != "reoffenders":
        return None
    if effect.n_treated_reoffenders < cfg.min_treated_reoffenders:
        return (f"Fewer than {cfg.min_treated_reoffenders} people in the treatment group "
                "re-offended, so measures about re-offenders are not reported (the Justice "
                "Data Lab's rule).")
    if measure.kind in ("rate", "frequency") and effect.treatment_events < cfg.min_expected_count:
        return (f"Fewer than {cfg.min_expected_count:g} were counted in the treatment group, "
                "too few to report (the Justice Data Lab's rule for its court-outcome and "
                "custody tables).")
    return None


def unavailable_reason(measure: Any, follow_up: Any = None) -> str:
    """Why a measure with values missing in its population is not given."""
    from jdl.outcomes import long_follow_up_period, long_follow_up_problem

    period = long_follow_up_period(follow_up) if follow_up is not None else None
    if period is not None and measure.name.endswith(f"_{period[0]}"):
        return long_follow_up_problem(follow_up) or ""
    return ("This measure could not be computed for everyone in the analysis, so it is not "
            "reported.")
