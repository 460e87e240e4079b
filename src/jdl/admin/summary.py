"""Headline statistics of a data directory: what the register holds and how often people
re-offend — the figures the synthetic generator is calibrated against."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from jdl.engines import Engine

# MoJ Proven Reoffending Statistics, adults, October 2011 to September 2012 cohort.
PUBLISHED_RATES = {"custody_release": 0.425, "court_order": 0.336}
#: All adults in the MoJ's cohort, July to September 2019 (Proven reoffending statistics, 29 July
#: 2021): no per-disposal rate for cautions, fines or discharges could be cited, and adults given
#: those disposals re-offend at less than this (docs/data-contract.md), so it is an upper bound.
ALL_ADULTS_RATE = 0.256
FOLLOW_UP_DAYS = 365
WAITING_DAYS = 183


def age_sql(birth: str, at: str) -> str:
    """Age in completed years at a date (SQL expression)."""
    return (
        f"(year({at}) - year({birth}) - CASE WHEN month({at}) * 100 + day({at}) < "
        f"month({birth}) * 100 + day({birth}) THEN 1 ELSE 0 END)"
    )


def reoffending_sql(cutoff: str, min_age: int = 18) -> str:
    """One-year proven re-offending of every adult index event with complete follow-up.

    A proven re-offence is an offence committed in the 365 days after the index date and
    proven (caution or conviction) by 365 + 183 days after it — the MoJ headline measure.
    """
    window = FOLLOW_UP_DAYS + WAITING_DAYS
    return f"""
    WITH events AS (
        SELECT e.event_id, e.person_id, e.index_date, e.index_type
        FROM index_events e JOIN people p USING (person_id)
        WHERE {age_sql("p.date_of_birth", "e.index_date")} >= {min_age}
          AND e.index_date + INTERVAL {window} DAY <= DATE '{cutoff}'
    ),
    outcomes AS (
        SELECT e.event_id, count(o.offence_id) AS reoffences,
               min(o.offence_date - e.index_date) AS days_to_first
        FROM events e LEFT JOIN offences o
          ON o.person_id = e.person_id
         AND o.offence_date > e.index_date
         AND o.offence_date <= e.index_date + INTERVAL {FOLLOW_UP_DAYS} DAY
         AND o.outcome_date <= e.index_date + INTERVAL {window} DAY
        GROUP BY e.event_id
    )
    SELECT e.index_type,
           count(*) AS events,
           avg(CASE WHEN o.reoffences > 0 THEN 1.0 ELSE 0.0 END) AS reoffending_rate,
           sum(o.reoffences) / nullif(sum(CASE WHEN o.reoffences > 0 THEN 1 END), 0)
               AS reoffences_per_reoffender,
           avg(o.days_to_first) AS mean_days_to_first
    FROM events e JOIN outcomes o USING (event_id)
    GROUP BY e.index_type ORDER BY e.index_type
    """


@dataclass(frozen=True)
class Headline:
    counts: dict[str, int]
    reoffending: pd.DataFrame


def headline(engine: Engine, cutoff: str) -> Headline:
    """Row counts per table and one-year proven re-offending by index type."""
    counts = {t: int(engine.scalar(f"SELECT count(*) FROM {t}")) for t in sorted(engine.tables())}
    rates = engine.df(reoffending_sql(cutoff))
    rates["published_rate"] = rates["index_type"].map(PUBLISHED_RATES)
    return Headline(counts, rates)
