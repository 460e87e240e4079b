"""Inference stage: effects on matched data, the lab's reporting rules, power and sensitivity.

Public API
----------
estimate_effects : per-measure estimates (per 100 people), 95% CIs, p-values, significance
    under the lab's rules, plain-English conclusions -> EffectsResult of MeasureEffect.
weighted_difference : weighted difference in means with CR1 (pairs) or HC3 standard errors.
survival_curves : weighted Kaplan-Meier curves of time to first re-offence by group.
minimum_detectable_effect, required_n, power_two_proportions : small-sample planning.
e_value, rosenbaum_binary, rosenbaum_from_match, specification_spread : sensitivity.
run_validation, CohortSimulator, Scenario, SimulatedEvaluation : the validation harness.
"""

from jdl.inference._effects import (
    DEFAULT_OUTCOMES,
    EffectsResult,
    MeasureEffect,
    conclusion_text,
    estimate_effects,
)
from jdl.inference._errors import InferenceError
from jdl.inference._estimate import DiffEstimate, weighted_difference
from jdl.inference._power import (
    PowerResult,
    minimum_detectable_effect,
    power_two_proportions,
    required_n,
)
from jdl.inference._sensitivity import (
    RosenbaumBounds,
    e_value,
    rosenbaum_binary,
    rosenbaum_from_match,
    specification_spread,
)
from jdl.inference._simulate import CohortSimulator, Scenario, SimulatedEvaluation
from jdl.inference._survival import SurvivalCurves, survival_curves
from jdl.inference._validation import (
    DEFAULT_SCENARIOS,
    TARGETS,
    ScenarioSource,
    ValidationReport,
    run_validation,
)

__all__ = [
    "DEFAULT_OUTCOMES", "DEFAULT_SCENARIOS", "TARGETS", "CohortSimulator", "DiffEstimate",
    "EffectsResult", "InferenceError", "MeasureEffect", "PowerResult", "RosenbaumBounds",
    "Scenario", "ScenarioSource", "SimulatedEvaluation", "SurvivalCurves", "ValidationReport",
    "conclusion_text", "e_value", "estimate_effects", "minimum_detectable_effect",
    "power_two_proportions", "required_n", "rosenbaum_binary", "rosenbaum_from_match",
    "run_validation", "specification_spread", "survival_curves", "weighted_difference",
]
