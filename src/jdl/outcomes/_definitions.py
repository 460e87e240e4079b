"""The outcome set: one-year proven re-offending measures (MoJ) and the extended measures.

Versioned: change :data:`OUTCOME_SET_VERSION` whenever a definition changes, so reports can say
which definitions produced them. The written rules are in ``docs/cohort-and-outcomes.md``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from jdl.admin.contract import OFFENCE_GROUPS
from jdl.engines.dialect import add_days, date_literal, overlap_days, quote_string
from jdl.outcomes._measures import FollowUp, Measure

OUTCOME_SET_VERSION = "1.1"

#: The JDL's three court-outcome tiers (1 = most serious), named as its reports name them:
#: kpow2 ``JDL RAP/Scripts/tables.R`` sets ``court_outcome = c("Indictable", "Either way",
#: "Summary")`` for its variables ``severe_ITS1`` .. ``severe_ITS3``. They are the data
#: contract's ``severity`` tiers 1..3.
COURT_OUTCOME_TIERS = {1: "indictable-only", 2: "either-way", 3: "summary"}

#: The JDL's rule for its re-offender measures (time to first re-offence, the court-outcome and
#: custody tables): shown only when at least this many people in the treatment group
#: re-offended. kpow2 ``JDL part 2 ... .Rmd`` prints Tables 3-7 only
#: ``if(treat_time_numb[headline_analysis] >= 30)``, and ``variables.R`` sets its
#: ``reoff_30_marker`` from the same count. The number itself is
#: ``InferenceSettings.min_treated_reoffenders`` (30), so a deployment can change it.
JDL_REOFFENDER_TABLES = "time to first re-offence, court-outcome tiers and custodial sentences"


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
            better="higher",
        ),
    )


_ANY_REOFFENCE = "COUNT(*) FILTER (WHERE is_reoffence) > 0"


def _an(word: str) -> str:
    """``word`` with its indefinite article ("an indictable-only", "a summary")."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _reoffenders_only(sql: str) -> str:
    """``sql`` for people with a proven re-offence in the follow-up year, empty for others."""
    return f"CASE WHEN {_ANY_REOFFENCE} THEN {sql} END"


def _first_reoffence_digit(digit: str) -> str:
    """The smallest ``digit`` (an expression 0..9) among the re-offences committed on the day of
    the first proven re-offence: ``MIN(offence_day * 10 + digit)`` orders by day, then by digit,
    in one plain aggregate (no window function), so it runs alike on DuckDB and Spark and is
    the same whatever the row order. Empty for non-re-offenders."""
    return f"(MIN(offence_day * 10 + {digit}) FILTER (WHERE is_reoffence) % 10)"


def _among_reoffenders(name: str, sql: str, description: str, **reported: Any) -> Measure:
    """A JDL measure of re-offenders only: empty for non-re-offenders, compared among
    re-offenders ("for reoffenders only", kpow2 Tables 4-7)."""
    return _after(name, _reoffenders_only(sql), description, population="reoffenders",
                  **reported)


def _court_outcome_outcomes() -> tuple[Measure, ...]:
    """The JDL's measures by court-outcome tier and of custodial sentences, re-offenders only.

    kpow2 ``JDL RAP/Scripts/tables.R``, Tables 4-7: "proportion ... with first proven reoffence
    ... by court outcome" (the tier of the *first* re-offence: the three rates add up to all
    re-offenders), "number of proven reoffences ... by court outcome" (re-offences per
    re-offender, by tier), "proportion ... who received a custodial sentence for their first
    proven reoffence" and "number of custodial sentences received" (per re-offender). Several
    re-offences committed on the first day: the most serious tier among them, and custody if
    any of them received it.
    """
    first_tier = _first_reoffence_digit("severity")
    rates = tuple(
        _among_reoffenders(
            f"first_reoffence_tier{k}",
            f"CASE WHEN {first_tier} = {k} THEN 1 ELSE 0 END",
            f"1 if the first proven re-offence was {_an(tier)} offence (tier {k}; the most "
            "serious tier among "
            "re-offences committed that day), else 0; empty for non-re-offenders.",
            partition="first_reoffence_tier",
            better="lower" if k == 1 else "neither",
            **_rate(f"first_reoffence_tier{k}_rate",
                    f"First proven re-offence was {_an(tier)} offence (tier {k}), "
                    "re-offenders only",
                    f"the number of re-offenders whose first proven re-offence was "
                    f"{_an(tier)} offence"),
        )
        for k, tier in COURT_OUTCOME_TIERS.items()
    )
    frequencies = tuple(
        _among_reoffenders(
            f"reoffences_tier{k}",
            f"COUNT(*) FILTER (WHERE is_reoffence AND severity = {k})",
            f"Number of proven {tier} (tier {k}) re-offences; empty for non-re-offenders.",
            partition="reoffence_tier",
            better="lower" if k == 1 else "neither",
            result_key=f"tier{k}_reoffending_frequency",
            kind="frequency",
            unit="per person",
            label=f"Proven {tier} (tier {k}) re-offences per re-offender",
            noun=f"the number of proven {tier} re-offences committed by re-offenders",
        )
        for k, tier in COURT_OUTCOME_TIERS.items()
    )
    custody_first = _first_reoffence_digit("CASE WHEN disposal = 'custody' THEN 0 ELSE 1 END")
    return (
        *rates,
        *frequencies,
        _among_reoffenders(
            "first_reoffence_custodial",
            f"CASE WHEN {custody_first} = 0 THEN 1 ELSE 0 END",
            "1 if the first proven re-offence (any re-offence committed that day) received a "
            "custodial sentence, else 0; empty for non-re-offenders.",
            **_rate("first_reoffence_custody_rate",
                    "Custodial sentence for the first proven re-offence, re-offenders only",
                    "the number of re-offenders who received a custodial sentence for their "
                    "first proven re-offence"),
        ),
        _among_reoffenders(
            "custodial_sentences_reoffenders",
            "COUNT(DISTINCT outcome_date) FILTER (WHERE is_reoffence AND disposal = 'custody')",
            "Number of custodial sentences (distinct sentencing dates) for re-offences; empty "
            "for non-re-offenders.",
            result_key="custodial_sentence_frequency",
            kind="frequency",
            unit="per person",
            label="Custodial sentences for re-offences per re-offender",
            noun="the number of custodial sentences re-offenders received",
        ),
        _among_reoffenders(
            "reoffence_type_changed",
            "1 - " + _flag("is_reoffence AND offence_group = index_offence_group"),
            "1 if no proven re-offence was in the index offence's offence group (the type of "
            "offending changed), else 0; empty for non-re-offenders.",
            better="neither",
            **_rate("offence_type_change_rate",
                    "Re-offended only with other types of offence than the index offence, "
                    "re-offenders only",
                    "the number of re-offenders whose proven re-offences were all of a "
                    "different type (offence group) from their index offence"),
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
        *_court_outcome_outcomes(),
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
            result_key="offending_volume_change",
            kind="mean",
            unit="offences per person",
            label="Change in proven offences per person, year after minus year before",
            noun="the change in proven offending from the year before to the year after",
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
                better="higher" if source == "employment" else "lower",
            ),
            Measure(
                f"{source}_at_end",
                source,
                _flag(f"start_day <= {f} AND end_day >= {f}"),
                f"1 if {word} on day {f} after the index date, else 0.",
            ),
        ]
    return tuple(measures)


_PERIOD_WORDS = {2: "two", 3: "three", 4: "four", 5: "five"}


def long_follow_up_period(follow_up: FollowUp) -> tuple[str, str] | None:
    """(column tag, words) of the longer follow-up: ``("2y", "two-year")`` for 730 days,
    ``("500d", "500-day")`` otherwise; None when it is off."""
    days = follow_up.long_follow_up_days
    if days is None:
        return None
    years, rest = divmod(days, 365)
    if rest == 0 and years in _PERIOD_WORDS:
        return f"{years}y", f"{_PERIOD_WORDS[years]}-year"
    return f"{days}d", f"{days}-day"


def _long_outcomes(follow_up: FollowUp) -> tuple[Measure, ...]:
    """The optional longer follow-up (JDL: two years): the rate and frequency of proven
    re-offending by the same rule over ``long_follow_up_days``, with the same waiting period.
    An event whose longer follow-up and waiting period end after the data cut-off has no value
    (it cannot be counted yet); :func:`long_follow_up_problem` words why."""
    period = long_follow_up_period(follow_up)
    if period is None:
        return ()
    if follow_up.data_cutoff is None:
        raise ValueError("FollowUp.data_cutoff is needed for the longer follow-up: the lab must "
                         "know whether the records cover it")
    tag, words = period
    days, proven_by = follow_up.long_follow_up_days, follow_up.long_proven_by_day
    assert days is not None and proven_by is not None  # set whenever there is a period
    proven = (f"offence_day BETWEEN first_day AND {days} AND outcome_day <= {proven_by} "
              "AND NOT is_index")
    covered = f"{add_days('index_date', proven_by)} <= {date_literal(follow_up.data_cutoff)}"
    title = words[:1].upper() + words[1:]
    return (
        Measure(f"_reoffended_{tag}", "offences", _flag(proven),
                f"Re-offended in the {words} follow-up (before the coverage check).",
                window="long_follow_up"),
        Measure(f"_reoffences_{tag}", "offences", f"COUNT(*) FILTER (WHERE {proven})",
                f"Re-offences in the {words} follow-up (before the coverage check).",
                window="long_follow_up"),
        Measure(f"reoffended_{tag}", "event",
                f"CASE WHEN {covered} THEN _reoffended_{tag} END",
                f"1 if at least one proven re-offence committed in the {days} days after the "
                f"index date and proven by day {proven_by}, else 0; empty when that is after "
                "the data cut-off.",
                **_rate(f"proven_reoffending_rate_{tag}", f"{title} proven re-offending rate",
                        f"the number of people who commit a proven re-offence within the "
                        f"{words} follow-up")),
        Measure(f"reoffences_{tag}", "event",
                f"CASE WHEN {covered} THEN _reoffences_{tag} END",
                f"Number of proven re-offences in the {words} follow-up; empty when it ends "
                "after the data cut-off.",
                result_key=f"reoffending_frequency_{tag}", kind="frequency", unit="per person",
                label=f"Proven re-offences per person, {words} follow-up",
                noun=f"the number of proven re-offences committed within the {words} "
                     "follow-up"),
    )


def long_follow_up_problem(follow_up: FollowUp,
                           latest_index_date: date | None = None) -> str | None:
    """Why the longer follow-up cannot be given for events up to ``latest_index_date``, in
    plain words (None when it can, or when it is off; without a date: the words for events
    found uncovered). The JDL's two-year follow-up needs the records to cover two years plus
    the waiting period after every index date."""
    period = long_follow_up_period(follow_up)
    if period is None:
        return None
    words = period[1].replace("-year", " years").replace("-day", " days")
    last = follow_up.last_index_date_for_long_follow_up()
    if last is None:
        return (f"A follow-up of {words} needs the date the national records run to, and it "
                "is not known.")
    if latest_index_date is not None and latest_index_date <= last:
        return None
    return (f"A follow-up of {words} is not possible for this analysis: the national records "
            f"run to {follow_up.data_cutoff:%d %B %Y}, and {words} plus the "
            f"{follow_up.waiting_period_days}-day waiting period for convictions need every "
            f"index date to be on or before {last:%d %B %Y}. Some people in this analysis "
            "started their follow-up later. The one-year measures are not affected.")


def outcome_measures(follow_up: FollowUp) -> tuple[Measure, ...]:
    """The full outcome set for ``follow_up``: headline, then extended measures."""
    return (headline_outcomes() + _offence_outcomes() + _long_outcomes(follow_up)
            + _spell_outcomes(follow_up))


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
