"""Inference stage: effects on matched data, the lab's reporting rules, power and sensitivity.

Public API
----------
estimate_effects : per-measure estimates (natural units), 95% CIs, p-values, significance
    under the lab's rules, plain-English conclusions -> EffectsResult of MeasureEffect.
weighted_difference : weighted difference in means with CR1 (pairs) or HC3 standard errors.
pairs_person_difference, abadie_imbens_att, pair_rows : the other variances after matching with
    replacement (get_matches rows two-way on set and person; Abadie-Imbens 2006), compared with
    the lab's rule in bench/validate_se_rules.py.
adjusted_effects, adjusted_difference -> AdjustedEstimate : covariate-adjusted effects
    (g-computation on the matched sample with the matching weights, delta-method errors).
survival_curves : weighted Kaplan-Meier curves of time to first re-offence by group.
minimum_detectable_effect, required_n, power_two_proportions : small-sample planning.
assess_feasibility -> Feasibility of FeasibilityOption : the check before any personal data is
    sent (people analysed, smallest detectable effect, pooled years or partners).
e_value, rosenbaum_binary, rosenbaum_from_match, specification_spread : sensitivity
    (``LAB_SPECIFICATIONS`` is the analysis every report shows), with typed results
    ``SpecificationEstimate``, ``EValue``, ``HiddenBias``, ``Sensitivity``.
power_summary -> PowerSummary : what the analysis could detect (released).
subgroup_effects -> SubgroupEstimate : Holm-adjusted sub-group effects for any matching design.
treated_profile -> Profile, age_band : the matched treatment group by characteristic.
SurvivalCurves.points -> SurvivalPoint : the curves at the report's days.
probability_of_benefit -> Benefit (Prior, PriorCheck), released_posterior -> Posterior : the
    probability the programme reduced re-offending (and by at least a stated amount) under a
    stated normal prior (weakly informative, flat, or the catalogue's predictive_prior), with
    its sensitivity; band_probability : as released (banded).
run_validation, CohortSimulator, Scenario, SimulatedEvaluation : the validation harness.
"""

from jdl.inference._adjusted import AdjustedEstimate, AdjustmentDeclined, adjusted_difference
from jdl.inference._benefit import (
    DEFAULT_DELTA,
    DEFAULT_PRIOR_SD,
    Benefit,
    Posterior,
    Prior,
    PriorCheck,
    band_probability,
    catalogue_prior,
    flat_prior,
    posterior,
    predictive_prior,
    probability_of_benefit,
    released_posterior,
    weakly_informative_prior,
)
from jdl.inference._effects import (
    DEFAULT_OUTCOMES,
    EffectsResult,
    MeasureEffect,
    adjusted_effects,
    conclusion_text,
    estimate_effects,
)
from jdl.inference._errors import InferenceError
from jdl.inference._estimate import DiffEstimate, weighted_difference
from jdl.inference._feasibility import (
    ANALYSED_SHARE,
    PLANNING_EFFECT,
    Feasibility,
    FeasibilityOption,
    assess_feasibility,
)
from jdl.inference._power import (
    PowerResult,
    PowerSummary,
    minimum_detectable_effect,
    power_summary,
    power_two_proportions,
    required_n,
)
from jdl.inference._profile import Profile, age_band, treated_profile
from jdl.inference._sensitivity import (
    LAB_SPECIFICATIONS,
    EValue,
    HiddenBias,
    RosenbaumBounds,
    Sensitivity,
    Specification,
    SpecificationEstimate,
    e_value,
    e_value_of_rates,
    rosenbaum_binary,
    rosenbaum_from_match,
    specification_spread,
    spread_frame,
    without_each,
)
from jdl.inference._simulate import CohortSimulator, Scenario, SimulatedEvaluation
from jdl.inference._subgroups import (
    DECLINED_FOR_CONFIDENTIALITY,
    DoseResponse,
    SubgroupEstimate,
    comparison_weights,
    dose_bands,
    dose_trend,
    holm,
    safe_groups,
    subgroup_effects,
    with_holm,
)
from jdl.inference._survival import SurvivalCurves, SurvivalPoint, survival_curves
from jdl.inference._validation import (
    DEFAULT_SCENARIOS,
    TARGETS,
    ScenarioSource,
    ValidationReport,
    run_validation,
)
from jdl.inference._variance import (
    AIEstimate,
    PairRows,
    abadie_imbens_att,
    pair_rows,
    pairs_person_difference,
)

__all__ = [
    "ANALYSED_SHARE",
    "DECLINED_FOR_CONFIDENTIALITY",
    "DEFAULT_DELTA",
    "DEFAULT_OUTCOMES",
    "DEFAULT_PRIOR_SD",
    "DEFAULT_SCENARIOS",
    "LAB_SPECIFICATIONS",
    "PLANNING_EFFECT",
    "TARGETS",
    "AIEstimate",
    "AdjustedEstimate",
    "AdjustmentDeclined",
    "Benefit",
    "CohortSimulator",
    "DiffEstimate",
    "DoseResponse",
    "EValue",
    "EffectsResult",
    "Feasibility",
    "FeasibilityOption",
    "HiddenBias",
    "InferenceError",
    "MeasureEffect",
    "PairRows",
    "Posterior",
    "PowerResult",
    "PowerSummary",
    "Prior",
    "PriorCheck",
    "Profile",
    "RosenbaumBounds",
    "Scenario",
    "ScenarioSource",
    "Sensitivity",
    "SimulatedEvaluation",
    "Specification",
    "SpecificationEstimate",
    "SubgroupEstimate",
    "SurvivalCurves",
    "SurvivalPoint",
    "ValidationReport",
    "abadie_imbens_att",
    "adjusted_difference",
    "adjusted_effects",
    "age_band",
    "assess_feasibility",
    "band_probability",
    "catalogue_prior",
    "comparison_weights",
    "conclusion_text",
    "dose_bands",
    "dose_trend",
    "e_value",
    "e_value_of_rates",
    "estimate_effects",
    "flat_prior",
    "holm",
    "minimum_detectable_effect",
    "pair_rows",
    "pairs_person_difference",
    "posterior",
    "power_summary",
    "power_two_proportions",
    "predictive_prior",
    "probability_of_benefit",
    "released_posterior",
    "required_n",
    "rosenbaum_binary",
    "rosenbaum_from_match",
    "run_validation",
    "safe_groups",
    "specification_spread",
    "spread_frame",
    "subgroup_effects",
    "survival_curves",
    "treated_profile",
    "weakly_informative_prior",
    "weighted_difference",
    "with_holm",
    "without_each",
]
