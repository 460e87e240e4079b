"""The evaluation's typed results: every stage's output assembled, in natural units.

These are lab-internal until the disclosure stage has seen them: :meth:`Results.to_dict` is the
file boundary, giving the *raw results* dict (``internal/raw_results.json``, the disclosure
stage's input; ``tests/fixtures/raw_results_example.json`` is generated from these classes).
Each field declares its disclosure :class:`~jdl.core.results.Kind` as metadata, and a test
checks every one against :func:`jdl.disclosure.kind_of`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jdl.core.results import Kind, declared_kinds, released, to_plain
from jdl.inference import (
    PowerSummary,
    Profile,
    Sensitivity,
    SubgroupEstimate,
    SurvivalPoint,
)
from jdl.intake import SelectiveSample

SCHEMA_VERSION = "1.0"


@dataclass(frozen=True)
class MeasureSummary:
    """One reported outcome: both groups' values and the difference in natural units (a rate
    is a proportion), the lab's significance and wording, and the counts behind them."""

    label: str = released(Kind.LABEL)
    unit: str = released(Kind.LABEL)
    treatment: float = released(Kind.DERIVED)
    comparison: float = released(Kind.DERIVED)
    difference: float = released(Kind.DERIVED)
    ci_low: float = released(Kind.DERIVED)
    ci_high: float = released(Kind.DERIVED)
    p_value: float = released(Kind.DERIVED)
    significant: bool = released(Kind.DERIVED)
    conclusion: str = released(Kind.DERIVED)
    treatment_n: int = released(Kind.COUNT)
    comparison_n: int = released(Kind.COUNT)
    treatment_events: int = released(Kind.COUNT)
    comparison_events: int = released(Kind.COUNT)
    reported: bool = released(Kind.FLAG)
    reason_not_reported: str | None = released(Kind.LABEL)
    #: the comparison group's effective size (Kish) for this measure: what its weighted
    #: people are worth; released rounded like a count, and the denominator disclosure uses
    #: for intervals computed from released counts (a weighted group is not as precise as
    #: its head count)
    comparison_ess: int | None = released(Kind.COUNT, default=None)
    #: each group's value with its own 95% interval (the JDL shows them beside the difference)
    treatment_ci_low: float | None = released(Kind.DERIVED, default=None)
    treatment_ci_high: float | None = released(Kind.DERIVED, default=None)
    comparison_ci_low: float | None = released(Kind.DERIVED, default=None)
    comparison_ci_high: float | None = released(Kind.DERIVED, default=None)
    #: adjusted for the matching covariates (g-computation on the matched sample, MatchIt's
    #: vignette): the comparison value the model predicts for the treatment group without the
    #: programme, the difference and its interval and p-value; ``adjustment`` names the model
    adjusted_comparison: float | None = released(Kind.DERIVED, default=None)
    adjusted_difference: float | None = released(Kind.DERIVED, default=None)
    adjusted_ci_low: float | None = released(Kind.DERIVED, default=None)
    adjusted_ci_high: float | None = released(Kind.DERIVED, default=None)
    adjusted_p_value: float | None = released(Kind.DERIVED, default=None)
    adjustment: str | None = released(Kind.LABEL, default=None)
    #: why no adjusted estimate is given (its outcome model could not be estimated reliably:
    #: jdl.inference._adjusted's rules), in fixed plain words without numbers
    adjustment_declined: str | None = released(Kind.LABEL, default=None)
    #: who the measure is about: ``all`` (everyone in the group) or ``reoffenders`` (the JDL's
    #: court-outcome and custody measures, compared among the people who re-offended); its
    #: numbers are then withheld whenever the headline rate's re-offender counts are
    population: str | None = released(Kind.LABEL, default=None)
    #: measures with the same partition split the same people (or re-offences) into parts
    #: that add up to a released total (the tiers of the first re-offence): disclosure control
    #: suppresses their counts as one table
    partition: str | None = released(Kind.LABEL, default=None)


@dataclass(frozen=True)
class BalanceRow:
    """A covariate's standardised mean difference before and after matching."""

    covariate: str = released(Kind.LABEL)
    smd_before: float | None = released(Kind.STATISTIC)
    smd_after: float | None = released(Kind.STATISTIC)
    variance_ratio_after: float | None = released(Kind.STATISTIC)


@dataclass(frozen=True)
class MatchingSummary:
    """How the comparison group was built and how well it matches."""

    method: str = released(Kind.LABEL)
    distance: str = released(Kind.LABEL)
    ratio: int = released(Kind.STATISTIC)
    replace: bool = released(Kind.FLAG)
    caliper: float | None = released(Kind.STATISTIC)
    std_caliper: bool = released(Kind.FLAG)
    exact: tuple[str, ...] = released(Kind.LABEL)
    covariates: tuple[str, ...] = released(Kind.LABEL)
    comparison_restricted_to: Mapping[str, str] = released(Kind.LABEL)
    treated_matched: int = released(Kind.COUNT)
    treated_unmatched: int = released(Kind.COUNT)
    controls_matched: int = released(Kind.COUNT)
    max_abs_smd_after: float = released(Kind.STATISTIC)
    quality: str = released(Kind.LABEL)
    quality_rule: str = released(Kind.LABEL)
    #: the design used ("power-first (5:1 with replacement)", "1:1 nearest neighbour without
    #: replacement", ...) and the rule that chose it
    design: str = released(Kind.LABEL, default="")
    design_rule: str = released(Kind.LABEL, default="")
    #: the matched comparison group's effective size (Kish), rounded like a count
    comparison_ess: int | None = released(Kind.COUNT, default=None)


@dataclass(frozen=True)
class Counts:
    """The flow of people from the upload to the matched groups."""

    submitted: int = released(Kind.COUNT)
    rejected: int = released(Kind.COUNT)
    accepted: int = released(Kind.COUNT)
    linked: int = released(Kind.COUNT)
    linked_by_id: int = released(Kind.COUNT)
    linked_probabilistically: int = released(Kind.COUNT)
    not_found: int = released(Kind.COUNT)
    ambiguous: int = released(Kind.COUNT)
    duplicates: int = released(Kind.COUNT)
    eligible: int = released(Kind.COUNT)
    treatment_n: int = released(Kind.COUNT)
    comparison_n: int = released(Kind.COUNT)
    comparison_pool_n: int = released(Kind.COUNT)
    unmatched_treated: int = released(Kind.COUNT)
    # The linkage model's estimate of the people submitted who are in the records but were not
    # found (jdl.linkage.LinkageUncertainty.expected_missed, rounded to a whole person).
    possibly_missed: int = released(Kind.COUNT, default=0)


@dataclass(frozen=True)
class AttritionStep:
    step: str = released(Kind.LABEL)
    n: int = released(Kind.COUNT)


#: Counts repeated at the top level of results.json (issue 7), in this order.
TOP_LEVEL_COUNTS = ("submitted", "linked", "eligible", "treatment_n", "comparison_n")


@dataclass(frozen=True)
class Provenance:
    """What produced the numbers: versions, the configuration hash and the seed."""

    data_version: str = released(Kind.META)
    data_cutoff: str | None = released(Kind.META)
    software_version: str = released(Kind.META)
    config_hash: str = released(Kind.META)
    seed: int = released(Kind.META)
    schema_version: str = released(Kind.META, default=SCHEMA_VERSION)


@dataclass(frozen=True)
class SettingChange:
    """A lab setting an analyst changed for this run (reviewed by the lab before release):
    the report's methods list each one, so a reader sees the analysis was not the standard one."""

    setting: str = released(Kind.META)  # "section.name", e.g. "matching.caliper"
    value: str = released(Kind.META)  # as the run used it
    lab_value: str = released(Kind.META)  # the lab's own setting


@dataclass(frozen=True)
class Results:
    """Everything one evaluation found, before disclosure control."""

    programme: Mapping[str, Any]
    provenance: Provenance
    counts: Counts
    exclusions: Mapping[str, int]
    attrition: tuple[AttritionStep, ...]
    headline_measures: tuple[str, ...]
    extended_measures: tuple[str, ...]
    measures: Mapping[str, MeasureSummary]
    balance: tuple[BalanceRow, ...]
    matching: MatchingSummary
    profile: Profile
    survival: Mapping[str, tuple[SurvivalPoint, ...]]
    sensitivity: Sensitivity
    power: PowerSummary
    subgroups: tuple[SubgroupEstimate, ...]
    selective_sample: SelectiveSample
    warnings: tuple[str, ...]
    analysis_overrides: tuple[SettingChange, ...] = ()
    #: the organisation's registered plan and its dose-response trend (issue 20); its
    #: sub-analyses are rows of ``subgroups`` with ``registered`` set
    registration: Any = None
    #: the probability of benefit of the headline rate (issue 20; jdl.inference.Benefit): exact
    #: here, recomputed from the released headline and banded by the disclosure stage
    benefit: Any = None

    def to_dict(self) -> dict[str, Any]:
        """The raw results dict (the disclosure stage's input), in its documented key order."""
        p = self.provenance
        counts = to_plain(self.counts)
        return {
            "schema_version": p.schema_version,
            "programme": to_plain(self.programme),
            "data_version": p.data_version,
            "data_cutoff": p.data_cutoff,
            "software_version": p.software_version,
            "config_hash": p.config_hash,
            "seed": p.seed,
            "counts": counts,
            **{k: counts[k] for k in TOP_LEVEL_COUNTS},
            "exclusions": dict(self.exclusions),
            "attrition": to_plain(self.attrition),
            "headline_measures": list(self.headline_measures),
            "extended_measures": list(self.extended_measures),
            "measures": to_plain(self.measures),
            "balance": to_plain(self.balance),
            "matching": to_plain(self.matching),
            "profile": to_plain(self.profile.tables),
            "survival": to_plain(self.survival),
            "sensitivity": to_plain(self.sensitivity),
            "power": to_plain(self.power),
            "subgroups": to_plain(self.subgroups),
            "selective_sample": to_plain(self.selective_sample),
            "warnings": list(self.warnings),
            "analysis_overrides": to_plain(self.analysis_overrides),
            **({"registration": to_plain(self.registration)}
               if self.registration is not None else {}),
            **({"benefit": to_plain(self.benefit)} if self.benefit is not None else {}),
        }

    def kinds(self) -> list[tuple[tuple[str | int, ...], Kind]]:
        """(path in :meth:`to_dict`, declared kind) of every typed leaf (the programme form is
        the organisation's own and is not typed)."""
        out = declared_kinds(self.provenance)
        out += declared_kinds(self.counts, ("counts",))
        out += [((k,), Kind.COUNT) for k in TOP_LEVEL_COUNTS]
        out += [(("exclusions", k), Kind.COUNT) for k in self.exclusions]
        out += declared_kinds(self.attrition, ("attrition",))
        out += [(("headline_measures", i), Kind.LABEL) for i in range(len(self.headline_measures))]
        out += [(("extended_measures", i), Kind.LABEL) for i in range(len(self.extended_measures))]
        for name in ("measures", "balance", "matching", "survival", "sensitivity", "power",
                     "subgroups", "selective_sample"):
            out += declared_kinds(getattr(self, name), (name,))
        out += [(p[:1] + p[2:], k) for p, k in declared_kinds(self.profile, ("profile",))]
        out += [(("warnings", i), Kind.LABEL) for i in range(len(self.warnings))]
        out += declared_kinds(self.analysis_overrides, ("analysis_overrides",))
        if self.registration is not None:
            out += declared_kinds(self.registration, ("registration",))
        if self.benefit is not None:
            out += declared_kinds(self.benefit, ("benefit",))
        return out
