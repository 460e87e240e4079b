"""Building the treated cohort and the comparison pool in the engine, with the attrition."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from jdl.cohort._covariates import COVARIATE_SET_VERSION, covariate_measures
from jdl.cohort._eligibility import eligibility_sql, exclusion_rules
from jdl.cohort._index import (
    EXCLUDE_TABLE,
    LINK_TABLE,
    SUBMISSION_TABLE,
    pool_events_sql,
    treated_rows_sql,
)
from jdl.cohort._spec import SETTINGS, CohortSpec, default_spec, read_data_cutoff
from jdl.core.config import CohortSettings
from jdl.core.errors import UsageError
from jdl.engines import Engine
from jdl.engines.dialect import quote_string
from jdl.engines.duckdb import DuckDBEngine
from jdl.outcomes import EVENT_COLUMNS, OUTCOME_SET_VERSION, Measure, measures_sql, outcome_measures

ROWS_TABLE = "_jdl_cohort_rows"
POOL_TABLE = "_jdl_cohort_pool_slices"
LINK_COLUMNS = ("row_number", "person_id", "method")
DATE_COLUMNS = ("index_date", "intervention_start", "conviction_date")
_CASTS = {
    "person_id": "BIGINT",
    "event_id": "BIGINT",
    "treated": "INTEGER",
    "index_date": "DATE",
    "index_type": "VARCHAR",
    "index_offence_id": "BIGINT",
    "offence_group": "VARCHAR",
    "disposal": "VARCHAR",
    "sentence_days": "INTEGER",
    "sentence_start": "DATE",
}
# Linkage-stage reasons (rows), then eligibility-stage reasons (people) before the rules.
LINKAGE_REASONS = {
    "rejected_at_intake": "Rejected at intake",
    "not_linked": "Not matched to national records",
    "duplicate_row": "Duplicate row (same person as another row)",
}
INDEX_REASONS = {
    "no_reference_date": "No index, intervention or conviction date",
    "no_index_event": "No release or court order start in the index window",
}


def analysis_measures(spec: CohortSpec) -> tuple[Measure, ...]:
    """Covariates then outcomes: the columns every analysed event gets."""
    return covariate_measures() + outcome_measures(spec.follow_up)


@dataclass(frozen=True)
class AttritionStep:
    """One bucket of the chevron: ``stage`` is where the rows/people were lost."""

    stage: str  # "linkage" (rows) or "eligibility" (people)
    reason: str
    label: str
    count: int


@dataclass(frozen=True)
class Attrition:
    """Submitted rows -> linked people -> eligible people; each row in exactly one bucket."""

    submitted: int
    linked: int
    eligible: int
    steps: tuple[AttritionStep, ...]

    def table(self) -> pd.DataFrame:
        """The chevron as a table: totals and the counted reasons between them."""
        rows = [("submitted", "", "Submitted", self.submitted)]
        rows += [(s.stage, s.reason, s.label, s.count) for s in self.steps if s.stage == "linkage"]
        rows.append(("linked", "", "Linked people", self.linked))
        rows += [
            (s.stage, s.reason, s.label, s.count) for s in self.steps if s.stage == "eligibility"
        ]
        rows.append(("eligible", "", "Eligible people", self.eligible))
        return pd.DataFrame(rows, columns=["stage", "reason", "label", "count"])


@dataclass(frozen=True)
class CohortResult:
    """The treated cohort: ``data`` has one row per eligible person (their index event) with
    covariates and outcomes; ``rows`` says what happened to every submitted row."""

    data: pd.DataFrame
    attrition: Attrition
    rows: pd.DataFrame
    spec: CohortSpec
    setting: str
    covariate_set_version: str = COVARIATE_SET_VERSION
    outcome_set_version: str = OUTCOME_SET_VERSION

    @property
    def linked_person_ids(self) -> list[int]:
        """Every person any row linked to: excluded from the comparison pool."""
        ids = self.rows["person_id"].dropna().astype("int64").unique()
        return sorted(int(i) for i in ids)

    @property
    def strata(self) -> list[tuple[str, int]]:
        """(index_type, index_year) pairs of the eligible people: what matching needs."""
        pairs = self.data[["index_type", "index_year"]].drop_duplicates()
        return sorted((str(t), int(y)) for t, y in pairs.itertuples(index=False))


def _resolve_spec(engine: Engine, spec: CohortSpec | None, data_cutoff,
                  settings: CohortSettings | None) -> CohortSpec:
    if spec is not None:
        return spec
    if data_cutoff is None and engine.data_dir is not None:
        data_cutoff = read_data_cutoff(engine.data_dir)
    return default_spec(None, data_cutoff, settings)


def _check_inputs(link: pd.DataFrame, submission: pd.DataFrame, setting: str) -> None:
    if setting not in SETTINGS:
        raise UsageError(
            f"Unknown programme setting {setting!r}.", hint=f"Use one of {', '.join(SETTINGS)}."
        )
    missing = [c for c in LINK_COLUMNS if c not in link.columns]
    missing += [c for c in ("row_number",) if c not in submission.columns]
    if missing:
        raise UsageError(f"Link table or submission lacks columns: {missing}.")
    if link["row_number"].duplicated().any():
        raise UsageError("The link table has more than one row per submitted row.")


def _submission_dates(submission: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"row_number": submission["row_number"].astype("int64")})
    for column in DATE_COLUMNS:
        values = submission[column] if column in submission.columns else None
        out[column] = pd.to_datetime(values, errors="coerce") if values is not None else pd.NaT
        out[column] = out[column].astype("datetime64[us]")
    return out


def _events_from(table: str, where: str) -> str:
    columns = ", ".join(f"CAST({c} AS {_CASTS[c]}) AS {c}" for c in EVENT_COLUMNS)
    return f"SELECT {columns} FROM {table} WHERE {where}"


def _ordered(sql: str) -> str:
    return f"SELECT * FROM ({sql}) AS measured ORDER BY event_id"


def _attrition(rows: pd.DataFrame, spec: CohortSpec, rejected_at_intake: int) -> Attrition:
    counts = rows["status"].value_counts()
    steps = [
        AttritionStep(
            "linkage",
            "rejected_at_intake",
            LINKAGE_REASONS["rejected_at_intake"],
            int(rejected_at_intake),
        )
    ]
    steps += [
        AttritionStep("linkage", r, label, int(counts.get(r, 0)))
        for r, label in LINKAGE_REASONS.items()
        if r != "rejected_at_intake"
    ]
    steps += [
        AttritionStep("eligibility", r, label, int(counts.get(r, 0)))
        for r, label in INDEX_REASONS.items()
    ]
    steps += [
        AttritionStep("eligibility", rule.reason, rule.label, int(counts.get(rule.reason, 0)))
        for rule in exclusion_rules(spec)
    ]
    submitted = len(rows) + int(rejected_at_intake)
    linked = submitted - sum(s.count for s in steps if s.stage == "linkage")
    eligible = int(counts.get("eligible", 0))
    if eligible + sum(s.count for s in steps) != submitted:
        raise AssertionError(f"attrition buckets do not add up: {counts.to_dict()}")
    return Attrition(submitted, linked, eligible, tuple(steps))


def build_cohort(
    engine: Engine,
    link: pd.DataFrame,
    submission: pd.DataFrame,
    setting: str,
    *,
    spec: CohortSpec | None = None,
    data_cutoff=None,
    settings: CohortSettings | None = None,
    rejected_at_intake: int = 0,
) -> CohortResult:
    """The treated cohort of a linked submission.

    ``link``: row_number, person_id (nullable), method ('id'|'probabilistic'|'none');
    ``submission``: the accepted rows (row_number and the index_date, intervention_start,
    conviction_date it has); ``setting``: custody, community or both; ``rejected_at_intake``:
    rows refused earlier, counted at the top of the chevron. The spec defaults to the cohort
    ``settings`` (default: their defaults) with the cut-off from the data directory's manifest.
    """
    _check_inputs(link, submission, setting)
    spec = _resolve_spec(engine, spec, data_cutoff, settings)
    link_in = pd.DataFrame(
        {
            "row_number": link["row_number"].astype("int64"),
            "person_id": link["person_id"].astype("Int64"),
            "method": link["method"].astype("string"),
        }
    )
    engine.register(LINK_TABLE, link_in)
    engine.register(SUBMISSION_TABLE, _submission_dates(submission))
    try:
        rows = engine.df(treated_rows_sql(spec, setting))
    finally:
        engine.unregister(LINK_TABLE)
        engine.unregister(SUBMISSION_TABLE)
    engine.register(ROWS_TABLE, rows)
    try:
        events = _events_from(ROWS_TABLE, "status IS NULL")
        reasons = engine.df(
            f"SELECT event_id, exclusion_reason FROM ({eligibility_sql(events, spec)}) AS el"
        )
        rows = rows.merge(reasons, on="event_id", how="left")
        waiting = rows["status"].isna()
        rows.loc[waiting, "status"] = rows.loc[waiting, "exclusion_reason"].fillna("eligible")
        rows = rows.drop(columns="exclusion_reason")
        engine.unregister(ROWS_TABLE)
        engine.register(ROWS_TABLE, rows)
        sql = measures_sql(
            _events_from(ROWS_TABLE, "status = 'eligible'"), analysis_measures(spec), spec.follow_up
        )
        data = engine.df(_ordered(sql))
    finally:
        engine.unregister(ROWS_TABLE)
    keep = [
        "row_number",
        "person_id",
        "method",
        "reference_date",
        "reference_source",
        "status",
        "event_id",
        "index_date",
        "index_type",
    ]
    return CohortResult(
        data=data,
        attrition=_attrition(rows, spec, rejected_at_intake),
        rows=rows[keep],
        spec=spec,
        setting=setting,
    )


def analysis_frame(cohort: CohortResult, pool: pd.DataFrame) -> pd.DataFrame:
    """Treated rows then pool rows in one frame for matching; refuses a pool that still holds a
    submitted person or was built with other definitions (different columns)."""
    if list(pool.columns) != list(cohort.data.columns):
        raise ValueError(
            "The pool's columns differ from the cohort's: built with other definitions?"
        )
    overlap = set(pool["person_id"].astype("int64")) & set(cohort.linked_person_ids)
    if overlap:
        raise ValueError(
            f"{len(overlap)} submitted people are in the pool; exclude cohort.linked_person_ids."
        )
    return pd.concat([cohort.data, pool], ignore_index=True)


def pool_sql(
    spec: CohortSpec,
    *,
    exclude: bool = False,
    strata: Iterable[tuple[str, int]] | None = None,
    people: tuple[int, int] | None = None,
) -> str:
    """The comparison pool query: eligible events of the national records with every measure.
    ``exclude``: drop people listed in the exclude table; ``strata``: only these
    (index_type, index_year) pairs; ``people``: only person_ids in [low, high)."""
    events = pool_events_sql(spec, exclude=exclude, people=people)
    where = "exclusion_reason IS NULL"
    if strata is not None:
        pairs = sorted(set(strata))
        if not pairs:
            where += " AND FALSE"
        else:
            where += (
                " AND ("
                + " OR ".join(
                    f"(index_type = {quote_string(t)} AND EXTRACT(YEAR FROM index_date) = {int(y)})"
                    for t, y in pairs
                )
                + ")"
            )
    eligible = (
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM ({eligibility_sql(events, spec)}) "
        f"AS el WHERE {where}"
    )
    return measures_sql(eligible, analysis_measures(spec), spec.follow_up)


def build_pool(
    engine: Engine,
    *,
    spec: CohortSpec | None = None,
    data_cutoff=None,
    settings: CohortSettings | None = None,
    exclude_person_ids: Iterable[int] = (),
    strata: Iterable[tuple[str, int]] | None = None,
    chunk_people: int | None = None,
    use_prepared: bool = True,
) -> pd.DataFrame:
    """The comparison pool as a DataFrame (same definitions as the cohort), without the people
    in ``exclude_person_ids``, optionally only the given (index_type, index_year) strata.
    ``settings``: the cohort settings the spec (unless given) and the slice size come from;
    ``chunk_people``: person_ids per pass (default ``settings.pool_chunk_people``).

    When the records were prepared (:func:`prepare_pool`) for exactly these definitions, the
    pool is read from that file instead of derived again (``use_prepared=False`` derives it
    anyway): the same rows, columns and types."""
    spec = _resolve_spec(engine, spec, data_cutoff, settings)
    strata = None if strata is None else sorted(set(strata))
    prepared = prepared_pool_file(engine, spec) if use_prepared else None
    if prepared is not None and prepared.exists():
        return _read_prepared(prepared, exclude_person_ids, strata)
    exclude = pd.DataFrame({"person_id": pd.Series(list(exclude_person_ids), dtype="int64")})
    slices = _person_slices(engine, chunk_people, settings)
    engine.register(EXCLUDE_TABLE, exclude)
    try:
        if len(slices) == 1:
            return engine.df(_ordered(pool_sql(spec, exclude=True, strata=strata)))
        # Slice by slice into a scratch table: the joins' intermediates (every prior offence
        # of every event) stay the size of one slice; the frame is the same as in one pass.
        for people in slices:
            engine.append_rows(POOL_TABLE, pool_sql(spec, exclude=True, strata=strata,
                                                    people=people))
        return engine.df(_ordered(f"SELECT * FROM {POOL_TABLE}"))
    finally:
        if len(slices) > 1:
            engine.drop_table(POOL_TABLE)
        engine.unregister(EXCLUDE_TABLE)


PREPARED_DIR = "prepared"


def prepared_pool_file(engine: Engine, spec: CohortSpec) -> Path | None:
    """Where :func:`prepare_pool` keeps the pool of ``spec`` for the records ``engine`` reads
    (``None`` in memory, or on an engine that plans its own partitions: there the pool is
    derived where the records are).

    The name is a hash of the pool's SQL (which spells out every definition: eligibility,
    covariates, outcomes, the cut-off and follow-up) and of the records' release
    (:func:`jdl.admin._store.records_fingerprint`): a change to either names another file, so a
    stale pool is never read."""
    from jdl.admin._store import records_fingerprint

    if engine.data_dir is None or engine.partitions_itself:
        return None
    key = hashlib.sha256(records_fingerprint(engine.data_dir) + b"|"
                         + pool_sql(spec).encode()).hexdigest()[:20]
    return engine.data_dir / PREPARED_DIR / f"pool-{key}.parquet"


def prepare_pool(engine: Engine, *, spec: CohortSpec | None = None, data_cutoff=None,
                 settings: CohortSettings | None = None) -> Path | None:
    """Derive the whole comparison pool once, when the records are prepared (``jdl synth``;
    ``jdl cohort prepare``), and keep it beside them, so that an evaluation reads its strata
    in about a second instead of scanning every index event of the national records (about
    7 s of a 1,000-row evaluation at 1M people). Like a deployment's materialised view, it
    belongs to one release of the records and one set of definitions (the file's name says
    which); older prepared pools in the directory are removed. Nothing when already prepared.
    Returns the file (``None`` where pools are not prepared: see :func:`prepared_pool_file`)."""
    spec = _resolve_spec(engine, spec, data_cutoff, settings)
    target = prepared_pool_file(engine, spec)
    if target is None or target.exists():
        return target
    pool = build_pool(engine, spec=spec, settings=settings, use_prepared=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with DuckDBEngine() as local:
        local.register("prepared_pool", pool)
        local.execute(f"COPY (SELECT * FROM prepared_pool) TO {quote_string(str(partial))} "
                      "(FORMAT parquet)")
    partial.replace(target)  # whole or absent: a reader never sees half a pool
    for old in target.parent.glob("pool-*.parquet"):
        if old != target:
            old.unlink(missing_ok=True)
    return target


def _read_prepared(path: Path, exclude_person_ids: Iterable[int],
                   strata: list[tuple[str, int]] | None) -> pd.DataFrame:
    """The prepared pool's rows without the excluded people, only the given strata, in
    :func:`build_pool`'s order (event_id)."""
    return _read_pool_rows(f"read_parquet({quote_string(str(path))})", exclude_person_ids,
                           strata)


def _read_pool_rows(source: str, exclude_person_ids: Iterable[int],
                    strata: Iterable[tuple[str, int]] | None, select: str = "*"
                    ) -> pd.DataFrame:
    """``SELECT select FROM source`` (pool rows in Parquet) without the excluded people, only
    the given strata, ordered by event_id, read in a local DuckDB."""
    where = ["NOT EXISTS (SELECT 1 FROM exclude_ids AS x WHERE x.person_id = p.person_id)"]
    if strata is not None:
        where.append(_strata_predicate(strata))
    with DuckDBEngine() as local:
        local.register("exclude_ids", pd.DataFrame(
            {"person_id": pd.Series(list(exclude_person_ids), dtype="int64")}))
        return local.df(f"SELECT {select} FROM {source} AS p "
                        f"WHERE {' AND '.join(where)} ORDER BY event_id")


def _strata_predicate(strata: Iterable[tuple[str, int]]) -> str:
    """SQL: the row is in one of these (index_type, index_year) strata (none: no row)."""
    pairs = sorted(set(strata)) or [("", -1)]
    return "(" + " OR ".join(
        f"(index_type = {quote_string(t)} AND index_year = {int(y)})" for t, y in pairs) + ")"


def restrict_pool(
    pool: pd.DataFrame,
    *,
    exclude_person_ids: Iterable[int] = (),
    strata: Iterable[tuple[str, int]] | None = None,
) -> pd.DataFrame:
    """The rows of ``pool`` (from :func:`build_pool`) that :func:`build_pool` would return with
    these people excluded and only these strata: the same rows in the same order.

    Every measure of a pool row is its own person's, so leaving people or strata out changes no
    other row: an evaluation builds one pool for the cohorts of several linkage thresholds
    (without the people every one of them excludes, over all their strata) and takes each
    cohort's pool from it, instead of scanning the national records once per threshold."""
    keep = np.ones(len(pool), dtype=bool)
    excluded = pd.Series(list(exclude_person_ids), dtype="int64")
    if len(excluded):
        keep &= ~pool["person_id"].astype("int64").isin(excluded).to_numpy()
    if strata is not None:
        wanted = sorted({(str(t), int(y)) for t, y in strata})
        present = pd.MultiIndex.from_arrays(
            [pool["index_type"].astype(str), pool["index_year"].astype("int64")])
        keep &= present.isin(wanted) if wanted else False
    if keep.all():
        return pool
    return pool.loc[keep].reset_index(drop=True)


def _person_slices(engine: Engine, chunk_people: int | None,
                   settings: CohortSettings | None) -> list[tuple[int, int] | None]:
    """Ranges of person_id covering the index events, ``chunk_people`` ids each (default
    ``settings.pool_chunk_people``); ``[None]`` (one pass) when they fit in one, or on an
    engine that plans its own partitions (Spark). Every measure is per person, so slicing by
    person changes memory, never results."""
    chunk = chunk_people or (settings or CohortSettings()).pool_chunk_people
    if engine.partitions_itself or chunk <= 0:
        return [None]
    [(low, high)] = engine.execute(
        "SELECT MIN(person_id), MAX(person_id) FROM index_events"
    ).fetchall()
    if low is None or high - low + 1 <= chunk:
        return [None]
    return [(start, start + chunk) for start in range(int(low), int(high) + 1, chunk)]


def pool_attrition(
    engine: Engine, *, spec: CohortSpec | None = None, data_cutoff=None,
    settings: CohortSettings | None = None,
) -> pd.DataFrame:
    """Pool candidate events by index type and outcome of the eligibility rules."""
    spec = _resolve_spec(engine, spec, data_cutoff, settings)
    sql = f"""
    SELECT index_type, COALESCE(exclusion_reason, 'eligible') AS status, COUNT(*) AS events
    FROM ({eligibility_sql(pool_events_sql(spec, exclude=False), spec)}) AS el
    GROUP BY index_type, COALESCE(exclusion_reason, 'eligible') ORDER BY index_type, status"""
    return engine.df(sql)


def write_pool(
    engine: Engine,
    out_dir: str | Path,
    *,
    spec: CohortSpec | None = None,
    data_cutoff=None,
    settings: CohortSettings | None = None,
    chunk_people: int | None = None,
) -> Path:
    """Write the whole national pool as Parquet partitioned by index_type and index_year, so
    matching reads only its strata (:func:`read_pool`). Nobody is excluded here: submitted people
    are dropped when reading. On DuckDB it is written in slices of ``chunk_people`` person_ids
    (default ``settings.pool_chunk_people``), so memory does not grow with the population."""
    spec = _resolve_spec(engine, spec, data_cutoff, settings)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    slices = _person_slices(engine, chunk_people, settings)
    partitions = ("index_type", "index_year")
    if len(slices) == 1:
        engine.copy_to_parquet(pool_sql(spec), out, partition_by=partitions)
        return out
    for i, people in enumerate(slices):
        engine.copy_to_parquet(pool_sql(spec, people=people), out, partition_by=partitions,
                               append_as=f"slice{i}")
    return out


def read_pool(
    pool_dir: str | Path,
    *,
    strata: Iterable[tuple[str, int]] | None = None,
    exclude_person_ids: Iterable[int] = (),
) -> pd.DataFrame:
    """Read pool strata written by :func:`write_pool`, without the excluded people."""
    pattern = quote_string(str(Path(pool_dir) / "**" / "*.parquet"))
    data = _read_pool_rows(f"read_parquet({pattern}, hive_partitioning = true)",
                           exclude_person_ids, strata,
                           select="* REPLACE (CAST(index_year AS INTEGER) AS index_year)")
    first = ["person_id", "event_id", "treated", "index_type", "index_year"]
    return data[first + [c for c in data.columns if c not in first]]
