"""The outcome set: one-year proven re-offending measures (MoJ) and the extended measures.

Versioned: change :data:`OUTCOME_SET_VERSION` whenever a definition changes, so reports can say
which definitions produced them. The written rules are in ``docs/cohort-and-outcomes.md``.
"""

from __future__ import annotations

from typing import Any

from jdl.admin.contract import OFFENCE_GROUPS
from jdl.engines.dialect import overlap_days, quote_string
from jdl.outcomes._measures import FollowUp, Measure

OUTCOME_SET_VERSION = "1.0"


def _flag(predicate: str) -> str:
    """0/1 per event: does any joined row satisfy ``predicate``."""
    return f"MAX(CASE WHEN {predicate} THEN 1 ELSE 0 END)"


def _after(name: str, sql: str, description: str, headline: bool = False,
           **reported: Any) -> Measure:
    """An offence measure over the follow-up window (re-offences only); ``reported`` gives a
    released measure its ``result_key``, ``kind``, ``unit``, ``label`` and ``noun``."""
    return Measure(name, "offences", sql, description, headline, window="follow_up", **reported)


def _rate(key: str, label: str, noun: str) -> dict[str, Any]:
    return {"result_key": key, "kind": "rate", "unit": "proportion", "label": label,
            "noun": noun}


def headline_outcomes() -> tuple[Measure, ...]:
    """The three measures every JDL report gives."""
    return (
        _after(
            "reoffended",
            _flag("is_reoffence"),
            "1 if at least one proven re-offence in the follow-up year, else 0.",
            True,
            **_rate("proven_reoffending_rate", "One-year proven re-offending rate",
                    "the number of people who commit a proven re-offence within one year"),
        ),
        _after(
            "reoffences",
            "COUNT(*) FILTER (WHERE is_reoffence)",
            "Number of proven re-offences (offences, not court appearances).",
            True,
            result_key="reoffending_frequency",
            kind="frequency",
            unit="per person",
            label="Proven re-offences per person",
            noun="the number of proven re-offences committed within one year",
        ),
        _after(
            "days_to_first",
            "MIN(offence_day) FILTER (WHERE is_reoffence)",
            "Days from the index date to the first proven re-offence; empty for "
            "non-re-offenders (0 = on the day of release).",
            True,
            result_key="days_to_first_reoffence",
            kind="days",
            unit="days",
            label="Average days to first proven re-offence (re-offenders only)",
            noun="the time to first proven re-offence (among those who re-offend)",
        ),
    )


def _offence_outcomes() -> tuple[Measure, ...]:
    custody = "is_reoffence AND disposal = 'custody'"
    by_group = tuple(
        _after(
            f"reoffended_{group}",
            _flag(f"is_reoffence AND offence_group = {quote_string(group)}"),
            f"1 if a proven re-offence in the {group.replace('_', ' ')} group, else 0.",
        )
        for group in OFFENCE_GROUPS
    )
    return (
        _after(
            "custodial_reoffence",
            _flag(custody),
            "1 if a proven re-offence received a custodial sentence, else 0.",
            **_rate("custodial_reoffending_rate",
                    "Re-offended and received a custodial sentence",
                    "the number of people who re-offend and receive a custodial sentence"),
        ),
        _after(
            "custodial_sentences",
            f"COUNT(DISTINCT outcome_date) FILTER (WHERE {custody})",
            "Number of custodial sentences (distinct sentencing dates) for re-offences.",
        ),
        _after(
            "most_serious_tier",
            "MIN(severity) FILTER (WHERE is_reoffence)",
            "Most serious tier among re-offences (1 = most serious); empty if none.",
        ),
        _after(
            "reoffended_tier1",
            _flag("is_reoffence AND severity = 1"),
            "1 if a proven re-offence was in the most serious tier, else 0.",
            **_rate("serious_reoffending_rate",
                    "Re-offended with a most serious (tier 1) offence",
                    "the number of people who re-offend with a most serious (tier 1) "
                    "offence"),
        ),
        Measure(
            "offences_pre",
            "offences",
            "COUNT(*) FILTER (WHERE is_pre)",
            "Proven offences committed in the year before the index conviction date (index "
            "offence included) - the 'before' volume.",
            window="pre",
        ),
        Measure(
            "offence_change",
            "event",
            "(reoffences - offences_pre)",
            "Re-offences in the follow-up year minus offences in the year before.",
        ),
        *by_group,
    )


def _spell_outcomes(follow_up: FollowUp) -> tuple[Measure, ...]:
    f = follow_up.follow_up_days
    measures = []
    for source, word, plain in (("employment", "employed", "in employment"),
                                ("benefit", "on out-of-work benefits", "on out-of-work benefits")):
        overlap = overlap_days("start_day", "end_day", 1, f)
        days = f"CAST(LEAST({f}, COALESCE(SUM({overlap}), 0)) AS INTEGER)"
        measures += [
            Measure(
                f"{source}_days_post",
                source,
                days,
                f"Days {word} in the follow-up year (days 1..{f} after index).",
                result_key=f"{source}_days_after",
                kind="mean",
                unit="days",
                label=f"Days {plain} in the year after the index date",
                noun=f"the number of days {plain} in the year after the index date",
            ),
            Measure(
                f"{source}_at_end",
                source,
                _flag(f"start_day <= {f} AND end_day >= {f}"),
                f"1 if {word} on day {f} after the index date, else 0.",
            ),
        ]
    return tuple(measures)


def outcome_measures(follow_up: FollowUp) -> tuple[Measure, ...]:
    """The full outcome set for ``follow_up``: headline, then extended measures."""
    return headline_outcomes() + _offence_outcomes() + _spell_outcomes(follow_up)


HEADLINE_OUTCOMES = tuple(m.name for m in headline_outcomes())


def reported_outcomes(follow_up: FollowUp | None = None) -> tuple[Measure, ...]:
    """The measures every report gives, headline first: the ones with a ``result_key``.

    Each is defined once here - its column, released key, kind, unit, label and the noun its
    sentences use - and the evaluation, inference, report and docs read it from here.
    """
    return tuple(m for m in outcome_measures(follow_up or FollowUp()) if m.result_key)


def headline_rate() -> Measure:
    """The one-year proven re-offending rate: the measure the sensitivity analysis, power,
    sub-groups and the report's summary are about (column ``reoffended``, released as
    ``proven_reoffending_rate``)."""
    return headline_outcomes()[0]
