"""The covariate set: what is known about a person at the index date (no look-ahead).

Criminal history counts offences *proven before the index conviction date* (``is_prior``), so
the index offence and offences convicted with it are never history, for releases and court orders
alike. Occasions (convictions, cautions, custodial sentences) count distinct sanction dates.
Employment and benefit history covers the days before the index date. Versioned: bump
:data:`COVARIATE_SET_VERSION` whenever a definition changes.
"""

from __future__ import annotations

from jdl.engines.dialect import age_at, overlap_days
from jdl.outcomes import Measure

COVARIATE_SET_VERSION = "1.0"
RECENT_DAYS = 730  # "recent" history: the two years before the index conviction date

#: Matching's exact strata (the JDL's practice: like is compared with like by index type and
#: year); they are columns of every analysis frame, not measures.
EXACT_STRATA = ("index_type", "index_year")

#: Added by matching for people with no previous offence (``days_since_last_offence`` empty).
NO_PREVIOUS_OFFENCE = "no_previous_offence"


def _occasions(kind: str, recent: bool = False) -> str:
    """Sanction occasions of a kind (one court appearance or caution = one, however many
    offences); ``recent``: with an offence committed in the recent window."""
    predicate = f"{kind}_offences > 0"
    if recent:
        predicate += f" AND last_{kind}_day >= -{RECENT_DAYS}"
    return f"COUNT(*) FILTER (WHERE {predicate})"


def _known(name: str, sql: str, description: str, label: str) -> Measure:
    return _matched(name, "offences", sql, description, label, window="known")


def _matched(name: str, source: str, sql: str, description: str, label: str, *,
             kind: str = "numeric", fill_missing: str = "", window: str = "all") -> Measure:
    """A covariate the propensity score model uses (when it varies in the analysis frame)."""
    return Measure(name, source, sql, description, window=window, label=label, kind=kind,
                   use_in_matching=True, fill_missing=fill_missing)


def _history() -> tuple[Measure, ...]:
    recent = f"history_day >= -{RECENT_DAYS}"
    return (
        _known(
            "prev_offences",
            "COUNT(*) FILTER (WHERE is_prior)",
            "Offences proven before the index conviction date (so not the index offence nor "
            "offences convicted with it).",
            "Previous offences",
        ),
        _matched(
            "prev_convictions",
            "occasions",
            _occasions("convicted"),
            "Previous conviction occasions (distinct conviction dates).",
            "Previous convictions",
        ),
        _matched(
            "prev_cautions", "occasions", _occasions("cautioned"), "Previous caution occasions.",
            "Previous cautions",
        ),
        _matched(
            "prev_custodial",
            "occasions",
            _occasions("custodial"),
            "Previous custodial sentences (distinct sentencing dates).",
            "Previous custodial sentences",
        ),
        _known(
            "prev_offences_2y",
            f"COUNT(*) FILTER (WHERE is_prior AND {recent})",
            f"Previous offences committed in the {RECENT_DAYS} days before the index "
            "conviction date.",
            "Offences in the previous 2 years",
        ),
        _matched(
            "prev_convictions_2y",
            "occasions",
            _occasions("convicted", recent=True),
            "Previous conviction occasions with an offence committed in the recent window.",
            "Convictions in the previous 2 years",
        ),
        _matched(
            "prev_custodial_2y",
            "occasions",
            _occasions("custodial", recent=True),
            "Previous custodial sentences with an offence committed in the recent window.",
            "Custodial sentences in the previous 2 years",
        ),
        Measure(
            "_first_offence_date",
            "offences",
            "MIN(offence_date) FILTER (WHERE is_prior OR is_index)",
            "Date of the first proven offence (index offence included).",
            window="known",
        ),
        Measure(
            "_first_outcome_day",
            "offences",
            "MIN(history_outcome_day) FILTER (WHERE is_prior OR is_index)",
            "Days from the index conviction date back to the first sanction (<= 0).",
            window="known",
        ),
        Measure(
            "days_since_last_offence",
            "offences",
            "-MAX(offence_day) FILTER (WHERE is_prior)",
            "Days from the last previously proven offence to the index date; empty if none "
            f"(matching uses 0 with the indicator `{NO_PREVIOUS_OFFENCE}`).",
            window="known",
            label="Days since the last offence",
            kind="numeric",
            use_in_matching=True,
            fill_missing=NO_PREVIOUS_OFFENCE,
        ),
    )


def _person_covariates() -> tuple[Measure, ...]:
    """Who the person is at the index date, and what the index offence and sentence were."""
    def category(name: str, sql: str, description: str, label: str) -> Measure:
        return _matched(name, "event", sql, description, label, kind="categorical")

    return (
        _matched(
            "age_at_index",
            "event",
            age_at("date_of_birth", "index_date"),
            "Age in completed years at the index date.",
            "Age at the index date",
        ),
        category("sex", "sex", "Sex (M/F).", "Sex"),
        category("ethnicity", "COALESCE(ethnicity, 'Unknown')", "Ethnic group.", "Ethnicity"),
        category("nationality", "COALESCE(nationality, 'Unknown')", "Nationality group.",
                 "Nationality"),
        category("region", "COALESCE(region, 'Unknown')", "Region of residence.", "Region"),
        category("index_offence_group", "offence_group", "Offence group of the index offence.",
                 "Index offence"),
        category("sentence_type", "disposal",
                 "Index disposal: custody, suspended or community.", "Sentence type"),
    )


def _career_covariates() -> tuple[Measure, ...]:
    """The shape of the criminal career, computed from the history measures."""
    sanctions = "(prev_convictions + prev_cautions + 1)"  # previous occasions + the index one
    years = "(CASE WHEN _first_outcome_day IS NULL THEN 0 ELSE -_first_outcome_day END / 365.25)"
    return (
        _matched(
            "age_at_first_offence",
            "event",
            f"CASE WHEN _first_offence_date IS NULL THEN NULL ELSE "
            f"{age_at('date_of_birth', '_first_offence_date')} END",
            "Age when the first proven offence was committed.",
            "Age at first offence",
        ),
        _matched(
            "copas_rate",
            "event",
            f"LN(({sanctions} + 1) / (10 + {years}))",
            "OGRS3-style Copas rate ln((S + 1) / (10 + Y)): S = sanction occasions up to "
            "and including the index one, Y = years from the first sanction to the index "
            "conviction date. Higher = faster offending.",
            "Copas rate (pace of offending over the career)",
        ),
        _matched(
            "sentence_days",
            "event",
            "sentence_days",
            "Length of the index sentence or order in days (empty if unknown).",
            "Length of sentence (days)",
        ),
    )


def _spell_covariates() -> tuple[Measure, ...]:
    measures = []
    for source, word, plain in (("employment", "employed", "Days in employment"),
                                ("benefit", "on out-of-work benefits",
                                 "Days on out-of-work benefits")):
        for days, label, period in ((365, "1y", "previous year"),
                                    (730, "2y", "previous 2 years")):
            overlap = overlap_days("start_day", "end_day", -days, -1)
            measures.append(
                _matched(
                    f"{source}_days_{label}",
                    source,
                    f"CAST(LEAST({days}, COALESCE(SUM({overlap}), 0)) AS INTEGER)",
                    f"Days {word} in the {days} days before the index date.",
                    f"{plain}, {period}",
                )
            )
        measures.append(
            _matched(
                f"{source}_at_index",
                source,
                "MAX(CASE WHEN start_day <= 0 AND end_day >= 0 THEN 1 ELSE 0 END)",
                f"1 if {word} on the index date, else 0.",
                "In employment on the index date" if source == "employment"
                else "On out-of-work benefits on the index date",
            )
        )
    return tuple(measures)


def _assessment_covariates() -> tuple[Measure, ...]:
    needs = ("accommodation", "employment", "drugs", "alcohol", "mental_health")
    return (
        _matched(
            "has_assessment",
            "assessment",
            "MAX(CASE WHEN is_latest THEN 1 ELSE 0 END)",
            "1 if a risk/need assessment was made in the 2 years up to the index date.",
            "Has a risk and needs assessment",
            fill_missing="zero",
        ),
        _matched(
            "risk_score",
            "assessment",
            "MAX(risk_score) FILTER (WHERE is_latest)",
            "Latest assessed 2-year re-offending risk (0-100); empty without assessment.",
            "Assessed risk of re-offending",
            fill_missing="zero",
        ),
        *(
            _matched(
                f"need_{n}",
                "assessment",
                f"MAX(CASE WHEN need_{n} THEN 1 ELSE 0 END) FILTER (WHERE is_latest)",
                f"Latest assessment found a {n.replace('_', ' ')} need (0/1; empty without "
                "assessment).",
                f"Assessed need: {n.replace('_', ' ')}",
                fill_missing="zero",
            )
            for n in needs
        ),
    )


def covariate_measures() -> tuple[Measure, ...]:
    """The covariate set, in report (and matching) order; ``index_type`` and ``index_year``
    always come too."""
    return (_person_covariates() + _history() + _career_covariates() + _spell_covariates()
            + _assessment_covariates())


COVARIATES = tuple(m.name for m in covariate_measures() if not m.name.startswith("_"))



def matching_covariates() -> tuple[Measure, ...]:
    """The covariates the propensity score model may use, in matching order: categorical
    first, then numeric (each in report order)."""
    used = [m for m in covariate_measures() if m.use_in_matching]
    return (tuple(m for m in used if m.kind == "categorical")
            + tuple(m for m in used if m.kind == "numeric"))


def covariate_labels() -> dict[str, str]:
    """Plain names of the covariates matching uses, the missing-value indicator included."""
    labels = {m.name: m.label for m in covariate_measures() if m.label}
    labels[NO_PREVIOUS_OFFENCE] = "No previous offence"
    return labels
