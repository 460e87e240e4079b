"""Linking a submission: deterministic ID pass, then the saved Splink model, then resolution.

Linking never trains: it loads ``DIR/linkage-model.json`` (trained once per data version) and
scores only the candidate pairs its blocking rules produce between the submission and the
register. The probabilistic pass runs on DuckDB by default; ``backend="spark"`` runs the same
blocking query and Splink's Spark backend on the same model (pyspark and Java required), for
registers too large for one machine. The ID pass and the submission's feature records stay in
the embedded DuckDB either way: they are the size of the submission.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from jdl.core.config import LinkageSettings, SparkSettings
from jdl.core.errors import UsageError
from jdl.linkage._deterministic import id_links_sql
from jdl.linkage._em import estimate_upload_m, rebase_placeholder_u
from jdl.linkage._features import (
    FEATURE_COLUMNS,
    REGISTER,
    SUBMISSION,
    placeholder_share_sql,
    submission_features_sql,
    term_frequency_sql,
)
from jdl.linkage._model import LinkageModel
from jdl.linkage._names import soundex_sql
from jdl.linkage._register import REGISTER_TABLE, TF_COLUMNS, Workspace
from jdl.linkage._resolve import assemble, best_candidates, row_posteriors, row_summary
from jdl.linkage._result import LinkResult
from jdl.linkage._settings import blocked_pairs_sql, settings_creator

SUBMISSION_TABLE = "submission_features"
# Probability that a person has a twin who also has a record in the register: about 1.5% of
# maternities in England and Wales are multiple births (ONS, Births in England and Wales), so
# about 3% of people have a twin; taken as one co-twin in three having a record too (siblings
# of people with records have them far more often than the population). Measured in a 200k
# register (docs/linkage.md): 0.01 stops 37 of 40 near-namesakes (another forename, same rare
# surname, date of birth and sex) that link without the guard, 0.003 only 2; the cost is 0.15
# points of recall on the lab's own uploads and 4 on FEBRL. A setting; 0 turns the guard off.
TWIN_SHARE = 0.01
# Probability that a person has a relative with the same full name (a son named after his
# father, a father after whom the person was named) who also has a record. Our judgement: in
# England and Wales few sons carry their father's forename (far fewer than the ~3% "Juniors"
# of the US), and children of men with convictions have convictions far more often than
# others (Farrington et al., Cambridge Study in Delinquent Development) — taken as 0.01, like
# twins. A setting; 0 turns the namesake guard off.
NAMESAKE_SHARE = 0.01
# A namesake relative is a generation away: parent and child are born at least this many years
# apart. Closer dates are typing errors or coincidences, which the model weighs as usual.
GENERATION_YEARS = 12
# Posterior at which a pair that a relative explains as well may be capped (:func:`sibling_guard`;
# None: no cap, the corrected probability decides). 0.45 — below 0.5, the lowest threshold the
# calibration grid offers — makes such a row unlinkable without an ID whatever its evidence; the
# default since 2026-12-05 is no cap (docs/linkage.md, "Relatives: a probability, not a rule").
RELATED_CAP: float | None = None
REQUIRED_COLUMNS = ("row_number", "forename", "surname", "date_of_birth", "sex")
OPTIONAL_COLUMNS = ("pnc_id", "prison_number")
Backend = Literal["duckdb", "spark"]


@dataclass(frozen=True)
class LinkOptions:
    """Per-run options (defaults from :class:`jdl.core.config.LinkageSettings`)."""

    match_threshold: float = 0.9
    candidate_floor: float = 0.0001
    prior_in_register: float = 0.9
    min_id_evidence: int = 2
    backend: Backend = "duckdb"
    # Share of people with a twin, for :func:`sibling_guard` (0 turns the guard off).
    twin_share: float = TWIN_SHARE
    # Share of people with a same-named relative on the register (:func:`sibling_guard`).
    namesake_share: float = NAMESAKE_SHARE
    # Row posterior a pair a relative explains is capped at (:func:`sibling_guard`).
    related_cap: float | None = RELATED_CAP
    # Estimate the m-probabilities on the upload's own candidate pairs (:mod:`._em`).
    estimate_m: bool = True
    # Pseudo-pairs the model's m counts for in that estimate (as at training).
    prior_strength: float = 200.0
    # The Spark session's settings, when the backend is Spark and no session runs yet.
    spark: SparkSettings | None = None

    @classmethod
    def from_settings(cls, settings: LinkageSettings, backend: Backend = "duckdb",
                      spark: SparkSettings | None = None) -> LinkOptions:
        """The options ``settings`` give (one mapping for linking and calibrating alike)."""
        return cls(
            match_threshold=settings.match_threshold,
            candidate_floor=settings.candidate_floor,
            prior_in_register=settings.prior_in_register,
            min_id_evidence=settings.min_id_evidence,
            prior_strength=settings.prior_strength,
            twin_share=settings.twin_share,
            namesake_share=settings.namesake_share,
            related_cap=settings.related_cap,
            backend=backend,
            spark=spark,
        )


def load_submission(workspace: Workspace, rows: pd.DataFrame) -> int:
    """Build the submission's feature records in the workspace; return the number of rows."""
    missing = [c for c in REQUIRED_COLUMNS if c not in rows.columns]
    if missing:
        raise UsageError(f"The submission rows lack column(s): {', '.join(missing)}.")
    frame = rows.loc[:, [c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in rows]].copy()
    for column in OPTIONAL_COLUMNS:
        if column not in frame:
            frame[column] = None
    if frame["row_number"].duplicated().any():
        raise UsageError("The submission's row_number values are not unique.")
    workspace.engine.register("submission_rows", frame)
    workspace.run(
        f"CREATE OR REPLACE TABLE {SUBMISSION_TABLE} AS "
        f"{submission_features_sql('submission_rows')}"
    )
    workspace.engine.unregister("submission_rows")
    return len(frame)


def id_pass(workspace: Workspace, *, min_evidence: int = 2) -> pd.DataFrame:
    """``row_number, person_id`` linked by an exact ID with name/date evidence."""
    return workspace.engine.df(id_links_sql(SUBMISSION_TABLE, REGISTER_TABLE,
                                            min_evidence=min_evidence))


def score_candidates(workspace: Workspace, model: LinkageModel, *, rows_table: str,
                     floor: float | None, backend: Backend = "duckdb",
                     spark: SparkSettings | None = None) -> pd.DataFrame:
    """Score every blocked (row, register record) pair with the saved model.

    Returns ``row_number, person_id, record_id, match_weight, match_probability, match_key``
    for pairs with probability >= ``floor`` (``None``: every blocked pair, used to measure
    blocking); ``record_id`` is the register record (a person's main record or an alias).
    """
    if backend == "spark":
        return _score_spark(workspace, model, rows_table=rows_table, floor=floor, spark=spark)
    from splink import Linker

    # Block in one query, then hand Splink only the register records that are candidates:
    # its pruning step would otherwise scan the whole register with string keys.
    workspace.run("CREATE OR REPLACE TABLE blocked_ids AS "
                  + blocked_pairs_sql(rows_table, REGISTER_TABLE))
    workspace.run(
        f"CREATE OR REPLACE TABLE candidate_records AS SELECT * FROM {REGISTER_TABLE} "
        "WHERE unique_id IN (SELECT id_r FROM blocked_ids)"
    )
    workspace.run(
        "CREATE OR REPLACE TABLE blocked_pairs AS SELECT CAST(match_key AS VARCHAR) AS match_key, "
        f"'{SUBMISSION}-__-' || id_l AS join_key_l, '{REGISTER}-__-' || id_r AS join_key_r "
        "FROM blocked_ids"
    )
    db_api = workspace.engine.splink_api()
    left = db_api.register(rows_table)
    right = db_api.register("candidate_records")
    linker = Linker([left, right], _with_gammas(model.splink), log_level=None)
    for column in TF_COLUMNS:
        linker.table_management.register_term_frequency_lookup(
            db_api.register(f"tf_{column}"), column
        )
    linker.table_management.register_blocked_pairs_for_predict(db_api.register("blocked_pairs"))
    predictions = linker.inference.predict(threshold_match_probability=floor,
                                           warning_mode="never")
    return _tidy_predictions(predictions.as_pandas_dataframe())


def _with_gammas(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings with Splink's comparison levels (``gamma_*``) kept in its output (Splink
    writes them only when both flags are set), for the per-upload m estimate."""
    return {**settings, "retain_intermediate_calculation_columns": True,
            "retain_matching_columns": True}


def _tidy_predictions(frame: pd.DataFrame) -> pd.DataFrame:
    """Orient pairs as (submission row, register person) whatever side Splink put them on."""
    left_is_row = frame["source_dataset_l"] == "submission"
    out = pd.DataFrame({
        "row_number": frame["unique_id_l"].where(left_is_row, frame["unique_id_r"]),
        "person_id": frame["person_id_r"].where(left_is_row, frame["person_id_l"]),
        "record_id": frame["unique_id_r"].where(left_is_row, frame["unique_id_l"]),
        "match_weight": frame["match_weight"],
        "match_probability": frame["match_probability"],
        "match_key": frame["match_key"],
    })
    for column in frame.columns:
        if column.startswith("gamma_"):
            out[column] = frame[column].astype("int64")
    out = out.astype({"row_number": "int64", "person_id": "int64", "record_id": "int64"})
    # One order whatever the engine returned: the per-upload EM sums over the pairs in this
    # order, and DuckDB and Spark must give the same link probabilities.
    return out.sort_values(["row_number", "record_id"], kind="stable").reset_index(drop=True)


def settings_for_dialect(model: LinkageModel, dialect: str) -> dict[str, Any]:
    """The model's settings re-rendered for ``dialect`` with the trained m and u copied over."""
    creator = settings_creator("link_only", model.splink["probability_two_random_records_match"])
    settings = creator.create_settings_dict(dialect)
    for new, old in zip(settings["comparisons"], model.splink["comparisons"], strict=True):
        for new_level, old_level in zip(new["comparison_levels"], old["comparison_levels"],
                                        strict=True):
            for key in ("m_probability", "u_probability"):
                if key in old_level:
                    new_level[key] = old_level[key]
    return settings


def _score_spark(workspace: Workspace, model: LinkageModel, *, rows_table: str,
                 floor: float | None, spark: SparkSettings | None = None) -> pd.DataFrame:
    """The same scoring as DuckDB's, on Spark: the register's feature records are read by Spark
    from their Parquet file (never through the driver), the submission's rows are sent to Spark
    through Arrow, blocking runs as one Spark query and Splink's ``SparkAPI`` scores the pairs
    with the model's m and u re-rendered for Spark. Only the scored candidate pairs come back."""
    from splink import Linker

    from jdl.engines.spark import SparkEngine

    columns = ", ".join(FEATURE_COLUMNS)
    with SparkEngine(settings=spark) as engine:
        engine.create_view(REGISTER_TABLE, parquet=workspace.register_parquet())
        engine.register(rows_table,
                        workspace.engine.arrow(f"SELECT {columns} FROM {rows_table}"))
        for column in TF_COLUMNS:
            engine.create_view(f"tf_{column}", term_frequency_sql(column, REGISTER_TABLE),
                               cache=True)
        engine.create_view("blocked_ids", blocked_pairs_sql(rows_table, REGISTER_TABLE),
                           cache=True)
        engine.create_view(
            "candidate_records",
            f"SELECT * FROM {REGISTER_TABLE} WHERE unique_id IN (SELECT id_r FROM blocked_ids)",
            cache=True,
        )
        engine.create_view(
            "blocked_pairs",
            "SELECT CAST(match_key AS VARCHAR) AS match_key, "
            f"'{SUBMISSION}-__-' || CAST(id_l AS VARCHAR) AS join_key_l, "
            f"'{REGISTER}-__-' || CAST(id_r AS VARCHAR) AS join_key_r FROM blocked_ids",
        )
        db_api = engine.splink_api()
        left = db_api.register(rows_table)
        right = db_api.register("candidate_records")
        linker = Linker([left, right], _with_gammas(settings_for_dialect(model, "spark")),
                        log_level=None)
        for column in TF_COLUMNS:
            linker.table_management.register_term_frequency_lookup(
                db_api.register(f"tf_{column}"), column
            )
        linker.table_management.register_blocked_pairs_for_predict(
            db_api.register("blocked_pairs")
        )
        predictions = linker.inference.predict(threshold_match_probability=floor,
                                               warning_mode="never")
        return _tidy_predictions(predictions.as_pandas_dataframe())


def link_rows(workspace: Workspace, model: LinkageModel, rows: pd.DataFrame,
              options: LinkOptions | None = None) -> LinkResult:
    """Link a submission's accepted rows to the register held by ``workspace``."""
    options = options or LinkOptions()
    load_submission(workspace, rows)
    id_links = id_pass(workspace, min_evidence=options.min_id_evidence)
    workspace.engine.register("id_linked", id_links)
    workspace.run(
        f"CREATE OR REPLACE TABLE remaining_features AS SELECT * FROM {SUBMISSION_TABLE} "
        "WHERE unique_id NOT IN (SELECT row_number FROM id_linked)"
    )
    workspace.engine.unregister("id_linked")
    remaining = int(workspace.scalar("SELECT count(*) FROM remaining_features"))
    if remaining:
        candidates = score_candidates(workspace, model, rows_table="remaining_features",
                                      floor=options.candidate_floor, backend=options.backend,
                                      spark=options.spark)
    else:
        candidates = pd.DataFrame(columns=["row_number", "person_id", "record_id",
                                           "match_weight", "match_probability"])
    if not candidates.empty:
        candidates = rebase_placeholder_u(
            candidates, model,
            upload_share=float(workspace.scalar(placeholder_share_sql("remaining_features"))),
            register_share=workspace.register_placeholder_share())
    adjust = guard_adjustment(workspace, model, candidates, rows_table="remaining_features",
                              twin_share=options.twin_share,
                              namesake_share=options.namesake_share,
                              related_cap=options.related_cap)
    in_register = options.prior_in_register
    if options.estimate_m and not candidates.empty:
        estimate = estimate_upload_m(candidates, model,
                                     prior_in_register=options.prior_in_register,
                                     prior_strength=options.prior_strength,
                                     adjust=adjust, n_rows=remaining)
        candidates, in_register = estimate.candidates, estimate.in_register
    elif adjust is not None:
        candidates = candidates.assign(
            match_weight=adjust(candidates["match_weight"].to_numpy(float), in_register))
    posteriors = row_posteriors(
        candidates, pair_prior=model.splink["probability_two_random_records_match"],
        n_people=model.n_people, prior_in_register=in_register,
    )
    chosen = best_candidates(posteriors, threshold=options.match_threshold)
    return assemble(rows["row_number"], id_links, chosen, row_summary(posteriors))


def _forename_unrelated_sql(a: str, b: str) -> str:
    """The two forenames are not the same name by any forename level, nickname group,
    Soundex code, transposition, a two-letter slip in a long name (Oliver/Olivia and
    Harry/Harvey stay apart: common twin names two edits apart) or a mistyped nickname."""
    return f"""
          {a}.forename <> {b}.forename
          AND len(list_intersect({a}.forename_groups, {b}.forename_groups)) = 0
          AND damerau_levenshtein({a}.forename, {b}.forename) > 1
          AND jaro_winkler_similarity({a}.forename, {b}.forename) < 0.88
          AND NOT coalesce(list_has_any({a}.forename_parts, {b}.forename_parts), false)
          AND {a}.forename <> {b}.surname
          AND {soundex_sql(f"{a}.forename")} <> {soundex_sql(f"{b}.forename")}
          AND NOT (least(length({a}.forename), length({b}.forename)) >= 7
                   AND levenshtein({a}.forename, {b}.forename) <= 2)
          AND NOT {_typo_of_variant_sql(a, b)} AND NOT {_typo_of_variant_sql(b, a)}"""


def _typo_of_variant_sql(a: str, b: str) -> str:
    """``a``'s forename (4+ letters) is one edit from a name of one of ``b``'s nickname groups
    ("Dreww", "Steeve" for a registered Andrew, Stephen): a mistyped nickname."""
    return f"""EXISTS (
              SELECT 1 FROM nickname_groups AS n
              WHERE list_contains({b}.forename_groups, n.name_group)
                AND length({a}.forename) >= 4 AND n.name <> {a}.forename
                AND levenshtein({a}.forename, n.name) <= 1)"""


def _dob_unrelated_sql(a: str, b: str) -> str:
    """Both dates of birth known and in no partial date level (swap, year one off, a day or
    two, 1 January, one or two characters — transposed digits are two): the "else" level."""
    return f"""
          {a}.dob IS NOT NULL AND {b}.dob IS NOT NULL AND {a}.dob <> {b}.dob
          AND coalesce({a}.dob_swapped, '') <> {b}.dob
          AND NOT ({a}.dob_md = {b}.dob_md AND abs({a}.dob_year - {b}.dob_year) = 1)
          AND abs(date_diff('day', CAST({a}.dob AS DATE), CAST({b}.dob AS DATE))) > 2
          AND coalesce({a}.dob_placeholder_year, -1) <> {b}.dob_year
          AND coalesce({b}.dob_placeholder_year, -1) <> {a}.dob_year
          AND NOT (coalesce({a}.dob_md_swapped, '') = {b}.dob_md
                   AND abs({a}.dob_year - {b}.dob_year) = 1)
          AND levenshtein({a}.dob, {b}.dob) > 2"""


def _relative_pairs_sql(candidates: str, rows_table: str) -> str:
    """Candidate pairs a relative explains as well as the person (see :func:`sibling_guard`):
    ``kind`` 'twin' — same surname, the same date of birth or one in a partial level (a twin
    whose date was mistyped, or a relative's alias record with a shifted date), another
    forename; 'namesake' — the same full name, a date of birth in no partial level, at least
    :data:`GENERATION_YEARS` away and not 1 January (a placeholder for a date known only by its
    year, perhaps estimated from an age, is no sign of another person). With the
    names' term frequencies and whether the forenames share an initial."""
    return f"""
        SELECT c.row_number, c.record_id, ts.tf_surname, tf.tf_forename,
               substr(s.forename, 1, 1) = substr(r.forename, 1, 1) AS same_initial,
               CASE WHEN s.forename = r.forename THEN 'namesake' ELSE 'twin' END AS kind
        FROM {candidates} AS c
        JOIN {rows_table} AS s ON s.unique_id = c.row_number
        JOIN {REGISTER_TABLE} AS r ON r.unique_id = c.record_id
        JOIN tf_surname AS ts ON ts.surname = r.surname
        JOIN tf_forename AS tf ON tf.forename = r.forename
        WHERE (s.surname = r.surname AND s.dob IS NOT NULL AND r.dob IS NOT NULL
               AND NOT ({_dob_unrelated_sql("s", "r")})
               AND {_forename_unrelated_sql("s", "r")})
           OR (s.forename = r.forename AND s.surname = r.surname
               AND {_dob_unrelated_sql("s", "r")}
               AND abs(s.dob_year - r.dob_year) >= {GENERATION_YEARS}
               AND s.dob_placeholder_year IS NULL AND r.dob_placeholder_year IS NULL)
    """


def _capped_weight(model: LinkageModel, posterior: float, prior_in_register: float) -> float:
    """The match weight at which a row's only candidate has row posterior ``posterior``
    (inverse of :func:`jdl.linkage._resolve.row_posteriors` for one candidate)."""
    pair_prior = model.splink["probability_two_random_records_match"]
    odds = posterior * (1.0 - prior_in_register) / (1.0 - posterior)
    return (math.log2(odds) - math.log2(prior_in_register / model.n_people)
            + math.log2(pair_prior / (1.0 - pair_prior)))


def sibling_guard(workspace: Workspace, model: LinkageModel, candidates: pd.DataFrame, *,
                  rows_table: str, twin_share: float = TWIN_SHARE,
                  namesake_share: float = NAMESAKE_SHARE,
                  related_cap: float | None = RELATED_CAP,
                  prior_in_register: float = 0.9) -> pd.DataFrame:
    """Weaken pairs that a relative of the person explains as well as the person.

    Fellegi–Sunter treats the comparisons as independent, so a rare surname and an exact date
    of birth outweigh a different forename ("Jacob Vaughan" scored 0.994 against a registered
    "John Vaughan" born the same day), and a rare full name outweighs a date of birth decades
    away ("emma speight 1963" scored 0.965 against a registered "emma speight 1932"). Among
    people who are *not* the same, though, these shapes are what relatives look like: a
    **twin** (same surname and date of birth, another forename; about 3% of people have one)
    and a **namesake** relative (a son named after his father: same full name, another date of
    birth). Two corrections:

    * the non-match probability of the agreements is ``u_1 · u_2 · u_3 + share / N`` (u of
      each level, names by their term frequency; a random non-matching record is the row's
      relative with probability ``share / N``) instead of the product alone: the match weight
      drops by ``log2(1 + share / (N · u))``. Common names hardly move;
    * optionally (``related_cap``, off by default) the pair's weight is then capped where its
      row posterior, as the row's only candidate, would be ``related_cap`` (0.45: below the
      lowest threshold the calibration can choose, so such a row needs an ID whatever its
      other evidence). Without the cap the corrected posterior is about
      ``prior/(1 - prior) · m / share`` for a rare name (m: how often this upload's true
      matches show the pattern, estimated per upload): a twin-shaped row links when the
      upload's own rows say forenames are often written wholly differently (FEBRL: 5-6% of
      rows), and is held back when they are not — the probability, not a rule, decides.
      The cap cost 5-8 points of recall on FEBRL and made middle names the register does not
      hold unlinkable; docs/linkage.md gives the measured trade-off.

    Forenames count as the same name (no guard) when any forename level, nickname group or
    Soundex code relates them, or they are one transposition apart (see
    :func:`_forename_unrelated_sql`).
    """
    adjust = guard_adjustment(workspace, model, candidates, rows_table=rows_table,
                              twin_share=twin_share, namesake_share=namesake_share,
                              related_cap=related_cap)
    if adjust is None:
        return candidates
    return candidates.assign(match_weight=adjust(candidates["match_weight"].to_numpy(float),
                                                 prior_in_register))


def guard_adjustment(workspace: Workspace, model: LinkageModel, candidates: pd.DataFrame, *,
                     rows_table: str, twin_share: float = TWIN_SHARE,
                     namesake_share: float = NAMESAKE_SHARE,
                     related_cap: float | None = RELATED_CAP):
    """:func:`sibling_guard` as a function ``adjust(weights, in_register)`` of the candidates'
    weights and the share of the upload on the register (None: nothing to do), so the
    per-upload EM can apply it in each E-step. The cap is a cap on the row posterior, which
    depends on that share: it is recomputed for the share the posterior will use (the EM's
    estimate moves it; computed once at 0.9, a capped twin showed 0.68 in an upload whose
    other rows were all on the register)."""
    if candidates.empty or (twin_share <= 0 and namesake_share <= 0):
        return None
    params = model.parameters().set_index(["comparison", "level"])
    u_dob = float(params.loc[("dob", "exact"), "u"])
    u_dob_else = float(params.loc[("dob", "else"), "u"])
    # u of the forename level a twin pair fell in: same initial, or nothing in common
    u_initial = float(params.loc[("forename", "initial"), "u"])
    u_else = float(params.loc[("forename", "else"), "u"])
    workspace.engine.register("guard_candidates", candidates[["row_number", "record_id"]])
    try:
        related = workspace.engine.df(_relative_pairs_sql("guard_candidates", rows_table))
    finally:
        workspace.engine.unregister("guard_candidates")
    twin = (related["kind"] == "twin").to_numpy()
    related = related[np.where(twin, twin_share > 0, namesake_share > 0)]
    if related.empty:
        return None
    twin = (related["kind"] == "twin").to_numpy()
    u_forename = np.where(related["same_initial"].fillna(False), u_initial, u_else)
    tf_surname = related["tf_surname"].to_numpy(float)
    u = np.where(twin, tf_surname * u_dob * u_forename,
                 tf_surname * related["tf_forename"].to_numpy(float) * u_dob_else)
    share = np.where(twin, twin_share, namesake_share)
    related = related.assign(penalty=np.log2(1.0 + share / (model.n_people * u)))
    penalty = candidates[["row_number", "record_id"]].merge(
        related[["row_number", "record_id", "penalty"]], on=["row_number", "record_id"],
        how="left")["penalty"].to_numpy(float)
    guarded = ~np.isnan(penalty)
    penalty = np.nan_to_num(penalty)
    def adjust(weights: np.ndarray, in_register: float) -> np.ndarray:
        cap = np.inf if related_cap is None else _capped_weight(model, related_cap,
                                                                 in_register)
        return np.where(guarded, np.minimum(weights - penalty, cap), weights)

    return adjust
