"""Measures as data, and the one SQL builder that computes them per index event.

A :class:`Measure` is a named SQL expression over one *source*: the rows of a national table
joined to each index event (aggregated per event), or the event itself. Covariates (cohort
stage) and outcomes (this stage) are both measures, so the treated cohort and the comparison
pool are computed by exactly the same query. Each joined source exposes day offsets relative to
the event and the flags below, so definitions read like the written rules.

Offence rows (source ``offences``) expose, besides the contract columns:

- ``offence_day`` / ``outcome_day``: days from the index date to the offence / its conviction;
- ``history_day`` / ``history_outcome_day``: the same from the *index conviction date* (the index
  offence's ``outcome_date``, else ``sentence_start``, else the index date) - criminal history is
  what was proven before the index conviction, for releases and court orders alike;
- ``is_index``: the row is the index offence;
- ``is_prior``: proven before the index conviction date (so never the index offence, nor offences
  convicted with it) - known at index;
- ``is_reoffence``: a proven re-offence (see :class:`FollowUp`);
- ``is_pre``: committed in the ``pre_period_days`` before the index conviction date and proven by
  it (the index offence included) - the "before" volume for pre/post change;
- ``index_offence_group``: the offence group of the event's index offence (for "change in
  offence type");
- ``first_day``: the first day of follow-up (0 or 1, see :class:`FollowUp`).

Occasion rows (source ``occasions``): the person's sanction occasions (offences sharing an
``outcome_date``, i.e. one court appearance or caution) proven before the index conviction date,
with ``convicted_offences``, ``cautioned_offences``, ``custodial_offences`` and, for windows on
when the offences were committed, ``last_convicted_day``, ``last_cautioned_day``,
``last_custodial_day`` (days from the index conviction date to the latest such offence).

Offence measures name a ``window`` that prunes the joined rows before aggregating: ``known``
(proven by the index conviction date), ``follow_up`` (committed from the index date to the end of
follow-up), ``long_follow_up`` (the same to the end of the optional longer follow-up,
``FollowUp.long_follow_up_days``), ``pre`` (committed in the pre-period) or ``all``. A window
only drops rows its measure's flags exclude anyway; ``measures_sql(..., prune=False)`` puts every
measure on ``all`` and a test checks the results are identical.

Spell rows (``employment``, ``benefit``) expose ``start_day`` and ``end_day`` (inclusive day
offsets from the index date; an ongoing spell ends at the data cut-off); only spells overlapping
``SPELL_LOOKBACK_DAYS`` before the index date to the end of follow-up are joined. Assessment
rows expose ``is_latest`` (the latest assessment in the 2 years up to and including the index
date).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from jdl.core.index_types import INDEX_TYPE_DEFINITIONS
from jdl.engines.dialect import add_days, date_literal, days_between, quote_string

SOURCES = ("event", "offences", "occasions", "employment", "benefit", "assessment")
WINDOWS = ("all", "known", "follow_up", "long_follow_up", "pre")
#: Who an outcome is measured on: everyone, or only the people who re-offended in the
#: follow-up year (the JDL's court-outcome and custody measures: "reoffenders only").
POPULATIONS = ("all", "reoffenders")
#: Which way an outcome moves when things go well (the report words and colours it so).
BETTER = ("lower", "higher", "neither")
ASSESSMENT_LOOKBACK_DAYS = 730
SPELL_LOOKBACK_DAYS = 730  # the longest look-back of any spell measure

# Columns every events relation given to :func:`measures_sql` must have.
EVENT_COLUMNS = (
    "person_id",
    "event_id",
    "treated",
    "index_date",
    "index_type",
    "index_offence_id",
    "offence_group",
    "disposal",
    "sentence_days",
    "sentence_start",
)


@dataclass(frozen=True)
class FollowUp:
    """The proven re-offending rule (MoJ): an offence committed on day ``first_day``..
    ``follow_up_days`` after the index date and proven (convicted or cautioned) by day
    ``follow_up_days + waiting_period_days``. ``first_day`` is 1, or 0 for releases from custody
    when ``count_release_day`` (offences on the day of release count; on a court order's first
    day they are usually part of the index case).

    ``long_follow_up_days`` (off by default; 730 for the JDL's optional two-year follow-up) adds
    the rate and frequency over that longer follow-up, with the same waiting period. It needs
    ``data_cutoff``: an event whose longer follow-up and waiting period end after the cut-off
    has no value (:func:`long_follow_up_problem` says why in words)."""

    follow_up_days: int = 365
    waiting_period_days: int = 183
    count_release_day: bool = True
    pre_period_days: int = 365
    data_cutoff: date | None = None  # ends ongoing spells; required for spell sources
    long_follow_up_days: int | None = None  # optional longer follow-up (730: two years)

    def __post_init__(self) -> None:
        long = self.long_follow_up_days
        if long is not None and (isinstance(long, bool) or not isinstance(long, int)
                                 or long <= self.follow_up_days):
            raise ValueError(
                f"long_follow_up_days must be a whole number of days longer than the "
                f"{self.follow_up_days}-day follow-up (730 for two years), not {long!r}")

    @property
    def proven_by_day(self) -> int:
        return self.follow_up_days + self.waiting_period_days

    @property
    def long_proven_by_day(self) -> int | None:
        """Days from the index date by which a re-offence in the longer follow-up is proven."""
        if self.long_follow_up_days is None:
            return None
        return self.long_follow_up_days + self.waiting_period_days

    def last_index_date_for_long_follow_up(self) -> date | None:
        """The latest index date whose longer follow-up and waiting period end by the data
        cut-off (None without a longer follow-up or a cut-off)."""
        if self.long_proven_by_day is None or self.data_cutoff is None:
            return None
        return self.data_cutoff - timedelta(days=self.long_proven_by_day)


@dataclass(frozen=True)
class Measure:
    """One per-event column: ``sql`` is an aggregate over ``source`` rows, or for ``event`` a row
    expression over the event, the person and the other measures. Names starting ``_`` are
    intermediates and are not returned."""

    name: str
    source: str
    sql: str
    description: str
    headline: bool = False
    window: str = "all"  # offences only: which joined rows the aggregate needs (see above)
    #: The plain name readers see (report tables, balance plots, the docs).
    label: str = ""
    #: Covariates: ``numeric`` or ``categorical``. Outcomes: how the effect is estimated
    #: (``rate`` 0/1, ``frequency`` count, ``days`` among re-offenders, ``mean``).
    kind: str = ""
    #: Outcomes: the released unit (``proportion``, ``per person``, ``days``).
    unit: str = ""
    #: Outcomes: what a sentence about the measure counts ("the number of people who ...").
    noun: str = ""
    #: Covariates: whether the propensity score model uses it (when it varies).
    use_in_matching: bool = False
    #: Covariates: how matching fills a gap - ``zero`` (an indicator already says why), or the
    #: name of a 0/1 indicator column added for "missing" before filling with 0.
    fill_missing: str = ""
    #: Outcomes: the key of the measure in the released results (empty: not reported).
    result_key: str = ""
    #: Outcomes: who it is measured on (:data:`POPULATIONS`). ``reoffenders``: empty for people
    #: who did not re-offend in the follow-up year, and compared among re-offenders only.
    population: str = "all"
    #: Outcomes: measures sharing a partition split the same people (or re-offences) into
    #: parts that add up to a released total; disclosure control treats them as one table.
    partition: str = ""
    #: Outcomes: which way is better (:data:`BETTER`).
    better: str = "lower"

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"Unknown source {self.source!r} for measure {self.name!r}")
        if self.window not in WINDOWS or (self.window != "all" and self.source != "offences"):
            raise ValueError(f"Bad window {self.window!r} for measure {self.name!r}")
        if self.population not in POPULATIONS:
            raise ValueError(f"Unknown population {self.population!r} for measure {self.name!r}")
        if self.better not in BETTER:
            raise ValueError(f"Unknown direction {self.better!r} for measure {self.name!r}")


_OCCASIONS = """
        SELECT person_id, outcome_date,
               COUNT(*) FILTER (WHERE disposal <> 'caution') AS convicted_offences,
               COUNT(*) FILTER (WHERE disposal = 'caution') AS cautioned_offences,
               COUNT(*) FILTER (WHERE disposal = 'custody') AS custodial_offences,
               MAX(offence_date) FILTER (WHERE disposal <> 'caution') AS last_convicted,
               MAX(offence_date) FILTER (WHERE disposal = 'caution') AS last_cautioned,
               MAX(offence_date) FILTER (WHERE disposal = 'custody') AS last_custodial
        FROM offences GROUP BY person_id, outcome_date"""


def _first_day(follow_up: FollowUp) -> str:
    """The follow-up's first day (0: the index date itself) by index type, from each type's
    one definition (:data:`jdl.core.index_types.INDEX_TYPE_DEFINITIONS`: only a release from
    custody counts its own day, when ``count_release_day``)."""
    same_day = [quote_string(t.code) for t in INDEX_TYPE_DEFINITIONS if t.counts_index_day]
    if follow_up.count_release_day and same_day:
        return f"CASE WHEN ev.index_type IN ({', '.join(same_day)}) THEN 0 ELSE 1 END"
    return "1"


def _window_condition(window: str, follow_up: FollowUp) -> str:
    """The join condition that keeps only the offence rows a window's measures can use."""
    f, p = follow_up.follow_up_days, follow_up.pre_period_days
    if window == "known":
        return "o.outcome_date <= ev.history_date"
    if window == "follow_up":
        return f"o.offence_date BETWEEN ev.index_date AND {add_days('ev.index_date', f)}"
    if window == "long_follow_up":
        if follow_up.long_follow_up_days is None:
            raise ValueError("a long_follow_up measure needs FollowUp.long_follow_up_days")
        return ("o.offence_date BETWEEN ev.index_date AND "
                f"{add_days('ev.index_date', follow_up.long_follow_up_days)}")
    if window == "pre":
        return (
            f"o.offence_date BETWEEN {add_days('ev.history_date', -p)} "
            f"AND {add_days('ev.history_date', -1)}"
        )
    last = max(f, follow_up.long_follow_up_days or 0)
    return f"o.offence_date <= {add_days('ev.index_date', last)}"


def _offence_rows(follow_up: FollowUp, window: str) -> str:
    f, p = follow_up.follow_up_days, follow_up.pre_period_days
    inner = f"""
        SELECT ev.event_id, o.offence_id, o.offence_date, o.outcome_date, o.offence_code,
               o.offence_group, o.severity, o.disposal, o.sentence_days, o.dv_flag,
               o.terrorism_flag,
               {days_between("ev.index_date", "o.offence_date")} AS offence_day,
               {days_between("ev.index_date", "o.outcome_date")} AS outcome_day,
               {days_between("ev.history_date", "o.offence_date")} AS history_day,
               {days_between("ev.history_date", "o.outcome_date")} AS history_outcome_day,
               COALESCE(o.offence_id = ev.index_offence_id, FALSE) AS is_index,
               ev.offence_group AS index_offence_group,
               {_first_day(follow_up)} AS first_day
        FROM ev LEFT JOIN offences AS o
          ON o.person_id = ev.person_id AND {_window_condition(window, follow_up)}"""
    return f"""
      SELECT r.*,
             (r.history_outcome_day < 0 AND NOT r.is_index) AS is_prior,
             (r.offence_day BETWEEN r.first_day AND {f}
              AND r.outcome_day <= {follow_up.proven_by_day} AND NOT r.is_index) AS is_reoffence,
             (r.history_day BETWEEN -{p} AND -1 AND r.history_outcome_day <= 0) AS is_pre
      FROM ({inner}) AS r"""


def _occasion_rows() -> str:
    days = {
        k: days_between("ev.history_date", f"oc.last_{k}")
        for k in ("convicted", "cautioned", "custodial")
    }
    return f"""
      SELECT ev.event_id, oc.outcome_date, oc.convicted_offences, oc.cautioned_offences,
             oc.custodial_offences,
             {days_between("ev.history_date", "oc.outcome_date")} AS history_outcome_day,
             {days["convicted"]} AS last_convicted_day,
             {days["cautioned"]} AS last_cautioned_day,
             {days["custodial"]} AS last_custodial_day
      FROM ev LEFT JOIN ({_OCCASIONS}) AS oc
        ON oc.person_id = ev.person_id AND oc.outcome_date < ev.history_date"""


def _spell_rows(table: str, follow_up: FollowUp) -> str:
    if follow_up.data_cutoff is None:
        raise ValueError("FollowUp.data_cutoff is needed to end ongoing spells")
    end = f"COALESCE(s.end_date, {date_literal(follow_up.data_cutoff)})"
    return f"""
      SELECT ev.event_id,
             {days_between("ev.index_date", "s.start_date")} AS start_day,
             {days_between("ev.index_date", end)} AS end_day
      FROM ev LEFT JOIN {table} AS s
        ON s.person_id = ev.person_id
       AND s.start_date <= {add_days("ev.index_date", follow_up.follow_up_days)}
       AND {end} >= {add_days("ev.index_date", -SPELL_LOOKBACK_DAYS)}"""


def _assessment_rows() -> str:
    return f"""
      SELECT ev.event_id, a.assessment_date, a.risk_score, a.need_accommodation,
             a.need_employment, a.need_drugs, a.need_alcohol, a.need_mental_health,
             (ROW_NUMBER() OVER (PARTITION BY ev.event_id
                ORDER BY a.assessment_date DESC NULLS LAST, a.risk_score DESC NULLS LAST) = 1
              AND a.assessment_date IS NOT NULL) AS is_latest
      FROM ev LEFT JOIN assessments AS a
        ON a.person_id = ev.person_id AND a.assessment_date <= ev.index_date
       AND a.assessment_date > {add_days("ev.index_date", -ASSESSMENT_LOOKBACK_DAYS)}"""


def _source_rows(source: str, window: str, follow_up: FollowUp) -> str:
    if source == "offences":
        return _offence_rows(follow_up, window)
    if source == "occasions":
        return _occasion_rows()
    if source == "employment":
        return _spell_rows("employment_spells", follow_up)
    if source == "benefit":
        return _spell_rows("benefit_spells", follow_up)
    if source == "assessment":
        return _assessment_rows()
    raise ValueError(source)


def _check_names(measures: Sequence[Measure]) -> None:
    names = [m.name for m in measures]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"Measures defined twice: {duplicates}")
    clash = set(names) & {*EVENT_COLUMNS, "index_year"}
    if clash - {m.name for m in measures if m.source == "event"}:
        raise ValueError(f"Measures named like event columns: {sorted(clash)}")


def _join_window(m: Measure, prune: bool) -> str:
    return m.window if prune else "all"


def _block(m: Measure, prune: bool) -> str:
    """Name of the aggregate CTE that computes ``m``."""
    if m.source != "offences":
        return f"agg_{m.source}"
    return f"agg_offences_{_join_window(m, prune)}"


def measures_sql(
    events_sql: str, measures: Iterable[Measure], follow_up: FollowUp, *, prune: bool = True
) -> str:
    """One query: each row of ``events_sql`` (columns :data:`EVENT_COLUMNS`) with every measure.

    The result has ``person_id, event_id, treated, index_type, index_year`` then the measures in
    the order given, in no particular row order (sorting a large pool costs time). Tables are
    referred to by their contract names. ``prune=False`` joins every offence measure on all rows
    (slower; the results are the same).
    """
    measures = list(measures)
    _check_names(measures)
    ctes = [
        f"""ev AS (
      SELECT e.*, COALESCE(io.outcome_date, e.sentence_start, e.index_date) AS history_date,
             CAST(EXTRACT(YEAR FROM e.index_date) AS INTEGER) AS index_year,
             p.date_of_birth, p.sex, p.ethnicity, p.nationality, p.region
      FROM ({events_sql}) AS e JOIN people AS p ON p.person_id = e.person_id
      LEFT JOIN offences AS io ON io.offence_id = e.index_offence_id)"""
    ]
    blocks: dict[str, list[Measure]] = {}
    for m in measures:
        if m.source != "event":
            blocks.setdefault(_block(m, prune), []).append(m)
    for block, members in blocks.items():
        first = members[0]
        window = _join_window(first, prune)
        aggregates = ",\n             ".join(f"{m.sql} AS {m.name}" for m in members)
        ctes.append(
            f"""{block} AS (
      SELECT event_id,
             {aggregates}
      FROM ({_source_rows(first.source, window, follow_up)}) AS rows_{block}
      GROUP BY event_id)"""
        )
    joins = "".join(f"\n    LEFT JOIN {b} USING (event_id)" for b in blocks)
    selected = ["ev.person_id", "ev.event_id", "ev.treated", "ev.index_type", "ev.index_year"]
    for m in measures:
        if m.name.startswith("_"):
            continue
        own = f"{m.sql} AS {m.name}" if m.source == "event" else f"{_block(m, prune)}.{m.name}"
        selected.append(own)
    columns = ",\n           ".join(selected)
    return "WITH " + ",\n    ".join(ctes) + f"\n    SELECT {columns}\n    FROM ev{joins}"
