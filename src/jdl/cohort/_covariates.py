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


def _occasions(kind: str, recent: bool = False) -> str:
    """Sanction occasions of a kind (one court appearance or caution = one, however many
    offences); ``recent``: with an offence committed in the recent window."""
    predicate = f"{kind}_offences > 0"
    if recent:
        predicate += f" AND last_{kind}_day >= -{RECENT_DAYS}"
    return f"COUNT(*) FILTER (WHERE {predicate})"


def _known(name: str, sql: str, description: str) -> Measure:
    return Measure(name, "offences", sql, description, window="known")


def _history() -> tuple[Measure, ...]:
    recent = f"history_day >= -{RECENT_DAYS}"
    return (
        _known(
            "prev_offences",
            "COUNT(*) FILTER (WHERE is_prior)",
            "Offences proven before the index conviction date (so not the index offence nor "
            "offences convicted with it).",
        ),
        Measure(
            "prev_convictions",
            "occasions",
            _occasions("convicted"),
            "Previous conviction occasions (distinct conviction dates).",
        ),
        Measure(
            "prev_cautions", "occasions", _occasions("cautioned"), "Previous caution occasions."
        ),
        Measure(
            "prev_custodial",
            "occasions",
            _occasions("custodial"),
            "Previous custodial sentences (distinct sentencing dates).",
        ),
        _known(
            "prev_offences_2y",
            f"COUNT(*) FILTER (WHERE is_prior AND {recent})",
            f"Previous offences committed in the {RECENT_DAYS} days before the index "
            "conviction date.",
        ),
        Measure(
            "prev_convictions_2y",
            "occasions",
            _occasions("convicted", recent=True),
            "Previous conviction occasions with an offence committed in the recent window.",
        ),
        Measure(
            "prev_custodial_2y",
            "occasions",
            _occasions("custodial", recent=True),
            "Previous custodial sentences with an offence committed in the recent window.",
        ),
        _known(
            "_first_offence_date",
            "MIN(offence_date) FILTER (WHERE is_prior OR is_index)",
            "Date of the first proven offence (index offence included).",
        ),
        _known(
            "_first_outcome_day",
            "MIN(history_outcome_day) FILTER (WHERE is_prior OR is_index)",
            "Days from the index conviction date back to the first sanction (<= 0).",
        ),
        _known(
            "days_since_last_offence",
            "-MAX(offence_day) FILTER (WHERE is_prior)",
            "Days from the last previously proven offence to the index date; empty if none.",
        ),
    )


def _event_covariates() -> tuple[Measure, ...]:
    sanctions = "(prev_convictions + prev_cautions + 1)"  # previous occasions + the index one
    years = "(CASE WHEN _first_outcome_day IS NULL THEN 0 ELSE -_first_outcome_day END / 365.25)"
    return (
        Measure(
            "age_at_index",
            "event",
            age_at("date_of_birth", "index_date"),
            "Age in completed years at the index date.",
        ),
        Measure("sex", "event", "sex", "Sex (M/F)."),
        Measure("ethnicity", "event", "COALESCE(ethnicity, 'Unknown')", "Ethnic group."),
        Measure("nationality", "event", "COALESCE(nationality, 'Unknown')", "Nationality group."),
        Measure("region", "event", "COALESCE(region, 'Unknown')", "Region of residence."),
        Measure(
            "index_offence_group", "event", "offence_group", "Offence group of the index offence."
        ),
        Measure(
            "sentence_type", "event", "disposal", "Index disposal: custody, suspended or community."
        ),
        Measure(
            "sentence_days",
            "event",
            "sentence_days",
            "Length of the index sentence or order in days (empty if unknown).",
        ),
        Measure(
            "age_at_first_offence",
            "event",
            f"CASE WHEN _first_offence_date IS NULL THEN NULL ELSE "
            f"{age_at('date_of_birth', '_first_offence_date')} END",
            "Age when the first proven offence was committed.",
        ),
        Measure(
            "copas_rate",
            "event",
            f"LN(({sanctions} + 1) / (10 + {years}))",
            "OGRS3-style Copas rate ln((S + 1) / (10 + Y)): S = sanction occasions up to "
            "and including the index one, Y = years from the first sanction to the index "
            "conviction date. Higher = faster offending.",
        ),
    )


def _spell_covariates() -> tuple[Measure, ...]:
    measures = []
    for source, word in (("employment", "employed"), ("benefit", "on out-of-work benefits")):
        for days, label in ((365, "1y"), (730, "2y")):
            overlap = overlap_days("start_day", "end_day", -days, -1)
            measures.append(
                Measure(
                    f"{source}_days_{label}",
                    source,
                    f"CAST(LEAST({days}, COALESCE(SUM({overlap}), 0)) AS INTEGER)",
                    f"Days {word} in the {days} days before the index date.",
                )
            )
        measures.append(
            Measure(
                f"{source}_at_index",
                source,
                "MAX(CASE WHEN start_day <= 0 AND end_day >= 0 THEN 1 ELSE 0 END)",
                f"1 if {word} on the index date, else 0.",
            )
        )
    return tuple(measures)


def _assessment_covariates() -> tuple[Measure, ...]:
    needs = ("accommodation", "employment", "drugs", "alcohol", "mental_health")
    return (
        Measure(
            "has_assessment",
            "assessment",
            "MAX(CASE WHEN is_latest THEN 1 ELSE 0 END)",
            "1 if a risk/need assessment was made in the 2 years up to the index date.",
        ),
        Measure(
            "risk_score",
            "assessment",
            "MAX(risk_score) FILTER (WHERE is_latest)",
            "Latest assessed 2-year re-offending risk (0-100); empty without assessment.",
        ),
        *(
            Measure(
                f"need_{n}",
                "assessment",
                f"MAX(CASE WHEN need_{n} THEN 1 ELSE 0 END) FILTER (WHERE is_latest)",
                f"Latest assessment found a {n.replace('_', ' ')} need (0/1; empty without "
                "assessment).",
            )
            for n in needs
        ),
    )


def covariate_measures() -> tuple[Measure, ...]:
    """The covariate set, in report order; ``index_type`` and ``index_year`` always come too."""
    return _history() + _event_covariates() + _spell_covariates() + _assessment_covariates()


COVARIATES = tuple(m.name for m in covariate_measures() if not m.name.startswith("_"))
