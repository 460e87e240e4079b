"""Index events: which release or court-order start each submitted person is measured from, and
which events of the national records form the comparison pool. Pure SQL builders.

Treated rows (rules, in order):

1. A row whose link has no person (method ``none``), or an accepted row missing from the link
   table, is *not linked*.
2. Rows resolving to the same person count once: the row with the earliest reference date (then
   the lowest row number) is kept, the others are *duplicate rows*.
3. The reference date is the supplied index date, else the intervention start, else the
   conviction date; a row with none of them has *no reference date*.
4. The event's date compared with the reference date is its index date, except for a
   conviction-date reference, where it is the date sentenced (``sentence_start``, else the index
   date): a conviction identifies a sentence, whose release may come years later.
5. Allowed types (``jdl.core.index_types.INDEX_TYPES_BY_SETTING``): custody programmes take
   releases only; community and both take releases and court-order starts; out_of_court takes
   cautions (simple and conditional); fine_or_discharge takes fines and discharges at court.
6. Preferred: the latest allowed event in the ``community_lookback_days`` up to and including
   the reference date (every setting but custody - people are referred during an order, or
   after a caution or court appearance, that has already happened); otherwise the first allowed
   event up to ``index_window_days`` after it (an intervention in custody leads to the next
   release). Ties: the release first, then the contract's order of index types, then the
   lowest event id. None found: *no index event*.
"""

from __future__ import annotations

from jdl.cohort._spec import INDEX_TYPES_BY_SETTING, CohortSpec
from jdl.core.index_types import index_sql_order
from jdl.engines.dialect import add_days, days_between, quote_string
from jdl.outcomes import EVENT_COLUMNS

LINK_TABLE = "_jdl_cohort_link"
SUBMISSION_TABLE = "_jdl_cohort_submission"
EXCLUDE_TABLE = "_jdl_cohort_exclude"

_EVENT_SELECT = (
    "ie.event_id, ie.index_date, ie.index_type, ie.offence_id AS index_offence_id, "
    "ie.offence_group, ie.disposal, ie.sentence_days, ie.sentence_start"
)
_TYPE_ORDER = index_sql_order("ie.index_type")


def treated_rows_sql(spec: CohortSpec, setting: str) -> str:
    """One row per submitted row (in either table): its status before eligibility and its event.

    Reads :data:`LINK_TABLE` (row_number, person_id, method) and :data:`SUBMISSION_TABLE`
    (row_number, index_date, intervention_start, conviction_date).
    """
    types = ", ".join(quote_string(t) for t in INDEX_TYPES_BY_SETTING[setting])
    lookback = 0 if setting == "custody" else spec.community_lookback_days
    event_date = (
        "CASE WHEN r.reference_source = 'conviction_date' "
        "THEN COALESCE(ie.sentence_start, ie.index_date) ELSE ie.index_date END"
    )
    window_start = add_days("r.reference_date", -lookback)
    window_end = add_days("r.reference_date", spec.index_window_days)
    before = f"{event_date} <= r.reference_date"
    closeness = f"ABS({days_between('r.reference_date', event_date)})"
    return f"""
    WITH rows_in AS (
      SELECT COALESCE(l.row_number, s.row_number) AS row_number,
             CAST(l.person_id AS BIGINT) AS person_id, COALESCE(l.method, 'none') AS method,
             CAST(COALESCE(s.index_date, s.intervention_start, s.conviction_date) AS DATE)
               AS reference_date,
             CASE WHEN s.index_date IS NOT NULL THEN 'index_date'
                  WHEN s.intervention_start IS NOT NULL THEN 'intervention_start'
                  WHEN s.conviction_date IS NOT NULL THEN 'conviction_date' END
               AS reference_source
      FROM {LINK_TABLE} AS l FULL OUTER JOIN {SUBMISSION_TABLE} AS s
        ON s.row_number = l.row_number
    ),
    ranked AS (
      SELECT r.*, CASE WHEN r.person_id IS NULL OR r.method = 'none' THEN NULL ELSE
               ROW_NUMBER() OVER (PARTITION BY r.person_id
                                  ORDER BY r.reference_date NULLS LAST, r.row_number) END
               AS person_row
      FROM rows_in AS r
    ),
    candidates AS (
      SELECT r.row_number, {_EVENT_SELECT},
             ROW_NUMBER() OVER (PARTITION BY r.row_number
                                ORDER BY CASE WHEN {before} THEN 0 ELSE 1 END, {closeness},
                                         {_TYPE_ORDER}, ie.event_id) AS pick
      FROM ranked AS r JOIN index_events AS ie ON ie.person_id = r.person_id
      WHERE r.person_row = 1 AND ie.index_type IN ({types})
        AND {event_date} BETWEEN {window_start} AND {window_end}
    )
    SELECT r.row_number, r.person_id, r.method, r.reference_date, r.reference_source,
           CASE WHEN r.person_row IS NULL THEN 'not_linked'
                WHEN r.person_row > 1 THEN 'duplicate_row'
                WHEN r.reference_date IS NULL THEN 'no_reference_date'
                WHEN c.event_id IS NULL THEN 'no_index_event' END AS status,
           1 AS treated, c.event_id, c.index_date, c.index_type, c.index_offence_id,
           c.offence_group, c.disposal, c.sentence_days, c.sentence_start
    FROM ranked AS r LEFT JOIN candidates AS c ON c.row_number = r.row_number AND c.pick = 1
    ORDER BY r.row_number"""


def pool_events_sql(
    spec: CohortSpec, *, exclude: bool, people: tuple[int, int] | None = None
) -> str:
    """Every index event of the national records as a comparison candidate (``treated`` = 0):
    with ``first_per_person_year``, each person's first event of each kind in each calendar year
    (the MoJ annual-cohort rule within each index type - matching is exact on the type, so a
    stratum holds a person once a year; and a caution earlier in the year does not take the
    place of a court order, which kept the pools of releases and orders as they were before
    contract 1.1 added cautions, fines and discharges). ``exclude`` drops the people in
    :data:`EXCLUDE_TABLE` (person_id) - the submitted people. ``people`` = (low, high) keeps
    person_ids in [low, high): every measure is per person, so the pool can be derived in
    slices of people with bounded memory and the same rows."""
    conditions = []
    if exclude:
        conditions.append(
            f"NOT EXISTS (SELECT 1 FROM {EXCLUDE_TABLE} AS x WHERE x.person_id = ie.person_id)"
        )
    if people is not None:
        conditions.append(f"ie.person_id >= {int(people[0])} AND ie.person_id < {int(people[1])}")
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    events = f"SELECT ie.person_id, 0 AS treated, {_EVENT_SELECT} FROM index_events AS ie {where}"
    if spec.pool_events == "all":
        return events
    ranked = f"""
      SELECT ie.person_id, 0 AS treated, {_EVENT_SELECT},
             ROW_NUMBER() OVER (PARTITION BY ie.person_id, ie.index_type,
                                             EXTRACT(YEAR FROM ie.index_date)
                                ORDER BY ie.index_date, {_TYPE_ORDER}, ie.event_id) AS pick
      FROM index_events AS ie {where}"""
    return f"SELECT {', '.join(EVENT_COLUMNS)} FROM ({ranked}) AS ranked WHERE pick = 1"
